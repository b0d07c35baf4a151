#include "correlator/okta_log_parser.h"

#include "correlator/timestamp.h"

namespace og::correlator {

namespace od = simdjson::ondemand;
using json::failure;
using simdjson::SUCCESS;

boost::system::result<Event, ParseFailure> OktaLogParser::parse(std::string_view payload, const RecordMeta& meta) {
  if (payload.size() > limits_.max_message_bytes) return failure(ParseError::too_large, "message");
  // Copy first: the copy streams the message into cache, so the checks below read it warm.
  std::string_view padded = buffer_.assign(payload);
  if (auto bad = json::precheck(padded, limits_)) return *bad;
  od::document doc;
  if (auto error = parser_.iterate(padded.data(), padded.size(), buffer_.capacity()).get(doc))
    return failure(json::classify(error), "document");
  od::object root;
  if (auto bad = json::open_root(doc, root)) {
    if (auto end = json::trailing_split(payload)) {
      auto prefix = parse(payload.substr(0, *end), meta);
      if (prefix) return failure(ParseError::trailing_content, "after root");
      return prefix.error();
    }
    return *bad;
  }

  Event event;
  event.source = meta.source;
  event.origin = meta.origin;
  event.ingest_timestamp_ms = meta.ingest_timestamp_ms;
  where_ = nullptr;
  saw_event_type_ = false;
  saw_published_ = false;
  published_ = {};
  if (auto error = parse_root(root, event)) return failure(json::classify(error), where_ ? where_ : "root");
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
  if (auto bad = json::read_extras(doc, extras_, event.extras)) return *bad;
  return event;
}

OktaLogParser::error_code OktaLogParser::parse_root(object root, Event& event) {
  for (auto result : root) {
    od::field field;
    if (auto error = std::move(result).get(field)) return at(error, "root");
    std::string_view key;
    if (auto error = json::key_of(field, key)) return at(error, "root");
    value v = field.value();
    error_code error = SUCCESS;
    // Dispatch on length first: most keys are rejected by one integer compare.
    switch (key.size()) {
      case 4:
        if (key == "uuid") error = at(json::read_text(v, event.uuid), "uuid");
        break;
      case 5:
        if (key == "actor") {
          bool present = false;
          error = parse_entity(v, event.actor, "actor", present);
        }
        break;
      case 6:
        if (key == "client")
          error = parse_client(v, event);
        else if (key == "target")
          error = parse_targets(v, event);
        break;
      case 7:
        if (key == "outcome")
          error = parse_outcome(v, event);
        else if (key == "request")
          error = parse_request(v, event);
        break;
      case 8:
        if (key == "severity") error = at(json::read_symbol(v, event.severity), "severity");
        break;
      case 9:
        if (key == "eventType") {
          error = at(json::read_symbol(v, event.event_type), "eventType");
          saw_event_type_ = true;
        } else if (key == "published") {
          od::json_type type;
          error = at(v.type().get(type), "published");
          if (!error && type != od::json_type::string && type != od::json_type::null)
            error = at(simdjson::INCORRECT_TYPE, "published");
          if (!error) error = at(json::read_view(v, published_), "published");
          saw_published_ = !error && !published_.empty();
        }
        break;
      case 11:
        if (key == "transaction") error = parse_transaction(v, event);
        break;
      case 12:
        if (key == "debugContext") error = parse_debug_context(v, event);
        break;
      case 14:
        if (key == "displayMessage") error = at(json::read_text(v, event.display_message), "displayMessage");
        break;
      case 15:
        if (key == "securityContext") error = parse_security_context(v, event);
        break;
      case 21:
        if (key == "authenticationContext") error = parse_authentication_context(v, event);
        break;
      default:
        break;
    }
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_entity(value v, EntityRef& entity, const char* path, bool& present) {
  object obj;
  if (auto error = at(json::object_or_null(v, obj, present), path)) return error;
  if (!present) return SUCCESS;
  entity.identity_kind = IdentityKind::okta_id;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), path)) return error;
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
    EntityRef target;
    bool target_present = false;
    if (auto error = parse_entity(item, target, "target", target_present)) return error;
    if (target_present) event.targets.push_back(std::move(target));
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_client(value v, Event& event) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "client")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), "client")) return error;
    if (auto error = at(json::key_of(field, key), "client")) return error;
    error_code error = SUCCESS;
    if (key == "ipAddress")
      error = at(json::read_text(field.value(), event.client_ip), "client.ipAddress");
    else if (key == "userAgent")
      error = parse_user_agent(field.value(), event);
    else if (key == "device")
      error = at(json::read_symbol(field.value(), event.client_device), "client.device");
    else if (key == "zone")
      error = at(json::read_symbol(field.value(), event.client_zone), "client.zone");
    else if (key == "geographicalContext")
      error = parse_geo(field.value(), event.geo);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_user_agent(value v, Event& event) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "client.userAgent")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), "client.userAgent")) return error;
    if (auto error = at(json::key_of(field, key), "client.userAgent")) return error;
    error_code error = SUCCESS;
    if (key == "rawUserAgent")
      error = json::read_text(field.value(), event.user_agent);
    else if (key == "os")
      error = json::read_symbol(field.value(), event.user_agent_os);
    else if (key == "browser")
      error = json::read_symbol(field.value(), event.user_agent_browser);
    if (error) return at(error, "client.userAgent");
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_geo(value v, Geo& geo) {
  constexpr const char* kPath = "client.geographicalContext";
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), kPath)) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), kPath)) return error;
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
      error = parse_geolocation(field.value(), geo);
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_geolocation(value v, Geo& geo) {
  constexpr const char* kPath = "client.geographicalContext.geolocation";
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), kPath)) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), kPath)) return error;
    if (auto error = at(json::key_of(field, key), kPath)) return error;
    error_code error = SUCCESS;
    if (key == "lat")
      error = at(json::read_double(field.value(), geo.lat), "client.geographicalContext.geolocation.lat");
    else if (key == "lon")
      error = at(json::read_double(field.value(), geo.lon), "client.geographicalContext.geolocation.lon");
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_outcome(value v, Event& event) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "outcome")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), "outcome")) return error;
    if (auto error = at(json::key_of(field, key), "outcome")) return error;
    error_code error = SUCCESS;
    if (key == "result")
      error = at(json::read_symbol(field.value(), event.outcome_result), "outcome.result");
    else if (key == "reason")
      error = at(json::read_symbol(field.value(), event.outcome_reason), "outcome.reason");
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_authentication_context(value v, Event& event) {
  constexpr const char* kPath = "authenticationContext";
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), kPath)) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), kPath)) return error;
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
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_security_context(value v, Event& event) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "securityContext")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), "securityContext")) return error;
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
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_debug_context(value v, Event& event) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "debugContext")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), "debugContext")) return error;
    if (auto error = at(json::key_of(field, key), "debugContext")) return error;
    if (key == "debugData") {
      if (auto error = parse_debug_data(field.value(), event)) return error;
    }
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_debug_data(value v, Event& event) {
  constexpr const char* kPath = "debugContext.debugData";
  od::json_type type;
  if (auto error = at(v.type().get(type), kPath)) return error;
  // Some exports flatten debugData to a string; it carries nothing we can address, so skip it.
  if (type != od::json_type::object)
    return at(type == od::json_type::string || type == od::json_type::null ? SUCCESS : simdjson::INCORRECT_TYPE, kPath);
  object obj;
  if (auto error = at(v.get_object().get(obj), kPath)) return error;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), kPath)) return error;
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
    if (error) return error;
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_transaction(value v, Event& event) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "transaction")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), "transaction")) return error;
    if (auto error = at(json::key_of(field, key), "transaction")) return error;
    if (key == "id") {
      if (auto error = at(json::read_text(field.value(), event.transaction_id), "transaction.id")) return error;
    }
  }
  return SUCCESS;
}

OktaLogParser::error_code OktaLogParser::parse_request(value v, Event& event) {
  object obj;
  bool present = false;
  if (auto error = at(json::object_or_null(v, obj, present), "request")) return error;
  if (!present) return SUCCESS;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (auto error = at(std::move(result).get(field), "request")) return error;
    if (auto error = at(json::key_of(field, key), "request")) return error;
    if (key != "ipChain") continue;
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
        od::field hop_field;
        std::string_view hop_key;
        if (auto error = at(std::move(hop_result).get(hop_field), "request.ipChain")) return error;
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
