#include <gtest/gtest.h>

#include "correlator/parse.h"

namespace og::correlator {
namespace {

using namespace std::chrono_literals;

Event event(std::string uuid, std::chrono::milliseconds time, std::string_view source = "okta") {
  Event e;
  e.uuid = std::move(uuid);
  e.published = EventTime{time};
  e.source = Symbol::intern(source);
  return e;
}

TEST(Deduplicator, DropsRedeliveriesWithinTheHorizon) {
  Deduplicator dedupe(10min, 1000);
  EXPECT_FALSE(dedupe.seen_before(event("a", 1000s)));
  EXPECT_FALSE(dedupe.seen_before(event("b", 1001s)));
  EXPECT_TRUE(dedupe.seen_before(event("a", 1000s)));
  EXPECT_TRUE(dedupe.seen_before(event("b", 1001s)));
  EXPECT_FALSE(dedupe.seen_before(event("a", 1000s, "edr")));  // another source's id space
  EXPECT_EQ(dedupe.size(), 3u);
}

TEST(Deduplicator, EventsWithoutUuidAreNeverDuplicates) {
  Deduplicator dedupe(10min, 1000);
  EXPECT_FALSE(dedupe.seen_before(event("", 1000s)));
  EXPECT_FALSE(dedupe.seen_before(event("", 1000s)));
  EXPECT_EQ(dedupe.size(), 0u);
}

TEST(Deduplicator, ForgetsByEventTimeNotWallClock) {
  Deduplicator dedupe(10min, 1000);
  EXPECT_FALSE(dedupe.seen_before(event("a", 1000s)));
  // Event time moves past the horizon: "a" is evicted, so its late redelivery is let through
  // (older than the horizon) and not remembered.
  EXPECT_FALSE(dedupe.seen_before(event("z", 1000s + 11min)));
  EXPECT_EQ(dedupe.size(), 1u);
  EXPECT_FALSE(dedupe.seen_before(event("a", 1000s)));
  EXPECT_EQ(dedupe.size(), 1u);
  // Slightly out-of-order events within the horizon are still remembered.
  EXPECT_FALSE(dedupe.seen_before(event("c", 1000s + 5min)));
  EXPECT_TRUE(dedupe.seen_before(event("c", 1000s + 5min)));
}

TEST(Deduplicator, MemoryIsBoundedOldestFirst) {
  Deduplicator dedupe(24h, 3);
  for (int i = 0; i < 10; ++i)
    EXPECT_FALSE(dedupe.seen_before(event(std::to_string(i), std::chrono::seconds(i))));
  EXPECT_EQ(dedupe.size(), 3u);
  EXPECT_TRUE(dedupe.seen_before(event("9", 9s)));
  EXPECT_TRUE(dedupe.seen_before(event("7", 7s)));
  EXPECT_FALSE(dedupe.seen_before(event("0", 0s)));  // evicted by the cap
}

}  // namespace
}  // namespace og::correlator
