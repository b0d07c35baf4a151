#include "daemon/journal.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <system_error>

namespace og::daemon {
namespace {

constexpr std::array<std::string_view, 8> kStateNames = {
    "decided", "sending", "done", "already_in_state", "failed", "held", "skipped", "reverted",
};
constexpr std::array<std::string_view, 6> kRevertNames = {"",     "scheduled",  "started",
                                                          "done", "superseded", "cancelled"};

// Versioned migrations: index i takes the schema from version i to i + 1. Never edit a shipped step;
// append a new one.
constexpr std::array<std::string_view, 3> kMigrations = {
    R"sql(
CREATE TABLE actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  idem_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  user_id TEXT NOT NULL,
  login TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL DEFAULT '{}',
  ttl_s INTEGER NOT NULL DEFAULT 0,
  incident TEXT NOT NULL DEFAULT '',
  detections TEXT NOT NULL DEFAULT '[]',
  uuids TEXT NOT NULL DEFAULT '[]',
  risk REAL NOT NULL DEFAULT 0,
  dry_run INTEGER NOT NULL DEFAULT 0,
  event_time_ms INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  response_key TEXT NOT NULL DEFAULT '',
  step INTEGER NOT NULL DEFAULT 0,
  stop_on_failure INTEGER NOT NULL DEFAULT 0,
  decided_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  sent_ms INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  possibly_sent INTEGER NOT NULL DEFAULT 0,
  request TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '',
  http_status INTEGER NOT NULL DEFAULT 0,
  okta_error_code TEXT NOT NULL DEFAULT '',
  okta_error_summary TEXT NOT NULL DEFAULT '',
  result_summary TEXT NOT NULL DEFAULT '',
  revert_of INTEGER NOT NULL DEFAULT 0,
  revert_due_ms INTEGER NOT NULL DEFAULT 0,
  revert_state TEXT NOT NULL DEFAULT '',
  revert_action_id INTEGER NOT NULL DEFAULT 0,
  cooldown_of INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_actions_state ON actions(state);
CREATE TABLE transitions (
  action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
  ms INTEGER NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX idx_transitions_action ON transitions(action_id);
CREATE TABLE commands (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  arg TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  done_ms INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT ''
);
CREATE TABLE breaker (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  tripped INTEGER NOT NULL,
  tripped_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  armed_since_ms INTEGER NOT NULL
);
)sql",
    // v2: lookups the engine does on every decision (cooldown, newer decisions) and every second
    // (due reverts) stop scanning the table once the journal holds a retention window of rows.
    R"sql(
CREATE INDEX idx_actions_user_kind ON actions(user_id, kind, params);
CREATE INDEX idx_actions_revert ON actions(revert_state, revert_due_ms);
CREATE INDEX idx_actions_response ON actions(response_key, step);
)sql",
    // v3: one person named by login (an alert whose user was not resolved in time) and by Okta id (a
    // System Log detection), or one group by name and by id, is one subject for cooldowns and reverts:
    // rows record the ids the names resolved to. Older rows keep matching by their names only.
    R"sql(
ALTER TABLE actions ADD COLUMN resolved_user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE actions ADD COLUMN resolved_group_id TEXT NOT NULL DEFAULT '';
CREATE INDEX idx_actions_resolved_user_kind ON actions(resolved_user_id, kind);
)sql",
};

constexpr std::string_view kCols =
    "id, idem_key, kind, user_id, login, params, ttl_s, incident, detections, uuids, risk, dry_run, "
    "event_time_ms, state, reason, response_key, step, stop_on_failure, decided_ms, updated_ms, sent_ms, "
    "next_attempt_ms, attempts, possibly_sent, request, outcome, http_status, okta_error_code, "
    "okta_error_summary, result_summary, revert_of, revert_due_ms, revert_state, revert_action_id, cooldown_of";

void bind(sqlite3_stmt* s, int i, std::int64_t v) {
  sqlite3_bind_int64(s, i, v);
}
void bind(sqlite3_stmt* s, int i, double v) {
  sqlite3_bind_double(s, i, v);
}
void bind(sqlite3_stmt* s, int i, std::string_view v) {
  // An empty view may have a null data(), which SQLite would bind as NULL rather than ''.
  sqlite3_bind_text(s, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

template <typename... Args>
void bind_all(sqlite3_stmt* s, Args&&... args) {
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  int i = 0;
  (bind(s, ++i, args), ...);
}

std::string col_text(sqlite3_stmt* s, int i) {
  const auto* p = sqlite3_column_text(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

std::vector<std::string> parse_string_array(const std::string& json) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(json).get(arr) != simdjson::SUCCESS) return out;
  for (auto el : arr) {
    std::string_view v;
    if (el.get(v) == simdjson::SUCCESS) out.emplace_back(v);
  }
  return out;
}

ActionParams parse_params(const std::string& json) {
  ActionParams out;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json).get(obj) != simdjson::SUCCESS) return out;
  for (auto field : obj) {
    std::string_view v;
    if (field.value.get(v) == simdjson::SUCCESS) out.emplace(std::string(field.key), std::string(v));
  }
  return out;
}

ActionRecord read_row(sqlite3_stmt* s) {
  ActionRecord r;
  int c = 0;
  r.id = sqlite3_column_int64(s, c++);
  r.idem_key = col_text(s, c++);
  r.action.kind = parse_action_kind(col_text(s, c++)).value_or(ActionKind::notify);
  r.action.user_id = col_text(s, c++);
  r.action.login = col_text(s, c++);
  r.action.params = parse_params(col_text(s, c++));
  r.action.ttl = std::chrono::seconds(sqlite3_column_int64(s, c++));
  r.action.incident_id = col_text(s, c++);
  r.action.detection_ids = parse_string_array(col_text(s, c++));
  r.action.contributing_uuids = parse_string_array(col_text(s, c++));
  r.action.risk = sqlite3_column_double(s, c++);
  r.action.dry_run = sqlite3_column_int64(s, c++) != 0;
  r.action.event_time = from_ms(sqlite3_column_int64(s, c++));
  r.state = parse_action_state(col_text(s, c++)).value_or(ActionState::failed);
  r.reason = col_text(s, c++);
  r.response_key = col_text(s, c++);
  r.step = sqlite3_column_int(s, c++);
  r.stop_on_failure = sqlite3_column_int64(s, c++) != 0;
  r.decided_ms = sqlite3_column_int64(s, c++);
  r.updated_ms = sqlite3_column_int64(s, c++);
  r.sent_ms = sqlite3_column_int64(s, c++);
  r.next_attempt_ms = sqlite3_column_int64(s, c++);
  r.attempts = sqlite3_column_int(s, c++);
  r.possibly_sent = sqlite3_column_int64(s, c++) != 0;
  r.request = col_text(s, c++);
  r.outcome = col_text(s, c++);
  r.http_status = static_cast<unsigned>(sqlite3_column_int64(s, c++));
  r.okta_error_code = col_text(s, c++);
  r.okta_error_summary = col_text(s, c++);
  r.result_summary = col_text(s, c++);
  r.revert_of = sqlite3_column_int64(s, c++);
  r.revert_due_ms = sqlite3_column_int64(s, c++);
  r.revert_state = parse_revert_state(col_text(s, c++));
  r.revert_action_id = sqlite3_column_int64(s, c++);
  r.cooldown_of = sqlite3_column_int64(s, c++);
  r.resolved_user_id = col_text(s, c++);
  r.resolved_group_id = col_text(s, c++);
  return r;
}

bool is_group_action(ActionKind kind) {
  return kind == ActionKind::add_to_group || kind == ActionKind::remove_from_group;
}

// The Okta ids a row is about, as far as known: what the executor resolved, else what the action
// itself gives as an id.
std::string known_user_id(const ActionRecord& r) {
  if (!r.resolved_user_id.empty()) return r.resolved_user_id;
  return okta_id_shaped(r.action.user_id) ? r.action.user_id : std::string();
}

std::string known_group_id(const ActionRecord& r) {
  if (!r.resolved_group_id.empty() || !is_group_action(r.action.kind)) return r.resolved_group_id;
  auto it = r.action.params.find("group");
  return it == r.action.params.end() ? std::string() : it->second;
}

// Rows about the same (user, kind, params) as the one bound as ?1 user_id, ?2 its known Okta id (the
// user_id again when unknown), ?3 kind, ?4 canonical params, ?5 its known group id (or ''). Users:
// the names and resolved ids of the two rows share one (a pre-v3 row has only its name). Groups: the
// same params, or the same resolved group id.
constexpr std::string_view kSameSubject =
    "(user_id IN (?1, ?2) OR (resolved_user_id <> '' AND resolved_user_id IN (?1, ?2))) AND kind = ?3 AND "
    "(params = ?4 OR (?5 <> '' AND resolved_group_id = ?5))";

}  // namespace

std::string_view to_string(ActionState state) {
  return kStateNames.at(static_cast<std::size_t>(state));
}

std::optional<ActionState> parse_action_state(std::string_view text) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == text) return static_cast<ActionState>(i);
  }
  return std::nullopt;
}

bool is_terminal(ActionState state) {
  return state != ActionState::decided && state != ActionState::sending;
}

bool is_effective(ActionState state) {
  return state == ActionState::done || state == ActionState::already_in_state;
}

std::string_view to_string(RevertState state) {
  return kRevertNames.at(static_cast<std::size_t>(state));
}

RevertState parse_revert_state(std::string_view text) {
  for (std::size_t i = 0; i < kRevertNames.size(); ++i) {
    if (kRevertNames[i] == text) return static_cast<RevertState>(i);
  }
  return RevertState::none;
}

JResult<std::unique_ptr<Journal>> Journal::open(const std::filesystem::path& dir, Mode mode, int target_version) {
  std::unique_ptr<Journal> j(new Journal());
  std::error_code ec;
  if (mode == Mode::writer) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return "cannot create state directory " + dir.string() + ": " + ec.message();
    j->lock_fd_ = ::open(lock_path(dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (j->lock_fd_ < 0) return "cannot open " + lock_path(dir).string() + ": " + std::strerror(errno);
    if (::flock(j->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return "the journal in " + dir.string() + " is in use by another oktaguard (lock " + lock_path(dir).string() +
             ")";
    }
  } else if (!std::filesystem::exists(db_path(dir), ec)) {
    return "no journal at " + db_path(dir).string();
  }
  int flags = SQLITE_OPEN_NOMUTEX;
  if (mode == Mode::writer) {
    flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  } else if (mode == Mode::commander) {
    flags |= SQLITE_OPEN_READWRITE;
  } else {
    flags |= SQLITE_OPEN_READONLY;
  }
  if (sqlite3_open_v2(db_path(dir).c_str(), &j->db_, flags, nullptr) != SQLITE_OK) {
    return "cannot open " + db_path(dir).string() + ": " + j->last_error();
  }
  sqlite3_busy_timeout(j->db_, 5000);
  if (mode == Mode::writer) {
    // WAL lets the CLI read while the daemon writes; FULL syncs the WAL on every commit, which is
    // what lets a journaled decision release the Kafka offsets that caused it.
    for (std::string_view p : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
      if (auto r = j->exec(p); !r) return r.error();
    }
    int version = j->schema_version();
    if (version > kSchemaVersion) {
      return "journal schema version " + std::to_string(version) + " is newer than this oktaguard knows (" +
             std::to_string(kSchemaVersion) + ")";
    }
    for (int v = version; v < target_version; ++v) {
      if (auto r = j->begin(); !r) return r.error();
      auto r = j->exec(kMigrations.at(static_cast<std::size_t>(v)));
      if (r) r = j->exec("PRAGMA user_version=" + std::to_string(v + 1));
      if (r) r = j->commit();
      if (!r) {
        j->rollback();
        return "journal migration to version " + std::to_string(v + 1) + " failed: " + r.error();
      }
    }
  } else {
    if (auto r = j->exec("PRAGMA foreign_keys=ON"); !r) return r.error();
    int version = j->schema_version();
    if (version < 1 || version > kSchemaVersion) {
      return "journal schema version " + std::to_string(version) + " is not one this oktaguard reads (1.." +
             std::to_string(kSchemaVersion) + ")";
    }
  }
  j->resolved_ids_ = j->schema_version() >= 3;
  return j;
}

bool Journal::writer_running(const std::filesystem::path& dir) {
  int fd = ::open(lock_path(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

Journal::~Journal() {
  for (auto& [_, s] : stmts_)
    sqlite3_finalize(s);
  if (db_) sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string Journal::last_error() const {
  return db_ ? sqlite3_errmsg(db_) : "out of memory";
}

sqlite3_stmt* Journal::stmt(std::string_view sql) {
  if (auto it = stmts_.find(sql); it != stmts_.end()) return it->second;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
      SQLITE_OK) {
    // A statement of ours that does not prepare is a bug (or a schema older than the statement).
    std::fprintf(stderr, "journal: cannot prepare '%.*s': %s\n", static_cast<int>(sql.size()), sql.data(),
                 sqlite3_errmsg(db_));
    std::abort();
  }
  stmts_.emplace(std::string(sql), s);
  return s;
}

JResult<void> Journal::exec(std::string_view sql) {
  char* msg = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string err = msg ? msg : last_error();
    sqlite3_free(msg);
    return err;
  }
  return {};
}

int Journal::schema_version() {
  auto* s = stmt("PRAGMA user_version");
  sqlite3_reset(s);
  int v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
  sqlite3_reset(s);
  return v;
}

JResult<void> Journal::begin() {
  return exec("BEGIN IMMEDIATE");
}
JResult<void> Journal::commit() {
  return exec("COMMIT");
}
void Journal::rollback() {
  (void)exec("ROLLBACK");
}

JResult<std::int64_t> Journal::insert_action(const ActionRecord& r) {
  // Tests build older schemas (target_version) and insert into them: without the resolved id columns,
  // their two trailing values are bound past the statement's last parameter, which SQLite ignores.
  auto* s =
      stmt(resolved_ids_ ? "INSERT INTO actions (idem_key, kind, user_id, login, params, ttl_s, incident, detections, "
                           "uuids, risk, dry_run, event_time_ms, state, reason, response_key, step, stop_on_failure, "
                           "decided_ms, updated_ms, revert_of, cooldown_of, next_attempt_ms, resolved_user_id, "
                           "resolved_group_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                         : "INSERT INTO actions (idem_key, kind, user_id, login, params, ttl_s, incident, detections, "
                           "uuids, risk, dry_run, event_time_ms, state, reason, response_key, step, stop_on_failure, "
                           "decided_ms, updated_ms, revert_of, cooldown_of, next_attempt_ms) VALUES "
                           "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  const auto& a = r.action;
  bind_all(s, std::string_view(r.idem_key), to_string(a.kind), std::string_view(a.user_id), std::string_view(a.login),
           std::string_view(a.canonical_params()), std::int64_t{a.ttl.count()}, std::string_view(a.incident_id),
           std::string_view(json_string_array(a.detection_ids)),
           std::string_view(json_string_array(a.contributing_uuids)), a.risk, std::int64_t{a.dry_run},
           to_ms(a.event_time), to_string(r.state), std::string_view(r.reason), std::string_view(r.response_key),
           std::int64_t{r.step}, std::int64_t{r.stop_on_failure}, r.decided_ms, r.updated_ms, r.revert_of,
           r.cooldown_of, r.next_attempt_ms, std::string_view(known_user_id(r)), std::string_view(known_group_id(r)));
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return "insert action: " + last_error();
  return sqlite3_last_insert_rowid(db_);
}

JResult<void> Journal::update_action(const ActionRecord& r) {
  // As in insert_action: an older schema's statement ignores the resolved ids bound as ?18 and ?19.
  auto* s = stmt(resolved_ids_
                     ? "UPDATE actions SET state=?, reason=?, updated_ms=?, sent_ms=?, next_attempt_ms=?, attempts=?, "
                       "possibly_sent=?, request=?, outcome=?, http_status=?, okta_error_code=?, "
                       "okta_error_summary=?, result_summary=?, revert_due_ms=?, revert_state=?, revert_action_id=?, "
                       "resolved_user_id=?18, resolved_group_id=?19 WHERE id=?17"
                     : "UPDATE actions SET state=?, reason=?, updated_ms=?, sent_ms=?, next_attempt_ms=?, attempts=?, "
                       "possibly_sent=?, request=?, outcome=?, http_status=?, okta_error_code=?, "
                       "okta_error_summary=?, result_summary=?, revert_due_ms=?, revert_state=?, revert_action_id=? "
                       "WHERE id=?17");
  bind_all(s, to_string(r.state), std::string_view(r.reason), r.updated_ms, r.sent_ms, r.next_attempt_ms,
           std::int64_t{r.attempts}, std::int64_t{r.possibly_sent}, std::string_view(r.request),
           std::string_view(r.outcome), std::int64_t{r.http_status}, std::string_view(r.okta_error_code),
           std::string_view(r.okta_error_summary), std::string_view(r.result_summary), r.revert_due_ms,
           to_string(r.revert_state), r.revert_action_id, r.id, std::string_view(known_user_id(r)),
           std::string_view(known_group_id(r)));
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return "update action: " + last_error();
  return {};
}

JResult<void> Journal::add_transition(const Transition& t) {
  auto* s = stmt("INSERT INTO transitions (action_id, ms, from_state, to_state, note) VALUES (?,?,?,?,?)");
  bind_all(s, t.action_id, t.ms, std::string_view(t.from), std::string_view(t.to), std::string_view(t.note));
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return "insert transition: " + last_error();
  return {};
}

std::optional<std::int64_t> Journal::find_by_key(std::string_view idem_key) {
  auto* s = stmt("SELECT id FROM actions WHERE idem_key=?");
  bind_all(s, idem_key);
  std::optional<std::int64_t> out;
  if (sqlite3_step(s) == SQLITE_ROW) out = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  return out;
}

std::string Journal::sel(std::string_view where) const {
  // A reader of a journal an older daemon still writes (v2) reads the resolved ids as unknown.
  return "SELECT " + std::string(kCols) + (resolved_ids_ ? ", resolved_user_id, resolved_group_id" : ", '', ''") +
         " FROM actions " + std::string(where);
}

std::vector<ActionRecord> Journal::query_actions(sqlite3_stmt* s) {
  std::vector<ActionRecord> out;
  while (sqlite3_step(s) == SQLITE_ROW)
    out.push_back(read_row(s));
  sqlite3_reset(s);
  return out;
}

std::optional<ActionRecord> Journal::get(std::int64_t id) {
  auto* s = stmt(sel("WHERE id=?"));
  bind_all(s, id);
  auto rows = query_actions(s);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::vector<ActionRecord> Journal::list(const ListFilter& f) {
  // --user 00u... also lists the actions that named that user by login or email.
  auto* s = stmt(sel(std::string("WHERE (?1 = '' OR user_id = ?1 OR login = ?1") +
                     (resolved_ids_ ? " OR resolved_user_id = ?1" : "") +
                     ") AND (?2 = '' OR state = ?2) AND decided_ms >= ?3 ORDER BY id DESC LIMIT ?4"));
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  bind(s, 1, std::string_view(f.user ? *f.user : std::string()));
  bind(s, 2, f.state ? to_string(*f.state) : std::string_view());
  bind(s, 3, f.since_ms.value_or(0));
  bind(s, 4, static_cast<std::int64_t>(f.limit));
  return query_actions(s);
}

std::vector<Transition> Journal::transitions(std::int64_t action_id) {
  auto* s = stmt("SELECT action_id, ms, from_state, to_state, note FROM transitions WHERE action_id=? ORDER BY rowid");
  bind_all(s, action_id);
  std::vector<Transition> out;
  while (sqlite3_step(s) == SQLITE_ROW) {
    out.push_back(
        {sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), col_text(s, 2), col_text(s, 3), col_text(s, 4)});
  }
  sqlite3_reset(s);
  return out;
}

std::vector<ActionRecord> Journal::unfinished() {
  auto* s = stmt(sel("WHERE state IN ('decided','sending') ORDER BY id"));
  sqlite3_reset(s);
  return query_actions(s);
}

// `where` writes `+state`: without statistics SQLite would otherwise search by the state index, which
// holds most of the table, instead of the user indexes (63 ms instead of 0.04 ms at 200,000 rows).
std::optional<ActionRecord> Journal::newest_same(std::string_view where, const ActionRecord& r, std::int64_t bound) {
  auto* s =
      stmt(sel("WHERE " + std::string(kSameSubject) + " AND " + std::string(where) + " ORDER BY id DESC LIMIT 1"));
  std::string user_id = known_user_id(r);
  if (user_id.empty()) user_id = r.action.user_id;
  bind_all(s, std::string_view(r.action.user_id), std::string_view(user_id), to_string(r.action.kind),
           std::string_view(r.action.canonical_params()), std::string_view(known_group_id(r)), bound);
  auto rows = query_actions(s);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::optional<ActionRecord> Journal::latest_active(const PlannedAction& a, std::int64_t since_ms) {
  ActionRecord decision;
  decision.action = a;
  return newest_same("decided_ms >= ?6 AND revert_of = 0 AND +state IN ('decided','sending','done','already_in_state')",
                     decision, since_ms);
}

std::optional<ActionRecord> Journal::newer_decision(const ActionRecord& r) {
  return newest_same(
      "id > ?6 AND (+state IN ('done','already_in_state') OR (+state = 'failed' AND possibly_sent = 1 AND ttl_s = 0)) "
      "AND dry_run = 0",
      r, r.id);
}

std::optional<ActionRecord> Journal::prior_effective(const ActionRecord& r) {
  return newest_same("id < ?6 AND revert_of = 0 AND +state IN ('done','already_in_state')", r, r.id);
}

std::vector<ActionRecord> Journal::cooldown_followers(std::int64_t id) {
  auto* s = stmt(sel("WHERE cooldown_of=? ORDER BY id"));
  bind_all(s, id);
  return query_actions(s);
}

std::vector<ActionRecord> Journal::due_reverts(std::int64_t now_ms) {
  auto* s = stmt(sel("WHERE revert_state='scheduled' AND revert_due_ms<=? ORDER BY revert_due_ms, id"));
  bind_all(s, now_ms);
  return query_actions(s);
}

std::optional<std::int64_t> Journal::next_revert_due() {
  auto* s = stmt("SELECT MIN(revert_due_ms) FROM actions WHERE revert_state='scheduled'");
  sqlite3_reset(s);
  std::optional<std::int64_t> out;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) out = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  return out;
}

std::pair<bool, bool> Journal::earlier_steps(std::string_view response_key, int step) {
  auto* s = stmt(
      "SELECT SUM(state IN ('decided','sending')), SUM(state IN ('failed','held') OR "
      "(state='skipped' AND reason LIKE 'previous step%')) FROM actions WHERE response_key=? AND step<?");
  bind_all(s, response_key, std::int64_t{step});
  std::pair<bool, bool> out{false, false};
  if (sqlite3_step(s) == SQLITE_ROW) out = {sqlite3_column_int64(s, 0) > 0, sqlite3_column_int64(s, 1) > 0};
  sqlite3_reset(s);
  return out;
}

std::vector<std::pair<std::int64_t, std::int64_t>> Journal::destructive_sent_since(std::int64_t ms) {
  auto* s = stmt(
      "SELECT id, sent_ms FROM actions WHERE sent_ms>=? AND sent_ms>0 AND kind IN "
      "('suspend','clear_sessions','expire_password','reset_password') ORDER BY sent_ms");
  bind_all(s, ms);
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  while (sqlite3_step(s) == SQLITE_ROW)
    out.emplace_back(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1));
  sqlite3_reset(s);
  return out;
}

JResult<std::int64_t> Journal::insert_command(std::string_view kind, std::string_view arg, std::int64_t ms) {
  auto* s = stmt("INSERT INTO commands (kind, arg, created_ms) VALUES (?,?,?)");
  bind_all(s, kind, arg, ms);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return "insert command: " + last_error();
  return sqlite3_last_insert_rowid(db_);
}

std::vector<CommandRecord> Journal::pending_commands() {
  auto* s = stmt("SELECT id, kind, arg, created_ms, done_ms, result FROM commands WHERE done_ms=0 ORDER BY id");
  sqlite3_reset(s);
  std::vector<CommandRecord> out;
  while (sqlite3_step(s) == SQLITE_ROW) {
    out.push_back({sqlite3_column_int64(s, 0), col_text(s, 1), col_text(s, 2), sqlite3_column_int64(s, 3),
                   sqlite3_column_int64(s, 4), col_text(s, 5)});
  }
  sqlite3_reset(s);
  return out;
}

std::optional<CommandRecord> Journal::get_command(std::int64_t id) {
  auto* s = stmt("SELECT id, kind, arg, created_ms, done_ms, result FROM commands WHERE id=?");
  bind_all(s, id);
  std::optional<CommandRecord> out;
  if (sqlite3_step(s) == SQLITE_ROW) {
    out = CommandRecord{sqlite3_column_int64(s, 0), col_text(s, 1), col_text(s, 2), sqlite3_column_int64(s, 3),
                        sqlite3_column_int64(s, 4), col_text(s, 5)};
  }
  sqlite3_reset(s);
  return out;
}

JResult<void> Journal::finish_command(std::int64_t id, std::int64_t ms, std::string_view result) {
  auto* s = stmt("UPDATE commands SET done_ms=?, result=? WHERE id=?");
  bind_all(s, ms, result, id);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return "finish command: " + last_error();
  return {};
}

BreakerRecord Journal::load_breaker() {
  auto* s = stmt("SELECT tripped, tripped_ms, reason, armed_since_ms FROM breaker WHERE id=1");
  sqlite3_reset(s);
  BreakerRecord b;
  if (sqlite3_step(s) == SQLITE_ROW) {
    b.tripped = sqlite3_column_int64(s, 0) != 0;
    b.tripped_ms = sqlite3_column_int64(s, 1);
    b.reason = col_text(s, 2);
    b.armed_since_ms = sqlite3_column_int64(s, 3);
  }
  sqlite3_reset(s);
  return b;
}

JResult<void> Journal::save_breaker(const BreakerRecord& b) {
  auto* s = stmt(
      "INSERT INTO breaker (id, tripped, tripped_ms, reason, armed_since_ms) VALUES (1,?,?,?,?) "
      "ON CONFLICT(id) DO UPDATE SET tripped=excluded.tripped, tripped_ms=excluded.tripped_ms, "
      "reason=excluded.reason, armed_since_ms=excluded.armed_since_ms");
  bind_all(s, std::int64_t{b.tripped}, b.tripped_ms, std::string_view(b.reason), b.armed_since_ms);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return "save breaker: " + last_error();
  return {};
}

JResult<std::int64_t> Journal::prune(std::int64_t cutoff_ms, std::int64_t max_rows) {
  // Rows a pending revert or a pending revert's cooldown chain still needs are kept.
  constexpr std::string_view kPrunable =
      "state NOT IN ('decided','sending') AND revert_state NOT IN ('scheduled','started')";
  auto* by_age = stmt("DELETE FROM actions WHERE updated_ms < ? AND " + std::string(kPrunable));
  bind_all(by_age, cutoff_ms);
  if (sqlite3_step(by_age) != SQLITE_DONE) {
    sqlite3_reset(by_age);
    return "prune: " + last_error();
  }
  sqlite3_reset(by_age);
  std::int64_t deleted = sqlite3_changes(db_);
  auto* by_count = stmt("DELETE FROM actions WHERE " + std::string(kPrunable) +
                        " AND id IN (SELECT id FROM actions ORDER BY id DESC LIMIT -1 OFFSET ?)");
  bind_all(by_count, max_rows);
  if (sqlite3_step(by_count) != SQLITE_DONE) {
    sqlite3_reset(by_count);
    return "prune: " + last_error();
  }
  sqlite3_reset(by_count);
  deleted += sqlite3_changes(db_);
  auto* cmds = stmt("DELETE FROM commands WHERE done_ms > 0 AND done_ms < ?");
  bind_all(cmds, cutoff_ms);
  sqlite3_step(cmds);
  sqlite3_reset(cmds);
  return deleted;
}

}  // namespace og::daemon
