#pragma once

// Resolves what the response exceptions name through Okta: the members of excepted groups (ids,
// logins and emails), the login and email of each excepted user id, and the user id and email of
// each excepted login. An action names its user by Okta id (System Log detections) or by login or
// email (an alert whose user was not resolved yet); with every name known, an exception holds
// whichever the action carries.
// The daemon runs it at start, after each reload and every few minutes (docs/response.md).

#include <functional>
#include <string>
#include <vector>

#include "daemon/log_level.h"
#include "okta_client/lookups.h"

namespace og::daemon {

struct ExceptionTargets {
  std::vector<std::string> groups;  // group ids or names
  std::vector<std::string> users;   // Okta user ids
  std::vector<std::string> logins;
};

// The Okta client's lookups; callbacks may run on any thread.
struct ExceptionLookups {
  std::function<void(std::string group_id, okta::Lookups::Callback<std::vector<okta::OktaUser>>)> group_members;
  // A group named by its name rather than its id (the exact name, as add_to_group's group names).
  std::function<void(std::string name, okta::Lookups::Callback<okta::OktaGroup>)> group_by_name;
  std::function<void(std::string user_id, okta::Lookups::Callback<okta::OktaUser>)> user_by_id;
  std::function<void(std::string login, okta::Lookups::Callback<okta::OktaUser>)> user_by_login;
};

// Where results go (the ResponseEngine's setters), called from the lookups' callbacks.
struct ExceptionSink {
  // `names`: logins and emails. An empty id or no names: Okta has no such user.
  std::function<void(const std::string& group_id, std::vector<std::string> user_ids, std::vector<std::string> names)>
      group_members;
  std::function<void(const std::string& login, std::string user_id, std::vector<std::string> names)> login_owner;
  std::function<void(const std::string& user_id, std::vector<std::string> names)> user_names;
};

using ExceptionLogFn = std::function<void(LogLevel, std::string message)>;

// Starts one lookup per target. "No such user" (or a name Okta cannot hold) resolves a user or
// login entry to nothing (logged as a warning: the entry protects nobody). Any other failure, and an unknown group,
// leaves the earlier resolution in place, or none, in which case actions the entry might cover wait: logged as an
// error.
void resolve_exceptions(const ExceptionTargets& targets, const ExceptionLookups& lookups, const ExceptionSink& sink,
                        const ExceptionLogFn& log);

}  // namespace og::daemon
