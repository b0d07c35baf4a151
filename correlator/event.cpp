#include "correlator/event.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "correlator/fields.h"

namespace og::correlator {
namespace {

struct FieldName {
  FieldId id;
  std::string_view path;
};

constexpr std::array kFieldNames{
    FieldName{FieldId::uuid, "uuid"},
    FieldName{FieldId::published, "published"},
    FieldName{FieldId::source, "source"},
    FieldName{FieldId::event_type, "eventType"},
    FieldName{FieldId::severity, "severity"},
    FieldName{FieldId::display_message, "displayMessage"},
    FieldName{FieldId::actor_id, "actor.id"},
    FieldName{FieldId::actor_type, "actor.type"},
    FieldName{FieldId::actor_alternate_id, "actor.alternateId"},
    FieldName{FieldId::actor_display_name, "actor.displayName"},
    FieldName{FieldId::target_id, "target.id"},
    FieldName{FieldId::target_type, "target.type"},
    FieldName{FieldId::target_alternate_id, "target.alternateId"},
    FieldName{FieldId::target_display_name, "target.displayName"},
    FieldName{FieldId::client_ip, "client.ipAddress"},
    FieldName{FieldId::user_agent, "client.userAgent.rawUserAgent"},
    FieldName{FieldId::user_agent_os, "client.userAgent.os"},
    FieldName{FieldId::user_agent_browser, "client.userAgent.browser"},
    FieldName{FieldId::client_device, "client.device"},
    FieldName{FieldId::client_zone, "client.zone"},
    FieldName{FieldId::geo_city, "client.geographicalContext.city"},
    FieldName{FieldId::geo_state, "client.geographicalContext.state"},
    FieldName{FieldId::geo_country, "client.geographicalContext.country"},
    FieldName{FieldId::geo_postal_code, "client.geographicalContext.postalCode"},
    FieldName{FieldId::geo_lat, "client.geographicalContext.geolocation.lat"},
    FieldName{FieldId::geo_lon, "client.geographicalContext.geolocation.lon"},
    FieldName{FieldId::outcome_result, "outcome.result"},
    FieldName{FieldId::outcome_reason, "outcome.reason"},
    FieldName{FieldId::external_session_id, "authenticationContext.externalSessionId"},
    FieldName{FieldId::root_session_id, "authenticationContext.rootSessionId"},
    FieldName{FieldId::credential_type, "authenticationContext.credentialType"},
    FieldName{FieldId::credential_provider, "authenticationContext.credentialProvider"},
    FieldName{FieldId::authentication_provider, "authenticationContext.authenticationProvider"},
    FieldName{FieldId::as_number, "securityContext.asNumber"},
    FieldName{FieldId::as_org, "securityContext.asOrg"},
    FieldName{FieldId::isp, "securityContext.isp"},
    FieldName{FieldId::domain, "securityContext.domain"},
    FieldName{FieldId::is_proxy, "securityContext.isProxy"},
    FieldName{FieldId::debug_risk, "debugContext.debugData.risk"},
    FieldName{FieldId::debug_threat_suspected, "debugContext.debugData.threatSuspected"},
    FieldName{FieldId::debug_behaviors, "debugContext.debugData.behaviors"},
    FieldName{FieldId::debug_request_uri, "debugContext.debugData.requestUri"},
    FieldName{FieldId::debug_dt_hash, "debugContext.debugData.dtHash"},
    FieldName{FieldId::transaction_id, "transaction.id"},
    FieldName{FieldId::ip_chain, "request.ipChain.ip"},
};

FieldView text(std::string_view value) {
  if (value.empty()) return FieldView{};
  return FieldView{FieldView::Kind::string, value, 0, false};
}

FieldView number(double value, std::string& scratch) {
  std::array<char, 32> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  scratch.assign(buffer.data(), ec == std::errc{} ? end : buffer.data());
  return FieldView{FieldView::Kind::number, scratch, value, false};
}

FieldView boolean(bool value) {
  return FieldView{FieldView::Kind::boolean, value ? "true" : "false", value ? 1.0 : 0.0, value};
}

const EntityRef* target_at(const Event& event, std::size_t index) {
  return index < event.targets.size() ? &event.targets[index] : nullptr;
}

}  // namespace

bool FieldRef::per_target() const {
  return id == FieldId::target_id || id == FieldId::target_type || id == FieldId::target_alternate_id ||
         id == FieldId::target_display_name;
}

std::string_view field_path(FieldId id) {
  for (const FieldName& name : kFieldNames) {
    if (name.id == id) return name.path;
  }
  return "extra";
}

std::optional<FieldId> fixed_field(std::string_view dotted_path) {
  for (const FieldName& name : kFieldNames) {
    if (name.path == dotted_path) return name.id;
  }
  return std::nullopt;
}

FieldRef FieldRegistry::resolve(std::string_view dotted_path) {
  if (auto id = fixed_field(dotted_path)) return FieldRef::fixed(*id);
  auto it = std::find(extra_paths_.begin(), extra_paths_.end(), dotted_path);
  if (it != extra_paths_.end()) {
    return FieldRef{FieldId::extra, static_cast<std::uint16_t>(it - extra_paths_.begin())};
  }
  std::string pointer;
  pointer.reserve(dotted_path.size() + 1);
  pointer.push_back('/');
  for (char c : dotted_path) {
    // JSON pointer escaping (RFC 6901) for the characters that have a meaning there.
    if (c == '.')
      pointer.push_back('/');
    else if (c == '~')
      pointer += "~0";
    else if (c == '/')
      pointer += "~1";
    else
      pointer.push_back(c);
  }
  extra_paths_.emplace_back(dotted_path);
  extra_pointers_.push_back(std::move(pointer));
  return FieldRef{FieldId::extra, static_cast<std::uint16_t>(extra_paths_.size() - 1)};
}

// FieldRef::offset is 16 bits.
static_assert(sizeof(Event) <= 0xFFFF);

FieldRef FieldRef::fixed(FieldId id) {
  FieldRef ref{id, 0};
  static const Event probe;
  const char* base = reinterpret_cast<const char*>(&probe);
  auto at = [&](FieldAccess access, const void* member) {
    ref.access = access;
    ref.offset = static_cast<std::uint16_t>(static_cast<const char*>(member) - base);
  };
  if (const Symbol* sym = symbol_field(probe, id))
    at(FieldAccess::symbol, sym);
  else if (const Text* text = text_field(probe, id))
    at(FieldAccess::text, text);
  // Otherwise per target, a number, a boolean, a list or an extra: read_field_generic.
  return ref;
}

const Text* text_field(const Event& event, FieldId id) {
  switch (id) {
    case FieldId::uuid:
      return &event.uuid;
    case FieldId::display_message:
      return &event.display_message;
    case FieldId::actor_id:
      return &event.actor.id;
    case FieldId::actor_alternate_id:
      return &event.actor.alternate_id;
    case FieldId::actor_display_name:
      return &event.actor.display_name;
    case FieldId::client_ip:
      return &event.client_ip;
    case FieldId::user_agent:
      return &event.user_agent;
    case FieldId::geo_city:
      return &event.geo.city;
    case FieldId::geo_postal_code:
      return &event.geo.postal_code;
    case FieldId::external_session_id:
      return &event.external_session_id;
    case FieldId::root_session_id:
      return &event.root_session_id;
    case FieldId::as_org:
      return &event.as_org;
    case FieldId::isp:
      return &event.isp;
    case FieldId::domain:
      return &event.domain;
    case FieldId::debug_risk:
      return &event.debug_risk;
    case FieldId::debug_threat_suspected:
      return &event.debug_threat_suspected;
    case FieldId::debug_behaviors:
      return &event.debug_behaviors;
    case FieldId::debug_request_uri:
      return &event.debug_request_uri;
    case FieldId::debug_dt_hash:
      return &event.debug_dt_hash;
    case FieldId::transaction_id:
      return &event.transaction_id;
    default:
      return nullptr;
  }
}

const Symbol* symbol_field(const Event& event, FieldId id) {
  switch (id) {
    case FieldId::source:
      return &event.source;
    case FieldId::event_type:
      return &event.event_type;
    case FieldId::severity:
      return &event.severity;
    case FieldId::actor_type:
      return &event.actor.type;
    case FieldId::user_agent_os:
      return &event.user_agent_os;
    case FieldId::user_agent_browser:
      return &event.user_agent_browser;
    case FieldId::client_device:
      return &event.client_device;
    case FieldId::client_zone:
      return &event.client_zone;
    case FieldId::geo_state:
      return &event.geo.state;
    case FieldId::geo_country:
      return &event.geo.country;
    case FieldId::outcome_result:
      return &event.outcome_result;
    case FieldId::outcome_reason:
      return &event.outcome_reason;
    case FieldId::credential_type:
      return &event.credential_type;
    case FieldId::credential_provider:
      return &event.credential_provider;
    case FieldId::authentication_provider:
      return &event.authentication_provider;
    default:
      return nullptr;
  }
}

FieldView read_field_generic(const Event& event, FieldRef field, std::size_t target_index, std::string& scratch) {
  if (const Text* t = text_field(event, field.id)) return text(*t);
  if (const Symbol* sym = symbol_field(event, field.id)) return text(sym->view());
  switch (field.id) {
    case FieldId::published:
      if (!event.time_from_payload) return FieldView{};
      return number(static_cast<double>(event.published.time_since_epoch().count()), scratch);
    case FieldId::target_id: {
      const EntityRef* t = target_at(event, target_index);
      return t ? text(t->id) : FieldView{};
    }
    case FieldId::target_type: {
      const EntityRef* t = target_at(event, target_index);
      return t ? text(t->type.view()) : FieldView{};
    }
    case FieldId::target_alternate_id: {
      const EntityRef* t = target_at(event, target_index);
      return t ? text(t->alternate_id) : FieldView{};
    }
    case FieldId::target_display_name: {
      const EntityRef* t = target_at(event, target_index);
      return t ? text(t->display_name) : FieldView{};
    }
    case FieldId::geo_lat:
      return event.geo.lat ? number(*event.geo.lat, scratch) : FieldView{};
    case FieldId::geo_lon:
      return event.geo.lon ? number(*event.geo.lon, scratch) : FieldView{};
    case FieldId::as_number:
      return event.as_number ? number(static_cast<double>(*event.as_number), scratch) : FieldView{};
    case FieldId::is_proxy:
      return event.is_proxy ? boolean(*event.is_proxy) : FieldView{};
    case FieldId::ip_chain:
      return target_index < event.ip_chain.size() ? text(event.ip_chain[target_index]) : FieldView{};
    case FieldId::extra: {
      auto it = std::lower_bound(event.extras.begin(), event.extras.end(), field.extra_slot,
                                 [](const ExtraField& e, std::uint16_t slot) { return e.slot < slot; });
      if (it == event.extras.end() || it->slot != field.extra_slot) return FieldView{};
      const ExtraValue& v = it->value;
      if (std::holds_alternative<std::monostate>(v)) return FieldView{FieldView::Kind::null, {}, 0, false};
      if (const auto* s = std::get_if<Text>(&v)) return FieldView{FieldView::Kind::string, *s, 0, false};
      if (const auto* d = std::get_if<double>(&v)) return number(*d, scratch);
      return boolean(std::get<bool>(v));
    }
    default:
      break;  // text and symbol fields: read above
  }
  return FieldView{};
}

}  // namespace og::correlator
