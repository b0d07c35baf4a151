#pragma once

// What the response engine acts on: a PlannedAction (one write-back to Okta, or a notification), the
// result an executor reports for it, and the executor interface. Deliberately independent of
// okta_client so the engine builds and is tested on its own; daemon/response_okta.* adapts.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/json_text.h"

namespace og::daemon {

enum class ActionKind : std::uint8_t {
  suspend,
  unsuspend,
  clear_sessions,
  expire_password,
  reset_password,
  set_profile,
  add_to_group,
  remove_from_group,
  set_user_risk,
  notify,
};
std::string_view to_string(ActionKind kind);
std::optional<ActionKind> parse_action_kind(std::string_view text);

// Destructive actions lock a user out or throw away their sessions; they count against the
// blast-radius breaker. Reversible, additive changes (groups, profile, risk) do not.
bool is_destructive(ActionKind kind);

// Shaped as an Okta id ("00" then letters and digits; Okta's are 20 long, tests use shorter ones):
// anything else names a user by login or email, which has to be resolved.
bool okta_id_shaped(std::string_view id);

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// Ordered so the canonical form does not depend on insertion order.
using ActionParams = std::map<std::string, std::string, std::less<>>;

struct PlannedAction {
  ActionKind kind = ActionKind::notify;
  std::string user_id;          // Okta user id
  std::string login;            // for exceptions by login and for humans; not part of the idempotency key
  ActionParams params;          // e.g. {"group": "00g..."} for group actions
  std::chrono::seconds ttl{0};  // > 0: revert after this long (suspend -> unsuspend, group add -> remove)
  std::string incident_id;      // the correlator's incident: same incident + same action = same key
  std::vector<std::string> detection_ids;
  std::vector<std::string> contributing_uuids;
  double risk = 0;
  bool dry_run = false;  // shadow mode for this response
  TimePoint event_time{};

  // JSON object of the params, keys sorted, strings escaped: stable across processes and versions.
  std::string canonical_params() const;
  // Stable hex hash over (user, kind, canonical params, incident): global, not per process, so several
  // instances (design §8) and restarts agree on it.
  std::string idempotency_key() const;
};

// The action that undoes `action` when its ttl expires, or nullopt for actions that have none
// (clearing sessions or expiring a password cannot be undone).
std::optional<ActionKind> inverse_kind(ActionKind kind);
std::optional<PlannedAction> inverse(const PlannedAction& action);

// Mirrors og::okta::OutcomeKind.
enum class Outcome : std::uint8_t {
  success,
  already_in_state,
  not_found,
  forbidden,
  invalid,
  rate_limited,
  transient,
  unknown,
};
std::string_view to_string(Outcome outcome);
std::optional<Outcome> parse_outcome(std::string_view text);

struct ExecutionResult {
  Outcome outcome = Outcome::unknown;
  unsigned http_status = 0;
  std::string okta_error_code;     // e.g. E0000007
  std::string okta_error_summary;  // Okta's errorSummary
  std::string summary;             // human text, no secrets
  std::string request;             // "POST /api/v1/users/{id}/lifecycle/suspend": method and path only
  // A failed attempt (transient, rate_limited) may have reached Okta and been applied all the same.
  // An unknown outcome always may have; a request that was never written must leave this false, or
  // the retry would take a state someone else set meanwhile as its own and revert it.
  bool possibly_sent = false;
  // tempPassword / resetPasswordUrl. The engine hands it to the configured SecretSink (if any), then
  // wipes it; it is never journaled or audited.
  std::string secret;
  // The Okta ids the action's user and group (group actions) turned out to be: a login or group name
  // resolved, or the id the action gave. Empty when the executor did not get that far. The journal
  // keeps them so one person (or group) named both ways is one for cooldowns and reverts.
  std::string resolved_user_id;
  std::string resolved_group_id;
};

// Sends an action. `done` is called exactly once, on any thread, possibly before execute() returns.
// `possibly_sent` tells the executor a previous attempt may already have reached Okta (a resume after
// a crash, or a retry after an unknown outcome): it should verify rather than trust a refusal.
class ActionExecutor {
 public:
  struct Attempt {
    std::int64_t action_id = 0;
    std::string idempotency_key;
    int attempt = 1;
    bool possibly_sent = false;
  };
  virtual ~ActionExecutor() = default;
  virtual void execute(const PlannedAction& action, const Attempt& attempt,
                       std::function<void(ExecutionResult)> done) = 0;
};

// Wall clock for reverts, cooldowns and the breaker (real time, unlike the correlator's event time).
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual TimePoint now() const = 0;
};

class SystemWallClock final : public WallClock {
 public:
  TimePoint now() const override { return Clock::now(); }
};

std::int64_t to_ms(TimePoint t);
TimePoint from_ms(std::int64_t ms);

using correlator::append_json_string;
std::string json_string_array(const std::vector<std::string>& values);

}  // namespace og::daemon
