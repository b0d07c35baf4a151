// The per-partition offset bookkeeping behind store-after-ack: contiguity, gaps, and fencing.
#include "daemon/source_offsets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace og::test {
namespace {

using daemon::AckToken;
using daemon::OffsetTracker;
using daemon::PartitionOffsets;
using daemon::TopicPartition;

TopicPartition tp(std::string_view topic, int partition) {
  return TopicPartition{correlator::Symbol::intern(topic), partition};
}

TEST(PartitionOffsets, StoresNothingUntilTheFirstOffsetIsAcked) {
  PartitionOffsets p;
  ASSERT_TRUE(p.receive(10));
  ASSERT_TRUE(p.receive(11));
  EXPECT_EQ(p.take_store(), std::nullopt);
  EXPECT_TRUE(p.ack(11));
  EXPECT_EQ(p.take_store(), std::nullopt) << "10 is still in flight";
  EXPECT_EQ(p.in_flight(), 1u);
  EXPECT_TRUE(p.ack(10));
  EXPECT_EQ(p.take_store(), 12);
  EXPECT_EQ(p.take_store(), std::nullopt) << "taken once";
  EXPECT_EQ(p.store_position(), 12);
  EXPECT_EQ(p.in_flight(), 0u);
}

TEST(PartitionOffsets, GapsInReceivedOffsetsAreContiguous) {
  // Compaction and transaction markers leave holes; contiguity is over what was received.
  PartitionOffsets p;
  for (std::int64_t o : {3, 7, 8, 20})
    ASSERT_TRUE(p.receive(o));
  EXPECT_TRUE(p.ack(3));
  EXPECT_TRUE(p.ack(7));
  EXPECT_EQ(p.take_store(), 8);
  EXPECT_TRUE(p.ack(20));
  EXPECT_EQ(p.take_store(), std::nullopt) << "8 not acked yet: nothing new to store";
  EXPECT_EQ(p.store_position(), 8);
  EXPECT_TRUE(p.ack(8));
  EXPECT_EQ(p.take_store(), 21);
}

TEST(PartitionOffsets, RejectsUnknownAndRepeatedAcksAndRedeliveries) {
  PartitionOffsets p;
  ASSERT_TRUE(p.receive(5));
  EXPECT_FALSE(p.receive(5)) << "redelivery of the same offset";
  EXPECT_FALSE(p.receive(4)) << "refetch of an older offset";
  EXPECT_FALSE(p.ack(6)) << "never received";
  EXPECT_TRUE(p.ack(5));
  EXPECT_FALSE(p.ack(5)) << "acked twice";
  EXPECT_FALSE(p.ack(4));
  EXPECT_EQ(p.take_store(), 6);
}

TEST(PartitionOffsets, RandomAckOrderAlwaysStoresTheContiguousPrefix) {
  std::mt19937 random(42);
  for (int round = 0; round < 50; ++round) {
    PartitionOffsets p;
    std::vector<std::int64_t> offsets;
    std::int64_t next = 0;
    for (int i = 0; i < 200; ++i) {
      next += 1 + static_cast<std::int64_t>(random() % 3);  // with gaps
      offsets.push_back(next);
      ASSERT_TRUE(p.receive(next));
    }
    std::vector<std::int64_t> order = offsets;
    std::shuffle(order.begin(), order.end(), random);
    std::vector<bool> acked(offsets.size(), false);
    for (std::int64_t o : order) {
      ASSERT_TRUE(p.ack(o));
      acked[static_cast<std::size_t>(std::find(offsets.begin(), offsets.end(), o) - offsets.begin())] = true;
      std::size_t prefix = 0;
      while (prefix < acked.size() && acked[prefix])
        ++prefix;
      std::optional<std::int64_t> expected;
      if (prefix > 0) expected = offsets[prefix - 1] + 1;
      ASSERT_EQ(p.store_position(), expected);
      ASSERT_EQ(p.in_flight(), static_cast<std::size_t>(std::count(acked.begin(), acked.end(), false)));
    }
    EXPECT_EQ(p.store_position(), offsets.back() + 1);
  }
}

TEST(OffsetTracker, TracksPartitionsIndependently) {
  OffsetTracker t;
  t.assign(tp("a", 0));
  t.assign(tp("a", 1));
  t.assign(tp("b", 0));
  auto a0 = t.receive(tp("a", 0), 0);
  auto a1 = t.receive(tp("a", 1), 0);
  auto b0 = t.receive(tp("b", 0), 100);
  ASSERT_TRUE(a0 && a1 && b0);
  EXPECT_EQ(a0->origin.partition, 0);
  EXPECT_EQ(b0->origin.offset, 100);
  EXPECT_EQ(t.in_flight(), 3u);
  EXPECT_TRUE(t.ack(*b0));
  EXPECT_TRUE(t.ack(*a1));
  auto stores = t.take_stores();
  ASSERT_EQ(stores.size(), 2u);
  for (const auto& s : stores) {
    if (s.partition == tp("b", 0)) {
      EXPECT_EQ(s.offset, 101);
    } else {
      EXPECT_EQ(s.partition, tp("a", 1));
      EXPECT_EQ(s.offset, 1);
    }
  }
  EXPECT_TRUE(t.take_stores().empty());
  EXPECT_EQ(t.in_flight(tp("a", 0)), 1u);
}

TEST(OffsetTracker, IgnoresRecordsOfPartitionsItDoesNotOwn) {
  OffsetTracker t;
  EXPECT_EQ(t.receive(tp("a", 0), 0), std::nullopt);
  EXPECT_FALSE(t.ack(AckToken{{correlator::Symbol::intern("a"), 0, 0}, 1}));
}

TEST(OffsetTracker, FencesAcksFromBeforeARevokeAfterReassignment) {
  OffsetTracker t;
  std::uint64_t first = t.assign(tp("a", 0));
  auto old5 = t.receive(tp("a", 0), 5);
  auto old6 = t.receive(tp("a", 0), 6);
  ASSERT_TRUE(old5 && old6);
  EXPECT_EQ(old5->generation, first);
  EXPECT_TRUE(t.ack(*old5));
  EXPECT_EQ(t.revoke(tp("a", 0)), 6) << "the revoke yields what to store";
  EXPECT_FALSE(t.owns(tp("a", 0)));
  EXPECT_FALSE(t.ack(*old6)) << "late ack while revoked";

  std::uint64_t second = t.assign(tp("a", 0));
  EXPECT_NE(second, first);
  auto new6 = t.receive(tp("a", 0), 6);  // redelivered to the new ownership
  ASSERT_TRUE(new6);
  EXPECT_EQ(new6->generation, second);
  EXPECT_FALSE(t.ack(*old6)) << "a late ack of the old ownership must not ack the redelivered record";
  EXPECT_EQ(t.in_flight(tp("a", 0)), 1u);
  EXPECT_TRUE(t.take_stores().empty());
  EXPECT_TRUE(t.ack(*new6));
  auto stores = t.take_stores();
  ASSERT_EQ(stores.size(), 1u);
  EXPECT_EQ(stores[0].offset, 7);
}

TEST(OffsetTracker, RevokeOfAnUnackedPartitionStoresNothing) {
  OffsetTracker t;
  t.assign(tp("a", 0));
  ASSERT_TRUE(t.receive(tp("a", 0), 0));
  EXPECT_EQ(t.revoke(tp("a", 0)), std::nullopt);
  EXPECT_EQ(t.revoke(tp("a", 0)), std::nullopt) << "revoking twice is harmless";
}

}  // namespace
}  // namespace og::test
