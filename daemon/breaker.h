#pragma once

// The blast-radius breaker: more than max_actions destructive actions sent within `window`, org-wide,
// trips it; while tripped every further destructive action is held (journaled, alerted, never sent).
// Only `oktaguard actions release` or the cool-down (rearm_after since the trip, if non-zero) re-arms
// it. Its state is persisted in the journal so a trip survives a restart.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "daemon/journal.h"

namespace og::daemon {

struct BreakerConfig {
  std::size_t max_actions = 20;
  std::chrono::seconds window{5 * 60};
  std::chrono::seconds rearm_after{60 * 60};  // 0: only an operator release re-arms
};

class Breaker {
 public:
  explicit Breaker(BreakerConfig config) : config_(config) {}

  // From the journal at start: the persisted trip and the destructive sends still in the window.
  void restore(const BreakerRecord& record, const std::vector<std::pair<std::int64_t, std::int64_t>>& sent);

  struct Admission {
    bool allowed = false;
    bool tripped_now = false;  // this call tripped it: persist and alert
  };
  // A destructive action is about to be sent. Allowed ones are counted; a resend of an action already
  // counted (resume after a crash, retry) is allowed without counting again unless tripped.
  Admission admit(std::int64_t action_id, std::int64_t now_ms);
  // The cool-down: true when it re-armed now (persist and alert).
  bool maybe_rearm(std::int64_t now_ms);
  void release(std::int64_t now_ms, std::string reason);

  const BreakerRecord& record() const { return record_; }
  bool tripped() const { return record_.tripped; }
  std::size_t in_window(std::int64_t now_ms);
  const BreakerConfig& config() const { return config_; }

 private:
  void prune(std::int64_t now_ms);

  BreakerConfig config_;
  BreakerRecord record_;
  std::map<std::int64_t, std::int64_t> sent_;  // action id -> first send ms
};

}  // namespace og::daemon
