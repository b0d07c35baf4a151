#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
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

  // false: the event is late (older than what was already released), and `event` is left as it was:
  // the caller applies it at once. Shared: an event routed to several shards is one immutable Event
  // (see Engine::push).
  bool push(std::shared_ptr<const Event>&& event, std::int32_t partition) {
    observe(partition, event->published);
    if (event->published < released_) return false;
    EventTime t = event->published;
    Pending p{t, seq_++, std::move(event)};
    if (in_order_.empty() || Later{}(p, in_order_.back())) {
      in_order_.push_back(std::move(p));
    } else {
      heap_.push_back(std::move(p));
      std::push_heap(heap_.begin(), heap_.end(), Later{});
    }
    return true;
  }

  EventTime watermark() const {
    if (max_seen_.empty()) return released_;
    EventTime w = EventTime::max();
    for (const auto& [p, t] : max_seen_)
      w = std::min(w, t - lateness_);
    return std::max(w, released_);
  }

  // Applies, in order, every buffered event strictly older than the watermark. `apply` takes the
  // event's ownership (std::shared_ptr<const Event>&&): it may keep it, to free it elsewhere.
  template <typename F>
  void release(F&& apply) {
    release_until(watermark(), apply);
  }
  // Applies everything (end of a replay, shutdown).
  template <typename F>
  void drain(F&& apply) {
    EventTime last = released_;
    while (const Pending* next = peek()) {
      last = std::max(last, next->time);
      pop(apply);
    }
    released_ = last;
  }
  template <typename F>
  void release_until(EventTime w, F&& apply) {
    for (const Pending* next = peek(); next && next->time < w; next = peek())
      pop(apply);
    released_ = std::max(released_, w);
  }

  EventTime released() const { return released_; }
  void set_released(EventTime t) { released_ = t; }
  std::size_t size() const { return heap_.size() + in_order_.size(); }
  Duration lateness() const { return lateness_; }
  void set_lateness(Duration l) { lateness_ = l; }
  const std::map<std::int32_t, EventTime>& partitions() const { return max_seen_; }

 private:
  // The time is held inline so heap operations touch the events only on ties.
  struct Pending {
    EventTime time;
    std::uint64_t seq;
    std::shared_ptr<const Event> event;
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      if (a.time != b.time) return a.time > b.time;
      if (a.event->uuid != b.event->uuid) return a.event->uuid > b.event->uuid;
      return a.seq > b.seq;
    }
  };
  // The next event in release order: the earlier of the two queues' heads.
  const Pending* peek() const {
    if (in_order_.empty()) return heap_.empty() ? nullptr : &heap_.front();
    if (heap_.empty() || Later{}(heap_.front(), in_order_.front())) return &in_order_.front();
    return &heap_.front();
  }
  template <typename F>
  void pop(F& apply) {
    std::shared_ptr<const Event> e;
    if (!in_order_.empty() && (heap_.empty() || Later{}(heap_.front(), in_order_.front()))) {
      e = std::move(in_order_.front().event);
      in_order_.pop_front();
    } else {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      e = std::move(heap_.back().event);
      heap_.pop_back();
    }
    // The next event loads while this one is applied.
    if (const Pending* next = peek()) prefetch_hot_members(*next->event);
    apply(std::move(e));
  }

  Duration lateness_;
  std::map<std::int32_t, EventTime> max_seen_;
  // Events arriving in release order (the usual case) queue here in O(1); only the others pay for
  // the heap. Both hold the same order, so releasing the earlier head keeps the order exact.
  std::deque<Pending> in_order_;
  std::vector<Pending> heap_;
  std::uint64_t seq_ = 0;
  EventTime released_{};
};

}  // namespace og::correlator
