#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "correlator/symbol.h"
#include "daemon/source.h"

namespace og::daemon {

// The offsets of one partition under one ownership, in the order they were received. Kafka offsets
// may have gaps (compaction, transaction markers), so "contiguous" means contiguous in what was
// received, not in integers.
class PartitionOffsets {
 public:
  // Records a received offset. False for an offset at or below the last one received: a
  // redelivery after pause/resume or a fetch retry, already tracked, to be skipped.
  bool receive(std::int64_t offset);
  // Marks a received offset as acknowledged. False when it is not in flight (already acked, or
  // never received under this ownership).
  bool ack(std::int64_t offset);
  // The offset to store (highest contiguous acked + 1) if it moved since the last call.
  std::optional<std::int64_t> take_store();
  // The offset to store now regardless of take_store(), if anything was acked at all.
  std::optional<std::int64_t> store_position() const { return store_; }
  std::size_t in_flight() const { return pending_.size() - acked_in_pending_; }
  std::int64_t last_received() const { return last_received_; }

 private:
  struct Entry {
    std::int64_t offset;
    bool acked;
  };
  std::deque<Entry> pending_;  // received and not yet below the contiguous acked prefix
  std::size_t acked_in_pending_ = 0;
  std::int64_t last_received_ = -1;
  std::optional<std::int64_t> store_;
  bool dirty_ = false;
};

struct TopicPartition {
  correlator::Symbol topic;
  std::int32_t partition = -1;
  friend bool operator==(const TopicPartition&, const TopicPartition&) = default;
};

struct TopicPartitionHash {
  std::size_t operator()(const TopicPartition& tp) const noexcept {
    return tp.topic.hash() * 31 + static_cast<std::size_t>(tp.partition);
  }
};

struct OffsetToStore {
  TopicPartition partition;
  std::int64_t offset = 0;  // the next offset to consume (last contiguous acked + 1)
};

// Offsets of every owned partition; owned by the poll thread (acks reach it through a queue).
class OffsetTracker {
 public:
  // Starts a new ownership of the partition and returns its generation (unique per tracker).
  std::uint64_t assign(const TopicPartition& tp);
  // Ends the ownership: late acks for it are fenced from now on. Returns the offset to store for
  // it, if any was acked and not yet taken.
  std::optional<std::int64_t> revoke(const TopicPartition& tp);
  bool owns(const TopicPartition& tp) const { return partitions_.contains(tp); }

  // The token for a received record, or nullopt when the partition is not owned or the offset
  // was already received (redelivery).
  std::optional<AckToken> receive(const TopicPartition& tp, std::int64_t offset);
  // False when fenced: partition not owned, generation mismatch, or offset not in flight.
  bool ack(const AckToken& token);

  // Offsets that moved since the last call, for rd_kafka_offsets_store.
  std::vector<OffsetToStore> take_stores();
  // Offset to store now for one partition (for a revoke or shutdown commit).
  std::optional<std::int64_t> store_position(const TopicPartition& tp) const;

  std::size_t in_flight(const TopicPartition& tp) const;
  std::size_t in_flight() const;
  std::vector<TopicPartition> owned() const;

 private:
  struct Owned {
    std::uint64_t generation;
    PartitionOffsets offsets;
  };
  std::unordered_map<TopicPartition, Owned, TopicPartitionHash> partitions_;
  std::uint64_t next_generation_ = 1;
};

}  // namespace og::daemon
