#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "daemon/log_level.h"

namespace og::daemon {

// JSON lines on stdout, one object per notable thing; journald stores them as they are. Field names
// are stable (dashboards and alerts query them): ts, level, msg, component, then the typed fields
// of the call in the order given, then `suppressed` when the rate limiter dropped lines before.

// One typed field. Constructors are explicit about their types so `const char*` never turns into a
// bool and integers keep their sign.
class LogField {
 public:
  using Value = std::variant<std::string, std::int64_t, std::uint64_t, double, bool, std::nullptr_t>;

  LogField(std::string_view name, std::string_view v) : name_(name), value_(std::string(v)) {}
  LogField(std::string_view name, const char* v) : name_(name), value_(std::string(v)) {}
  LogField(std::string_view name, const std::string& v) : name_(name), value_(v) {}
  LogField(std::string_view name, bool v) : name_(name), value_(v) {}
  LogField(std::string_view name, double v) : name_(name), value_(v) {}
  LogField(std::string_view name, std::nullptr_t) : name_(name), value_(nullptr) {}
  template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) LogField(std::string_view name, I v) : name_(name) {
    if constexpr (std::is_signed_v<I>)
      value_ = static_cast<std::int64_t>(v);
    else
      value_ = static_cast<std::uint64_t>(v);
  }

  std::string_view name() const { return name_; }
  const Value& value() const { return value_; }

 private:
  std::string_view name_;
  Value value_;
};

using LogLineSink = std::function<void(std::string_view line)>;  // receives the line with its '\n'
using LogClock = std::function<std::chrono::system_clock::time_point()>;

struct LoggerOptions {
  LogLevel level = LogLevel::info;
  // Rate limit for log_limited(): per key, at most `burst` lines per `interval`.
  std::chrono::steady_clock::duration limit_interval = std::chrono::seconds(10);
  std::uint32_t limit_burst = 5;
};

class Logger {
 public:
  // Defaults: stdout, flushed per line (journald reads a pipe), system clock.
  explicit Logger(LoggerOptions options = {}, LogLineSink sink = {}, LogClock clock = {},
                  std::function<std::chrono::steady_clock::time_point()> steady = {});

  void set_level(LogLevel level);
  LogLevel level() const;
  bool enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }

  // Values registered here are masked wherever they appear (msg, field values, component): the Okta
  // token, private key text, SASL passwords, as soon as they are read. Empty values are ignored.
  void add_secret(std::string value);

  void log(LogLevel level, std::string_view component, std::string_view msg,
           std::initializer_list<LogField> fields = {});
  // Same, but at most `burst` lines per `interval` for one key (e.g. "parse_error:okta:3"); the
  // first line after a suppression carries `suppressed: N`. Returns whether the line was written.
  bool log_limited(std::string_view key, LogLevel level, std::string_view component, std::string_view msg,
                   std::initializer_list<LogField> fields = {});

  void debug(std::string_view c, std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::debug, c, m, f);
  }
  void info(std::string_view c, std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::info, c, m, f);
  }
  void warn(std::string_view c, std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::warn, c, m, f);
  }
  void error(std::string_view c, std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::error, c, m, f);
  }

  // The line that would be written, for tests and for excerpts in other records.
  std::string format(LogLevel level, std::string_view component, std::string_view msg,
                     std::initializer_list<LogField> fields, std::uint64_t suppressed = 0) const;
  // Masks registered secrets in arbitrary text (e.g. a dead-letter excerpt).
  std::string scrub(std::string_view text) const;

 private:
  void write(std::string_view line);

  LoggerOptions options_;
  std::atomic<LogLevel> level_;
  LogLineSink sink_;
  LogClock clock_;
  std::function<std::chrono::steady_clock::time_point()> steady_;
  mutable std::mutex mu_;  // secrets, limiter state and the sink
  std::vector<std::string> secrets_;
  struct Bucket {
    std::chrono::steady_clock::time_point window_start;
    std::uint32_t used = 0;
    std::uint64_t suppressed = 0;
  };
  std::unordered_map<std::string, Bucket> limits_;
};

// Whether a field name looks like it holds a secret (password, token, secret, authorization, ...);
// such values are always written as "***".
bool is_secret_key(std::string_view name);
inline constexpr std::string_view kMask = "***";

// RFC 3339 UTC with milliseconds: 2024-05-01T12:34:56.789Z.
std::string format_rfc3339_ms(std::chrono::system_clock::time_point t);
// JSON string escaping (quotes not included); invalid UTF-8 bytes become U+FFFD.
void append_json_escaped(std::string& out, std::string_view s);

// The process-wide logger the daemon's parts use; tests build their own.
Logger& logger();

}  // namespace og::daemon
