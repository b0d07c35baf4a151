#include "daemon/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace og::test {
namespace {

using og::daemon::Counter;
using og::daemon::MetricType;
using og::daemon::Registry;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

// Checks every line against the 0.0.4 text grammar: comments are HELP/TYPE for the family that
// follows, TYPE comes before any sample of its family, each sample is name{labels} value.
void expect_valid_exposition(const std::string& text) {
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n') << "the exposition ends with a line feed";
  static const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex sample(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)re");
  std::string current;
  std::string current_type;
  for (const std::string& line : lines_of(text)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      current = m[1];
      current_type.clear();
    } else if (std::regex_match(line, m, type)) {
      EXPECT_EQ(m[1], current) << line;
      current_type = m[2];
    } else if (std::regex_match(line, m, sample)) {
      std::string name = m[1];
      EXPECT_FALSE(current_type.empty()) << "sample before TYPE: " << line;
      if (current_type == "histogram") {
        EXPECT_TRUE(name == current + "_bucket" || name == current + "_sum" || name == current + "_count") << line;
      } else {
        EXPECT_EQ(name, current) << line;
      }
    } else {
      ADD_FAILURE() << "line does not match the exposition grammar: '" << line << "'";
    }
  }
}

TEST(Metrics, CounterWithLabelsExposesHelpTypeAndSortedChildren) {
  Registry r;
  auto& events = r.counter("og_events_total", "Events by source and result.", {"source", "result"});
  events.with({"okta", "ok"}).inc(3);
  events.with({"edr", "parse_error"}).inc();
  events.with({"okta", "ok"}).inc();
  EXPECT_EQ(r.expose(),
            "# HELP og_events_total Events by source and result.\n"
            "# TYPE og_events_total counter\n"
            "og_events_total{source=\"edr\",result=\"parse_error\"} 1\n"
            "og_events_total{source=\"okta\",result=\"ok\"} 4\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.counter("og_x_total", "back\\slash and\nnewline \"quotes stay\"", {"v"}).with({"a\"b\\c\nd"}).inc();
  std::string text = r.expose();
  EXPECT_NE(text.find("# HELP og_x_total back\\\\slash and\\nnewline \"quotes stay\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("og_x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
  expect_valid_exposition(text);
}

TEST(Metrics, UnlabelledFamiliesAreExposedAsZeroFromTheStart) {
  Registry r;
  r.counter("og_dead_lettered_total", "Records sent to the dead-letter topic.");
  r.gauge("og_breaker_open", "1 while the blast-radius breaker is open.");
  EXPECT_EQ(r.expose(),
            "# HELP og_breaker_open 1 while the blast-radius breaker is open.\n"
            "# TYPE og_breaker_open gauge\n"
            "og_breaker_open 0\n"
            "# HELP og_dead_lettered_total Records sent to the dead-letter topic.\n"
            "# TYPE og_dead_lettered_total counter\n"
            "og_dead_lettered_total 0\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.histogram("og_okta_latency_seconds", "Okta latency.", {0.1, 0.5, 1}, {"op"}).with({"suspend"});
  h.observe(0.05);
  h.observe(0.1);  // bounds are inclusive
  h.observe(0.7);
  h.observe(3);
  EXPECT_EQ(r.expose(),
            "# HELP og_okta_latency_seconds Okta latency.\n"
            "# TYPE og_okta_latency_seconds histogram\n"
            "og_okta_latency_seconds_bucket{op=\"suspend\",le=\"0.1\"} 2\n"
            "og_okta_latency_seconds_bucket{op=\"suspend\",le=\"0.5\"} 2\n"
            "og_okta_latency_seconds_bucket{op=\"suspend\",le=\"1\"} 3\n"
            "og_okta_latency_seconds_bucket{op=\"suspend\",le=\"+Inf\"} 4\n"
            "og_okta_latency_seconds_sum{op=\"suspend\"} 3.85\n"
            "og_okta_latency_seconds_count{op=\"suspend\"} 4\n");
}

TEST(Metrics, ValuesFormatLikePrometheusExpects) {
  using og::daemon::format_value;
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(format_value(1e300)), 1e300);
  EXPECT_EQ(std::stod(format_value(1.0 / 3)), 1.0 / 3);
}

TEST(Metrics, CollectorsAreCalledAtScrapeTime) {
  Registry r;
  int calls = 0;
  r.collector("og_consumer_lag", "Messages behind the high watermark.", MetricType::gauge, {"topic", "partition"}, [&] {
    ++calls;
    return std::vector<og::daemon::Sample>{{{"okta", "1"}, 7}, {{"okta", "0"}, 12}, {{"bad"}, 1}};
  });
  std::string text = r.expose();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(text,
            "# HELP og_consumer_lag Messages behind the high watermark.\n"
            "# TYPE og_consumer_lag gauge\n"
            "og_consumer_lag{topic=\"okta\",partition=\"0\"} 12\n"
            "og_consumer_lag{topic=\"okta\",partition=\"1\"} 7\n");
}

TEST(Metrics, MisuseIsRejectedAtRegistration) {
  Registry r;
  EXPECT_THROW(r.counter("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("og-bad", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("og_a_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.counter("og_a_total", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("og_h", "x", {1, 2}, {"le"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("og_h", "x", {2, 1}), std::invalid_argument);
  auto& c = r.counter("og_ok_total", "x", {"a"});
  EXPECT_EQ(&r.counter("og_ok_total", "x", {"a"}), &c) << "same shape returns the same family";
  EXPECT_THROW(r.gauge("og_ok_total", "x", {"a"}), std::invalid_argument);
  EXPECT_THROW(r.counter("og_ok_total", "x", {"b"}), std::invalid_argument);
  EXPECT_THROW(c.with({"1", "2"}), std::invalid_argument);
  r.histogram("og_lat", "x", {1});
  EXPECT_THROW(r.counter("og_lat_count", "x"), std::invalid_argument);
  expect_valid_exposition(r.expose());
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto& family = r.counter("og_hits_total", "x", {"rule"});
  auto& hist = r.histogram("og_risk", "x", {10, 50, 100});
  Counter& c = family.with({"r1"});
  constexpr int kThreads = 4;
  constexpr int kPer = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        c.inc();
        family.with({t % 2 == 0 ? "even" : "odd"}).inc();
        hist.get().observe(i % 120);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(c.value(), static_cast<std::uint64_t>(kThreads * kPer));
  EXPECT_EQ(family.with({"even"}).value(), static_cast<std::uint64_t>(2 * kPer));
  EXPECT_EQ(hist.get().snapshot().count, static_cast<std::uint64_t>(kThreads * kPer));
  expect_valid_exposition(r.expose());
}

TEST(Metrics, FullRegistryPassesTheGrammarCheck) {
  Registry r;
  r.counter("og_parse_errors_total", "Parse errors by reason.", {"source", "reason"})
      .with({"edr", "bad \"json\""})
      .inc();
  r.gauge("og_rate_limit_headroom", "Remaining fraction.", {"bucket"}).with({"/api/v1/users"}).set(0.5);
  r.histogram("og_risk_score", "Risk.", og::daemon::linear_buckets(10, 10, 10)).get().observe(55);
  r.histogram("og_lat_seconds", "Latency.", og::daemon::exponential_buckets(0.005, 2, 8), {"op"})
      .with({"x"})
      .observe(0.02);
  expect_valid_exposition(r.expose());
}

}  // namespace
}  // namespace og::test
