#include <map>
#include <string>
#include <unordered_map>

#include "correlator/parse.h"

namespace og::correlator {

// uuid -> event time, plus a time index for eviction. The horizon is measured in event time
// against the newest event seen (a watermark), so replaying old logs de-duplicates as live does;
// `max_entries` caps memory when a burst crowds the horizon (the oldest go first).
//
// Payload times and ingest-time fallbacks (no usable `published`) are different clocks: during a
// replay of old logs the fallback is "now", days ahead of the payload times. One shared watermark
// would jump to "now" on the first fallback and then treat every older replayed event as beyond
// the horizon, letting its duplicates through unrecorded. So each clock keeps its own watermark
// and time index, and an entry is evicted only by the clock it was recorded on.
struct Deduplicator::State {
  struct Clock {
    EventTime watermark{};
    std::multimap<EventTime, const std::string*> by_time;  // keys point into `seen` (node-stable)
  };
  struct Entry {
    EventTime time;
    bool from_payload;
  };

  std::chrono::milliseconds horizon;
  std::size_t max_entries;
  std::unordered_map<std::string, Entry> seen;
  Clock payload;  // time_from_payload == true
  Clock ingest;   // time_from_payload == false: Kafka/read timestamp

  Clock& clock_of(bool from_payload) { return from_payload ? payload : ingest; }

  void forget(std::unordered_map<std::string, Entry>::iterator it) {
    Clock& clock = clock_of(it->second.from_payload);
    for (auto [first, last] = clock.by_time.equal_range(it->second.time); first != last; ++first) {
      if (first->second == &it->first) {
        clock.by_time.erase(first);
        break;
      }
    }
    seen.erase(it);
  }

  void erase_oldest_of(Clock& clock) {
    auto oldest = clock.by_time.begin();
    auto it = seen.find(*oldest->second);
    clock.by_time.erase(oldest);
    if (it != seen.end()) seen.erase(it);
  }

  // The cap evicts the oldest entry of either clock.
  void erase_oldest() {
    if (ingest.by_time.empty() ||
        (!payload.by_time.empty() && payload.by_time.begin()->first <= ingest.by_time.begin()->first))
      erase_oldest_of(payload);
    else
      erase_oldest_of(ingest);
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
    auto distance = time > it->second.time ? time - it->second.time : it->second.time - time;
    if (distance <= s.horizon) return true;
    // Same uuid far outside the horizon (the entry survived only through disorder): a new sighting.
    s.forget(it);
  }
  State::Clock& clock = s.clock_of(event.time_from_payload);
  if (time < clock.watermark - s.horizon) {
    // Older than anything we still remember: we cannot tell, so let it through unrecorded rather
    // than grow memory for events the horizon has already passed.
    return false;
  }
  if (time > clock.watermark) clock.watermark = time;
  auto [it, inserted] = s.seen.emplace(std::move(key), State::Entry{time, event.time_from_payload});
  clock.by_time.emplace(time, &it->first);
  EventTime cutoff = clock.watermark - s.horizon;
  while (!clock.by_time.empty() && clock.by_time.begin()->first < cutoff)
    s.erase_oldest_of(clock);
  while (s.seen.size() > s.max_entries)
    s.erase_oldest();
  return false;
}

std::size_t Deduplicator::size() const {
  return state_->seen.size();
}

}  // namespace og::correlator
