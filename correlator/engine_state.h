#pragma once

// The shard's private state, shared by engine.cpp and snapshot.cpp only.

#include <boost/unordered/unordered_flat_map.hpp>

#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/engine.h"

namespace og::correlator {

struct AbsenceTimer {
  EventTime deadline{};
  std::uint32_t detection = 0;
  std::uint64_t key = 0;
  bool operator>(const AbsenceTimer& o) const {
    if (deadline != o.deadline) return deadline > o.deadline;
    if (detection != o.detection) return detection > o.detection;
    return key > o.key;
  }
};

struct ResponseState {
  EventTime last{};
  std::uint32_t tier = 0;
};

// A candidate detection of the event being applied, past its key and its `where`.
struct ApplyCandidate {
  std::uint32_t detection = 0;
  std::uint32_t key_slot = 0;
  std::uint64_t key_hash = 0;
  bool first_step = false;  // sequences: the first step's `where` holds
};

struct Shard::Impl {
  explicit Impl(Duration half_life, Duration lateness) : ledger(half_life), buffer(lateness) {}
  std::vector<DetectionStore> stores;
  std::vector<Symbol> detection_symbols;  // per detection, for risk contributions
  RiskLedger ledger;
  ReorderBuffer buffer;
  // "<response id>\x1f<user id>" -> state
  boost::unordered_flat_map<std::string, ResponseState> responses;
  std::priority_queue<AbsenceTimer, std::vector<AbsenceTimer>, std::greater<>> timers;
  std::size_t max_keys = 1'000'000;
  EventTime last_sweep{};
  std::uint64_t events_since_sweep = 0;
  // Events left before the key cap must be checked again. Counting the keys walks every store, so it
  // is done only when the count could have reached the cap: an event adds at most
  // detections * (key slots + 1) keys. Reset to 0 whenever the stores are replaced or merged.
  std::uint64_t cap_check_in = 0;
  ShardMetrics metrics;
  // Per event: each key slot's value and hash, read once and shared by the detections using it.
  struct KeyCache {
    std::uint64_t event_seq = ~0ULL;
    bool present = false;
    std::uint64_t hash = 0;
    // The key's text: a single-field key borrows it from the event being applied (copying it was a
    // measurable share of apply); `text` holds composite keys and values rendered into scratch.
    std::string_view view;
    std::string text;
    bool own = false;  // the key is `text`: taken afresh on each use, as growing key_cache moves it
    std::string_view current() const { return own ? std::string_view(text) : view; }
  };
  std::vector<KeyCache> key_cache;
  std::string_view key;  // the key in key_cache of the detection being evaluated
  std::uint64_t event_seq = 0;
  std::string scratch;
  PredicateMemo memo;                      // of the event being applied
  std::vector<ApplyCandidate> candidates;  // of the event being applied (reused)
};

}  // namespace og::correlator
