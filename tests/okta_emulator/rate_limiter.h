#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace og::test::emulator {

// Okta's per-bucket limits: N requests per fixed one-minute window that opens with the first
// request; X-Rate-Limit-Reset is the epoch second at which the window closes.
class RateLimiter {
 public:
  struct Decision {
    bool allowed = true;
    std::int64_t limit = 0;
    std::int64_t remaining = 0;
    std::int64_t reset_epoch_s = 0;
  };

  explicit RateLimiter(std::int64_t default_limit = 6000) : default_limit_(default_limit) {}

  void set_limit(const std::string& bucket, std::int64_t per_minute);
  std::int64_t limit(const std::string& bucket) const;
  // Counts one request at now_epoch_s (the emulator's clock, skew included).
  Decision take(const std::string& bucket, std::int64_t now_epoch_s);
  void reset() { windows_.clear(); }

 private:
  struct Window {
    std::int64_t start = 0;
    std::int64_t used = 0;
  };
  std::int64_t default_limit_;
  std::map<std::string, std::int64_t> limits_;
  std::map<std::string, Window> windows_;
};

}  // namespace og::test::emulator
