#include <map>
#include <string>
#include <unordered_map>

#include "correlator/parse.h"

namespace og::correlator {

// uuid -> event time, plus a time index for eviction. The horizon is measured in event time
// against the newest event seen (a watermark), so replaying old logs de-duplicates as live does;
// `max_entries` caps memory when a burst crowds the horizon (the oldest go first).
struct Deduplicator::State {
  std::chrono::milliseconds horizon;
  std::size_t max_entries;
  EventTime watermark{};
  std::unordered_map<std::string, EventTime> seen;
  std::multimap<EventTime, const std::string*> by_time;  // keys point into `seen` (node-stable)

  void erase_oldest() {
    auto oldest = by_time.begin();
    auto it = seen.find(*oldest->second);
    by_time.erase(oldest);
    if (it != seen.end()) seen.erase(it);
  }
};

Deduplicator::Deduplicator(std::chrono::milliseconds horizon, std::size_t max_entries)
    : state_(std::make_unique<State>(State{horizon, max_entries == 0 ? 1 : max_entries, {}, {}, {}})) {}

Deduplicator::~Deduplicator() = default;

bool Deduplicator::seen_before(const Event& event) {
  if (event.uuid.empty()) return false;
  State& s = *state_;
  // The source is part of the key: two systems' alert ids may collide.
  std::string key;
  key.reserve(event.source.view().size() + 1 + event.uuid.size());
  key.append(event.source.view()).push_back('\0');
  key.append(event.uuid);

  EventTime time = event.published;
  if (auto it = s.seen.find(key); it != s.seen.end()) {
    auto distance = time > it->second ? time - it->second : it->second - time;
    if (distance <= s.horizon) return true;
    // Same uuid far outside the horizon (the entry survived only through disorder): a new sighting.
    for (auto [first, last] = s.by_time.equal_range(it->second); first != last; ++first) {
      if (first->second == &it->first) {
        s.by_time.erase(first);
        break;
      }
    }
    s.seen.erase(it);
  }
  if (time < s.watermark - s.horizon) {
    // Older than anything we still remember: we cannot tell, so let it through unrecorded rather
    // than grow memory for events the horizon has already passed.
    return false;
  }
  if (time > s.watermark) s.watermark = time;
  auto [it, inserted] = s.seen.emplace(std::move(key), time);
  s.by_time.emplace(time, &it->first);
  EventTime cutoff = s.watermark - s.horizon;
  while (!s.by_time.empty() && s.by_time.begin()->first < cutoff)
    s.erase_oldest();
  while (s.seen.size() > s.max_entries)
    s.erase_oldest();
  return false;
}

std::size_t Deduplicator::size() const {
  return state_->seen.size();
}

}  // namespace og::correlator
