#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "correlator/parse.h"
#include "tests/support/data.h"

namespace og::correlator {
namespace {

using namespace std::chrono;
namespace fs = std::filesystem;

constexpr std::int64_t kIngestMs = 1'700'000'000'123;

RecordMeta meta() {
  return RecordMeta{Symbol::intern("okta"), SourceOffset{Symbol::intern("okta-logs"), 3, 42}, kIngestMs};
}

EventTime at(year_month_day day, hours h, minutes m, seconds s, milliseconds ms) {
  return EventTime{sys_days{day}.time_since_epoch() + h + m + s + ms};
}

fs::path logs() {
  return test::shared_data_dir() / "okta-logs";
}

std::string line_of(const fs::path& file, std::size_t number) {
  auto lines = test::read_lines(file);
  EXPECT_LE(number, lines.size());
  return number <= lines.size() ? lines[number - 1] : std::string();
}

Event parse_ok(const std::string& payload, const FieldRegistry* extras = nullptr) {
  auto parser = make_okta_parser(extras);
  auto result = parser->parse(payload, meta());
  EXPECT_TRUE(result.has_value()) << (result ? ""
                                             : std::string(to_string(result.error().error)) + " at " +
                                                   result.error().detail);
  return result ? *result : Event{};
}

// All normalised samples (the .raw file is Panther's un-normalised form, tested for robustness in
// the mutation test).
std::vector<fs::path> sample_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(logs())) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".ndjson" && name.find(".meta.") == std::string::npos &&
        name.find(".raw.") == std::string::npos)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(OktaLogParser, EverySampleParses) {
  auto parser = make_okta_parser(nullptr);
  std::size_t events = 0, from_payload = 0, with_uuid = 0;
  std::map<std::string, int> types;
  for (const fs::path& file : sample_files()) {
    std::size_t number = 0;
    for (const std::string& line : test::read_lines(file)) {
      ++number;
      if (line.empty()) continue;
      auto result = parser->parse(line, meta());
      ASSERT_TRUE(result.has_value()) << file << ":" << number << ": " << to_string(result.error().error) << " at "
                                      << result.error().detail;
      ++events;
      ++types[result->event_type.str()];
      from_payload += result->time_from_payload;
      with_uuid += !result->uuid.empty();
      EXPECT_FALSE(result->actor.id.empty()) << file << ":" << number;
    }
  }
  // The README's census: 149 events, 36 event types; 13 without `published` and 6 "redacted".
  EXPECT_EQ(events, 149u);
  EXPECT_EQ(types.size(), 36u);
  EXPECT_EQ(types["user.session.start"], 53);
  EXPECT_EQ(events - from_payload, 19u);
  EXPECT_EQ(events - with_uuid, 21u);
}

// Hand-checked, field by field, against the sample lines.
TEST(OktaLogParser, SpecExampleWithNumericPostalCodeAndNullFields) {
  Event e = parse_ok(line_of(logs() / "okta-openapi-examples/spec-logevent-examples.ndjson", 1));
  EXPECT_EQ(e.uuid, "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a");
  EXPECT_EQ(e.published, at(2024y / 8 / 13, 15h, 58min, 20s, 353ms));
  EXPECT_TRUE(e.time_from_payload);
  EXPECT_EQ(e.source.view(), "okta");
  EXPECT_EQ(e.event_type.view(), "user.session.start");
  EXPECT_EQ(e.severity.view(), "INFO");
  EXPECT_EQ(e.display_message, "User login to Okta");
  EXPECT_EQ(e.actor.id, "00uttidj01jqL21aM1d6");
  EXPECT_EQ(e.actor.type.view(), "User");
  EXPECT_EQ(e.actor.alternate_id, "john.doe@example.com");
  EXPECT_EQ(e.actor.display_name, "John Doe");
  EXPECT_EQ(e.client_ip, "10.0.0.1");
  EXPECT_EQ(e.user_agent,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/127.0.0.0 Safari/537.36");
  EXPECT_EQ(e.user_agent_os.view(), "Mac OS X");
  EXPECT_EQ(e.user_agent_browser.view(), "CHROME");
  EXPECT_EQ(e.client_device.view(), "Computer");
  EXPECT_TRUE(e.client_zone.empty());  // null
  EXPECT_EQ(e.geo.city, "New York");
  EXPECT_EQ(e.geo.state.view(), "New York");
  EXPECT_EQ(e.geo.country.view(), "United States");
  EXPECT_EQ(e.geo.postal_code, "10013");  // a JSON number in this example
  EXPECT_DOUBLE_EQ(*e.geo.lat, 40.3157);
  EXPECT_DOUBLE_EQ(*e.geo.lon, -74.01);
  EXPECT_EQ(e.outcome_result.view(), "SUCCESS");
  EXPECT_TRUE(e.outcome_reason.empty());
  EXPECT_EQ(e.external_session_id, "idxBager62CSveUkTxvgRtonA");
  EXPECT_EQ(e.root_session_id, "idxBager62CSveUkTxvgRtonA");
  EXPECT_TRUE(e.credential_type.empty());
  EXPECT_TRUE(e.credential_provider.empty());
  EXPECT_TRUE(e.authentication_provider.empty());
  EXPECT_EQ(e.as_number, 394089);
  EXPECT_EQ(e.as_org, "ASN 0000");
  EXPECT_EQ(e.isp, "google");
  EXPECT_EQ(e.domain, "");
  EXPECT_EQ(e.is_proxy, false);
  EXPECT_EQ(e.debug_request_uri, "/idp/idx/authenticators/poll");
  EXPECT_EQ(e.debug_risk, "");
  EXPECT_EQ(e.transaction_id, "ab609228fe84ce59cdcbfa690bgce016");
  EXPECT_EQ(e.ip_chain, std::vector<std::string>{"10.0.0.1"});
  ASSERT_EQ(e.targets.size(), 2u);
  EXPECT_EQ(e.targets[0].id, "pfdfdhyjf0HMbkP2e1d7");
  EXPECT_EQ(e.targets[0].type.view(), "AuthenticatorEnrollment");
  EXPECT_EQ(e.targets[0].alternate_id, "unknown");
  EXPECT_EQ(e.targets[0].display_name, "Okta Verify");
  EXPECT_EQ(e.targets[1].id, "0oatxlef9sQvvqInq5d6");
  EXPECT_EQ(e.targets[1].type.view(), "AppInstance");
  EXPECT_EQ(e.origin, (SourceOffset{Symbol::intern("okta-logs"), 3, 42}));
  EXPECT_EQ(e.ingest_timestamp_ms, kIngestMs);
}

// One row per hand-checked sample: the fields that make each one a distinct case.
struct Expectation {
  const char* file;  // under okta-logs/
  std::size_t line;
  const char* uuid;
  std::optional<EventTime> published;  // nullopt: falls back to the ingest time
  const char* event_type;
  const char* actor_id;
  const char* actor_alternate_id;
  const char* outcome_result;
  const char* outcome_reason;
  const char* client_ip;
  const char* country;
  const char* postal_code;
  std::optional<double> lat;
  std::size_t targets;
  const char* first_target_type;
  const char* debug_behaviors;
  const char* debug_threat_suspected;
  std::optional<std::int64_t> as_number;
};

constexpr const char* kRules = "panther-analysis/rule-tests/panther-rule-tests.ndjson";
constexpr const char* kBrute = "panther-analysis/scenarios/okta-add-administrator/brute_force_logins.ndjson";
constexpr const char* kSpec = "okta-openapi-examples/spec-logevent-examples.ndjson";

const std::vector<Expectation>& expectations() {
  static const std::vector<Expectation> rows = {
      // 9-digit fraction; `zone: "null"`; empty request/transaction/securityContext objects.
      {kRules, 5, "2a992f80-d1ad-4f62-900e-8c68bb72a21b", at(2020y / 11 / 25, 21h, 27min, 3s, 496ms),
       "user.account.privilege.grant", "00uu1uuuuIlllaaaa356", "jack@acme.io", "SUCCESS", "", "136.24.229.58",
       "United States", "94105", 37.7852, 1, "User", "", "false", std::nullopt},
      // behaviors as a JSON list; integer lat/lon; a target without id; a key mangled into the user agent.
      {kRules, 27, "AbC-123-XyZ", at(2022y / 6 / 22, 18h, 18min, 29s, 15ms), "policy.evaluate_sign_on", "00abc123",
       "homer.simpson@duff.com", "CHALLENGE", "Sign-on policy evaluation resulted in CHALLENGE", "1.3.2.4",
       "United States", "12345", 20.0, 2, "AppInstance",
       R"(["New Geo-Location=NEGATIVE","New Device=POSITIVE","New IP=POSITIVE","New State=NEGATIVE","New Country=NEGATIVE","Velocity=NEGATIVE","New City=NEGATIVE"])",
       "", 701},
      // behaviors as a JSON object.
      {kRules, 31, "AbC-123-XyZ", at(2022y / 6 / 22, 18h, 18min, 29s, 15ms), "application.lifecycle.update", "00abc123",
       "homer.simpson@duff.com", "CHALLENGE", "Sign-on policy evaluation resulted in CHALLENGE", "1.3.2.4",
       "United States", "12345", 20.0, 2, "AppInstance",
       R"({"New Geo-Location=NEGATIVE":null,"New Device=POSITIVE":null,"New IP=POSITIVE":null,"New State=NEGATIVE":null,"New Country=NEGATIVE":null,"Velocity=NEGATIVE":null,"New City=NEGATIVE":null})",
       "", 701},
      // debugData is an empty string; no city or postal code.
      {kRules, 34, "XXXXXXXXXXXXXXXX", at(2022y / 9 / 9, 4h, 26min, 9s, 792ms),
       "application.user_membership.show_password", "XXXXXXXXXXXXXXXX", "eric.montgomery@email.com", "SUCCESS", "",
       "218.56.201.220", "Iceland", "", 81.09596, 3, "AppUser", "", "", 940252},
      // `published: "redacted"` falls back to ingest time.
      {kRules, 41, "redacted", std::nullopt, "user.session.start", "unknown", "admin", "FAILURE", "VERIFICATION_ERROR",
       "1.2.3.4", "Brazil", "93950", -29.6116, 0, "", "", "false", 263297},
      // No `published` at all, no geolocation.
      {kRules, 51, "2aaaaaaaaaabbbbbbbbbbbbddddddddddd", std::nullopt, "user.account.reset_password", "1111",
       "marge@springfield.gov", "SUCCESS", "", "1.1.1.1", "United States", "80014", std::nullopt, 1, "User", "", "",
       std::nullopt},
      // No uuid and no published.
      {kRules, 59, "", std::nullopt, "user.mfa.factor.deactivate", nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
       nullptr, std::nullopt, 0, nullptr, nullptr, nullptr, std::nullopt},
      // 6-digit fraction; empty target list and ipChain; no geographicalContext.
      {kRules, 117, "79999999-ffff-eeee-bbbb-222222222222", at(2023y / 6 / 12, 22h, 26min, 1s, 951ms),
       "user.session.start", "00uwuwuwuwuwuwuwuwuw", "homer.simpson@company.com", "SUCCESS", "", "12.12.12.11", "", "",
       std::nullopt, 0, "", "", "", std::nullopt},
      // 2-digit fraction ".49Z".
      {kBrute, 1, "85a5d008-e1dc-4a4e-8615-42903697579b", at(2021y / 6 / 25, 21h, 27min, 3s, 490ms),
       "user.session.start", "00uu1uuuuIlllaaaa356", "jack.naglieri@runpanther.io", "FAILURE", "VERIFICATION_ERROR",
       "195.154.58.200", "Argentina", "2722", 37.7852, 0, "", "", "", std::nullopt},
      // The spec's second example: newer securityContext sub-objects are skipped.
      {kSpec, 2, "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a", at(2024y / 8 / 13, 15h, 58min, 20s, 353ms),
       "user.session.start", "00uttidj01jqL21aM1d6", "john.doe@example.com", "SUCCESS", "", "10.0.0.1", "United States",
       "10013", 40.3157, 2, "AuthenticatorEnrollment", "", "", 394089},
  };
  return rows;
}

TEST(OktaLogParser, TableOfHandCheckedSamples) {
  for (const Expectation& row : expectations()) {
    SCOPED_TRACE(std::string(row.file) + ":" + std::to_string(row.line));
    Event e = parse_ok(line_of(logs() / row.file, row.line));
    EXPECT_EQ(e.uuid, row.uuid);
    if (row.published) {
      EXPECT_TRUE(e.time_from_payload);
      EXPECT_EQ(e.published, *row.published);
    } else {
      EXPECT_FALSE(e.time_from_payload);
      EXPECT_EQ(e.published.time_since_epoch().count(), kIngestMs);
    }
    EXPECT_EQ(e.event_type.view(), row.event_type);
    if (row.actor_id == nullptr) continue;  // the remaining columns were not filled for this row
    EXPECT_EQ(e.actor.id, row.actor_id);
    EXPECT_EQ(e.actor.alternate_id, row.actor_alternate_id);
    EXPECT_EQ(e.outcome_result.view(), row.outcome_result);
    EXPECT_EQ(e.outcome_reason.view(), row.outcome_reason);
    EXPECT_EQ(e.client_ip, row.client_ip);
    EXPECT_EQ(e.geo.country.view(), row.country);
    EXPECT_EQ(e.geo.postal_code, row.postal_code);
    EXPECT_EQ(e.geo.lat, row.lat);
    ASSERT_EQ(e.targets.size(), row.targets);
    if (row.targets > 0) {
      EXPECT_EQ(e.targets[0].type.view(), row.first_target_type);
    }
    EXPECT_EQ(e.debug_behaviors, row.debug_behaviors);
    EXPECT_EQ(e.debug_threat_suspected, row.debug_threat_suspected);
    EXPECT_EQ(e.as_number, row.as_number);
  }
}

TEST(OktaLogParser, QuirksOfTypes) {
  Event e = parse_ok(
      R"({"eventType":"x","client":{"zone":"null","geographicalContext":{"postalCode":10013,)"
      R"("geolocation":{"lat":"40.5","lon":"-74.25"}}},"securityContext":{"asNumber":"701","isProxy":"true"},)"
      R"("actor":null,"target":null,"outcome":null,"debugContext":{"debugData":null},"request":{"ipChain":[null,{"ip":"1.2.3.4"}]}})");
  EXPECT_TRUE(e.client_zone.empty());
  EXPECT_EQ(e.geo.postal_code, "10013");
  EXPECT_DOUBLE_EQ(*e.geo.lat, 40.5);
  EXPECT_DOUBLE_EQ(*e.geo.lon, -74.25);
  EXPECT_EQ(e.as_number, 701);
  EXPECT_EQ(e.is_proxy, true);
  EXPECT_TRUE(e.actor.id.empty());
  EXPECT_TRUE(e.targets.empty());
  EXPECT_EQ(e.ip_chain, std::vector<std::string>{"1.2.3.4"});
}

TEST(OktaLogParser, KeysInAnyOrderAndEscapedKeys) {
  Event a = parse_ok(R"({"uuid":"u","published":"2024-01-01T00:00:00.000Z","eventType":"e","severity":"WARN"})");
  Event b = parse_ok(R"({"severity":"WARN","eventType":"e","published":"2024-01-01T00:00:00.000Z","uuid":"u"})");
  EXPECT_EQ(a.uuid, b.uuid);
  EXPECT_EQ(a.published, b.published);
  EXPECT_EQ(a.event_type, b.event_type);
  EXPECT_EQ(a.severity, b.severity);
  Event c = parse_ok(R"({"event\u0054ype":"escaped.key","uuid":"caf\u00e9"})");
  EXPECT_EQ(c.event_type.view(), "escaped.key");
  EXPECT_EQ(c.uuid, "caf\xc3\xa9");
}

TEST(OktaLogParser, OnlyTextsOver39BytesAllocate) {
  // What bench/parse gains from Text: a sign-in's ids, login and message stay inline.
  Event e = parse_ok(line_of(logs() / "okta-openapi-examples/spec-logevent-examples.ndjson", 1));
  EXPECT_FALSE(e.uuid.allocated());
  EXPECT_FALSE(e.actor.id.allocated());
  EXPECT_FALSE(e.actor.alternate_id.allocated());
  EXPECT_FALSE(e.display_message.allocated());
  EXPECT_FALSE(e.client_ip.allocated());
  EXPECT_TRUE(e.user_agent.allocated());  // 117 bytes
}

TEST(OktaLogParser, StringsAreOwnedAndSymbolsInterned) {
  auto parser = make_okta_parser(nullptr);
  auto first = parser->parse(line_of(logs() / kRules, 5), meta());
  auto second = parser->parse(line_of(logs() / kRules, 6), meta());
  ASSERT_TRUE(first && second);
  // The first Event must survive the parser's next iterate (its buffer is reused).
  EXPECT_EQ(first->actor.alternate_id, "jack@acme.io");
  EXPECT_EQ(first->event_type, second->event_type);
  EXPECT_EQ(first->event_type.view().data(), second->event_type.view().data());
}

TEST(OktaLogParser, ExtrasRequestedByRulesAreExtracted) {
  FieldRegistry registry;
  FieldRef legacy = registry.resolve("legacyEventType");
  FieldRef step = registry.resolve("authenticationContext.authenticationStep");
  FieldRef behaviors = registry.resolve("securityContext.userBehaviors");
  FieldRef missing = registry.resolve("debugContext.debugData.nope");
  FieldRef managed = registry.resolve("device.managed");
  Event e = parse_ok(line_of(logs() / kSpec, 2), &registry);
  std::string scratch;
  EXPECT_EQ(read_field(e, legacy, 0, scratch).text, "core.user_auth.login_success");
  FieldView step_view = read_field(e, step, 0, scratch);
  EXPECT_EQ(step_view.kind, FieldView::Kind::number);
  EXPECT_EQ(step_view.number, 0);
  EXPECT_EQ(
      read_field(e, behaviors, 0, scratch).text,
      R"([{"id":"bhv3pcdHYo3rVDL0w0g4","name":"New Device","result":"NEGATIVE"},{"id":"bhvexm4UkQc71MgEw0g4","name":"New Geo-Location","result":"POSITIVE"}])");
  EXPECT_EQ(read_field(e, missing, 0, scratch).kind, FieldView::Kind::missing);
  FieldView managed_view = read_field(e, managed, 0, scratch);
  EXPECT_EQ(managed_view.kind, FieldView::Kind::boolean);
  EXPECT_FALSE(managed_view.boolean);
  // The fixed model is still read in full alongside.
  EXPECT_EQ(e.actor.id, "00uttidj01jqL21aM1d6");
}

TEST(SplitJsonArray, SplitsAnApiPageIntoEvents) {
  std::string page = test::read_file(logs() / "okta-openapi-examples/spec-logevent-examples.json");
  // The spec file wraps examples in objects; build the array the logs API would return.
  // Appended piecewise: GCC 12's -Wrestrict misfires on `"[" + std::string` at -O3.
  std::string array = "[";
  array.append(line_of(logs() / kSpec, 1)).append(" ,\n").append(line_of(logs() / kSpec, 2)).append("]");
  auto parts = split_json_array(array);
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0], line_of(logs() / kSpec, 1));
  EXPECT_EQ((*parts)[1], line_of(logs() / kSpec, 2));
  auto parser = make_okta_parser(nullptr);
  EXPECT_TRUE(parser->parse((*parts)[1], meta()).has_value());

  EXPECT_FALSE(page.empty());
  auto not_array = split_json_array(R"({"a":1})");
  ASSERT_FALSE(not_array.has_value());
  EXPECT_EQ(not_array.error().error, ParseError::not_an_object);
  auto truncated = split_json_array(R"([{"a":1},{"b":)");
  ASSERT_FALSE(truncated.has_value());
  EXPECT_EQ(truncated.error().error, ParseError::invalid_json);
  auto trailing = split_json_array(R"([{"a":1}] x)");
  ASSERT_FALSE(trailing.has_value());
  EXPECT_EQ(trailing.error().error, ParseError::trailing_content);
  auto empty = split_json_array("[]");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace og::correlator
