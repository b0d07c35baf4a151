#include "daemon/source_offsets.h"

#include <algorithm>

namespace og::daemon {

bool PartitionOffsets::receive(std::int64_t offset) {
  if (offset <= last_received_) return false;
  last_received_ = offset;
  pending_.push_back({offset, false});
  return true;
}

bool PartitionOffsets::ack(std::int64_t offset) {
  // Offsets arrive in increasing order, so pending_ is sorted.
  auto it = std::lower_bound(pending_.begin(), pending_.end(), offset,
                             [](const Entry& e, std::int64_t o) { return e.offset < o; });
  if (it == pending_.end() || it->offset != offset || it->acked) return false;
  it->acked = true;
  ++acked_in_pending_;
  while (!pending_.empty() && pending_.front().acked) {
    store_ = pending_.front().offset + 1;
    dirty_ = true;
    pending_.pop_front();
    --acked_in_pending_;
  }
  return true;
}

std::optional<std::int64_t> PartitionOffsets::take_store() {
  if (!dirty_) return std::nullopt;
  dirty_ = false;
  return store_;
}

std::uint64_t OffsetTracker::assign(const TopicPartition& tp) {
  std::uint64_t generation = next_generation_++;
  partitions_.insert_or_assign(tp, Owned{generation, PartitionOffsets{}});
  return generation;
}

std::optional<std::int64_t> OffsetTracker::revoke(const TopicPartition& tp) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return std::nullopt;
  std::optional<std::int64_t> store = it->second.offsets.take_store();
  partitions_.erase(it);
  return store;
}

std::optional<AckToken> OffsetTracker::receive(const TopicPartition& tp, std::int64_t offset) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end() || !it->second.offsets.receive(offset)) return std::nullopt;
  return AckToken{correlator::SourceOffset{tp.topic, tp.partition, offset}, it->second.generation};
}

bool OffsetTracker::ack(const AckToken& token) {
  auto it = partitions_.find(TopicPartition{token.origin.topic, token.origin.partition});
  if (it == partitions_.end() || it->second.generation != token.generation) return false;
  return it->second.offsets.ack(token.origin.offset);
}

std::vector<OffsetToStore> OffsetTracker::take_stores() {
  std::vector<OffsetToStore> stores;
  for (auto& [tp, owned] : partitions_) {
    if (auto offset = owned.offsets.take_store()) stores.push_back({tp, *offset});
  }
  return stores;
}

std::optional<std::int64_t> OffsetTracker::store_position(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return std::nullopt;
  return it->second.offsets.store_position();
}

std::size_t OffsetTracker::in_flight(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  return it == partitions_.end() ? 0 : it->second.offsets.in_flight();
}

std::size_t OffsetTracker::in_flight() const {
  std::size_t total = 0;
  for (const auto& [tp, owned] : partitions_)
    total += owned.offsets.in_flight();
  return total;
}

std::vector<TopicPartition> OffsetTracker::owned() const {
  std::vector<TopicPartition> result;
  result.reserve(partitions_.size());
  for (const auto& [tp, owned] : partitions_)
    result.push_back(tp);
  return result;
}

}  // namespace og::daemon
