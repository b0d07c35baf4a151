#pragma once

// The Kafka offsets whose events the correlator state holds, per (topic, partition), as sorted
// inclusive ranges. Saved with the correlator snapshot: after a restart (or when a revoked partition
// comes back), the broker redelivers from its last committed offset, which may lag what the restored
// state already contains; those events are acknowledged without being applied a second time.
// File sources record their line numbers here too, under a name for the file and partition -1: a
// file is read from its first line at every start.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace og::daemon {

class AppliedOffsets {
 public:
  // Ranges kept per Kafka partition; beyond it the lowest go (long committed by then). A file's
  // (partition -1) are all kept: it is read from its first line again at every start.
  static constexpr std::size_t kMaxRanges = 4096;

  void add(std::string_view topic, std::int32_t partition, std::int64_t offset);
  bool contains(std::string_view topic, std::int32_t partition, std::int64_t offset) const;
  std::size_t partitions() const { return ranges_.size(); }
  // Drops every partition `drop(topic, partition)` names.
  void forget_if(const std::function<bool(std::string_view topic, std::int32_t partition)>& drop);
  std::size_t ranges(std::string_view topic, std::int32_t partition) const;
  // The partition's ranges, when its highest recorded offset is at or past `end_offset` (its end
  // now): those offsets were another incarnation's (the topic deleted and created again, another
  // cluster), and skipping this one's events by them would lose them. Returns the highest offset
  // dropped, if any.
  std::optional<std::int64_t> forget_if_past_end(std::string_view topic, std::int32_t partition,
                                                 std::int64_t end_offset);

  // "OGOFFSETS1\n" then one line per partition: topic '\t' partition '\t' first-last,first-last...
  std::string serialize() const;
  static bool is_serialized(std::string_view blob);
  static std::optional<AppliedOffsets> parse(std::string_view blob);

 private:
  using Key = std::pair<std::string, std::int32_t>;
  std::map<Key, std::map<std::int64_t, std::int64_t>, std::less<>> ranges_;  // first -> last
};

}  // namespace og::daemon
