#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/event.h"

namespace og::correlator {

// The fields a rule can name, by their Okta LogEvent path. `target.*` fields are per target and
// are read through any/all over `target[]`.
enum class FieldId : std::uint16_t {
  uuid,
  published,
  source,
  event_type,
  severity,
  display_message,
  actor_id,
  actor_type,
  actor_alternate_id,
  actor_display_name,
  target_id,
  target_type,
  target_alternate_id,
  target_display_name,
  client_ip,
  user_agent,
  user_agent_os,
  user_agent_browser,
  client_device,
  client_zone,
  geo_city,
  geo_state,
  geo_country,
  geo_postal_code,
  geo_lat,
  geo_lon,
  outcome_result,
  outcome_reason,
  external_session_id,
  root_session_id,
  credential_type,
  credential_provider,
  authentication_provider,
  as_number,
  as_org,
  isp,
  domain,
  is_proxy,
  debug_risk,
  debug_threat_suspected,
  debug_behaviors,
  debug_request_uri,
  debug_dt_hash,
  transaction_id,
  ip_chain,  // multi-valued: matches if any element matches
  extra,     // a path outside the fixed model, read from Event::extras by slot
};

// How a field is read. A text or symbol field of the fixed model is read straight from its place in
// the Event; the rest through read_field_generic's switch, whose jump table mispredicted on most
// calls (the fields a rule set reads vary from call to call).
enum class FieldAccess : std::uint8_t { generic, text, symbol };

// A compiled reference to one field: rules resolve their paths once, at load time.
struct FieldRef {
  FieldId id = FieldId::event_type;
  std::uint16_t extra_slot = 0;  // meaningful when id == FieldId::extra
  FieldAccess access = FieldAccess::generic;
  std::uint16_t offset = 0;  // of the field's Text or Symbol in an Event, unless access is generic
  bool per_target() const;
  // A fixed-model field, with its direct access when it has one.
  static FieldRef fixed(FieldId id);
};

// A borrowed view of one field's value in one event.
struct FieldView {
  enum class Kind : std::uint8_t { missing, null, string, number, boolean };
  Kind kind = Kind::missing;
  std::string_view text;  // string (numbers and booleans also render here, for string predicates)
  double number = 0;
  bool boolean = false;
};

// The paths outside the fixed model that the loaded rules need. The rule set fills one; the parser
// extracts exactly these paths (as JSON pointers into the payload) into Event::extras.
class FieldRegistry {
 public:
  // Resolves a dotted path ("client.geographicalContext.country", "debugContext.debugData.foo").
  // Paths of the fixed model map to their FieldId; any other path is registered as an extra.
  FieldRef resolve(std::string_view dotted_path);
  const std::vector<std::string>& extra_json_pointers() const { return extra_pointers_; }
  const std::vector<std::string>& extra_paths() const { return extra_paths_; }

 private:
  std::vector<std::string> extra_paths_;
  std::vector<std::string> extra_pointers_;  // "/debugContext/debugData/foo"
};

// The dotted path of a fixed-model field (for diagnostics and explanations).
std::string_view field_path(FieldId id);
std::optional<FieldId> fixed_field(std::string_view dotted_path);

// The interned value of a field the model holds as a Symbol (not per target); null for other fields.
const Symbol* symbol_field(const Event& event, FieldId id);
// The member `offset` bytes into an Event (a FieldRef's offset, taken from a member of an Event).
inline const void* field_at(const Event& event, std::uint16_t offset) {
  return reinterpret_cast<const char*>(&event) + offset;
}

// The value of a field the model holds as a Text (not per target); null for other fields.
const Text* text_field(const Event& event, FieldId id);

// The same for a resolved field: null unless its access is `symbol`.
inline const Symbol* symbol_field(const Event& event, FieldRef field) {
  if (field.access != FieldAccess::symbol) return nullptr;
  return static_cast<const Symbol*>(field_at(event, field.offset));
}

FieldView read_field_generic(const Event& event, FieldRef field, std::size_t target_index, std::string& scratch);

// Reads a field. `target_index` selects the target for per-target fields. `scratch` holds the text
// of rendered numbers and stays valid until the next call with the same scratch.
inline FieldView read_field(const Event& event, FieldRef field, std::size_t target_index, std::string& scratch) {
  std::string_view text;
  if (field.access == FieldAccess::text)
    text = static_cast<const Text*>(field_at(event, field.offset))->view();
  else if (field.access == FieldAccess::symbol)
    text = static_cast<const Symbol*>(field_at(event, field.offset))->view();
  else
    return read_field_generic(event, field, target_index, scratch);
  if (text.empty()) return FieldView{};
  return FieldView{FieldView::Kind::string, text, 0, false};
}

}  // namespace og::correlator
