#include "daemon/decision_adapter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace og::daemon {

ActionKind to_action_kind(correlator::ActionKind kind) {
  using C = correlator::ActionKind;
  switch (kind) {
    case C::suspend:
      return ActionKind::suspend;
    case C::unsuspend:
      return ActionKind::unsuspend;
    case C::clear_sessions:
      return ActionKind::clear_sessions;
    case C::expire_password:
      return ActionKind::expire_password;
    case C::reset_password:
      return ActionKind::reset_password;
    case C::set_profile:
      return ActionKind::set_profile;
    case C::add_to_group:
      return ActionKind::add_to_group;
    case C::remove_from_group:
      return ActionKind::remove_from_group;
    case C::set_user_risk:
      return ActionKind::set_user_risk;
    case C::notify:
      return ActionKind::notify;
  }
  return ActionKind::notify;
}

std::string profile_param_value(std::string_view rendered) {
  if (rendered.empty() || rendered.front() != '"') return std::string(rendered);
  std::string out;
  append_json_string(out, rendered);
  return out;
}

std::string okta_risk_reason(std::string_view text) {
  std::string out;
  out.reserve(std::min<std::size_t>(text.size(), 500));
  for (char c : text) {
    if (out.size() == 500) break;
    const auto u = static_cast<unsigned char>(c);
    const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == ' ' ||
                    c == '-' || c == ',' || c == '.';
    out += ok ? c : '-';
  }
  return out;
}

namespace {

std::string risk_reason_for(const correlator::Decision& d) {
  std::string detections;
  for (const auto& id : d.detections) {
    if (!detections.empty()) detections += ", ";
    detections += id;
  }
  return okta_risk_reason(fmt::format("oktaguard {} risk {}", detections.empty() ? d.response : detections,
                                      static_cast<long long>(std::llround(std::isfinite(d.risk) ? d.risk : 0.0))));
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

}  // namespace

PlannedAction to_planned_action(const correlator::Decision& d, const DecisionAdapterOptions& options) {
  PlannedAction a;
  a.kind = to_action_kind(d.action);
  // A user the resolver could not map keeps its login/email as the id: the executor resolves it just
  // before sending, and login exceptions apply to it meanwhile.
  a.user_id = d.user.id;
  if (d.user.kind != correlator::IdentityKind::okta_id) a.login = d.user.id;
  auto flag = [&a](const char* name, bool on) {
    if (on) a.params.emplace(name, "true");
  };
  switch (a.kind) {
    case ActionKind::add_to_group:
    case ActionKind::remove_from_group:
      a.params.emplace(d.group_is_id ? "group" : "group_name", d.group);
      break;
    case ActionKind::clear_sessions:
      flag("oauth_tokens", d.oauth_tokens);
      flag("forget_devices", d.forget_devices);
      break;
    case ActionKind::expire_password:
      flag("temp_password", d.temp_password);
      flag("revoke_sessions", d.revoke_sessions);
      break;
    case ActionKind::reset_password:
      a.params.emplace("send_email", d.send_email ? "true" : "false");
      flag("revoke_sessions", d.revoke_sessions);
      break;
    case ActionKind::set_profile:
      for (const auto& [attr, value] : d.profile)
        a.params.insert_or_assign(attr, profile_param_value(value));
      break;
    case ActionKind::set_user_risk:
      a.params.emplace("level", d.level.empty() ? std::string("HIGH") : upper(d.level));
      a.params.emplace("reason", risk_reason_for(d));
      break;
    case ActionKind::notify:
      if (!d.message.empty()) a.params.emplace("message", d.message);
      break;
    case ActionKind::suspend:
    case ActionKind::unsuspend:
      break;
  }
  if (d.ttl && d.ttl->count() > 0) {
    // Rounded up: a sub-second ttl must still revert (0 means "never").
    a.ttl = std::chrono::ceil<std::chrono::seconds>(*d.ttl);
  }
  a.incident_id = d.id;
  a.detection_ids = d.detections;
  a.contributing_uuids = d.evidence;
  a.risk = d.risk;
  a.dry_run = options.dry_run_responses.contains(d.response);
  a.event_time = std::chrono::time_point_cast<Clock::duration>(d.time);
  return a;
}

std::vector<Response> to_responses(std::span<const correlator::Decision> decisions,
                                   const DecisionAdapterOptions& options) {
  // One firing = (response, user, incident time, tier); a map keeps large replay batches linear-ish.
  using Key = std::tuple<std::string_view, std::string_view, std::int64_t, std::uint32_t>;
  std::map<Key, std::size_t> index;
  std::vector<std::vector<const correlator::Decision*>> groups;
  for (const auto& d : decisions) {
    Key key{d.response, d.user.id, d.time.time_since_epoch().count(), d.tier};
    auto [it, fresh] = index.try_emplace(key, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(&d);
  }
  std::vector<Response> out;
  out.reserve(groups.size());
  for (auto& g : groups) {
    std::stable_sort(g.begin(), g.end(), [](const auto* a, const auto* b) { return a->ordinal < b->ordinal; });
    Response r;
    r.stop_on_failure = options.stop_on_failure;
    for (const auto* d : g)
      r.steps.push_back(to_planned_action(*d, options));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace og::daemon
