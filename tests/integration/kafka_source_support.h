#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "daemon/source.h"

namespace og::test {

// A bounded downstream queue, as the pipeline's shard queues are: refuses when full.
class QueueSink final : public daemon::EventSink {
 public:
  // `waits`: wait_for_room waits for a pop, like the pipeline; otherwise it returns false at once
  // (the EventSink default), so a full queue pauses the partitions right away.
  explicit QueueSink(std::size_t capacity, bool waits = false) : capacity_(capacity), waits_(waits) {}

  bool offer(correlator::Event&& event, const daemon::AckToken& token) override {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= capacity_) {
      ++refused_;
      return false;
    }
    queue_.emplace_back(std::move(event), token);
    ready_.notify_one();
    return true;
  }

  std::optional<std::pair<correlator::Event, daemon::AckToken>> pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !queue_.empty(); })) return std::nullopt;
    auto item = std::move(queue_.front());
    queue_.pop_front();
    room_.notify_all();
    return item;
  }

  bool wait_for_room(std::chrono::milliseconds timeout) override {
    if (!waits_) return false;
    std::unique_lock lock(mutex_);
    return room_.wait_for(lock, timeout, [&] { return queue_.size() < capacity_; });
  }

  std::size_t refused() const {
    std::lock_guard lock(mutex_);
    return refused_;
  }

 private:
  std::size_t capacity_;
  bool waits_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<std::pair<correlator::Event, daemon::AckToken>> queue_;
  std::size_t refused_ = 0;
};

// Polls `done` until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& done, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace og::test
