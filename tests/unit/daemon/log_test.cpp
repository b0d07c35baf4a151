#include "daemon/log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace og::test {
namespace {

using namespace std::chrono_literals;
using og::daemon::Logger;
using og::daemon::LoggerOptions;
using og::daemon::LogLevel;

struct Capture {
  std::vector<std::string> lines;
  std::chrono::steady_clock::time_point steady{};
  Logger make(LoggerOptions o = {}) {
    return Logger(
        o, [this](std::string_view l) { lines.emplace_back(l); },
        [] { return std::chrono::system_clock::time_point(std::chrono::milliseconds(1714566896789)); },
        [this] { return steady; });
  }
};

TEST(Log, LineHasStableEnvelopeAndTypedFields) {
  Capture c;
  Logger log = c.make();
  log.info("kafka", "partition assigned",
           {{"topic", "okta"},
            {"partition", 3},
            {"offset", std::uint64_t{18446744073709551615u}},
            {"lag", -2},
            {"ratio", 0.5},
            {"paused", false},
            {"group", nullptr}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0],
            "{\"ts\":\"2024-05-01T12:34:56.789Z\",\"level\":\"info\",\"msg\":\"partition assigned\","
            "\"component\":\"kafka\",\"topic\":\"okta\",\"partition\":3,\"offset\":18446744073709551615,"
            "\"lag\":-2,\"ratio\":0.5,\"paused\":false,\"group\":null}\n");
}

TEST(Log, EscapesControlCharactersQuotesAndInvalidUtf8) {
  Capture c;
  Logger log = c.make();
  log.warn("parse", "bad \"input\"\n\t\\",
           {{"excerpt", std::string("a\x01"
                                    "b\xff"
                                    "c\xc3\xa9",
                                    7)}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_NE(c.lines[0].find("\"msg\":\"bad \\\"input\\\"\\n\\t\\\\\""), std::string::npos) << c.lines[0];
  EXPECT_NE(c.lines[0].find("\"excerpt\":\"a\\u0001b\xEF\xBF\xBD"
                            "c\xc3\xa9\""),
            std::string::npos)
      << c.lines[0];
}

TEST(Log, LevelFiltersAndEnvelopeNamesCannotBeOverwritten) {
  Capture c;
  Logger log = c.make({.level = LogLevel::warn});
  log.info("x", "dropped");
  log.debug("x", "dropped");
  log.error("x", "kept", {{"level", "fake"}, {"msg", "fake"}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_NE(c.lines[0].find("\"level\":\"error\""), std::string::npos);
  EXPECT_NE(c.lines[0].find("\"field_level\":\"fake\""), std::string::npos);
  EXPECT_NE(c.lines[0].find("\"field_msg\":\"fake\""), std::string::npos);
  log.set_level(LogLevel::debug);
  log.debug("x", "now kept");
  EXPECT_EQ(c.lines.size(), 2u);
}

TEST(Log, RegisteredSecretsNeverAppear) {
  Capture c;
  Logger log = c.make({.level = LogLevel::debug});
  const std::string token = "00aBcD-ssws-\"token\\value";
  const std::string sasl = "kafka-sasl-pw";
  log.add_secret(token);
  log.add_secret(sasl);
  log.add_secret("");  // ignored, must not mask everything
  log.info("okta", "request failed: Authorization: SSWS " + token, {{"header", "SSWS " + token}});
  log.info(sasl, "login with " + sasl + sasl, {{"config", "sasl.password=" + sasl + ";x=1"}});
  log.log_limited("k", LogLevel::warn, "okta", token, {{"body", token}});
  EXPECT_EQ(log.scrub("prefix " + token + " suffix"), "prefix *** suffix");
  ASSERT_EQ(c.lines.size(), 3u);
  for (const auto& line : c.lines) {
    EXPECT_EQ(line.find("00aBcD"), std::string::npos) << line;
    EXPECT_EQ(line.find("kafka-sasl-pw"), std::string::npos) << line;
    EXPECT_NE(line.find("***"), std::string::npos) << line;
  }
  EXPECT_NE(c.lines[1].find("\"msg\":\"login with ******\""), std::string::npos) << c.lines[1];
}

TEST(Log, SecretLookingKeysAreMasked) {
  Capture c;
  Logger log = c.make();
  log.info("cfg", "loaded",
           {{"sasl.password", "hunter2"},
            {"okta_token", "abc"},
            {"Authorization", "Bearer x"},
            {"token_file", "/etc/oktaguard/token"},
            {"user", "alice"}});
  ASSERT_EQ(c.lines.size(), 1u);
  const auto& l = c.lines[0];
  EXPECT_EQ(l.find("hunter2"), std::string::npos);
  EXPECT_EQ(l.find("\"abc\""), std::string::npos);
  EXPECT_EQ(l.find("Bearer"), std::string::npos);
  EXPECT_NE(l.find("\"token_file\":\"/etc/oktaguard/token\""), std::string::npos) << l;
  EXPECT_NE(l.find("\"user\":\"alice\""), std::string::npos);
  EXPECT_TRUE(og::daemon::is_secret_key("SASL.PASSWORD"));
  EXPECT_FALSE(og::daemon::is_secret_key("ssl.key.location"));
}

TEST(Log, RateLimiterSuppressesPerKeyAndReportsTheCount) {
  Capture c;
  Logger log = c.make({.limit_interval = 10s, .limit_burst = 2});
  int written = 0;
  for (int i = 0; i < 7; ++i)
    written += log.log_limited("parse:okta", LogLevel::warn, "parse", "bad record") ? 1 : 0;
  EXPECT_EQ(written, 2);
  EXPECT_TRUE(log.log_limited("parse:edr", LogLevel::warn, "parse", "other key")) << "keys are independent";
  c.steady += 9s;
  EXPECT_FALSE(log.log_limited("parse:okta", LogLevel::warn, "parse", "still limited"));
  c.steady += 1s;
  EXPECT_TRUE(log.log_limited("parse:okta", LogLevel::warn, "parse", "again"));
  ASSERT_EQ(c.lines.size(), 4u);
  EXPECT_EQ(c.lines[0].find("suppressed"), std::string::npos);
  EXPECT_NE(c.lines[3].find(",\"suppressed\":6}"), std::string::npos) << c.lines[3];
  EXPECT_TRUE(log.log_limited("parse:okta", LogLevel::warn, "parse", "count reset"));
  EXPECT_EQ(c.lines.back().find("suppressed"), std::string::npos) << c.lines.back();
}

TEST(Log, TimestampsAreRfc3339UtcWithMilliseconds) {
  using og::daemon::format_rfc3339_ms;
  EXPECT_EQ(format_rfc3339_ms(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(std::chrono::system_clock::time_point(std::chrono::milliseconds(951782400007))),
            "2000-02-29T00:00:00.007Z");
  EXPECT_EQ(format_rfc3339_ms(std::chrono::system_clock::time_point(std::chrono::milliseconds(-1))),
            "1969-12-31T23:59:59.999Z");
}

TEST(Log, ConcurrentWritersProduceWholeLines) {
  std::vector<std::string> lines;
  Logger log({}, [&](std::string_view l) { lines.emplace_back(l); });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i)
        log.info("t", "line", {{"thread", t}, {"i", i}});
    });
  for (auto& th : threads)
    th.join();
  ASSERT_EQ(lines.size(), 2000u);
  for (const auto& l : lines) {
    ASSERT_EQ(l.front(), '{');
    ASSERT_EQ(l.substr(l.size() - 2), "}\n");
  }
}

}  // namespace
}  // namespace og::test
