#pragma once

// The audit trail: one JSON line per state change of an action (and per breaker, kill-switch and
// operator event), with why (detections, contributing event uuids, risk, incident), who (the user),
// what was sent and what Okta answered. Lines go to the audit file and to any extra sinks (the Kafka
// audit topic, when configured). Secrets are never part of a line: ActionRecord holds none.
//
// fsync policy: each line is one write(2) on an O_APPEND descriptor (whole lines survive a process
// crash); fdatasync runs at most once per `sync_interval` and at close, so a machine crash can lose
// the last interval of audit lines. The journal, synced on every commit, remains the source of truth
// and `oktaguard actions show` reconstructs any lost line from it.
//
// Rotation: at most once a second, a write checks that the path still names the open file; once
// logrotate (or anyone) has moved or removed it, the file is created again at the path, so a
// `create`-mode rotation needs no signal (`copytruncate` works as well).

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/journal.h"

namespace og::daemon {

using AuditSinkFn = std::function<void(std::string_view line)>;

// The JSON object (no newline) for a state change of `r`; `would_have` marks shadow-mode lines.
std::string audit_action_line(const ActionRecord& r, std::string_view from, std::string_view to, std::string_view note,
                              std::int64_t ms);
// A line for an engine event: {"ts":..,"event":"breaker_tripped","detail":..}.
std::string audit_event_line(std::string_view event, std::string_view detail, std::int64_t ms);
// The value of a plain-string field of one audit line ("kind", "to", "user_id"...: identifiers the
// writer never escapes); empty when absent. For the line's consumers (metrics, the Kafka key).
std::string audit_line_field(std::string_view line, std::string_view key);

class AuditLog {
 public:
  AuditLog() = default;
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();

  // An empty path writes only to the sinks.
  JResult<void> open(const std::filesystem::path& path, std::chrono::milliseconds sync_interval);
  void add_sink(AuditSinkFn sink) { sinks_.push_back(std::move(sink)); }
  void write(std::string_view line);
  void sync();

 private:
  // Reopens the path when it no longer names the open file (moved or removed by a rotation).
  void follow_rotation();

  int fd_ = -1;
  std::filesystem::path path_;
  std::chrono::steady_clock::time_point last_rotation_check_{};
  std::chrono::milliseconds sync_interval_{1000};
  std::chrono::steady_clock::time_point last_sync_{};
  bool dirty_ = false;
  std::vector<AuditSinkFn> sinks_;
};

}  // namespace og::daemon
