#include "daemon/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace og::daemon {
namespace {

void field(std::string& out, std::string_view key, std::string_view value) {
  out.push_back(',');
  append_json_string(out, key);
  out.push_back(':');
  append_json_string(out, value);
}

void field_raw(std::string& out, std::string_view key, std::string_view raw) {
  out.push_back(',');
  append_json_string(out, key);
  out.push_back(':');
  out += raw;
}

}  // namespace

std::string audit_action_line(const ActionRecord& r, std::string_view from, std::string_view to, std::string_view note,
                              std::int64_t ms) {
  const auto& a = r.action;
  std::string out = "{\"ts_ms\":" + std::to_string(ms);
  field(out, "event", "action");
  field_raw(out, "action_id", std::to_string(r.id));
  field(out, "idempotency_key", r.idem_key);
  field(out, "from", from);
  field(out, "to", to);
  field_raw(out, "would_have", (a.dry_run || r.reason.starts_with("dry_run")) ? "true" : "false");
  if (!note.empty()) field(out, "note", note);
  field(out, "kind", to_string(a.kind));
  field(out, "user_id", a.user_id);
  field(out, "login", a.login);
  field_raw(out, "params", a.canonical_params());
  field_raw(out, "ttl_s", std::to_string(a.ttl.count()));
  field(out, "incident", a.incident_id);
  field_raw(out, "detections", json_string_array(a.detection_ids));
  field_raw(out, "contributing_uuids", json_string_array(a.contributing_uuids));
  field_raw(out, "risk", std::to_string(a.risk));
  if (!r.reason.empty()) field(out, "reason", r.reason);
  if (!r.response_key.empty()) {
    field(out, "response", r.response_key);
    field_raw(out, "step", std::to_string(r.step));
  }
  if (r.revert_of) field_raw(out, "revert_of", std::to_string(r.revert_of));
  if (r.attempts) field_raw(out, "attempts", std::to_string(r.attempts));
  if (!r.request.empty()) field(out, "request", r.request);
  if (!r.outcome.empty()) {
    field(out, "outcome", r.outcome);
    field_raw(out, "http_status", std::to_string(r.http_status));
    if (!r.okta_error_code.empty()) field(out, "okta_error_code", r.okta_error_code);
    if (!r.okta_error_summary.empty()) field(out, "okta_error_summary", r.okta_error_summary);
    if (!r.result_summary.empty()) field(out, "summary", r.result_summary);
  }
  if (r.revert_state != RevertState::none) {
    field(out, "revert_state", to_string(r.revert_state));
    field_raw(out, "revert_due_ms", std::to_string(r.revert_due_ms));
  }
  out.push_back('}');
  return out;
}

std::string audit_event_line(std::string_view event, std::string_view detail, std::int64_t ms) {
  std::string out = "{\"ts_ms\":" + std::to_string(ms);
  field(out, "event", event);
  field(out, "detail", detail);
  out.push_back('}');
  return out;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) {
    if (dirty_) ::fdatasync(fd_);
    ::close(fd_);
  }
}

JResult<void> AuditLog::open(const std::filesystem::path& path, std::chrono::milliseconds sync_interval) {
  sync_interval_ = sync_interval;
  if (path.empty()) return {};
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) return "cannot open audit file " + path.string() + ": " + std::strerror(errno);
  path_ = path;
  last_rotation_check_ = std::chrono::steady_clock::now();
  return {};
}

void AuditLog::follow_rotation() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_rotation_check_ < std::chrono::seconds(1)) return;
  last_rotation_check_ = now;
  struct stat at_path {};
  struct stat open_file {};
  if (::stat(path_.c_str(), &at_path) == 0 && ::fstat(fd_, &open_file) == 0 && at_path.st_dev == open_file.st_dev &&
      at_path.st_ino == open_file.st_ino)
    return;
  int fresh = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fresh < 0) return;  // keep writing to the moved file rather than nowhere; retried next second
  if (dirty_) ::fdatasync(fd_);
  ::close(fd_);
  fd_ = fresh;
  dirty_ = false;
}

void AuditLog::write(std::string_view line) {
  if (fd_ >= 0) {
    follow_rotation();
    std::string buf(line);
    buf.push_back('\n');
    std::size_t off = 0;
    while (off < buf.size()) {
      auto n = ::write(fd_, buf.data() + off, buf.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // disk full: the journal still has it; counted by the caller's health checks
      off += static_cast<std::size_t>(n);
    }
    dirty_ = true;
    auto now = std::chrono::steady_clock::now();
    if (now - last_sync_ >= sync_interval_) sync();
  }
  for (auto& sink : sinks_)
    sink(line);
}

void AuditLog::sync() {
  if (fd_ >= 0 && dirty_) ::fdatasync(fd_);
  dirty_ = false;
  last_sync_ = std::chrono::steady_clock::now();
}

std::string audit_line_field(std::string_view line, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\":\"";
  auto at = line.find(needle);
  if (at == std::string_view::npos) return {};
  at += needle.size();
  auto end = line.find('"', at);
  return end == std::string_view::npos ? std::string() : std::string(line.substr(at, end - at));
}

}  // namespace og::daemon
