#include "correlator/okta_log_parser.h"

#include <algorithm>
#include <iterator>
#include <span>

#include "correlator/timestamp.h"

namespace og::correlator {

namespace od = simdjson::ondemand;
using json::failure;
using simdjson::SUCCESS;

boost::system::result<Event, ParseFailure> OktaLogParser::parse(std::string_view payload, const RecordMeta& meta) {
  // The Event is built in place in the returned result (one object returned on every path, so it
  // is elided into the caller's): it is about a kilobyte of strings and vectors, and moving it out
  // of a local, then destroying the emptied local, cost a few percent of a message.
  boost::system::result<Event, ParseFailure> result(boost::system::in_place_value);
  if (auto bad = parse_into(payload, meta, *result)) result = std::move(*bad);
  return result;
}

std::optional<ParseFailure> OktaLogParser::parse_into(std::string_view payload, const RecordMeta& meta, Event& event) {
  if (payload.size() > limits_.max_message_bytes) return failure(ParseError::too_large, "message");
  // Copy first: the copy streams the message into cache, so the checks below read it warm.
  std::string_view padded = buffer_.assign(payload);
  input_ = padded;
  if (auto bad = json::precheck(padded, limits_, buffer_.openers())) return *bad;
  od::document doc;
  if (auto error = parser_.iterate(padded.data(), padded.size(), buffer_.capacity()).get(doc))
    return failure(json::classify(error), "document");
  od::object root;
  if (auto bad = json::open_root(doc, root)) {
    if (auto end = json::trailing_split(payload)) {
      auto prefix = parse(payload.substr(0, *end), meta);
      if (prefix) return failure(ParseError::trailing_content, "after root");
      return std::move(prefix).error();
    }
    return *bad;
  }

  if (extras_ != nullptr && extras_->extra_json_pointers().size() != planned_) plan_extras();
  claimed_ = 0;
  for (const WalkExtra& extra : walk_extras_)
    walk_states_[extra.slot].kind = WalkExtraState::Kind::absent;

  event.source = meta.source;
  event.origin = meta.origin;
  event.ingest_timestamp_ms = meta.ingest_timestamp_ms;
  where_ = nullptr;
  saw_event_type_ = false;
  saw_published_ = false;
  published_ = {};
  if (auto error = parse_root(root, event, !walk_extras_.empty()))
    return failure(json::classify(error), where_ ? where_ : "root");
  if (auto bad = json::check_trailing(doc)) return *bad;
  if (!saw_event_type_ || event.event_type.empty()) return failure(ParseError::missing_field, "eventType");

  // Missing, null or "redacted" `published` (all seen in real exports): fall back to ingest time.
  std::optional<EventTime> published = saw_published_ ? parse_timestamp(published_) : std::nullopt;
  if (published) {
    event.published = *published;
    event.time_from_payload = true;
  } else {
    event.published = EventTime{std::chrono::milliseconds{meta.ingest_timestamp_ms}};
    event.time_from_payload = false;
  }
  if (extras_ != nullptr) {
    if (auto bad = finish_extras(doc, event.extras)) return *bad;
  }
  return std::nullopt;
}

namespace {

// Where each walked object sits: its key in its parent.
struct NodeKey {
  std::string_view key;
  std::uint8_t node;
  std::uint8_t parent;
};

// Per node, the keys the pass reads itself (an extra there would be read twice, so it goes by
// pointer instead).
constexpr std::string_view kRootKeys[] = {"uuid",
                                          "actor",
                                          "client",
                                          "target",
                                          "outcome",
                                          "request",
                                          "severity",
                                          "eventType",
                                          "published",
                                          "transaction",
                                          "debugContext",
                                          "displayMessage",
                                          "securityContext",
                                          "authenticationContext"};
constexpr std::string_view kEntityKeys[] = {"id", "type", "alternateId", "displayName"};
constexpr std::string_view kClientKeys[] = {"ipAddress", "userAgent", "device", "zone", "geographicalContext"};
constexpr std::string_view kUserAgentKeys[] = {"rawUserAgent", "os", "browser"};
constexpr std::string_view kGeoKeys[] = {"city", "state", "country", "postalCode", "geolocation"};
constexpr std::string_view kGeolocationKeys[] = {"lat", "lon"};
constexpr std::string_view kOutcomeKeys[] = {"result", "reason"};
constexpr std::string_view kAuthenticationKeys[] = {"externalSessionId", "rootSessionId", "credentialType",
                                                    "credentialProvider", "authenticationProvider"};
constexpr std::string_view kSecurityKeys[] = {"asNumber", "asOrg", "isp", "domain", "isProxy"};
constexpr std::string_view kDebugContextKeys[] = {"debugData"};
constexpr std::string_view kDebugDataKeys[] = {"risk", "threatSuspected", "behaviors", "requestUri", "dtHash"};
constexpr std::string_view kTransactionKeys[] = {"id"};
constexpr std::string_view kRequestKeys[] = {"ipChain"};

}  // namespace

void OktaLogParser::plan_extras() {
  static constexpr NodeKey kNodes[] = {
      {"actor", kActor, kRoot},
      {"client", kClient, kRoot},
      {"userAgent", kUserAgent, kClient},
      {"geographicalContext", kGeo, kClient},
      {"geolocation", kGeolocation, kGeo},
      {"outcome", kOutcome, kRoot},
      {"authenticationContext", kAuthentication, kRoot},
      {"securityContext", kSecurity, kRoot},
      {"debugContext", kDebugContext, kRoot},
      {"debugData", kDebugData, kDebugContext},
      {"transaction", kTransaction, kRoot},
      {"request", kRequest, kRoot},
  };
  auto reads = [](Node node, std::string_view key) {
    std::span<const std::string_view> keys;
    switch (node) {
      case kRoot:
        keys = kRootKeys;
        break;
      case kActor:
        keys = kEntityKeys;
        break;
      case kClient:
        keys = kClientKeys;
        break;
      case kUserAgent:
        keys = kUserAgentKeys;
        break;
      case kGeo:
        keys = kGeoKeys;
        break;
      case kGeolocation:
        keys = kGeolocationKeys;
        break;
      case kOutcome:
        keys = kOutcomeKeys;
        break;
      case kAuthentication:
        keys = kAuthenticationKeys;
        break;
      case kSecurity:
        keys = kSecurityKeys;
        break;
      case kDebugContext:
        keys = kDebugContextKeys;
        break;
      case kDebugData:
        keys = kDebugDataKeys;
        break;
      case kTransaction:
        keys = kTransactionKeys;
        break;
      case kRequest:
        keys = kRequestKeys;
        break;
    }
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };

  const std::vector<std::string>& pointers = extras_->extra_json_pointers();
  walked_slot_.assign(pointers.size(), false);
  walk_states_.resize(pointers.size());
  walk_extras_.clear();
  extra_nodes_ = 0;
  for (std::size_t slot = 0; slot < pointers.size(); ++slot) {
    std::string_view pointer = pointers[slot];
    // Pointer escapes, and keys that simdjson's raw comparison could match against an escaped key,
    // are left to the pointer lookup.
    if (pointer.empty() || pointer.front() != '/' || pointer.find_first_of("~\\\"") != std::string_view::npos) continue;
    pointer.remove_prefix(1);
    Node node = kRoot;
    std::uint32_t path = 1u << kRoot;
    bool walked = true;
    for (std::size_t slash; walked && (slash = pointer.find('/')) != std::string_view::npos;
         pointer.remove_prefix(slash + 1)) {
      std::string_view token = pointer.substr(0, slash);
      const NodeKey* child = std::find_if(std::begin(kNodes), std::end(kNodes), [&](const NodeKey& candidate) {
        return candidate.parent == node && candidate.key == token;
      });
      if (child == std::end(kNodes)) {
        walked = false;
      } else {
        node = static_cast<Node>(child->node);
        path |= 1u << node;
      }
    }
    if (pointer_only_ || !walked || reads(node, pointer)) continue;
    walked_slot_[slot] = true;
    walk_extras_.push_back(WalkExtra{node, std::string(pointer), static_cast<std::uint16_t>(slot)});
    extra_nodes_ |= path;
  }
  planned_ = pointers.size();
}

bool OktaLogParser::enter(Node child, bool parent_live, std::string_view key) {
  // A JSON pointer lookup descends into the first key whose raw text matches, so an escaped
  // spelling or a repeated key is not the object it would read.
  if (!parent_live || !in_input(key)) return false;
  const std::uint32_t bit = 1u << child;
  if (claimed_ & bit) return false;
  claimed_ |= bit;
  return (extra_nodes_ & bit) != 0;
}

void OktaLogParser::match_extra(Node node, od::field& field, std::string_view key) {
  // A key with an escape cannot match: planned keys hold no backslash, and simdjson compares raw
  // text. For the others, raw text and key are the same, so a plain comparison is simdjson's.
  if (!in_input(key)) return;
  for (const WalkExtra& extra : walk_extras_) {
    if (extra.node != node || key != extra.key) continue;
    WalkExtraState& state = walk_states_[extra.slot];
    // The pointer names the first occurrence; a later duplicate key is skipped like any other.
    if (state.kind != WalkExtraState::Kind::absent) return;
    // Only a scalar is read here: consuming it moves the iterator exactly as skipping it would
    // (a string followed by ':' is skipped as a key, so it is not a plain scalar), which keeps the
    // pass and its outcome on malformed input what it is without extras.
    value& v = field.value();
    std::string_view token = v.raw_json_token();
    const char first = token.empty() ? '\0' : token.front();
    const bool scalar =
        first == '"' ? token.data()[token.size()] != ':'
                     : first == '-' || (first >= '0' && first <= '9') || first == 't' || first == 'f' || first == 'n';
    if (!scalar) {
      state.kind = WalkExtraState::Kind::deferred;
      return;
    }
    // A failure is reported after the pass, in slot order, as the pointer lookup would.
    state.error = json::read_extra(v, state.value);
    state.kind = state.error ? WalkExtraState::Kind::failed : WalkExtraState::Kind::read;
    return;
  }
}

std::optional<ParseFailure> OktaLogParser::finish_extras(od::document& doc, std::vector<ExtraField>& out) {
  const std::vector<std::string>& pointers = extras_->extra_json_pointers();
  const std::vector<std::string>& paths = extras_->extra_paths();
  for (std::size_t slot = 0; slot < pointers.size(); ++slot) {
    const auto slot16 = static_cast<std::uint16_t>(slot);
    if (!walked_slot_[slot] || walk_states_[slot].kind == WalkExtraState::Kind::deferred) {
      if (auto bad = json::read_extra_pointer(doc, pointers[slot], paths[slot], slot16, out)) return bad;
      continue;
    }
    WalkExtraState& state = walk_states_[slot];
    if (state.kind == WalkExtraState::Kind::failed) return json::extra_failure(state.error, paths[slot]);
    if (state.kind == WalkExtraState::Kind::read) out.push_back(ExtraField{slot16, std::move(state.value)});
  }
  return std::nullopt;
}

OktaLogParser::error_code OktaLogParser::parse_root(object root, Event& event, bool live) {
  for (auto result : root) {
    if (auto error = result.error()) return at(error, "root");
    // A reference, not get() into a local: the copy reloaded the just-stored field as one 16-byte
    // load, which stalled on store forwarding for every field (here and in each nested parser).
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = json::key_of(field, key)) return at(error, "root");
    value& v = field.value();
    error_code error = SUCCESS;
    bool known = true;
    // Dispatch on length first: most keys are rejected by one integer compare.
    switch (key.size()) {
      case 4:
        if (key == "uuid")
          error = at(json::read_text(v, event.uuid), "uuid");
        else
          known = false;
        break;
      case 5:
        if (key == "actor") {
          bool present = false;
          error = parse_entity(v, event.actor, "actor", present, enter(kActor, live, key));
        } else {
          known = false;
        }
        break;
      case 6:
        if (key == "client")
          error = parse_client(v, event, enter(kClient, live, key));
        else if (key == "target")
          error = parse_targets(v, event);
        else
          known = false;
        break;
      case 7:
        if (key == "outcome")
          error = parse_outcome(v, event, enter(kOutcome, live, key));
        else if (key == "request")
          error = parse_request(v, event, enter(kRequest, live, key));
        else
          known = false;
        break;
      case 8:
        if (key == "severity")
          error = at(json::read_symbol(v, event.severity), "severity");
        else
          known = false;
        break;
      case 9:
        if (key == "eventType") {
          // read_symbol takes a number's or a boolean's JSON text; neither names an event type.
          od::json_type type;
          error = at(v.type().get(type), "eventType");
          if (!error && type != od::json_type::string && type != od::json_type::null)
            error = at(simdjson::INCORRECT_TYPE, "eventType");
          if (!error) error = at(json::read_symbol(v, event.event_type), "eventType");
          saw_event_type_ = true;
        } else if (key == "published") {
          od::json_type type;
          error = at(v.type().get(type), "published");
          if (!error && type != od::json_type::string && type != od::json_type::null)
            error = at(simdjson::INCORRECT_TYPE, "published");
          if (!error) error = at(json::read_view(v, published_), "published");
          saw_published_ = !error && !published_.empty();
        } else {
          known = false;
        }
        break;
      case 11:
        if (key == "transaction")
          error = parse_transaction(v, event, enter(kTransaction, live, key));
        else
          known = false;
        break;
      case 12:
        if (key == "debugContext")
          error = parse_debug_context(v, event, enter(kDebugContext, live, key));
        else
          known = false;
        break;
      case 14:
        if (key == "displayMessage")
          error = at(json::read_text(v, event.display_message), "displayMessage");
        else
          known = false;
        break;
      case 15:
        if (key == "securityContext")
          error = parse_security_context(v, event, enter(kSecurity, live, key));
        else
          known = false;
        break;
      case 21:
        if (key == "authenticationContext")
          error = parse_authentication_context(v, event, enter(kAuthentication, live, key));
        else
          known = false;
        break;
      default:
        known = false;
        break;
    }
    if (error) return error;
    if (!known && live) match_extra(kRoot, field, key);
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_entity(value v, EntityRef& entity, const char* path, bool& present,
                                                      bool live) {
  object obj;
  if (auto error = at(json::object_or_null(v, obj, present), path)) return error;
  if (!present) return SUCCESS;
  entity.identity_kind = IdentityKind::okta_id;
  for (auto result : obj) {
    if (auto error = at(result.error(), path)) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), path)) return error;
    error_code error = SUCCESS;
    if (key == "id")
      error = json::read_text(field.value(), entity.id);
    else if (key == "type")
      error = json::read_symbol(field.value(), entity.type);
    else if (key == "alternateId")
      error = json::read_text(field.value(), entity.alternate_id);
    else if (key == "displayName")
      error = json::read_text(field.value(), entity.display_name);
    else if (live)
      match_extra(kActor, field, key);
    if (error) return at(error, path);
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_targets(value v, Event& event) {
  od::array array;
  bool present = false;
  if (auto error = at(json::array_or_null(v, array, present), "target")) return error;
  if (!present) return SUCCESS;
  for (auto element : array) {
    value item;
    if (auto error = at(std::move(element).get(item), "target")) return error;
    // Parsed in place; a null element is dropped again (an error ends the parse, Event and all).
    EntityRef& target = event.targets.emplace_back();
    bool target_present = false;
    if (auto error = parse_entity(item, target, "target", target_present, false)) return error;
    if (!target_present) event.targets.pop_back();
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_client(value v, Event& event, bool live) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "client")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), "client")) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), "client")) return error;
    error_code error = SUCCESS;
    if (key == "ipAddress")
      error = at(json::read_text(field.value(), event.client_ip), "client.ipAddress");
    else if (key == "userAgent")
      error = parse_user_agent(field.value(), event, enter(kUserAgent, live, key));
    else if (key == "device")
      error = at(json::read_symbol(field.value(), event.client_device), "client.device");
    else if (key == "zone")
      error = at(json::read_symbol(field.value(), event.client_zone), "client.zone");
    else if (key == "geographicalContext")
      error = parse_geo(field.value(), event.geo, enter(kGeo, live, key));
    else if (live)
      match_extra(kClient, field, key);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_user_agent(value v, Event& event, bool live) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "client.userAgent")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), "client.userAgent")) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), "client.userAgent")) return error;
    error_code error = SUCCESS;
    if (key == "rawUserAgent")
      error = json::read_text(field.value(), event.user_agent);
    else if (key == "os")
      error = json::read_symbol(field.value(), event.user_agent_os);
    else if (key == "browser")
      error = json::read_symbol(field.value(), event.user_agent_browser);
    else if (live)
      match_extra(kUserAgent, field, key);
    if (error) return at(error, "client.userAgent");
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_geo(value v, Geo& geo, bool live) {
  constexpr const char* kPath = "client.geographicalContext";
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), kPath)) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), kPath)) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), kPath)) return error;
    error_code error = SUCCESS;
    if (key == "city")
      error = at(json::read_text(field.value(), geo.city), "client.geographicalContext.city");
    else if (key == "state")
      error = at(json::read_symbol(field.value(), geo.state), "client.geographicalContext.state");
    else if (key == "country")
      error = at(json::read_symbol(field.value(), geo.country), "client.geographicalContext.country");
    else if (key == "postalCode")
      error = at(json::read_text(field.value(), geo.postal_code), "client.geographicalContext.postalCode");
    else if (key == "geolocation")
      error = parse_geolocation(field.value(), geo, enter(kGeolocation, live, key));
    else if (live)
      match_extra(kGeo, field, key);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_geolocation(value v, Geo& geo, bool live) {
  constexpr const char* kPath = "client.geographicalContext.geolocation";
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), kPath)) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), kPath)) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), kPath)) return error;
    error_code error = SUCCESS;
    if (key == "lat")
      error = at(json::read_double(field.value(), geo.lat), "client.geographicalContext.geolocation.lat");
    else if (key == "lon")
      error = at(json::read_double(field.value(), geo.lon), "client.geographicalContext.geolocation.lon");
    else if (live)
      match_extra(kGeolocation, field, key);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_outcome(value v, Event& event, bool live) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "outcome")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), "outcome")) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), "outcome")) return error;
    error_code error = SUCCESS;
    if (key == "result")
      error = at(json::read_symbol(field.value(), event.outcome_result), "outcome.result");
    else if (key == "reason")
      error = at(json::read_symbol(field.value(), event.outcome_reason), "outcome.reason");
    else if (live)
      match_extra(kOutcome, field, key);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_authentication_context(value v, Event& event, bool live) {
  constexpr const char* kPath = "authenticationContext";
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), kPath)) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), kPath)) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), kPath)) return error;
    error_code error = SUCCESS;
    if (key == "externalSessionId")
      error = at(json::read_text(field.value(), event.external_session_id), "authenticationContext.externalSessionId");
    else if (key == "rootSessionId")
      error = at(json::read_text(field.value(), event.root_session_id), "authenticationContext.rootSessionId");
    else if (key == "credentialType")
      error = at(json::read_symbol(field.value(), event.credential_type), "authenticationContext.credentialType");
    else if (key == "credentialProvider")
      error =
          at(json::read_symbol(field.value(), event.credential_provider), "authenticationContext.credentialProvider");
    else if (key == "authenticationProvider")
      error = at(json::read_symbol(field.value(), event.authentication_provider),
                 "authenticationContext.authenticationProvider");
    else if (live)
      match_extra(kAuthentication, field, key);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_security_context(value v, Event& event, bool live) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "securityContext")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), "securityContext")) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), "securityContext")) return error;
    error_code error = SUCCESS;
    if (key == "asNumber")
      error = at(json::read_int64(field.value(), event.as_number), "securityContext.asNumber");
    else if (key == "asOrg")
      error = at(json::read_text(field.value(), event.as_org), "securityContext.asOrg");
    else if (key == "isp")
      error = at(json::read_text(field.value(), event.isp), "securityContext.isp");
    else if (key == "domain")
      error = at(json::read_text(field.value(), event.domain), "securityContext.domain");
    else if (key == "isProxy")
      error = at(json::read_bool(field.value(), event.is_proxy), "securityContext.isProxy");
    else if (live)
      match_extra(kSecurity, field, key);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_debug_context(value v, Event& event, bool live) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "debugContext")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), "debugContext")) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), "debugContext")) return error;
    if (key == "debugData") {
      if (auto error = parse_debug_data(field.value(), event, enter(kDebugData, live, key))) return error;
    } else if (live) {
      match_extra(kDebugContext, field, key);
    }
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_debug_data(value v, Event& event, bool live) {
  constexpr const char* kPath = "debugContext.debugData";
  od::json_type type;
  if (auto error = at(v.type().get(type), kPath)) return error;
  // Some exports flatten debugData to a string; it carries nothing we can address, so skip it.
  if (type != od::json_type::object)
    return at(type == od::json_type::string || type == od::json_type::null ? SUCCESS : simdjson::INCORRECT_TYPE, kPath);
  object obj;
  if (auto error = at(v.get_object().get(obj), kPath)) return error;
  for (auto result : obj) {
    if (auto error = at(result.error(), kPath)) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), kPath)) return error;
    // Values are strings in Okta's output, but exports re-shape some (behaviors as a list or an
    // object): keep whatever arrives as text.
    error_code error = SUCCESS;
    if (key == "risk")
      error = at(json::read_any_text(field.value(), event.debug_risk), "debugContext.debugData.risk");
    else if (key == "threatSuspected")
      error = at(json::read_any_text(field.value(), event.debug_threat_suspected),
                 "debugContext.debugData.threatSuspected");
    else if (key == "behaviors")
      error = at(json::read_any_text(field.value(), event.debug_behaviors), "debugContext.debugData.behaviors");
    else if (key == "requestUri")
      error = at(json::read_any_text(field.value(), event.debug_request_uri), "debugContext.debugData.requestUri");
    else if (key == "dtHash")
      error = at(json::read_any_text(field.value(), event.debug_dt_hash), "debugContext.debugData.dtHash");
    else if (live)
      match_extra(kDebugData, field, key);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_transaction(value v, Event& event, bool live) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "transaction")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), "transaction")) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), "transaction")) return error;
    if (key == "id") {
      if (auto error = at(json::read_text(field.value(), event.transaction_id), "transaction.id")) return error;
    } else if (live) {
      match_extra(kTransaction, field, key);
    }
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_request(value v, Event& event, bool live) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "request")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    if (auto error = at(result.error(), "request")) return error;
    od::field&& field = std::move(result).value_unsafe();
    std::string_view key;
    if (auto error = at(json::key_of(field, key), "request")) return error;
    if (key != "ipChain") {
      if (live) match_extra(kRequest, field, key);
      continue;
    }
    od::array chain;
    bool chain_present = false;
    if (auto error = at(json::array_or_null(field.value(), chain, chain_present), "request.ipChain")) return error;
    if (!chain_present) continue;
    for (auto element : chain) {
      value item;
      if (auto error = at(std::move(element).get(item), "request.ipChain")) return error;
      object hop;
      bool hop_present = false;
      if (auto error = at(json::object_or_null(item, hop, hop_present), "request.ipChain")) return error;
      if (!hop_present) continue;
      for (auto hop_result : hop) {
        if (auto error = at(hop_result.error(), "request.ipChain")) return error;
        od::field&& hop_field = std::move(hop_result).value_unsafe();
        std::string_view hop_key;
        if (auto error = at(json::key_of(hop_field, hop_key), "request.ipChain")) return error;
        if (hop_key != "ip") continue;
        std::string_view ip;
        if (auto error = at(json::read_view(hop_field.value(), ip), "request.ipChain.ip")) return error;
        if (!ip.empty()) event.ip_chain.emplace_back(ip);
      }
    }
  }
  return SUCCESS;
}

}  // namespace og::correlator
