#include "daemon/applied_offsets.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace og::daemon {
namespace {

TEST(AppliedOffsets, RangesMergeAndMatchASetOfOffsets) {
  AppliedOffsets applied;
  std::set<std::int64_t> truth;
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::int64_t> offset(0, 2000);
  for (int i = 0; i < 1500; ++i) {
    std::int64_t o = offset(rng);
    applied.add("okta", 1, o);
    truth.insert(o);
  }
  for (std::int64_t o = -5; o < 2010; ++o)
    ASSERT_EQ(applied.contains("okta", 1, o), truth.contains(o)) << o;
  EXPECT_FALSE(applied.contains("okta", 0, *truth.begin())) << "partitions are separate";
  EXPECT_FALSE(applied.contains("edr", 1, *truth.begin())) << "topics are separate";
  std::size_t runs = 0;
  for (auto it = truth.begin(); it != truth.end(); ++it)
    runs += it == truth.begin() || *std::prev(it) + 1 != *it;
  EXPECT_EQ(applied.ranges("okta", 1), runs) << "adjacent offsets share one range";
}

// A partition now ending at or below offsets recorded for it is another incarnation: its ranges go,
// and only its. One that ends past them (the usual restart) keeps them.
TEST(AppliedOffsets, RangesPastAPartitionsEndAreForgotten) {
  AppliedOffsets applied;
  for (std::int64_t o = 0; o < 100; ++o) {
    applied.add("okta", 0, o);
    applied.add("okta", 1, o);
  }
  EXPECT_EQ(applied.forget_if_past_end("okta", 0, 100), std::nullopt);
  EXPECT_TRUE(applied.contains("okta", 0, 99));
  EXPECT_EQ(applied.forget_if_past_end("okta", 0, 20), std::optional<std::int64_t>(99));
  EXPECT_FALSE(applied.contains("okta", 0, 5));
  EXPECT_TRUE(applied.contains("okta", 1, 5));
  EXPECT_EQ(applied.forget_if_past_end("okta", 7, 0), std::nullopt);
}

TEST(AppliedOffsets, SerializesAndParsesBackExactly) {
  AppliedOffsets applied;
  for (std::int64_t o : std::initializer_list<std::int64_t>{0, 1, 2, 7, 9, 10, 1000000000000})
    applied.add("okta-system-log", 2, o);
  applied.add("edr.alerts_v2", 0, 5);
  std::string blob = applied.serialize();
  EXPECT_TRUE(AppliedOffsets::is_serialized(blob));
  auto back = AppliedOffsets::parse(blob);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->serialize(), blob);
  EXPECT_TRUE(back->contains("okta-system-log", 2, 1000000000000));
  EXPECT_FALSE(back->contains("okta-system-log", 2, 8));
  EXPECT_FALSE(AppliedOffsets::parse("OGOFFSETS1\nokta\t1\t5-3\n")) << "a range that runs backwards";
  EXPECT_FALSE(AppliedOffsets::parse("OGOFFSETS1\nokta\t1\t1-2")) << "cut short";
  EXPECT_FALSE(AppliedOffsets::parse("something else"));
}

TEST(AppliedOffsets, KeepsABoundedNumberOfRangesDroppingTheOldest) {
  AppliedOffsets applied;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(AppliedOffsets::kMaxRanges) + 10; ++i)
    applied.add("t", 0, i * 2);  // every other offset: one range each
  EXPECT_EQ(applied.ranges("t", 0), AppliedOffsets::kMaxRanges);
  EXPECT_FALSE(applied.contains("t", 0, 0));
  EXPECT_TRUE(applied.contains("t", 0, static_cast<std::int64_t>(AppliedOffsets::kMaxRanges + 9) * 2));
}

// A file is read from its first line at every start: its lines (partition -1) are never dropped to
// make room, or its first events would be applied again. Files no longer read can be forgotten.
TEST(AppliedOffsets, AFilesLinesAreAllKeptUntilTheFileIsForgotten) {
  AppliedOffsets applied;
  const std::int64_t lines = static_cast<std::int64_t>(AppliedOffsets::kMaxRanges) + 10;
  for (std::int64_t i = 0; i < lines; ++i) {
    applied.add("file:a", -1, i * 2);  // every other line rejected: one range each
    applied.add("file:b", -1, i);
  }
  applied.add("okta", 0, 7);
  EXPECT_EQ(applied.ranges("file:a", -1), static_cast<std::size_t>(lines));
  EXPECT_TRUE(applied.contains("file:a", -1, 0));
  applied.forget_if([](std::string_view topic, std::int32_t partition) { return partition < 0 && topic == "file:a"; });
  EXPECT_FALSE(applied.contains("file:a", -1, 0));
  EXPECT_TRUE(applied.contains("file:b", -1, 0));
  EXPECT_TRUE(applied.contains("okta", 0, 7));
}

}  // namespace
}  // namespace og::daemon
