#pragma once

// The response engine: takes decided responses (ordered steps of PlannedAction), passes them through
// the guards (dedupe by idempotency key, exceptions, dry-run, cooldown), journals them durably, sends
// them through an ActionExecutor under the kill switch and the blast-radius breaker, records what
// Okta answered, schedules and performs reverts, and audits every state change.
//
// Threads: one engine thread owns the journal connection and all state; submit(), executor
// callbacks and the setters only enqueue. Tests may instead drive run_once() from their own thread
// (then that thread is the engine thread).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/action_types.h"
#include "daemon/audit.h"
#include "daemon/breaker.h"
#include "daemon/guard.h"
#include "daemon/journal.h"

namespace og::daemon {

struct Response {
  std::vector<PlannedAction> steps;  // sent in this order, each after the previous one finished
  bool stop_on_failure = false;      // a failed or held step skips the rest
};

struct ResponseConfig {
  std::filesystem::path state_dir;
  GuardConfig guard;
  BreakerConfig breaker;
  std::size_t max_in_flight = 8;
  int max_attempts = 5;  // for transient, rate_limited and unknown outcomes
  std::chrono::milliseconds retry_base{2000};
  std::chrono::hours retention{24 * 30};
  std::int64_t max_rows = 1'000'000;
  std::filesystem::path audit_file;  // empty: <state_dir>/audit.jsonl
  bool audit_to_file = true;
  std::chrono::milliseconds audit_sync_interval{1000};
  std::filesystem::path kill_switch_file;  // empty: <state_dir>/killswitch
  std::chrono::milliseconds poll_interval{200};
  std::chrono::seconds exception_retry{5};
  std::function<void(std::string_view level, std::string_view message)> log;  // empty: stderr
};

// Where tempPassword / resetPasswordUrl go when an operator configures it explicitly (see
// docs/response.md for the risk). Without one they are wiped unread.
using SecretSinkFn = std::function<void(const ActionRecord& action, std::string_view secret)>;

struct EngineStats {
  std::uint64_t submitted = 0;
  std::uint64_t decided = 0;
  std::uint64_t deduplicated = 0;
  std::uint64_t skipped = 0;
  std::uint64_t held = 0;
  std::uint64_t held_breaker = 0;
  std::uint64_t held_kill_switch = 0;
  std::uint64_t sent = 0;
  std::uint64_t done = 0;
  std::uint64_t already_in_state = 0;
  std::uint64_t failed = 0;
  std::uint64_t retried = 0;
  std::uint64_t reverts_started = 0;
  std::uint64_t reverts_superseded = 0;
  std::uint64_t breaker_trips = 0;
  std::uint64_t journal_errors = 0;
  std::uint64_t secrets_discarded = 0;
  bool kill_switch = false;
  bool breaker_tripped = false;
  std::size_t in_flight = 0;
  std::size_t backlog = 0;                 // journal rows not finished, as of the last dispatch pass
  std::size_t waiting_for_exceptions = 0;  // of those, actions held back until their exceptions resolve
  std::uint64_t passes = 0;
  bool idle = false;  // the last pass changed nothing, had no input and nothing in flight
};

struct SubmitResult {
  bool ok = false;  // journaled and synced: the offsets of the causing events may be stored
  std::string error;
  std::vector<std::int64_t> action_ids;  // per step; a redelivered step gives the existing id
};

class ResponseEngine {
 public:
  using Journaled = std::function<void(const SubmitResult&)>;

  static JResult<std::unique_ptr<ResponseEngine>> open(ResponseConfig config, ActionExecutor& executor,
                                                       const WallClock& clock);
  ResponseEngine(const ResponseEngine&) = delete;
  ResponseEngine& operator=(const ResponseEngine&) = delete;
  ~ResponseEngine();

  void add_audit_sink(AuditSinkFn sink);    // before start()
  void set_secret_sink(SecretSinkFn sink);  // before start()

  // Thread-safe.
  void submit(Response response, Journaled journaled);
  void set_exceptions(ExceptionList exceptions);
  // What the daemon resolved for the exceptions (see ExceptionList); `names`: logins and emails.
  void set_group_members(const std::string& group_id, std::vector<std::string> user_ids,
                         const std::vector<std::string>& names = {});
  void set_login_owner(const std::string& login, std::string user_id, const std::vector<std::string>& names = {});
  void set_user_names(const std::string& user_id, const std::vector<std::string>& names);
  void set_kill_switch(bool on);  // the in-process operator command; the file flag works alongside
  EngineStats stats() const;

  void start();
  // Waits up to `grace` for in-flight actions; any left stay "sending" and resume at the next start.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  // One pass: kill switch, operator commands, breaker cool-down, submissions, results, due reverts,
  // dispatch, retention. True when anything happened.
  bool run_once();
  // run_once() until nothing happens and nothing is in flight; false on timeout.
  bool run_until_idle(std::chrono::milliseconds timeout);
  // With the engine thread running: waits until a pass that began after this call found nothing to
  // do (every due action sent and answered; retries scheduled later stay in the journal). For runs
  // that end when their input does. False on timeout.
  bool wait_settled(std::chrono::milliseconds timeout) const;

 private:
  struct Inbox;
  struct Submission {
    Response response;
    Journaled journaled;
  };

  ResponseEngine(ResponseConfig config, ActionExecutor& executor, const WallClock& clock);
  JResult<void> recover();
  void log(std::string_view level, const std::string& message);
  void transition(ActionRecord& r, ActionState to, std::string note, std::int64_t now);
  void note(ActionRecord& r, std::string note, std::int64_t now);
  void audit_event(std::string_view event, const std::string& detail, std::int64_t now);
  void flush_audit();
  bool check_kill_switch(std::int64_t now);
  bool process_commands(std::int64_t now);
  bool process_submissions(std::int64_t now);
  bool process_results(std::int64_t now);
  bool process_reverts(std::int64_t now);
  bool dispatch(std::int64_t now);
  void prune(std::int64_t now);
  std::string start_revert(ActionRecord& a, std::int64_t now, bool manual);
  void on_effective(ActionRecord& r, std::int64_t now);
  void on_revert_finished(const ActionRecord& revert, std::int64_t now);
  bool commit_or_rollback(std::string_view what);

  ResponseConfig config_;
  ActionExecutor& executor_;
  const WallClock& clock_;
  std::unique_ptr<Journal> journal_;
  Breaker breaker_;
  AuditLog audit_;
  SecretSinkFn secret_sink_;
  std::shared_ptr<Inbox> inbox_;
  std::vector<std::string> pending_audit_;  // written after the transaction commits

  template <typename Change>
  void change_exceptions(Change&& change);
  std::map<std::int64_t, std::string> in_flight_;  // action id -> user id
  // Okta's answers whose journal transaction failed, and when to try them again (engine thread only).
  std::deque<std::pair<std::int64_t, ExecutionResult>> unjournaled_results_;
  std::int64_t unjournaled_retry_ms_ = 0;
  bool waiting_for_exceptions_ = false;  // the last dispatch saw an action waiting for them
  bool recheck_exceptions_ = false;      // exceptions changed: waiting actions are checked again now
  bool kill_switch_ = false;
  std::int64_t last_command_poll_ms_ = -1;
  std::int64_t last_prune_ms_ = 0;
  std::chrono::steady_clock::time_point last_command_poll_{};

  mutable std::mutex stats_mu_;
  EngineStats stats_;

  std::jthread thread_;
};

}  // namespace og::daemon
