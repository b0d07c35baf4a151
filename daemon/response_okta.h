#pragma once

// OktaActionExecutor: the response engine's ActionExecutor over og::okta::Client. It maps a
// PlannedAction (params as written by daemon/decision_adapter.h) to an og::okta::Action, resolves a
// user named by login and a group named by name through the client's identity resolver, sends the
// action, and maps the ActionOutcome back to an ExecutionResult (the secret only in `secret`).
//
// Threads: execute() may be called from any thread; the work is posted to the client's io_context
// and `done` runs there (notify needs no Okta call and completes on the caller). The executor and
// the client must outlive every execute() whose `done` has not run yet: stop the engine first.

#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>

#include <functional>
#include <string>

#include "daemon/action_types.h"
#include "okta_client/client.h"

namespace og::daemon {

// What an action needs besides params that are plain values: names still to be resolved.
struct OktaActionPlan {
  okta::Action action;     // user_id / group id empty while the names below are unresolved
  std::string user_name;   // a login to resolve, or empty when action.user_id is an Okta id
  std::string group_name;  // a group name to resolve (group actions only), or empty
};

// Pure mapping, no I/O; an error names the bad param (the engine records it as an invalid outcome).
boost::system::result<OktaActionPlan, std::string> plan_okta_action(const PlannedAction& action);

// A profile param value as Okta gets it: integer -> int64, other JSON numbers -> double,
// true/false/null, a JSON string literal -> its text; anything else is the text itself.
okta::ProfileValue parse_profile_value(std::string_view text);

Outcome to_outcome(okta::OutcomeKind kind);

// "POST /api/v1/users/00u.../lifecycle/suspend": method and path, no query, no body.
std::string describe_request(const okta::Action& action);

ExecutionResult to_execution_result(okta::ActionOutcome outcome, const okta::Action& action);

class OktaActionExecutor final : public ActionExecutor {
 public:
  // `io` is the io_context the client runs on.
  OktaActionExecutor(boost::asio::io_context& io, okta::Client& client);

  void execute(const PlannedAction& action, const Attempt& attempt, std::function<void(ExecutionResult)> done) override;

 private:
  struct Job;
  void resolve_user(std::shared_ptr<Job> job);
  void resolve_group(std::shared_ptr<Job> job);
  void check_membership(std::shared_ptr<Job> job);
  void send(std::shared_ptr<Job> job);

  boost::asio::io_context& io_;
  okta::Client& client_;
};

}  // namespace og::daemon
