#pragma once

#include <boost/container/small_vector.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/event.h"

namespace og::correlator {

// An event uuid in 17 bytes instead of a 36-character string: canonical UUIDs (either case) are
// stored as their 16 bytes; other ids of up to 16 characters as text; longer ones keep their first 15 characters
// (rendered with a trailing '~'). Used where state stays per idle user.
class CompactId {
 public:
  CompactId() = default;
  static CompactId from(std::string_view text);
  std::string str() const;
  bool empty() const { return kind_ == 0; }
  friend bool operator==(const CompactId&, const CompactId&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
  std::uint8_t kind_ = 0;  // 0 empty, 1 uuid, 20 upper-case uuid, 2..18 text of length kind_-2, 19 truncated
};

// An id kept in a window entry (or a risk contribution's key), rendered back exactly as given, in
// 24 bytes: canonical UUIDs (one case) as their 16 bytes, other text of up to 22 characters inline
// (Okta ids have 20), longer text (a mixed-case uuid, the comma-joined uuids of a signal detection)
// on the heap. Event uuids and actor ids are copied for every event a window keeps; as std::string
// each was an allocation.
class EntryId {
 public:
  EntryId() noexcept = default;
  explicit EntryId(std::string_view text);
  EntryId(const EntryId& o);
  EntryId(EntryId&& o) noexcept : raw_(o.raw_) { o.raw_[kTag] = 0; }
  EntryId& operator=(const EntryId& o) {
    if (this != &o) *this = EntryId(o);
    return *this;
  }
  EntryId& operator=(EntryId&& o) noexcept {
    if (this != &o) {
      release();
      raw_ = o.raw_;
      o.raw_[kTag] = 0;
    }
    return *this;
  }
  ~EntryId() { release(); }

  bool empty() const { return raw_[kTag] == 0; }
  std::string str() const;
  // The text; a uuid is rendered into `buf`, so the view lives as long as `buf`.
  std::string_view view(std::array<char, 36>& buf) const;

 private:
  static constexpr std::size_t kTag = 23;
  static constexpr std::uint8_t kLowerUuid = 0xFD, kUpperUuid = 0xFE, kHeap = 0xFF;  // else: inline length
  bool heap() const { return raw_[kTag] == kHeap; }
  void release() {
    if (heap()) delete[] heap_ptr();
  }
  char* heap_ptr() const;
  std::uint32_t heap_size() const;

  alignas(8) std::array<std::uint8_t, 24> raw_{};
};

// One event counted in a window: enough to explain the detection (uuid) and to name the users seen
// under the key (actor).
struct WindowEntry {
  EventTime time{};
  std::uint64_t value = 0;  // distinct: hash of the field value; evidence: signal index
  EntryId uuid;
  EntryId actor;
};

// Most windows hold one event at a time: kept inline, it costs neither an allocation nor a cache
// miss of its own.
using WindowEntries = boost::container::small_vector<WindowEntry, 1>;

// threshold, distinct, single (cooldown only), evidence.
struct WindowState {
  WindowEntries entries;
  EventTime last_seen{};
  // At most the oldest entry's time, so a sweep can skip a window with nothing to expire without
  // touching its entries (a cache miss per key). min(): unknown.
  EventTime oldest = EventTime::min();
};

struct SequenceState {
  std::uint32_t step = 0;                     // the step awaited; 0: collecting step-0 events
  std::uint32_t count = 0;                    // events counted for `step` (step >= 1)
  EventTime start{};                          // oldest counted event
  WindowEntries first;                        // step-0 events within the window (for restarts)
  EventTime first_oldest = EventTime::min();  // at most first's oldest time (see WindowState::oldest)
  std::vector<WindowEntry> evidence;          // events counted for steps >= 1
  EventTime last_seen{};
};

struct AbsenceState {
  WindowEntry pending;
  bool has_pending = false;
  EventTime last_seen{};
};

// Small on purpose: it stays for every user that signs in (idle users included).
struct GeoState {
  EventTime time{};
  float lat = 0;
  float lon = 0;
  CompactId uuid;
};

// An exact small set of value hashes with their last-seen minute; no sketch per user.
struct FirstSeenState {
  struct Value {
    std::uint32_t hash = 0;
    std::int32_t last_seen_min = 0;  // minutes since the epoch
  };
  std::int32_t first_min = 0;  // the key's first event, minutes since the epoch
  std::int32_t last_seen_min = 0;
  boost::container::small_vector<Value, 2> values;  // most users have one or two
};

template <typename State>
using KeyMap = boost::unordered_flat_map<std::uint64_t, State>;

// All per-key state of one detection in one shard; only the map of its construct is used.
struct DetectionStore {
  std::uint64_t fingerprint = 0;
  KeyMap<WindowState> windows;
  KeyMap<SequenceState> sequences;
  KeyMap<AbsenceState> absences;
  KeyMap<GeoState> geo;
  KeyMap<FirstSeenState> first_seen;
  // key hash -> key text, for the keys with pending absences (the detection reports the key).
  KeyMap<std::string> absence_keys;
  // key hash -> last firing, only for detections with a cooldown.
  KeyMap<EventTime> fired;
  // At least every key of `sequences` past step 0 (made exact again by each sweep). An event matching
  // only a later step looks here first: the set is small and stays in cache, where a lookup in
  // `sequences` is a cache miss that, for most keys, finds a sequence still collecting step 0.
  boost::unordered_flat_set<std::uint64_t> advanced;
  void rebuild_advanced() {
    advanced.clear();
    for (const auto& [k, v] : sequences)
      if (v.step >= 1) advanced.insert(k);
  }
  std::size_t size() const {
    return windows.size() + sequences.size() + absences.size() + geo.size() + first_seen.size();
  }
};

}  // namespace og::correlator
