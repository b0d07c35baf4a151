#include "correlator/timestamp.h"

#include <gtest/gtest.h>

namespace og::correlator {
namespace {

using namespace std::chrono;

EventTime at(year_month_day day, hours h, minutes m, seconds s, milliseconds ms) {
  return EventTime{sys_days{day}.time_since_epoch() + h + m + s + ms};
}

TEST(Timestamp, FractionsOfEveryWidthSeenInTheSamples) {
  EventTime expected = at(2020y / 11 / 25, 21h, 27min, 3s, 496ms);
  EXPECT_EQ(parse_timestamp("2020-11-25T21:27:03.496Z"), expected);
  EXPECT_EQ(parse_timestamp("2020-11-25T21:27:03.496000Z"), expected);
  EXPECT_EQ(parse_timestamp("2020-11-25T21:27:03.496000000Z"), expected);
  EXPECT_EQ(parse_timestamp("2020-11-25T21:27:03.496999999Z"), expected);  // truncated, not rounded
  EXPECT_EQ(parse_timestamp("2021-06-25T21:27:03.49Z"), at(2021y / 6 / 25, 21h, 27min, 3s, 490ms));
  EXPECT_EQ(parse_timestamp("2021-06-25T21:27:03.4Z"), at(2021y / 6 / 25, 21h, 27min, 3s, 400ms));
  EXPECT_EQ(parse_timestamp("2021-06-25T21:27:03Z"), at(2021y / 6 / 25, 21h, 27min, 3s, 0ms));
}

TEST(Timestamp, OffsetsSeparatorsAndZones) {
  EventTime utc = at(2024y / 8 / 13, 15h, 58min, 20s, 353ms);
  EXPECT_EQ(parse_timestamp("2024-08-13T17:58:20.353+02:00"), utc);
  EXPECT_EQ(parse_timestamp("2024-08-13T10:58:20.353-0500"), utc);
  EXPECT_EQ(parse_timestamp("2024-08-13 15:58:20.353"), utc);  // Panther's form, no zone: UTC
  EXPECT_EQ(parse_timestamp("2024-08-13t15:58:20.353z"), utc);
  EXPECT_EQ(parse_timestamp("2024-02-29T00:00:00Z"), at(2024y / 2 / 29, 0h, 0min, 0s, 0ms));
}

TEST(Timestamp, RejectsWhatIsNotATime) {
  for (const char* bad :
       {"", "redacted", "null", "2024-08-13", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-08-13T24:00:00Z",
        "2024-08-13T15:58:20.Z", "2024-08-13T15:58:20.353Q", "2024-08-13T15:58:20.353Z ", "2024-08-13T15:58:20+2:00",
        "20x4-08-13T15:58:20Z", "2024-08-13T15:58:20.353+02:00x"}) {
    EXPECT_FALSE(parse_timestamp(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace og::correlator
