#include "tests/okta_emulator/rate_limiter.h"

namespace og::test::emulator {

void RateLimiter::set_limit(const std::string& bucket, std::int64_t per_minute) {
  limits_[bucket] = per_minute;
  windows_.erase(bucket);
}

std::int64_t RateLimiter::limit(const std::string& bucket) const {
  auto it = limits_.find(bucket);
  return it == limits_.end() ? default_limit_ : it->second;
}

RateLimiter::Decision RateLimiter::take(const std::string& bucket, std::int64_t now_epoch_s) {
  Decision d;
  d.limit = limit(bucket);
  auto& w = windows_[bucket];
  if (w.used == 0 || now_epoch_s >= w.start + 60) {
    w.start = now_epoch_s;
    w.used = 0;
  }
  d.reset_epoch_s = w.start + 60;
  if (w.used >= d.limit) {
    d.allowed = false;
    d.remaining = 0;
    return d;
  }
  ++w.used;
  d.remaining = d.limit - w.used;
  return d;
}

}  // namespace og::test::emulator
