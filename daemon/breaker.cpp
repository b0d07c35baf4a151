#include "daemon/breaker.h"

#include <fmt/format.h>

#include <iterator>

namespace og::daemon {

void Breaker::restore(const BreakerRecord& record, const std::vector<std::pair<std::int64_t, std::int64_t>>& sent) {
  record_ = record;
  sent_.clear();
  for (const auto& [id, ms] : sent)
    sent_.emplace(id, ms);
}

void Breaker::prune(std::int64_t now_ms) {
  const std::int64_t window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.window).count();
  for (auto it = sent_.begin(); it != sent_.end();) {
    if (it->second <= now_ms - window_ms || it->second < record_.armed_since_ms) {
      it = sent_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t Breaker::in_window(std::int64_t now_ms) {
  prune(now_ms);
  return sent_.size();
}

Breaker::Admission Breaker::admit(std::int64_t action_id, std::int64_t now_ms) {
  if (record_.tripped) return {false, false};
  prune(now_ms);
  if (sent_.contains(action_id)) return {true, false};
  if (sent_.size() >= config_.max_actions) {
    record_.tripped = true;
    record_.tripped_ms = now_ms;
    record_.reason =
        fmt::format("more than {} destructive actions within {}s", config_.max_actions, config_.window.count());
    return {false, true};
  }
  sent_.emplace(action_id, now_ms);
  return {true, false};
}

bool Breaker::maybe_rearm(std::int64_t now_ms) {
  if (!record_.tripped || config_.rearm_after.count() == 0) return false;
  const std::int64_t after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.rearm_after).count();
  if (now_ms - record_.tripped_ms < after_ms) return false;
  release(now_ms, "cool-down elapsed");
  return true;
}

void Breaker::release(std::int64_t now_ms, std::string reason) {
  record_.tripped = false;
  record_.reason = std::move(reason);
  // A fresh budget: the sends that tripped it no longer count, else the next action would trip again.
  record_.armed_since_ms = now_ms;
  sent_.clear();
}

}  // namespace og::daemon
