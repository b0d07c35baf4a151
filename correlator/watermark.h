#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "correlator/event.h"
#include "correlator/rule_set.h"

namespace og::correlator {

// Holds events until every partition's watermark (highest event time seen minus the allowed
// lateness) has passed them, then releases them sorted by (event time, uuid). So the order events
// are applied in depends only on their content, not on how partitions interleaved on arrival.
class ReorderBuffer {
 public:
  explicit ReorderBuffer(Duration lateness) : lateness_(lateness) {}

  // Records that `partition` has reached `time` (also used to move an idle partition forward).
  void observe(std::int32_t partition, EventTime time) {
    auto [it, inserted] = max_seen_.try_emplace(partition, time);
    if (!inserted && time > it->second) it->second = time;
  }
  // A revoked partition no longer holds the watermark back.
  void remove_partition(std::int32_t partition) { max_seen_.erase(partition); }

  // false: the event is late (older than what was already released); the caller applies it at once.
  bool push(Event&& event, std::int32_t partition) {
    observe(partition, event.published);
    if (event.published < released_) return false;
    EventTime t = event.published;
    heap_.push_back(Pending{t, seq_++, std::make_unique<Event>(std::move(event))});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    return true;
  }

  EventTime watermark() const {
    if (max_seen_.empty()) return released_;
    EventTime w = EventTime::max();
    for (const auto& [p, t] : max_seen_)
      w = std::min(w, t - lateness_);
    return std::max(w, released_);
  }

  // Applies, in order, every buffered event strictly older than the watermark.
  template <typename F>
  void release(F&& apply) {
    release_until(watermark(), apply);
  }
  // Applies everything (end of a replay, shutdown).
  template <typename F>
  void drain(F&& apply) {
    EventTime last = released_;
    while (!heap_.empty()) {
      last = std::max(last, heap_.front().time);
      pop(apply);
    }
    released_ = last;
  }
  template <typename F>
  void release_until(EventTime w, F&& apply) {
    while (!heap_.empty() && heap_.front().time < w)
      pop(apply);
    released_ = std::max(released_, w);
  }

  EventTime released() const { return released_; }
  void set_released(EventTime t) { released_ = t; }
  std::size_t size() const { return heap_.size(); }
  Duration lateness() const { return lateness_; }
  void set_lateness(Duration l) { lateness_ = l; }
  const std::map<std::int32_t, EventTime>& partitions() const { return max_seen_; }

 private:
  // The time is held inline so heap operations touch the events only on ties.
  struct Pending {
    EventTime time;
    std::uint64_t seq;
    std::unique_ptr<Event> event;
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      if (a.time != b.time) return a.time > b.time;
      if (a.event->uuid != b.event->uuid) return a.event->uuid > b.event->uuid;
      return a.seq > b.seq;
    }
  };
  template <typename F>
  void pop(F& apply) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    std::unique_ptr<Event> e = std::move(heap_.back().event);
    heap_.pop_back();
    apply(*e);
  }

  Duration lateness_;
  std::map<std::int32_t, EventTime> max_seen_;
  std::vector<Pending> heap_;
  std::uint64_t seq_ = 0;
  EventTime released_{};
};

}  // namespace og::correlator
