#include "correlator/alert_parser.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "correlator/parse.h"
#include "tests/support/data.h"

namespace og::correlator {
namespace {

using namespace std::chrono;

std::filesystem::path examples() {
  return std::filesystem::path(OG_SOURCE_DIR) / "examples/alerts";
}

AlertMapping load_example(const std::string& name) {
  YAML::Node file = YAML::LoadFile((examples() / (name + ".mapping.yaml")).string());
  MappingLoad load = alert_mapping_from_yaml(file["mapping"]);
  for (const MappingProblem& p : load.problems)
    ADD_FAILURE() << p.path << ":" << p.line << ": " << p.message;
  return load.mapping;
}

RecordMeta meta(std::string_view source) {
  return RecordMeta{Symbol::intern(source), {}, 1'000};
}

std::string extra_text(const Event& e, FieldRegistry& registry, std::string_view path) {
  std::string scratch;
  FieldRef ref = registry.resolve(path);  // already registered: returns its slot
  return std::string(read_field(e, ref, 0, scratch).text);
}

TEST(AlertParser, EdrDetectionExample) {
  FieldRegistry registry;
  registry.resolve("edr.tactic");
  registry.resolve("edr.severity_score");
  registry.resolve("status");  // not a mapped name: read from the alert by its own path
  auto parser = make_alert_parser(load_example("edr-detection"), &registry);
  auto result = parser->parse(test::read_file(examples() / "edr-detection.json"), meta("edr"));
  ASSERT_TRUE(result.has_value()) << to_string(result.error().error) << " " << result.error().detail;
  const Event& e = *result;
  EXPECT_EQ(e.source.view(), "edr");
  EXPECT_EQ(e.event_type.view(), "edr.T1003");
  EXPECT_EQ(e.actor.alternate_id, "alice@example.com");
  EXPECT_EQ(e.actor.identity_kind, IdentityKind::email);
  EXPECT_TRUE(e.actor.id.empty());
  EXPECT_EQ(e.client_ip, "203.0.113.45");
  EXPECT_EQ(e.severity.view(), "high");
  EXPECT_EQ(e.display_message, "A process attempted to dump credentials from LSASS memory.");
  EXPECT_EQ(e.uuid, "ldt:4f2a9c1e0b7d4e55:17180047");
  EXPECT_TRUE(e.time_from_payload);
  EXPECT_EQ(e.published, EventTime{sys_days{2026y / 5 / 12}.time_since_epoch() + 8h + 14min + 3s + 217ms});
  EXPECT_EQ(extra_text(e, registry, "edr.tactic"), "Credential Access");
  EXPECT_EQ(extra_text(e, registry, "edr.severity_score"), "70");
  EXPECT_EQ(extra_text(e, registry, "status"), "new");
}

TEST(AlertParser, UebaRiskChangeExample) {
  FieldRegistry registry;
  FieldRef score = registry.resolve("ueba.risk_score");
  registry.resolve("ueba.reasons");
  auto parser = make_alert_parser(load_example("ueba-risk-change"), &registry);
  auto result = parser->parse(test::read_file(examples() / "ueba-risk-change.json"), meta("ueba"));
  ASSERT_TRUE(result.has_value()) << to_string(result.error().error) << " " << result.error().detail;
  const Event& e = *result;
  EXPECT_EQ(e.event_type.view(), "ueba.risk_score_change");
  EXPECT_EQ(e.actor.id, "00u1a2b3c4d5e6f7g8h9");
  EXPECT_EQ(e.actor.identity_kind, IdentityKind::okta_id);
  EXPECT_EQ(e.severity.view(), "high");
  EXPECT_TRUE(e.client_ip.empty());
  EXPECT_EQ(e.published, EventTime{seconds{1778573643}});
  std::string scratch;
  FieldView score_view = read_field(e, score, 0, scratch);
  EXPECT_EQ(score_view.kind, FieldView::Kind::number);
  EXPECT_EQ(score_view.number, 82);
  EXPECT_EQ(extra_text(e, registry, "ueba.reasons"), R"(["Impossible travel", "Mass file download"])");
}

TEST(AlertParser, VpnSignInExample) {
  FieldRegistry registry;
  registry.resolve("vpn.result");
  registry.resolve("vpn.posture");
  auto parser = make_alert_parser(load_example("vpn-signin"), &registry);
  auto result = parser->parse(test::read_file(examples() / "vpn-signin.json"), meta("vpn"));
  ASSERT_TRUE(result.has_value()) << to_string(result.error().error) << " " << result.error().detail;
  const Event& e = *result;
  EXPECT_EQ(e.event_type.view(), "vpn.auth.login");
  EXPECT_EQ(e.actor.alternate_id, "carol@example.com");
  EXPECT_EQ(e.actor.identity_kind, IdentityKind::login);
  EXPECT_EQ(e.client_ip, "198.51.100.23");
  EXPECT_TRUE(e.severity.empty());
  EXPECT_EQ(e.published, EventTime{sys_days{2026y / 5 / 12}.time_since_epoch() + 8h + 20min + 11s + 500ms});
  EXPECT_EQ(extra_text(e, registry, "vpn.result"), "failure");
  EXPECT_EQ(extra_text(e, registry, "vpn.posture"), "non_compliant");
}

TEST(AlertParser, RequiredFieldsAndFallbacks) {
  AlertMapping mapping;
  mapping.user_pointer = "/u";
  mapping.alert_type_pointer = "/t";
  mapping.time_pointer = "/when";
  auto parser = make_alert_parser(mapping, nullptr);
  auto ok = parser->parse(R"({"u":"a@b.c","t":"x","when":"not a time"})", meta("s"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_FALSE(ok->time_from_payload);
  EXPECT_EQ(ok->published.time_since_epoch().count(), 1'000);
  auto millis = parser->parse(R"({"u":"a","t":"x","when":1778573643217})", meta("s"));
  ASSERT_TRUE(millis.has_value());
  EXPECT_EQ(millis->published.time_since_epoch().count(), 1778573643217);

  struct Case {
    const char* payload;
    ParseError error;
  } cases[] = {
      {R"({"t":"x"})", ParseError::missing_field},
      {R"({"u":"a"})", ParseError::missing_field},
      {R"({"u":null,"t":"x"})", ParseError::missing_field},
      {R"({"u":"","t":"x"})", ParseError::missing_field},
      {R"({"u":{"x":1},"t":"x"})", ParseError::wrong_type},
      {R"({"u":"a","t":"x"} trailing)", ParseError::trailing_content},
      {R"({"u":"a","t":"x",)", ParseError::invalid_json},
      {R"([1])", ParseError::not_an_object},
      {"", ParseError::empty},
  };
  for (const Case& c : cases) {
    auto result = parser->parse(c.payload, meta("s"));
    ASSERT_FALSE(result.has_value()) << c.payload;
    EXPECT_EQ(to_string(result.error().error), to_string(c.error)) << c.payload << " " << result.error().detail;
  }

  // A user pointer into an array: an empty array has no such user; a string is no array at all.
  AlertMapping nested = mapping;
  nested.user_pointer = "/users/0/login";
  auto nested_parser = make_alert_parser(nested, nullptr);
  for (const Case& c : {Case{R"({"t":"x","users":[]})", ParseError::missing_field},
                        Case{R"({"t":"x","users":[{"name":"a"}]})", ParseError::missing_field},
                        Case{R"({"t":"x","users":"a@b.c"})", ParseError::wrong_type},
                        Case{R"({"t":"x","users":[7]})", ParseError::wrong_type}}) {
    auto result = nested_parser->parse(c.payload, meta("s"));
    ASSERT_FALSE(result.has_value()) << c.payload;
    EXPECT_EQ(to_string(result.error().error), to_string(c.error)) << c.payload << " " << result.error().detail;
  }
}

TEST(AlertMappingYaml, ReportsEveryProblemWithItsPosition) {
  YAML::Node node = YAML::Load(
      "time: detect_time\n"
      "user_kind: phone\n"
      "colour: blue\n"
      "extra: [a]\n");
  MappingLoad load = alert_mapping_from_yaml(node, "sources.edr.mapping");
  std::vector<std::string> paths;
  for (const MappingProblem& p : load.problems)
    paths.push_back(p.path + "@" + std::to_string(p.line));
  EXPECT_EQ(paths, (std::vector<std::string>{"sources.edr.mapping.time@1", "sources.edr.mapping.user_kind@2",
                                             "sources.edr.mapping.colour@3", "sources.edr.mapping.extra@4",
                                             "sources.edr.mapping.user@1", "sources.edr.mapping.alert_type@1"}));
}

}  // namespace
}  // namespace og::correlator
