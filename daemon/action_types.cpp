#include "daemon/action_types.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace og::daemon {
namespace {

constexpr std::array<std::string_view, 10> kKindNames = {
    "suspend",     "unsuspend",    "clear_sessions",    "expire_password", "reset_password",
    "set_profile", "add_to_group", "remove_from_group", "set_user_risk",   "notify",
};

constexpr std::array<std::string_view, 8> kOutcomeNames = {
    "success", "already_in_state", "not_found", "forbidden", "invalid", "rate_limited", "transient", "unknown",
};

}  // namespace

std::string_view to_string(ActionKind kind) {
  return kKindNames.at(static_cast<std::size_t>(kind));
}

std::optional<ActionKind> parse_action_kind(std::string_view text) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == text) return static_cast<ActionKind>(i);
  }
  return std::nullopt;
}

bool is_destructive(ActionKind kind) {
  switch (kind) {
    case ActionKind::suspend:
    case ActionKind::clear_sessions:
    case ActionKind::expire_password:
    case ActionKind::reset_password:
      return true;
    default:
      return false;
  }
}

std::string_view to_string(Outcome outcome) {
  return kOutcomeNames.at(static_cast<std::size_t>(outcome));
}

std::optional<Outcome> parse_outcome(std::string_view text) {
  for (std::size_t i = 0; i < kOutcomeNames.size(); ++i) {
    if (kOutcomeNames[i] == text) return static_cast<Outcome>(i);
  }
  return std::nullopt;
}

std::string json_string_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, values[i]);
  }
  out.push_back(']');
  return out;
}

std::string PlannedAction::canonical_params() const {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : params) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, k);
    out.push_back(':');
    append_json_string(out, v);
  }
  out.push_back('}');
  return out;
}

std::string PlannedAction::idempotency_key() const {
  // Length-prefixed fields: no choice of values can make two different tuples hash the same text.
  std::string text;
  auto field = [&text](std::string_view v) {
    text += std::to_string(v.size());
    text.push_back(':');
    text += v;
  };
  field("og-action-v1");
  field(user_id);
  field(to_string(kind));
  field(canonical_params());
  field(incident_id);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  // 128 bits: collision-free in practice for any journal, and short enough to read in the CLI.
  for (unsigned int i = 0; i < 16 && i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

std::optional<ActionKind> inverse_kind(ActionKind kind) {
  switch (kind) {
    case ActionKind::suspend:
      return ActionKind::unsuspend;
    case ActionKind::add_to_group:
      return ActionKind::remove_from_group;
    default:
      return std::nullopt;
  }
}

std::optional<PlannedAction> inverse(const PlannedAction& action) {
  auto kind = inverse_kind(action.kind);
  if (!kind) return std::nullopt;
  PlannedAction out;
  out.kind = *kind;
  out.user_id = action.user_id;
  out.login = action.login;
  out.params = action.params;  // the group stays the group
  out.incident_id = "revert:" + action.idempotency_key();
  out.detection_ids = action.detection_ids;
  out.contributing_uuids = action.contributing_uuids;
  out.risk = action.risk;
  out.dry_run = action.dry_run;
  out.event_time = action.event_time;
  return out;
}

std::int64_t to_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint from_ms(std::int64_t ms) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
}

bool okta_id_shaped(std::string_view id) {
  return id.size() >= 3 && id.starts_with("00") &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

}  // namespace og::daemon
