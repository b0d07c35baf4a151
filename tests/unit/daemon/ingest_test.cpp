// The per-message ingest step: size limit, parse failures counted per reason, duplicates, logging
// with scrubbed, rate-limited excerpts.
#include "daemon/ingest.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "daemon/ingest_log.h"

namespace og::test {
namespace {

using correlator::ParseError;
using daemon::Ingestor;
using daemon::IngestResult;
using daemon::LogLevel;
using daemon::scrubbed_excerpt;

// Payload "ok:<uuid>" parses (event time 0), "at:<ms>:<uuid>" parses with that event time,
// anything else fails.
class FakeParser final : public correlator::EventParser {
 public:
  boost::system::result<correlator::Event, correlator::ParseFailure> parse(
      std::string_view payload, const correlator::RecordMeta& meta) override {
    if (payload.starts_with("ok:") || payload.starts_with("at:")) {
      correlator::Event event;
      std::string_view rest = payload.substr(3);
      if (payload.starts_with("at:")) {
        std::size_t colon = rest.find(':');
        event.published =
            correlator::EventTime{std::chrono::milliseconds{std::stoll(std::string(rest.substr(0, colon)))}};
        event.time_from_payload = true;
        rest = rest.substr(colon + 1);
      }
      event.uuid = std::string(rest);
      event.source = meta.source;
      event.origin = meta.origin;
      event.ingest_timestamp_ms = meta.ingest_timestamp_ms;
      return event;
    }
    if (payload.empty()) return correlator::ParseFailure{ParseError::empty, ""};
    return correlator::ParseFailure{ParseError::invalid_json, "at byte 0"};
  }
};

class SetFilter final : public daemon::DuplicateFilter {
 public:
  bool seen_before(const correlator::Event& event) override { return !seen_.insert(event.uuid.str()).second; }

 private:
  std::set<std::string> seen_;
};

struct IngestFixture : ::testing::Test {
  daemon::IngestCounters counters;
  daemon::LogRateLimiter limiter{3};
  std::vector<std::string> lines;
  daemon::IngestLimits limits;
  std::unique_ptr<Ingestor> ingestor;
  correlator::SourceOffset origin{correlator::Symbol::intern("okta-topic"), 2, 41};

  void SetUp() override {
    limits.max_message_bytes = 64;
    daemon::IngestFactories factories;
    factories.parser = [](const daemon::SourceBinding&) { return std::make_unique<FakeParser>(); };
    factories.dedupe = [] { return std::make_unique<SetFilter>(); };
    ingestor = daemon::make_ingestor(
        {"okta-topic", "okta", {}, {}}, factories, counters, limits,
        [this](LogLevel, std::string_view line) { lines.emplace_back(line); }, limiter);
    ASSERT_TRUE(ingestor);
  }
};

TEST_F(IngestFixture, ParsesDedupesAndCountsPerReason) {
  IngestResult a = ingestor->ingest("ok:1", origin, 1000);
  ASSERT_EQ(a.kind, IngestResult::Kind::event);
  EXPECT_EQ(a.event.uuid, "1");
  EXPECT_EQ(a.event.source.view(), "okta");
  EXPECT_EQ(a.event.origin, origin);
  EXPECT_EQ(a.event.ingest_timestamp_ms, 1000);
  EXPECT_EQ(ingestor->ingest("ok:1", origin, 1000).kind, IngestResult::Kind::duplicate);
  EXPECT_EQ(ingestor->ingest("ok:2", origin, 1000).kind, IngestResult::Kind::event);
  IngestResult bad = ingestor->ingest("bad", origin, 1000);
  ASSERT_EQ(bad.kind, IngestResult::Kind::rejected);
  EXPECT_EQ(bad.failure.error, ParseError::invalid_json);
  EXPECT_EQ(ingestor->ingest("", origin, 1000).failure.error, ParseError::empty);
  IngestResult large = ingestor->ingest(std::string(65, 'x'), origin, 1000);
  EXPECT_EQ(large.failure.error, ParseError::too_large);
  EXPECT_NE(large.failure.detail.find("65 bytes"), std::string::npos);
  EXPECT_EQ(ingestor->ingest(std::string(64, 'x'), origin, 1000).failure.error, ParseError::invalid_json)
      << "exactly at the limit is parsed";

  daemon::SourceStats s = counters.snapshot("okta");
  EXPECT_EQ(s.received, 7u);
  EXPECT_EQ(s.events, 2u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.rejected, 4u);
  EXPECT_EQ(s.rejected_for(ParseError::invalid_json), 2u);
  EXPECT_EQ(s.rejected_for(ParseError::empty), 1u);
  EXPECT_EQ(s.rejected_for(ParseError::too_large), 1u);
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(IngestFixture, RejectsEventTimeTooFarAheadOfIngestTimeBeforeDeduplication) {
  constexpr std::int64_t ingest = 1'700'000'000'000;  // in the past, so the host clock does not bind
  const std::int64_t skew = limits.max_future_skew.count();
  ASSERT_EQ(skew, 5 * 60 * 1000) << "the documented default";
  auto at = [](std::int64_t ms, std::string_view uuid) { return fmt::format("at:{}:{}", ms, uuid); };

  EXPECT_EQ(ingestor->ingest(at(ingest + skew, "edge"), origin, ingest).kind, IngestResult::Kind::event)
      << "exactly at the limit is accepted";
  EXPECT_EQ(ingestor->ingest(at(ingest - 86'400'000, "old"), origin, ingest).kind, IngestResult::Kind::event)
      << "late events are the correlator's business, not this check's";
  IngestResult ahead = ingestor->ingest(at(ingest + skew + 1, "u-1"), origin, ingest);
  ASSERT_EQ(ahead.kind, IngestResult::Kind::rejected);
  EXPECT_EQ(ahead.failure.error, ParseError::future_time);
  EXPECT_NE(ahead.failure.detail.find("300001 ms ahead"), std::string::npos) << ahead.failure.detail;
  // The rejected copy never reached the duplicate filter: a corrected redelivery is accepted.
  EXPECT_EQ(ingestor->ingest(at(ingest, "u-1"), origin, ingest).kind, IngestResult::Kind::event);
  // A far-future ingest timestamp (a producer's clock) does not vouch for the event: the host's
  // clock bounds it too.
  constexpr std::int64_t year_4822 = 90'000'000'000'000;
  EXPECT_EQ(ingestor->ingest(at(year_4822, "u-2"), origin, year_4822).failure.error, ParseError::future_time);

  daemon::SourceStats s = counters.snapshot("okta");
  EXPECT_EQ(s.rejected_for(ParseError::future_time), 2u);
  EXPECT_EQ(s.events, 3u);
  EXPECT_EQ(s.duplicates, 0u);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("reason=future_time"), std::string::npos) << lines[0];
}

TEST(IngestFutureTime, FarFutureAlertIsRejectedAndOneWithinTheSkewAccepted) {
  daemon::IngestCounters counters;
  daemon::LogRateLimiter limiter{10};
  daemon::IngestLimits limits;
  limits.max_future_skew = std::chrono::hours(1);
  daemon::SourceBinding binding{"edr-topic", "edr", correlator::SourceFormat::alert, {}};
  binding.mapping.time_pointer = "/time";
  binding.mapping.user_pointer = "/user";
  binding.mapping.alert_type_pointer = "/type";
  binding.mapping.uuid_pointer = "/id";
  auto ingestor =
      daemon::make_ingestor(binding, daemon::default_ingest_factories(limits), counters, limits, nullptr, limiter);
  ASSERT_TRUE(ingestor);
  correlator::SourceOffset origin{correlator::Symbol::intern("edr-topic"), 0, 5};
  const std::int64_t now = wall_ms();

  IngestResult far =
      ingestor->ingest(R"({"time":90000000000,"user":"a@example.com","type":"x","id":"a-1"})", origin, now);
  ASSERT_EQ(far.kind, IngestResult::Kind::rejected);
  EXPECT_EQ(far.failure.error, ParseError::future_time);
  EXPECT_EQ(correlator::to_string(far.failure.error), "future_time");

  std::string soon = fmt::format(R"({{"time":{},"user":"a@example.com","type":"x","id":"a-2"}})", now / 1000 + 1800);
  IngestResult within = ingestor->ingest(soon, origin, now);
  ASSERT_EQ(within.kind, IngestResult::Kind::event) << within.failure.detail;
  EXPECT_EQ(counters.snapshot("edr").rejected_for(ParseError::future_time), 1u);
}

TEST_F(IngestFixture, LogsRejectionsWithLocationAndScrubbedExcerptRateLimited) {
  ingestor->ingest(R"({"password":"hunter2","x":1} trailing)", origin, 0);
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  EXPECT_NE(line.find("reason=invalid_json"), std::string::npos) << line;
  EXPECT_NE(line.find("topic=okta-topic partition=2 offset=41"), std::string::npos) << line;
  EXPECT_NE(line.find("source=okta"), std::string::npos) << line;
  EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("password":"***")"), std::string::npos) << line;
  for (int i = 0; i < 10; ++i)
    ingestor->ingest("bad", origin, 0);
  EXPECT_EQ(lines.size(), 3u) << "3 per second per source and reason";
  ingestor->ingest("", origin, 0);
  EXPECT_EQ(lines.size(), 4u) << "another reason has its own budget";
  EXPECT_EQ(counters.snapshot("okta").rejected, 12u) << "suppressed lines are still counted";
}

TEST(ScrubbedExcerpt, MasksSecretValuesAndEscapesControlBytes) {
  EXPECT_EQ(scrubbed_excerpt(R"({"a":"b","Authorization": "SSWS 00abc","n":1})"),
            R"({"a":"b","Authorization":"***","n":1})");
  EXPECT_EQ(scrubbed_excerpt(R"({"api_token":12345,"sessionCookie":{"v":"x"},"k":"v"})"),
            R"({"api_token":"***","sessionCookie":"***","k":"v"})");
  EXPECT_EQ(scrubbed_excerpt("a\nb\x01\xff"), "a\\nb\\x01\\xff");
  EXPECT_EQ(scrubbed_excerpt(R"({"clientSecret":"abc\"def","x":2})"), R"({"clientSecret":"***","x":2})");
  // A secret cut off by truncation of the input never leaks.
  EXPECT_EQ(scrubbed_excerpt(R"({"password":"abc)"), R"({"password":"***")");
  // A value that merely contains a secret word is not a key and is kept.
  EXPECT_EQ(scrubbed_excerpt(R"({"eventType":"token.grant"})"), R"({"eventType":"token.grant"})");
}

TEST(ScrubbedExcerpt, IsBounded) {
  std::string big(10'000, 'a');
  EXPECT_EQ(scrubbed_excerpt(big).size(), 80u);
  std::string binary(1000, '\x02');
  std::string out = scrubbed_excerpt(binary);
  EXPECT_LE(out.size(), 80u);
  EXPECT_EQ(out.substr(0, 4), "\\x02");
  EXPECT_EQ(scrubbed_excerpt(big, 10).size(), 10u);
}

TEST(LogRateLimiter, AllowsBurstPerWindowAndReportsSuppressed) {
  daemon::LogRateLimiter limiter(2);
  auto t0 = daemon::LogRateLimiter::Clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(limiter.admit("k", t0).log);
  EXPECT_TRUE(limiter.admit("k", t0).log);
  EXPECT_FALSE(limiter.admit("k", t0 + std::chrono::milliseconds(10)).log);
  EXPECT_FALSE(limiter.admit("k", t0 + std::chrono::milliseconds(999)).log);
  EXPECT_TRUE(limiter.admit("other", t0).log);
  auto next = limiter.admit("k", t0 + std::chrono::seconds(1));
  EXPECT_TRUE(next.log);
  EXPECT_EQ(next.suppressed_before, 2u);
  EXPECT_EQ(limiter.admit("k", t0 + std::chrono::seconds(1)).suppressed_before, 0u);
}

}  // namespace
}  // namespace og::test
