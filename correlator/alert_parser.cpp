#include "correlator/alert_parser.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>

#include "correlator/timestamp.h"

namespace og::correlator {

namespace od = simdjson::ondemand;
using json::failure;

AlertParser::AlertParser(AlertMapping mapping, const FieldRegistry* extras, ParserLimits limits)
    : mapping_(std::move(mapping)), extras_(extras), limits_(limits) {}

std::optional<EventTime> time_from_epoch_number(double value) {
  if (!std::isfinite(value) || value <= 0) return std::nullopt;
  // Seconds until 5138 AD stay below 1e11; milliseconds below 1e14; beyond that, microseconds.
  double millis = value < 1e11 ? value * 1000.0 : value < 1e14 ? value : value / 1000.0;
  if (millis > 1e15) return std::nullopt;
  return EventTime{std::chrono::milliseconds{static_cast<std::int64_t>(millis)}};
}

const std::vector<std::string>& AlertParser::extra_pointers() {
  if (extras_ == nullptr) return extra_pointers_;
  const auto& paths = extras_->extra_paths();
  if (extra_pointers_.size() != paths.size()) {
    extra_pointers_.clear();
    for (std::size_t slot = 0; slot < paths.size(); ++slot) {
      auto named = std::find_if(mapping_.extra_fields.begin(), mapping_.extra_fields.end(),
                                [&](const auto& field) { return field.first == paths[slot]; });
      extra_pointers_.push_back(named != mapping_.extra_fields.end() ? named->second
                                                                     : extras_->extra_json_pointers()[slot]);
    }
  }
  return extra_pointers_;
}

namespace {

enum class Lookup { found, absent, failed };

// Absent covers every way a pointer can miss: no such key, index out of range, or a path through
// a scalar. A null value also counts as absent. `error` then tells a required field's rejection
// apart: SUCCESS for a missing key or index (missing_field), INCORRECT_TYPE for a path through a
// scalar (wrong_type; simdjson reports some of those as an invalid pointer, and the configuration
// only accepts well-formed pointers).
Lookup find(od::document& doc, const std::string& pointer, od::value& out, simdjson::error_code& error) {
  error = simdjson::SUCCESS;
  if (pointer.empty()) return Lookup::absent;  // "" would name the whole document
  error = doc.at_pointer(pointer).get(out);
  if (error == simdjson::NO_SUCH_FIELD || error == simdjson::INDEX_OUT_OF_BOUNDS) {
    error = simdjson::SUCCESS;
    return Lookup::absent;
  }
  if (error == simdjson::INCORRECT_TYPE || error == simdjson::INVALID_JSON_POINTER) {
    error = simdjson::INCORRECT_TYPE;
    return Lookup::absent;
  }
  if (error) return Lookup::failed;
  return Lookup::found;
}

}  // namespace

boost::system::result<Event, ParseFailure> AlertParser::parse(std::string_view payload, const RecordMeta& meta) {
  if (payload.size() > limits_.max_message_bytes) return failure(ParseError::too_large, "message");
  // Copy first: the copy streams the message into cache, so the checks below read it warm.
  std::string_view padded = buffer_.assign(payload);
  if (auto bad = json::precheck(padded, limits_, buffer_.openers())) return *bad;
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
  // Walk the root once so truncation and trailing bytes are caught even where no pointer looks.
  for (auto result : root) {
    od::field field;
    if (auto error = std::move(result).get(field)) return failure(json::classify(error), "root");
  }
  if (auto bad = json::check_trailing(doc)) return *bad;

  Event event;
  event.source = meta.source;
  event.origin = meta.origin;
  event.ingest_timestamp_ms = meta.ingest_timestamp_ms;

  od::value value;
  simdjson::error_code error;
  auto fail = [&](const char* what) {
    return failure(error ? json::classify(error) : ParseError::missing_field, what);
  };

  // Required: the alert type and the user.
  std::string_view text;
  if (find(doc, mapping_.alert_type_pointer, value, error) != Lookup::found) return fail("alert_type");
  if ((error = json::read_view(value, text))) return fail("alert_type");
  if (text.empty()) return fail("alert_type");
  if (mapping_.alert_type_prefix.empty()) {
    event.event_type = Symbol::intern(text);
  } else {
    std::string type = mapping_.alert_type_prefix;
    type.append(text);
    event.event_type = Symbol::intern(type);
  }

  if (find(doc, mapping_.user_pointer, value, error) != Lookup::found) return fail("user");
  if ((error = json::read_view(value, text))) return fail("user");
  if (text.empty()) return fail("user");
  event.actor.type = Symbol::intern("User");
  event.actor.identity_kind = mapping_.user_kind;
  (mapping_.user_kind == IdentityKind::okta_id ? event.actor.id : event.actor.alternate_id).assign(text);

  // Optional scalars: absent or null leaves them empty; a wrong type is still an error.
  struct Optional {
    const std::string* pointer;
    Text* text;
    Symbol* symbol;
    const char* name;
  };
  for (const Optional& field : {Optional{&mapping_.source_ip_pointer, &event.client_ip, nullptr, "source_ip"},
                                Optional{&mapping_.severity_pointer, nullptr, &event.severity, "severity"},
                                Optional{&mapping_.message_pointer, &event.display_message, nullptr, "message"},
                                Optional{&mapping_.uuid_pointer, &event.uuid, nullptr, "uuid"}}) {
    if (field.pointer->empty()) continue;
    Lookup found = find(doc, *field.pointer, value, error);
    if (found == Lookup::absent) continue;
    if (found == Lookup::failed) return fail(field.name);
    if ((error = field.text ? json::read_text(value, *field.text) : json::read_symbol(value, *field.symbol)))
      return fail(field.name);
  }

  std::optional<EventTime> published;
  if (!mapping_.time_pointer.empty()) {
    Lookup found = find(doc, mapping_.time_pointer, value, error);
    if (found == Lookup::failed) return fail("time");
    if (found == Lookup::found) {
      od::json_type type;
      if ((error = value.type().get(type))) return fail("time");
      if (type == od::json_type::number) {
        double number;
        if ((error = value.get_double().get(number))) return fail("time");
        published = time_from_epoch_number(number);
      } else {
        if ((error = json::read_view(value, text))) return fail("time");
        published = parse_timestamp(text);
      }
    }
  }
  event.time_from_payload = published.has_value();
  event.published = published ? *published : EventTime{std::chrono::milliseconds{meta.ingest_timestamp_ms}};

  const std::vector<std::string>& pointers = extra_pointers();
  for (std::size_t slot = 0; slot < pointers.size(); ++slot) {
    Lookup found = find(doc, pointers[slot], value, error);
    if (found == Lookup::absent) continue;
    if (found == Lookup::failed) return fail(extras_->extra_paths()[slot].c_str());
    ExtraValue extra;
    if ((error = json::read_extra(value, extra))) return fail(extras_->extra_paths()[slot].c_str());
    event.extras.push_back(ExtraField{static_cast<std::uint16_t>(slot), std::move(extra)});
  }
  return event;
}

bool valid_json_pointer(std::string_view pointer) {
  if (pointer.empty()) return true;
  if (pointer.front() != '/') return false;
  for (std::size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '~' && (i + 1 == pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')))
      return false;
  }
  return true;
}

MappingLoad alert_mapping_from_yaml(const YAML::Node& node, std::string_view path) {
  MappingLoad load;
  auto problem = [&](const YAML::Node& at, std::string key, std::string message) {
    YAML::Mark mark = at.Mark();
    load.problems.push_back(MappingProblem{mark.line >= 0 ? mark.line + 1 : 0, mark.column >= 0 ? mark.column + 1 : 0,
                                           std::string(path) + (key.empty() ? "" : "." + key), std::move(message)});
  };
  if (!node.IsMap()) {
    problem(node, "", "must be a mapping of keys to JSON pointers");
    return load;
  }
  auto scalar = [&](const YAML::Node& value, const std::string& key, std::string& out) {
    if (!value.IsScalar()) {
      problem(value, key, "must be a string");
      return false;
    }
    out = value.Scalar();
    return true;
  };
  auto pointer = [&](const YAML::Node& value, const std::string& key, std::string& out) {
    if (scalar(value, key, out) && !valid_json_pointer(out))
      problem(value, key, "must be an RFC 6901 JSON pointer starting with '/'");
  };
  bool has_user = false, has_type = false;
  for (const auto& entry : node) {
    std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
    const YAML::Node& value = entry.second;
    AlertMapping& m = load.mapping;
    if (key == "time") {
      pointer(value, key, m.time_pointer);
    } else if (key == "user") {
      pointer(value, key, m.user_pointer);
      has_user = !m.user_pointer.empty();
    } else if (key == "user_kind") {
      std::string kind;
      if (scalar(value, key, kind)) {
        if (kind == "okta_id")
          m.user_kind = IdentityKind::okta_id;
        else if (kind == "login")
          m.user_kind = IdentityKind::login;
        else if (kind == "email")
          m.user_kind = IdentityKind::email;
        else
          problem(value, key, "must be one of okta_id, login, email");
      }
    } else if (key == "source_ip") {
      pointer(value, key, m.source_ip_pointer);
    } else if (key == "alert_type") {
      pointer(value, key, m.alert_type_pointer);
      has_type = !m.alert_type_pointer.empty();
    } else if (key == "alert_type_prefix") {
      scalar(value, key, m.alert_type_prefix);
    } else if (key == "severity") {
      pointer(value, key, m.severity_pointer);
    } else if (key == "message") {
      pointer(value, key, m.message_pointer);
    } else if (key == "uuid") {
      pointer(value, key, m.uuid_pointer);
    } else if (key == "extra") {
      if (!value.IsMap()) {
        problem(value, key, "must map field names to JSON pointers");
        continue;
      }
      for (const auto& extra : value) {
        std::string name = extra.first.IsScalar() ? extra.first.Scalar() : std::string();
        std::string target;
        if (name.empty()) {
          problem(extra.first, key, "field names must be non-empty strings");
          continue;
        }
        pointer(extra.second, key + "." + name, target);
        if (target.empty()) problem(extra.second, key + "." + name, "needs a JSON pointer");
        m.extra_fields.emplace_back(std::move(name), std::move(target));
      }
    } else {
      problem(entry.first, key, "unknown key");
    }
  }
  if (!has_user) problem(node, "user", "is required (a JSON pointer to the user identifier)");
  if (!has_type) problem(node, "alert_type", "is required (a JSON pointer to the alert type)");
  return load;
}

}  // namespace og::correlator
