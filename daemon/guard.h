#pragma once

// Checks a decision passes before it may become a write-back: dry-run (global, per detection, per
// response) and exceptions (users, logins, groups that are never acted upon, each optionally
// expiring). Cooldown and dedupe need the journal and live in the engine; the breaker and kill
// switch apply at send time (daemon/breaker.h, daemon/response.h).

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/action_types.h"

namespace og::daemon {

// The start of the reason ExceptionList::check gives an action it cannot decide yet; the response
// engine recognises the actions waiting for their exceptions by it.
inline constexpr std::string_view kExceptionsUnresolved = "exceptions unresolved";

struct ExceptionEntry {
  enum class Type { user, login, group };
  Type type = Type::user;
  std::string value;  // user id, login (case-insensitive), or group id or exact name
  std::optional<TimePoint> expires;
  std::string note;  // e.g. "break-glass admin"
};

class ExceptionList {
 public:
  void add(ExceptionEntry entry);
  // Group exceptions are resolved through the API by the daemon and refreshed; until a group's
  // members are known, actions wait (stay decided) rather than risk acting on a break-glass admin.
  // `names` (any case): the members' logins and emails, for actions that name their user by one.
  void set_group_members(const std::string& group_id, std::vector<std::string> user_ids, TimePoint refreshed,
                         const std::vector<std::string>& names = {});
  std::vector<std::string> groups() const;
  std::optional<TimePoint> refreshed(const std::string& group_id) const;

  // An action names its user by Okta id (System Log detections) or by login or email (an alert whose
  // user was not resolved yet), and an exception names an id or a login: the daemon resolves the
  // rest through the API. Until an entry is resolved, an action it cannot be told apart from waits,
  // as for groups. Empty `user_id` / `names`: Okta has no such user (resolved: nothing to match).
  // A login's owner: their Okta id and other names (email).
  void set_login_owner(const std::string& login, std::string user_id, TimePoint refreshed,
                       const std::vector<std::string>& names = {});
  // A user id's names: login and email.
  void set_user_names(const std::string& user_id, const std::vector<std::string>& names, TimePoint refreshed);
  // Takes what `older` had resolved for the groups, users and logins this list names too, so a
  // reload does not make every action wait for the next resolution.
  void keep_resolved(const ExceptionList& older);

  struct Match {
    enum class Kind { none, excepted, unresolved } kind = Kind::none;
    std::string why;
  };
  Match check(const std::string& user_id, const std::string& login, TimePoint now) const;

 private:
  struct Group {
    std::set<std::string> members;
    std::set<std::string> member_names;  // lower-cased logins and emails
    std::optional<TimePoint> refreshed;
  };
  struct Resolved {
    std::string user_id;          // of a login entry
    std::set<std::string> names;  // lower-cased logins and emails
    TimePoint refreshed{};
  };
  std::vector<ExceptionEntry> entries_;
  std::map<std::string, Group> groups_;
  std::map<std::string, Resolved> login_owners_;  // login entry -> its user
  std::map<std::string, Resolved> user_names_;    // user entry -> its names
};

struct GuardConfig {
  bool dry_run = false;                     // global shadow mode
  std::set<std::string> shadow_detections;  // responses driven by these detections only "would have"
  std::chrono::seconds default_cooldown{15 * 60};
  std::map<ActionKind, std::chrono::seconds> cooldowns;  // per kind; 0 disables
};

std::chrono::seconds cooldown_for(const GuardConfig& config, ActionKind kind);

struct GuardVerdict {
  enum class Kind { proceed, skip, defer } kind = Kind::proceed;
  // defer: not yet (exception groups unresolved); the engine keeps the action decided and retries.
  std::string reason;       // "dry_run", "exception: ...", "exceptions unresolved: ..."
  bool would_have = false;  // shadow mode: audited as "would have"
};

GuardVerdict evaluate_guard(const GuardConfig& config, const ExceptionList& exceptions, const PlannedAction& action,
                            TimePoint now);

}  // namespace og::daemon
