#pragma once

// The durable action journal: one SQLite database (WAL) in the state directory. The engine's thread
// is its only writer (Mode::writer holds an flock on journal.lock so a second daemon cannot open it);
// the operator CLI reads with read-only connections and queues commands with short write
// transactions, both safe beside a running daemon under WAL.

#include <boost/system/result.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/action_types.h"

struct sqlite3;
struct sqlite3_stmt;

namespace og::daemon {

template <typename T>
using JResult = boost::system::result<T, std::string>;

// decided -> sending -> done | already_in_state | failed; decided -> held | skipped;
// done/already_in_state -> reverted (when its scheduled or manual revert completed).
enum class ActionState : std::uint8_t { decided, sending, done, already_in_state, failed, held, skipped, reverted };
std::string_view to_string(ActionState state);
std::optional<ActionState> parse_action_state(std::string_view text);
bool is_terminal(ActionState state);
// The action took effect (or Okta says the user was already there).
bool is_effective(ActionState state);

enum class RevertState : std::uint8_t { none, scheduled, started, done, superseded, cancelled };
std::string_view to_string(RevertState state);
RevertState parse_revert_state(std::string_view text);

struct ActionRecord {
  std::int64_t id = 0;
  std::string idem_key;
  PlannedAction action;
  ActionState state = ActionState::decided;
  std::string reason;  // why held / skipped / failed, and notes
  // Ordered multi-action responses: steps of one response share response_key, run in step order.
  std::string response_key;
  int step = 0;
  bool stop_on_failure = false;
  std::int64_t decided_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t sent_ms = 0;  // last handed to the executor
  std::int64_t next_attempt_ms = 0;
  int attempts = 0;
  bool possibly_sent = false;  // a previous attempt may have reached Okta
  // What was sent and what Okta answered (never secrets).
  std::string request;
  std::string outcome;
  unsigned http_status = 0;
  std::string okta_error_code;
  std::string okta_error_summary;
  std::string result_summary;
  // Reverts.
  std::int64_t revert_of = 0;  // this row undoes that action
  std::int64_t revert_due_ms = 0;
  RevertState revert_state = RevertState::none;
  std::int64_t revert_action_id = 0;
  std::int64_t cooldown_of = 0;  // skipped for cooldown: the earlier action it repeated
  // The Okta ids of the user and group (group actions) once known: given as ids by the action, or
  // what the executor resolved a login or group name to. Empty while unknown, and in rows written
  // before schema v3.
  std::string resolved_user_id;
  std::string resolved_group_id;
};

struct Transition {
  std::int64_t action_id = 0;
  std::int64_t ms = 0;
  std::string from;
  std::string to;
  std::string note;
};

struct CommandRecord {
  std::int64_t id = 0;
  std::string kind;  // "revert", "release"
  std::string arg;
  std::int64_t created_ms = 0;
  std::int64_t done_ms = 0;
  std::string result;
};

struct BreakerRecord {
  bool tripped = false;
  std::int64_t tripped_ms = 0;
  std::string reason;
  std::int64_t armed_since_ms = 0;  // only sends after this count toward the window
};

struct ListFilter {
  std::optional<std::string> user;
  std::optional<ActionState> state;
  std::optional<std::int64_t> since_ms;
  std::size_t limit = 1000;
};

class Journal {
 public:
  enum class Mode { writer, reader, commander };
  static constexpr int kSchemaVersion = 3;
  static std::filesystem::path db_path(const std::filesystem::path& dir) { return dir / "journal.db"; }
  static std::filesystem::path lock_path(const std::filesystem::path& dir) { return dir / "journal.lock"; }

  // writer creates the directory and database and migrates up to `target_version` (tests use lower
  // values to build old schemas); reader and commander require an existing journal at a version
  // this build knows.
  static JResult<std::unique_ptr<Journal>> open(const std::filesystem::path& dir, Mode mode,
                                                int target_version = kSchemaVersion);
  // True when some process holds the writer lock (a daemon is running on this state directory).
  static bool writer_running(const std::filesystem::path& dir);

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  int schema_version();

  JResult<void> begin();
  JResult<void> commit();
  void rollback();

  JResult<std::int64_t> insert_action(const ActionRecord& record);
  JResult<void> update_action(const ActionRecord& record);
  JResult<void> add_transition(const Transition& t);
  std::optional<std::int64_t> find_by_key(std::string_view idem_key);
  std::optional<ActionRecord> get(std::int64_t id);
  std::vector<ActionRecord> list(const ListFilter& filter);
  std::vector<Transition> transitions(std::int64_t action_id);
  // decided or sending, oldest first.
  std::vector<ActionRecord> unfinished();
  // "The same (user, kind, params)" below: the same kind, the same user (the same user_id, or the same
  // Okta id where the rows know it: a login resolved to 00u... is that user) and the same params (or,
  // for group actions, the same resolved group id: a group named by name is the group with that id).
  // The newest action for the same (user, kind, params) decided at or after since_ms that is not
  // held, skipped, failed or reverted.
  std::optional<ActionRecord> latest_active(const PlannedAction& a, std::int64_t since_ms);
  // The newest decision for the same (user, kind, params) after `r` that took over the state: effective,
  // or permanent and failed after it may have been sent (see revert_blocked).
  std::optional<ActionRecord> newer_decision(const ActionRecord& r);
  // The newest earlier effective, non-revert action for the same (user, kind, params) as `r`.
  std::optional<ActionRecord> prior_effective(const ActionRecord& r);
  std::vector<ActionRecord> cooldown_followers(std::int64_t id);
  std::vector<ActionRecord> due_reverts(std::int64_t now_ms);
  std::optional<std::int64_t> next_revert_due();
  // Earlier steps of the response: (any not terminal, any failed/held).
  std::pair<bool, bool> earlier_steps(std::string_view response_key, int step);
  std::vector<std::pair<std::int64_t, std::int64_t>> destructive_sent_since(std::int64_t ms);

  JResult<std::int64_t> insert_command(std::string_view kind, std::string_view arg, std::int64_t ms);
  std::vector<CommandRecord> pending_commands();
  std::optional<CommandRecord> get_command(std::int64_t id);
  JResult<void> finish_command(std::int64_t id, std::int64_t ms, std::string_view result);

  BreakerRecord load_breaker();
  JResult<void> save_breaker(const BreakerRecord& b);

  // Retention: deletes terminal actions (and done commands) last updated before cutoff_ms whose
  // reverts are not pending, then the oldest terminal ones beyond max_rows. Returns rows deleted.
  JResult<std::int64_t> prune(std::int64_t cutoff_ms, std::int64_t max_rows);

  JResult<void> exec(std::string_view sql);

 private:
  Journal() = default;
  sqlite3_stmt* stmt(std::string_view sql);
  std::string sel(std::string_view where) const;
  std::optional<ActionRecord> newest_same(std::string_view where, const ActionRecord& r, std::int64_t bound);
  std::string last_error() const;
  std::vector<ActionRecord> query_actions(sqlite3_stmt* s);

  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
  bool resolved_ids_ = true;  // the schema has the resolved id columns (v3): readers of older ones do not
  std::map<std::string, sqlite3_stmt*, std::less<>> stmts_;
};

}  // namespace og::daemon
