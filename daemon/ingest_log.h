#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace og::daemon {

// A short excerpt of a rejected message that is safe to log: at most `max_bytes` of output,
// control characters and non-ASCII bytes escaped (so invalid UTF-8 cannot break a log line), and
// the values of keys that look secret (password, token, secret, authorization, cookie, ...)
// replaced by "***". Works on broken JSON too: masking is lexical, not a parse.
std::string scrubbed_excerpt(std::string_view payload, std::size_t max_bytes = 80);

// Allows `per_second` events per key in each one-second window and counts what it suppressed, so
// a flood of bad messages cannot flood the log. Thread-safe.
class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogRateLimiter(std::uint32_t per_second = 10) : per_second_(per_second) {}

  struct Decision {
    bool log = false;
    std::uint64_t suppressed_before = 0;  // lines dropped for this key since the last one logged
  };
  Decision admit(std::string_view key, Clock::time_point now = Clock::now());

 private:
  struct Window {
    Clock::time_point start;
    std::uint32_t logged = 0;
    std::uint64_t suppressed = 0;
  };
  std::uint32_t per_second_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace og::daemon
