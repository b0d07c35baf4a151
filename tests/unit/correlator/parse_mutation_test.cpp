// Every sample truncated at every byte offset, and with seeded random byte flips: each must give an
// Event or a typed ParseFailure. Crashes and sanitizer reports fail the run (ASan/UBSan build).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <random>

#include "correlator/okta_log_parser.h"
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

// Extra paths read during the parser's one pass must be exactly what a JSON pointer lookup over
// the whole document gives (first occurrence, raw key comparison, type mismatches on the way as
// absent, read failures in slot order), for every valid document. Paths the pass cannot reach are
// in the mix too. Invalid JSON that On Demand does not reject (a string value followed by ':' is
// skipped as a key, say) can be walked differently by the pass and by a pointer lookup; there only
// the outcome of the pass itself must be the same.
FieldRegistry& differential_registry() {
  static FieldRegistry r = [] {
    FieldRegistry reg;
    for (const char* path : {"legacyEventType",
                             "debugContext.debugData.requestId",
                             "authenticationContext.authenticationStep",
                             "securityContext.userBehaviors",
                             "version",
                             "actor.detailEntry",
                             "client.id",
                             "client.userAgent",
                             "client.geographicalContext.geolocation.alt",
                             "client.geographicalContext.postalCode2",
                             "transaction.type",
                             "transaction.detail",
                             "outcome.extra",
                             "request.foo",
                             "debugContext.debugData",
                             "debugContext.debugData.url",
                             "debugContext.other",
                             "device.managed",
                             "target.0.id",
                             "a~b.c",
                             "published2",
                             "eventType"}) {
      reg.resolve(path);
    }
    return reg;
  }();
  return r;
}

std::size_t valid_documents = 0;

// The reference reads every extra path by pointer after the pass.
void expect_extras_match_pointer_lookup(OktaLogParser& parser, OktaLogParser& reference, const std::string& doc) {
  auto expected = reference.parse(doc, RecordMeta{});
  auto actual = parser.parse(doc, RecordMeta{});
  simdjson::dom::parser validator;
  simdjson::dom::element element;
  if (validator.parse(doc).get(element) != simdjson::SUCCESS) {
    auto plain = make_okta_parser(nullptr)->parse(doc, RecordMeta{});
    if (!plain) {
      ASSERT_FALSE(actual) << doc;
      EXPECT_EQ(actual.error().error, plain.error().error) << doc;
      EXPECT_EQ(actual.error().detail, plain.error().detail) << doc;
    }
    return;
  }
  ++valid_documents;
  ASSERT_EQ(actual.has_value(), expected.has_value()) << doc;
  if (!expected) {
    EXPECT_EQ(actual.error().error, expected.error().error) << doc;
    EXPECT_EQ(actual.error().detail, expected.error().detail) << doc;
    return;
  }
  ASSERT_EQ(actual->extras.size(), expected->extras.size()) << doc;
  for (std::size_t i = 0; i < expected->extras.size(); ++i) {
    EXPECT_EQ(actual->extras[i].slot, expected->extras[i].slot) << doc;
    EXPECT_EQ(actual->extras[i].value, expected->extras[i].value) << doc << " slot " << expected->extras[i].slot;
  }
}

TEST(ParseMutation, ExtrasReadDuringThePassMatchPointerLookups) {
  OktaLogParser parser(&differential_registry(), ParserLimits{});
  OktaLogParser reference(&differential_registry(), ParserLimits{});
  reference.read_extras_by_pointer_only(true);
  const std::vector<std::string> tricky = {
      R"({"eventType":"e","legacyEventType":"first","legacyEventType":"second"})",
      R"({"eventType":"e","legacy\u0045ventType":"escaped","legacyEventType":"raw"})",
      R"({"eventType":"e","legacy\u0045ventType":"escaped only"})",
      R"({"eventType":"e","debugContext":null,"debugContext":{"debugData":{"requestId":"later"}}})",
      R"({"eventType":"e","debugContext":{"debugData":"flat"},"debugContext":{"debugData":{"requestId":"x"}}})",
      R"({"eventType":"e","debugContext":{"debugData":{"url":"a"}},"debugContext":{"debugData":{"requestId":"x"}}})",
      R"({"eventType":"e","debug\u0043ontext":{"debugData":{"requestId":"esc"}},"debugContext":{"debugData":{"requestId":"raw"}}})",
      R"({"eventType":"e","debugContext":{"debugData":{"requestId":"a","requestId":"b"},"debugData":{"requestId":"c"}}})",
      R"({"eventType":"e","authenticationContext":{"authenticationStep":1e999}})",
      R"({"eventType":"e","authenticationContext":{"authenticationStep":tru},"legacyEventType":"x"})",
      R"({"eventType":"e","legacyEventType":"bad \x escape","version":1})",
      R"({"eventType":"e","version":-0.5e1,"actor":{"id":"a","detailEntry":{"k":[1,{"z":null}]}}})",
      R"({"eventType":"e","client":{"id":null,"geographicalContext":{"postalCode2":7,"geolocation":{"alt":12.5}}}})",
      R"({"eventType":"e","client":{"geographicalContext":null},"client":{"geographicalContext":{"postalCode2":1}}})",
      R"({"eventType":"e","transaction":{"type":"WEB","detail":{},"id":"t"},"outcome":{"extra":[]}})",
      R"({"eventType":"e","request":{"foo":true,"ipChain":[]},"device":{"managed":false},"target":[{"id":"t0"}]})",
      R"({"eventType":"e","a~b":{"c":"tilde"},"published2":"p","debugContext":{"other":"o"}})",
      R"({"eventType":"e","securityContext":{"userBehaviors":"s"},"securityContext":{"userBehaviors":"t"}})",
      R"({"legacyEventType":"only extras"})",
      R"({"eventType":"e","legacyEventType":"x"} trailing)",
  };
  for (const std::string& doc : tricky)
    expect_extras_match_pointer_lookup(parser, reference, doc);

  std::mt19937_64 random(20261129);
  const char interesting[] = {'{', '}', '[', ']', '"', '\\', ',', ':', 'n', '1', '-', 'e'};
  for (const std::string& sample : all_samples()) {
    expect_extras_match_pointer_lookup(parser, reference, sample);
    for (int variant = 0; variant < 50; ++variant) {
      std::string mutated = sample;
      int flips = 1 + static_cast<int>(random() % 3);
      for (int f = 0; f < flips; ++f) {
        std::size_t at = random() % mutated.size();
        if (random() % 2 == 0)
          mutated[at] = interesting[random() % sizeof(interesting)];
        else
          mutated.erase(at, 1 + random() % 8);
        if (mutated.empty()) mutated.push_back('{');
      }
      expect_extras_match_pointer_lookup(parser, reference, mutated);
    }
  }
  EXPECT_GT(valid_documents, 2000u);  // flips inside strings keep many mutants valid
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
