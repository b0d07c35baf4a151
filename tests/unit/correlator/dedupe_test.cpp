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

Event from_payload(std::string uuid, std::chrono::milliseconds time) {
  Event e = event(std::move(uuid), time);
  e.time_from_payload = true;
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

TEST(Deduplicator, IngestTimeFallbackDoesNotAdvanceThePayloadWatermark) {
  // Replaying day-old logs: one event without `published` falls back to the ingest time (now).
  // That must not push the horizon past the replayed payload times, or every later duplicate of
  // the old data would pass unrecorded.
  Deduplicator dedupe(10min, 1000);
  EXPECT_FALSE(dedupe.seen_before(from_payload("a", 1000s)));
  EXPECT_FALSE(dedupe.seen_before(event("no-published", 1000s + 24h)));
  EXPECT_TRUE(dedupe.seen_before(from_payload("a", 1000s)));
  EXPECT_FALSE(dedupe.seen_before(from_payload("b", 1001s)));
  EXPECT_TRUE(dedupe.seen_before(from_payload("b", 1001s)));
  EXPECT_TRUE(dedupe.seen_before(event("no-published", 1000s + 24h + 1s)));  // its redelivery
  EXPECT_EQ(dedupe.size(), 3u);
  // Each clock still evicts by its own watermark.
  EXPECT_FALSE(dedupe.seen_before(from_payload("c", 1000s + 11min)));
  EXPECT_FALSE(dedupe.seen_before(from_payload("a", 1000s)));  // beyond the payload horizon now
  EXPECT_TRUE(dedupe.seen_before(event("no-published", 1000s + 24h)));
}

TEST(Deduplicator, MemoryCapEvictsOldestAcrossBothClocks) {
  Deduplicator dedupe(24h, 2);
  EXPECT_FALSE(dedupe.seen_before(event("ingest", 5000s)));
  EXPECT_FALSE(dedupe.seen_before(from_payload("old", 1000s)));
  EXPECT_FALSE(dedupe.seen_before(from_payload("new", 2000s)));  // evicts "old", the oldest
  EXPECT_EQ(dedupe.size(), 2u);
  EXPECT_TRUE(dedupe.seen_before(event("ingest", 5000s)));
  EXPECT_TRUE(dedupe.seen_before(from_payload("new", 2000s)));
  EXPECT_FALSE(dedupe.seen_before(from_payload("old", 1000s)));
}

}  // namespace
}  // namespace og::correlator
