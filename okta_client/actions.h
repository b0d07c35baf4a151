#pragma once

// Write-back operations on the Okta Management API: the Action value type (what the response engine
// decides and journals), the exact request each action sends, and ActionRunner, which sends it and
// turns the answer into an ActionOutcome, re-reading the user where Okta's answer alone is ambiguous.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "okta_client/outcome.h"

namespace og::okta {

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
};
std::string_view to_string(ActionKind kind);

enum class RiskLevel : std::uint8_t { low, medium, high };
std::string_view to_string(RiskLevel level);  // "LOW", "MEDIUM", "HIGH" (UserRiskRequest.riskLevel)

// A profile attribute value: what UserProfile accepts for custom scalar attributes.
using ProfileValue = std::variant<std::nullptr_t, bool, std::int64_t, double, std::string>;
// Ordered, so the request body and the canonical string do not depend on insertion order.
using ProfileAttrs = std::map<std::string, ProfileValue, std::less<>>;

struct Action {
  struct Suspend {};
  struct Unsuspend {};
  struct ClearSessions {
    bool oauth_tokens = false;
    bool forget_devices = false;  // sent explicitly: Okta's own default (Identity Engine) is true
  };
  struct ExpirePassword {
    bool temp_password = false;    // expire_password_with_temp_password: returns a secret
    bool revoke_sessions = false;  // only with temp_password (plain expire_password has no such parameter)
  };
  struct ResetPassword {
    bool send_email = true;  // false: Okta returns resetPasswordUrl (a secret)
    bool revoke_sessions = false;
  };
  struct SetProfile {
    ProfileAttrs attrs;  // only the changed attributes: a partial update (POST), never the full PUT
  };
  struct AddToGroup {
    std::string group_id;
  };
  struct RemoveFromGroup {
    std::string group_id;
  };
  struct SetUserRisk {
    RiskLevel level = RiskLevel::high;
    std::string reason;  // Okta allows [a-zA-Z0-9 whitespace - , .], at most 500 characters
  };
  // Alternatives in ActionKind order.
  using Params = std::variant<Suspend, Unsuspend, ClearSessions, ExpirePassword, ResetPassword, SetProfile, AddToGroup,
                              RemoveFromGroup, SetUserRisk>;

  std::string user_id;  // Okta user id (resolved before an action is built)
  Params params;

  ActionKind kind() const { return static_cast<ActionKind>(params.index()); }

  // Stable text of (kind, user, parameters) for idempotency keys: the same action always gives the
  // same string, different actions never do (strings are JSON-quoted, maps sorted). It holds no secret.
  std::string canonical() const;

  friend bool operator==(const Action& a, const Action& b) { return a.canonical() == b.canonical(); }
};

// Why an action cannot be sent as is (empty or malformed id, a reason Okta would refuse, ...).
std::optional<std::string> validate(const Action& action);

// The request for an action. Precondition: validate(action) is empty.
Request build_request(const Action& action);

// JSON for a partial profile update: {"profile":{...}}.
std::string profile_update_body(const ProfileAttrs& attrs);

struct ActionOptions {
  // After an unknown outcome on a lifecycle operation, how many times to resend once a re-read shows
  // the change was not applied.
  int max_resends_after_reread = 1;
  LogSink log;
};

// Runs actions. execute() must be called on the io_context thread that runs the SendFn's handlers;
// `done` is called exactly once, on that thread. In-flight operations keep what they need alive, so
// the runner may be destroyed before they finish.
class ActionRunner {
 public:
  using Done = std::function<void(ActionOutcome)>;
  ActionRunner(SendFn send, ActionOptions options);
  void execute(Action action, Done done);

 private:
  SendFn send_;
  ActionOptions options_;
};

}  // namespace og::okta
