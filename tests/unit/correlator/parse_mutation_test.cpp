// Every sample truncated at every byte offset, and with seeded random byte flips: each must give an
// Event or a typed ParseFailure. Crashes and sanitizer reports fail the run (ASan/UBSan build).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <random>

#include "correlator/parse.h"
#include "tests/support/data.h"

namespace og::correlator {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> all_samples() {
  std::vector<std::string> samples;
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(test::shared_data_dir() / "okta-logs"))
    if (entry.path().extension() == ".ndjson" && entry.path().filename().string().find(".meta.") == std::string::npos)
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files)
    for (std::string& line : test::read_lines(file))
      if (!line.empty()) samples.push_back(std::move(line));
  return samples;
}

struct Tally {
  std::size_t events = 0;
  std::array<std::size_t, 9> failures{};
  void count(const boost::system::result<Event, ParseFailure>& result) {
    if (result) {
      ++events;
      // Touch the owned data: a dangling view would show up here under ASan.
      volatile std::size_t sink = result->uuid.size() + result->actor.id.size() + result->event_type.view().size();
      (void)sink;
    } else {
      ++failures.at(static_cast<std::size_t>(result.error().error));
    }
  }
  std::string summary() const {
    // Appended piecewise: GCC 12's -Wrestrict misfires on `"x" + std::string` at -O3.
    std::string text = "events=";
    text.append(std::to_string(events));
    for (std::size_t i = 0; i < failures.size(); ++i) {
      if (failures[i] == 0) continue;
      text.append(" ").append(to_string(static_cast<ParseError>(i))).append("=").append(std::to_string(failures[i]));
    }
    return text;
  }
};

FieldRegistry& registry() {
  static FieldRegistry r = [] {
    FieldRegistry reg;
    reg.resolve("legacyEventType");
    reg.resolve("debugContext.debugData.requestId");
    reg.resolve("securityContext.userBehaviors");
    return reg;
  }();
  return r;
}

AlertMapping okta_as_alert() {
  AlertMapping m;
  m.time_pointer = "/published";
  m.user_pointer = "/actor/alternateId";
  m.alert_type_pointer = "/eventType";
  m.source_ip_pointer = "/client/ipAddress";
  m.severity_pointer = "/severity";
  m.message_pointer = "/displayMessage";
  m.uuid_pointer = "/uuid";
  m.extra_fields = {{"x.city", "/client/geographicalContext/city"},
                    {"x.lat", "/client/geographicalContext/geolocation/lat"}};
  return m;
}

TEST(ParseMutation, EveryTruncationIsAnEventOrACountedError) {
  auto okta = make_okta_parser(&registry());
  auto alert = make_alert_parser(okta_as_alert(), &registry());
  Tally okta_tally, alert_tally;
  std::size_t samples = 0;
  for (const std::string& sample : all_samples()) {
    ++samples;
    for (std::size_t length = 0; length <= sample.size(); ++length) {
      std::string_view prefix(sample.data(), length);
      okta_tally.count(okta->parse(prefix, RecordMeta{}));
      alert_tally.count(alert->parse(prefix, RecordMeta{}));
    }
    // The only prefix that is a whole document is the sample itself (trailing whitespace aside).
  }
  EXPECT_GE(samples, 149u + 127u);
  // No strict prefix of an object is valid JSON, so events come only from complete samples.
  EXPECT_LE(okta_tally.events, samples);
  EXPECT_GT(okta_tally.failures[static_cast<std::size_t>(ParseError::invalid_json)], 0u);
  std::cout << "truncation okta: " << okta_tally.summary() << "\ntruncation alert: " << alert_tally.summary() << "\n";
}

TEST(ParseMutation, RandomByteFlipsAreAnEventOrACountedError) {
  auto okta = make_okta_parser(&registry());
  auto alert = make_alert_parser(okta_as_alert(), &registry());
  std::mt19937_64 random(20260512);  // fixed: failures must reproduce
  constexpr int kVariantsPerSample = 200;
  const char interesting[] = {'{', '}', '[', ']', '"', '\\', ',', ':', '\0', '\xff', '\xc3', ' ', 'n', '1', '-'};
  Tally okta_tally, alert_tally;
  for (const std::string& sample : all_samples()) {
    for (int variant = 0; variant < kVariantsPerSample; ++variant) {
      std::string mutated = sample;
      int flips = 1 + static_cast<int>(random() % 4);
      for (int f = 0; f < flips; ++f) {
        std::size_t at = random() % mutated.size();
        switch (random() % 3) {
          case 0:
            mutated[at] = static_cast<char>(mutated[at] ^ (1u << (random() % 8)));
            break;
          case 1:
            mutated[at] = interesting[random() % sizeof(interesting)];
            break;
          default:
            mutated.erase(at, 1 + random() % 8);
            if (mutated.empty()) mutated.push_back('{');
            break;
        }
      }
      auto okta_result = okta->parse(mutated, RecordMeta{});
      auto alert_result = alert->parse(mutated, RecordMeta{});
      // Whatever is accepted must at least be valid UTF-8 (events reach logs and the Okta API).
      if (okta_result || alert_result) {
        EXPECT_TRUE(simdjson::validate_utf8(mutated.data(), mutated.size())) << mutated;
      }
      okta_tally.count(okta_result);
      alert_tally.count(alert_result);
    }
  }
  EXPECT_GT(okta_tally.events, 0u);  // many flips land in string content and stay valid
  std::cout << "flips okta: " << okta_tally.summary() << "\nflips alert: " << alert_tally.summary() << "\n";
}

TEST(ParseMutation, SplitJsonArrayOnTruncatedPages) {
  auto samples = all_samples();
  std::string page = "[";
  page.append(samples[0]).append(",").append(samples[1]).append(",").append(samples[2]).append("]");
  std::size_t ok = 0;
  for (std::size_t length = 0; length <= page.size(); ++length)
    ok += split_json_array(page.substr(0, length)).has_value();
  EXPECT_EQ(ok, 1u);
}

}  // namespace
}  // namespace og::correlator
