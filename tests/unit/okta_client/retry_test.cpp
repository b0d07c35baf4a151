// Retry arithmetic against the only real 429s we have: Okta SDK cassettes in shared/data. The SDK waited
// X-Rate-Limit-Reset - Date + 1 s and tagged its retry with X-Okta-Retry-For / X-Okta-Retry-Count; our arithmetic
// must give the same wait and the recorded retry must be consistent with it.

#include "okta_client/retry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <charconv>
#include <map>

#include "tests/support/data.h"

namespace og::test {
namespace {

using namespace std::chrono_literals;
using okta::RateLimitHeaders;

struct Exchange {
  std::string cassette;
  std::int64_t seq = 0;
  std::int64_t status = 0;
  std::map<std::string, std::string> request_headers;
  std::map<std::string, std::string> response_headers;
};

std::vector<Exchange> load_exchanges() {
  const auto path = shared_data_dir() / "okta-api-cassettes/okta-sdk-python/exchanges.ndjson";
  std::vector<Exchange> out;
  simdjson::ondemand::parser parser;
  for (const auto& line : read_lines(path)) {
    if (line.empty()) continue;
    simdjson::padded_string json(line);
    auto doc = parser.iterate(json);
    Exchange e;
    e.cassette = std::string(std::string_view(doc["cassette"]));
    e.seq = std::int64_t(doc["seq"]);
    e.status = std::int64_t(doc["status"]);
    for (auto field : doc["request_headers"].get_object()) {
      e.request_headers[std::string(std::string_view(field.unescaped_key()))] =
          std::string(std::string_view(field.value()));
    }
    for (auto field : doc["response_headers"].get_object()) {
      e.response_headers[std::string(std::string_view(field.unescaped_key()))] =
          std::string(std::string_view(field.value()));
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<std::int64_t> to_i64(const std::map<std::string, std::string>& headers, const std::string& name) {
  auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  std::int64_t v = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return v;
}

RateLimitHeaders headers_of(const Exchange& e) {
  RateLimitHeaders h;
  h.limit = to_i64(e.response_headers, "x-rate-limit-limit");
  h.remaining = to_i64(e.response_headers, "x-rate-limit-remaining");
  h.reset_epoch_s = to_i64(e.response_headers, "x-rate-limit-reset");
  h.date_epoch_s = okta::parse_http_date(e.response_headers.at("date"));
  return h;
}

TEST(RetryTest, ParsesImfFixdate) {
  EXPECT_EQ(okta::parse_http_date("Thu, 11 Sep 2025 16:21:50 GMT"), 1757607710);
  EXPECT_EQ(okta::parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(okta::parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"), 1835481599);
  EXPECT_FALSE(okta::parse_http_date("Thu, 11 Sep 2025 16:21:50 UTC"));
  EXPECT_FALSE(okta::parse_http_date("Thursday, 11-Sep-25 16:21:50 GMT"));
  EXPECT_FALSE(okta::parse_http_date("Thu, 11 Foo 2025 16:21:50 GMT"));
  EXPECT_FALSE(okta::parse_http_date(""));
}

TEST(RetryTest, GoldenWaitsFromRecorded429s) {
  const auto exchanges = load_exchanges();
  ASSERT_EQ(exchanges.size(), 287u);
  // Expected waits worked out by hand: reset - Date + 1 s.
  //   agentPools 16:21:50, reset 1757607758 (16:22:38) -> 49 s; features 06:24:57 / 06:25:59 -> 9 s each.
  const std::vector<std::int64_t> expected_wait_s{49, 9, 9};
  std::vector<std::int64_t> waits;
  for (std::size_t i = 0; i + 1 < exchanges.size(); ++i) {
    const auto& e = exchanges[i];
    if (e.status != 429) continue;
    const auto h = headers_of(e);
    ASSERT_TRUE(h.date_epoch_s && h.reset_epoch_s) << e.cassette;
    const auto wait = okta::rate_limit_wait(h, 10min);
    ASSERT_TRUE(wait.has_value());
    waits.push_back(std::chrono::duration_cast<std::chrono::seconds>(*wait).count());

    // The SDK's retry is the next exchange of the same cassette.
    const auto& retry = exchanges[i + 1];
    ASSERT_EQ(retry.cassette, e.cassette);
    EXPECT_EQ(retry.request_headers.at("x-okta-retry-for"), e.response_headers.at("x-okta-request-id"));
    EXPECT_EQ(retry.request_headers.at("x-okta-retry-count"), "1");
    // It was answered no earlier than the wait (Date has whole seconds, so allow the truncation).
    const auto retry_date = okta::parse_http_date(retry.response_headers.at("date"));
    ASSERT_TRUE(retry_date);
    EXPECT_GE(*retry_date - *h.date_epoch_s, waits.back() - 1) << e.cassette << " seq " << e.seq;
    // ... and it landed in a fresh window: full budget again.
    EXPECT_EQ(to_i64(retry.response_headers, "x-rate-limit-remaining").value() + 1,
              to_i64(retry.response_headers, "x-rate-limit-limit").value());
  }
  EXPECT_EQ(waits, expected_wait_s);
}

TEST(RetryTest, WaitIsSkewFreeAndCapped) {
  RateLimitHeaders h;
  h.date_epoch_s = 1000;
  h.reset_epoch_s = 1030;
  EXPECT_EQ(okta::rate_limit_wait(h, 10min), 31s);  // local clock not involved at all
  h.reset_epoch_s = 1000 + 3600;
  EXPECT_EQ(okta::rate_limit_wait(h, 45s), 45s);  // a reset far away is capped
  h.reset_epoch_s = 990;
  EXPECT_EQ(okta::rate_limit_wait(h, 45s), 0s);  // never negative
  h.date_epoch_s.reset();
  EXPECT_FALSE(okta::rate_limit_wait(h, 45s));
}

TEST(RetryTest, FullJitterStaysWithinTheExponentialCeiling) {
  std::mt19937_64 rng(42);
  for (int retry = 0; retry < 8; ++retry) {
    const auto ceiling = std::min<std::chrono::milliseconds>(100ms * (1 << retry), 2s);
    std::chrono::milliseconds lo = ceiling, hi = 0ms;
    for (int i = 0; i < 2000; ++i) {
      const auto d = okta::full_jitter_backoff(retry, 100ms, 2s, rng);
      ASSERT_GE(d, 0ms);
      ASSERT_LE(d, ceiling);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // Full jitter really spreads over the whole range (that is what de-synchronises clients).
    EXPECT_LT(lo, ceiling / 10) << retry;
    EXPECT_GT(hi, ceiling * 9 / 10) << retry;
  }
  EXPECT_LE(okta::full_jitter_backoff(1000, 100ms, 2s, rng), 2s);  // no overflow for absurd retry counts
}

}  // namespace
}  // namespace og::test
