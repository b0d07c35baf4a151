#include "daemon/rules_cli.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "correlator/rule_set.h"
#include "tests/support/data.h"

namespace og::test {
namespace {

namespace fs = std::filesystem;
using namespace og::correlator;
using og::daemon::replay_command;
using og::daemon::rules_command;

fs::path pack_dir() {
  return fs::path(OG_SOURCE_DIR) / "rules";
}
fs::path mappings_dir() {
  return fs::path(OG_SOURCE_DIR) / "examples/alerts";
}

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

CliRun rules(std::vector<std::string> words) {
  std::vector<std::string_view> args(words.begin(), words.end());
  std::ostringstream out, err;
  CliRun r;
  r.code = rules_command(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

CliRun replay(std::vector<std::string> words) {
  std::vector<std::string_view> args(words.begin(), words.end());
  std::ostringstream out, err;
  CliRun r;
  r.code = replay_command(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// A scratch directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("og-rules-cli-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }

 private:
  fs::path path_;
};

TEST(RulesCheck, ShippedPackCompiles) {
  CliRun r = rules({"check", pack_dir().string()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok: "), std::string::npos) << r.out;
  LoadResult pack = load_rules({pack_dir()});
  ASSERT_TRUE(pack.ok());
  EXPECT_GE(pack.rules->detections.size(), 20u);
  EXPECT_GE(pack.rules->responses.size(), 3u);
}

TEST(RulesCheck, ReportsEveryErrorWithPositionAndFailsJson) {
  TempDir dir;
  fs::path f = dir.write("bad.yml",
                         "detections:\n"
                         "  - id: a\n"
                         "    where: { eventTyp: user.session.start }\n"
                         "    threshold: { count: 3, within: ten }\n");
  CliRun r = rules({"check", f.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.yml:3:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad.yml:4:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 error(s)"), std::string::npos) << r.out;
  CliRun j = rules({"check", f.string(), "--format", "json"});
  EXPECT_EQ(j.code, 1);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(j.out).get(doc), simdjson::SUCCESS) << j.out;
  EXPECT_FALSE(bool(doc["ok"]));
  EXPECT_EQ(simdjson::dom::array(doc["diagnostics"]).size(), 2u);
}

TEST(RulesCli, UsageErrors) {
  EXPECT_EQ(rules({}).code, 2);
  EXPECT_EQ(rules({"lint", "x"}).code, 2);
  EXPECT_EQ(rules({"check"}).code, 2);
  EXPECT_EQ(rules({"test", "x", "--format", "xml"}).code, 2);
  EXPECT_EQ(rules({"check", "x", "--mappings", "y"}).code, 2);
  EXPECT_EQ(replay({"--rules", pack_dir().string()}).code, 2);
  EXPECT_EQ(replay({"--rules", "r", "--events", "e", "--from", "yesterday"}).code, 2);
  EXPECT_EQ(replay({"--rules", "r", "--events"}).code, 2);
}

// A tiny pack with one passing case, one failing on each kind of expectation.
constexpr const char* kPack = R"(
detections:
  - id: t.fail3
    where: { eventType: user.session.start, outcome.result: FAILURE }
    key: actor.id
    threshold: { count: 3, within: 10m }
    risk: 50
responses:
  - id: up
    when: { risk_at_least: 40 }
    do: [ { add_to_group: { group: g } } ]
tests:
  - name: three failures fire
    events: three.ndjson
    expect: { detections: [t.fail3], risk: { u1@example.com: "== 50", 00u1: ">= 49" }, actions: [add_to_group] }
  - name: wrong expectations
    events: three.ndjson
    expect: { not_detections: [t.fail3], risk: { 00u1: "< 10" }, actions: [suspend] }
  - name: inline two failures do not fire
    events:
      - { uuid: a, published: "2024-01-01T00:00:00.000Z", eventType: user.session.start,
          actor: { id: 00u1, type: User, alternateId: u1@example.com }, outcome: { result: FAILURE } }
      - { uuid: b, published: "2024-01-01T00:01:00.000Z", eventType: user.session.start,
          actor: { id: 00u1, type: User, alternateId: u1@example.com }, outcome: { result: FAILURE } }
    expect: { not_detections: [t.fail3], actions: [] }
  - name: broken event
    events: broken.ndjson
    expect: { detections: [] }
)";

std::string failure_line(int minute, const std::string& uuid) {
  return R"({"uuid":")" + uuid + R"(","published":"2024-01-01T00:0)" + std::to_string(minute) +
         R"(:00.000Z","eventType":"user.session.start","actor":{"id":"00u1","type":"User","alternateId":"u1@example.com"},"outcome":{"result":"FAILURE"}})";
}

TEST(RulesTest, PassFailLinesAndSummary) {
  TempDir dir;
  // Out of order on purpose: the runner applies events in event time.
  dir.write("three.ndjson", failure_line(2, "c") + "\n" + failure_line(0, "a") + "\n\n" + failure_line(1, "b") + "\n");
  dir.write("broken.ndjson", "{\"uuid\": \n");
  fs::path f = dir.write("pack.yml", kPack);
  CliRun r = rules({"test", f.string()});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS " + f.string() + ": three failures fire"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL " + f.string() + ": wrong expectations"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("t.fail3 fired but must not"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("risk of 00u1: expected < 10, got 50.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("actions: expected suspend; decided add_to_group"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS " + f.string() + ": inline two failures do not fire"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL " + f.string() + ": broken event"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("event does not parse: broken.ndjson:1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 passed, 2 failed"), std::string::npos) << r.out;

  CliRun j = rules({"test", f.string(), "--format", "json"});
  EXPECT_EQ(j.code, 1);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(j.out).get(doc), simdjson::SUCCESS) << j.out;
  EXPECT_EQ(int64_t(doc["passed"]), 2);
  EXPECT_EQ(int64_t(doc["failed"]), 2);
  simdjson::dom::array cases = doc["cases"];
  ASSERT_EQ(cases.size(), 4u);
  EXPECT_TRUE(bool(cases.at(0)["passed"]));
  EXPECT_EQ(std::string_view(cases.at(0)["detections"].at(0)), "t.fail3");
}

TEST(RulesTest, RulesThatDoNotLoadRunNoCase) {
  TempDir dir;
  fs::path f = dir.write("bad.yml", "detections: 3\n");
  CliRun r = rules({"test", f.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no test ran"), std::string::npos);
}

TEST(RulesTest, AlertEventsNeedTheirMapping) {
  TempDir dir;
  fs::path f = dir.write("edr.yml", R"(
detections:
  - id: t.edr
    where: { source: edr, edr.tactic: Credential Access }
    key: actor.alternateId
tests:
  - name: edr alert
    events: tests/synthetic/edr_alone.synthetic.ndjson
    expect: { detections: [t.edr] }
)");
  fs::create_directories(dir.path() / "tests/synthetic");
  fs::copy_file(pack_dir() / "tests/synthetic/edr_alone.synthetic.ndjson",
                dir.path() / "tests/synthetic/edr_alone.synthetic.ndjson");
  CliRun without = rules({"test", f.string()});
  EXPECT_EQ(without.code, 1);
  EXPECT_NE(without.out.find("no alert mapping for source 'edr'"), std::string::npos) << without.out;
  CliRun with = rules({"test", f.string(), "--mappings", mappings_dir().string()});
  EXPECT_EQ(with.code, 0) << with.out << with.err;
  EXPECT_NE(with.out.find("1 passed, 0 failed"), std::string::npos) << with.out;
}

// The whole shipped pack passes, and every detection has a case where it must fire and one where it
// must not.
TEST(RulesTest, ShippedPackPassesWithPositiveAndNegativeCases) {
  CliRun r = rules({"test", pack_dir().string(), "--mappings", mappings_dir().string()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" 0 failed"), std::string::npos) << r.out;
  LoadResult pack = load_rules({pack_dir()});
  ASSERT_TRUE(pack.ok());
  std::set<std::string> positive, negative;
  for (const RuleTest& t : pack.rules->tests) {
    positive.insert(t.expect_detections.begin(), t.expect_detections.end());
    negative.insert(t.expect_not_detections.begin(), t.expect_not_detections.end());
  }
  for (const DetectionRule& d : pack.rules->detections) {
    EXPECT_TRUE(positive.contains(d.id)) << d.id << " has no case that must fire";
    EXPECT_TRUE(negative.contains(d.id)) << d.id << " has no case that must not fire";
  }
  // Each shipped file says where its detections come from.
  for (const auto& e : fs::directory_iterator(pack_dir())) {
    if (e.path().extension() != ".yml" || e.path().filename() == "00-common.yml" ||
        e.path().filename() == "90-responses.yml")
      continue;
    EXPECT_NE(read_file(e.path()).find("Sources:"), std::string::npos) << e.path();
  }
}

// Exactly what rules/README.md tells a rule author to run: no flags. The third-party cases find the
// pack's own alert mappings (rules/mappings/) through their `mappings` key.
TEST(RulesTest, ShippedPackPassesWithoutFlags) {
  CliRun r = rules({"test", pack_dir().string()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  LoadResult pack = load_rules({pack_dir()});
  ASSERT_TRUE(pack.ok());
  EXPECT_NE(r.out.find(fmt::format("{} passed, 0 failed", pack.rules->tests.size())), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("no alert mapping"), std::string::npos) << r.out;
  std::size_t third_party = 0;
  for (const RuleTest& t : pack.rules->tests)
    third_party += !t.alert_mappings.empty();
  EXPECT_EQ(third_party, 6u);
}

// The pack's mappings are copies of the documented examples (after their two-line header), so the
// pack tests what an operator configures from examples/alerts.
TEST(RulesTest, ShippedMappingsMatchTheExamples) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(pack_dir() / "mappings")) {
    ++n;
    std::string copy = read_file(e.path());
    for (int i = 0; i < 2; ++i)
      copy.erase(0, copy.find('\n') + 1);
    EXPECT_EQ(copy, read_file(mappings_dir() / e.path().filename())) << e.path();
  }
  EXPECT_EQ(n, 2u);
}

constexpr const char* kEdrPack = R"(
detections:
  - id: t.edr
    where: { source: edr, edr.tactic: Credential Access }
    key: actor.alternateId
tests:
  - name: edr alert
    events: alone.ndjson
    mappings: [m/edr-detection.mapping.yaml]
    expect: { detections: [t.edr] }
)";

// A case's `mappings` make it self-contained; --mappings overrides the same source.
TEST(RulesTest, CaseMappingsAndTheOverride) {
  TempDir dir;
  fs::copy_file(pack_dir() / "tests/synthetic/edr_alone.synthetic.ndjson", dir.path() / "alone.ndjson");
  dir.write("m/edr-detection.mapping.yaml", read_file(mappings_dir() / "edr-detection.mapping.yaml"));
  fs::path f = dir.write("edr.yml", kEdrPack);
  CliRun own = rules({"test", f.string()});
  EXPECT_EQ(own.code, 0) << own.out << own.err;
  EXPECT_NE(own.out.find("1 passed, 0 failed"), std::string::npos) << own.out;

  // The override reads the tactic from elsewhere, so the alert no longer matches.
  std::string changed = read_file(mappings_dir() / "edr-detection.mapping.yaml");
  std::size_t at = changed.find("/behavior/tactic");
  ASSERT_NE(at, std::string::npos);
  changed.replace(at, std::string_view("/behavior/tactic").size(), "/no/such/field");
  fs::path other = dir.write("other/edr.mapping.yaml", changed);
  CliRun over = rules({"test", f.string(), "--mappings", other.string()});
  EXPECT_EQ(over.code, 1) << over.out << over.err;
  EXPECT_NE(over.out.find("expected t.edr to fire"), std::string::npos) << over.out;

  // A broken case mapping fails the case and says why.
  dir.write("m/edr-detection.mapping.yaml", "source: edr\nmapping: 3\n");
  CliRun broken = rules({"test", f.string()});
  EXPECT_EQ(broken.code, 1);
  EXPECT_NE(broken.out.find("mappings: "), std::string::npos) << broken.out;
}

TEST(RuleTestLoader, MappingsAreResolvedAndChecked) {
  TempDir dir;
  dir.write("m/x.mapping.yaml", "source: x\n");
  std::string base =
      "detections:\n"
      "  - { id: t.a, where: { eventType: a }, key: actor.id }\n"
      "tests:\n"
      "  - name: c\n"
      "    events: [ { eventType: a } ]\n";
  std::string name = (dir.path() / "r.yml").string();
  LoadResult ok = load_rules_from_sources({{name, base + "    mappings: m\n    expect: { detections: [t.a] }\n"}});
  ASSERT_TRUE(ok.ok()) << render_text(ok.diagnostics);
  ASSERT_EQ(ok.rules->tests[0].alert_mappings.size(), 1u);
  EXPECT_EQ(ok.rules->tests[0].alert_mappings[0], dir.path() / "m");
  LoadResult list = load_rules_from_sources(
      {{name, base + "    mappings: [m, m/x.mapping.yaml]\n    expect: { detections: [t.a] }\n"}});
  ASSERT_TRUE(list.ok()) << render_text(list.diagnostics);
  EXPECT_EQ(list.rules->tests[0].alert_mappings.size(), 2u);
  LoadResult missing =
      load_rules_from_sources({{name, base + "    mappings: nope\n    expect: { detections: [t.a] }\n"}});
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(render_text(missing.diagnostics).find("r.yml:6:"), std::string::npos) << render_text(missing.diagnostics);
  EXPECT_NE(render_text(missing.diagnostics).find("alert mappings not found"), std::string::npos);
  LoadResult bad =
      load_rules_from_sources({{name, base + "    mappings: { a: 1 }\n    expect: { detections: [t.a] }\n"}});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(render_text(bad.diagnostics).find("tests[0].mappings"), std::string::npos) << render_text(bad.diagnostics);
}

TEST(RuleTestLoader, EmptyDetectionsIsNotAbsentDetections) {
  std::string base =
      "detections:\n"
      "  - { id: t.a, where: { eventType: a }, key: actor.id }\n"
      "tests:\n"
      "  - { name: empty, events: [ { eventType: a } ], expect: { detections: [] } }\n"
      "  - { name: absent, events: [ { eventType: a } ], expect: { not_detections: [t.a] } }\n"
      "  - { name: listed, events: [ { eventType: a } ], expect: { detections: [t.a] } }\n";
  LoadResult r = load_rules_from_sources({{"r.yml", base}});
  ASSERT_TRUE(r.ok()) << render_text(r.diagnostics);
  ASSERT_EQ(r.rules->tests.size(), 3u);
  EXPECT_TRUE(r.rules->tests[0].expect_detections_given);
  EXPECT_TRUE(r.rules->tests[0].expect_detections.empty());
  EXPECT_FALSE(r.rules->tests[1].expect_detections_given);
  EXPECT_TRUE(r.rules->tests[2].expect_detections_given);
  EXPECT_EQ(r.rules->tests[2].expect_detections, std::vector<std::string>{"t.a"});
}

// `detections: []` means nothing fires; without the key, what fires is not checked.
TEST(RulesTest, EmptyDetectionsMeansNothingFires) {
  TempDir dir;
  fs::path f = dir.write("pack.yml", R"(
detections:
  - id: t.fail
    where: { eventType: user.session.start, outcome.result: FAILURE }
    key: actor.id
tests:
  - name: failure with empty detections
    events:
      - { uuid: a, published: "2024-01-01T00:00:00.000Z", eventType: user.session.start,
          actor: { id: 00u1, type: User }, outcome: { result: FAILURE } }
    expect: { detections: [] }
  - name: success with empty detections
    events:
      - { uuid: b, published: "2024-01-01T00:00:00.000Z", eventType: user.session.start,
          actor: { id: 00u1, type: User }, outcome: { result: SUCCESS } }
    expect: { detections: [] }
  - name: failure without detections key
    events:
      - { uuid: c, published: "2024-01-01T00:00:00.000Z", eventType: user.session.start,
          actor: { id: 00u1, type: User }, outcome: { result: FAILURE } }
    expect: { actions: [] }
)");
  CliRun r = rules({"test", f.string()});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL " + f.string() + ": failure with empty detections"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("expected no detection to fire; fired: t.fail"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS " + f.string() + ": success with empty detections"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS " + f.string() + ": failure without detections key"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 passed, 1 failed"), std::string::npos) << r.out;
}

simdjson::dom::element parse_json(simdjson::dom::parser& p, const std::string& text) {
  simdjson::dom::element doc;
  EXPECT_EQ(p.parse(text).get(doc), simdjson::SUCCESS) << text.substr(0, 500);
  return doc;
}

TEST(Replay, PantherBruteForceScenarioShowsEvidenceRiskAndActions) {
  fs::path events =
      shared_data_dir() / "okta-logs/panther-analysis/scenarios/okta-add-administrator/brute_force_logins.ndjson";
  CliRun r = replay({"--rules", pack_dir().string(), "--events", events.string(), "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc = parse_json(p, r.out);
  EXPECT_EQ(int64_t(doc["events"]), 10);
  EXPECT_EQ(int64_t(doc["skipped"]), 0);
  bool then_success = false;
  for (simdjson::dom::element d : simdjson::dom::array(doc["detections"])) {
    if (std::string_view(d["detection"]) != "okta.brute_force_then_success") continue;
    then_success = true;
    EXPECT_EQ(std::string_view(d["time"]), "2021-06-25T21:41:03.490Z");
    // 5 failures and the success: six contributing uuids, all from the file.
    EXPECT_GE(simdjson::dom::array(d["evidence"]).size(), 6u);
    for (simdjson::dom::element u : simdjson::dom::array(d["evidence"]))
      EXPECT_NE(read_file(events).find(std::string(std::string_view(u))), std::string::npos);
  }
  EXPECT_TRUE(then_success);
  simdjson::dom::array users = doc["users"];
  ASSERT_EQ(users.size(), 1u);
  simdjson::dom::element u = users.at(0);
  EXPECT_EQ(std::string_view(u["user"]), "00uu1uuuuIlllaaaa356");
  EXPECT_EQ(std::string_view(u["login"]), "jack.naglieri@runpanther.io");
  EXPECT_GT(double(u["final_risk"]), 90.0);
  std::set<std::string> actions;
  for (simdjson::dom::element a : simdjson::dom::array(u["actions"])) {
    actions.insert(std::string(std::string_view(a["action"])));
    EXPECT_FALSE(std::string_view(a["time"]).empty());
  }
  EXPECT_EQ(actions, (std::set<std::string>{"add_to_group", "set_profile", "clear_sessions", "notify"}));

  CliRun table = replay({"--rules", pack_dir().string(), "--events", events.string()});
  ASSERT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("shadow mode"), std::string::npos);
  EXPECT_NE(table.out.find("okta.brute_force_then_success"), std::string::npos);
  EXPECT_NE(table.out.find("00uu1uuuuIlllaaaa356 (jack.naglieri@runpanther.io)  final risk"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("clear_sessions"), std::string::npos);
  EXPECT_NE(table.out.find("group=oktaguard-step-up-mfa ttl=24h"), std::string::npos) << table.out;
}

TEST(Replay, FromToWindowAndJsonArrayInput) {
  TempDir dir;
  fs::path events =
      shared_data_dir() / "okta-logs/panther-analysis/scenarios/okta-add-administrator/brute_force_logins.ndjson";
  std::string array = "[";
  for (const std::string& line : read_lines(events))
    array += (array.size() > 1 ? "," : "") + line;
  array += "]";
  fs::path arr = dir.write("logs.json", array);
  // Only the first 4 failures are in range: no threshold is reached; only the signal that they came
  // from several addresses fires (no risk of its own).
  CliRun r = replay({"--rules", pack_dir().string(), "--events", arr.string(), "--from", "2021-06-25T21:00:00Z", "--to",
                     "2021-06-25T21:30:10Z", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc = parse_json(p, r.out);
  EXPECT_EQ(int64_t(doc["events"]), 4);
  EXPECT_EQ(int64_t(doc["outside_range"]), 6);
  simdjson::dom::array detections = doc["detections"];
  ASSERT_EQ(detections.size(), 1u);
  EXPECT_EQ(std::string_view(detections.at(0)["detection"]), "okta.brute_force_multi_source");
  EXPECT_EQ(double(detections.at(0)["risk"]), 0.0);
}

// Several inputs are merged in event time: the Panther scenario split across two files (even and odd
// lines; the success after the failures is only in the second) replays like the whole file, and each
// input reports what it contributed.
TEST(Replay, SeveralInputsMergeInEventTime) {
  TempDir dir;
  fs::path events =
      shared_data_dir() / "okta-logs/panther-analysis/scenarios/okta-add-administrator/brute_force_logins.ndjson";
  std::vector<std::string> lines = read_lines(events);
  std::string odd, even;
  std::size_t n = 0;
  for (const std::string& l : lines) {
    if (l.empty()) continue;
    (n++ % 2 ? odd : even) += l + "\n";
  }
  ASSERT_EQ(n, 10u);
  fs::path a = dir.write("a.ndjson", even);
  // The second input is newest-first, and has one record that does not parse.
  std::string b_text;
  std::vector<std::string> b_lines = read_lines(dir.write("b.tmp", odd));
  for (auto it = b_lines.rbegin(); it != b_lines.rend(); ++it)
    if (!it->empty()) b_text += *it + "\n";
  fs::path b = dir.write("b.ndjson", b_text + "{\"uuid\": \n");

  auto detections = [](const std::string& out) {
    simdjson::dom::parser p;
    simdjson::dom::element doc = parse_json(p, out);
    std::vector<std::string> got;
    for (simdjson::dom::element d : simdjson::dom::array(doc["detections"]))
      got.push_back(std::string(std::string_view(d["detection"])) + "@" + std::string(std::string_view(d["time"])));
    return got;
  };
  CliRun whole = replay({"--rules", pack_dir().string(), "--events", events.string(), "--format", "json"});
  ASSERT_EQ(whole.code, 0) << whole.err;
  CliRun merged =
      replay({"--rules", pack_dir().string(), "--events", a.string(), "--events", b.string(), "--format", "json"});
  ASSERT_EQ(merged.code, 0) << merged.err;
  EXPECT_EQ(detections(merged.out), detections(whole.out));
  EXPECT_FALSE(detections(merged.out).empty());
  CliRun only_a = replay({"--rules", pack_dir().string(), "--events", a.string(), "--format", "json"});
  EXPECT_NE(detections(only_a.out), detections(whole.out));

  simdjson::dom::parser p;
  simdjson::dom::element doc = parse_json(p, merged.out);
  EXPECT_EQ(int64_t(doc["events"]), 10);
  EXPECT_EQ(int64_t(doc["skipped"]), 1);
  simdjson::dom::array inputs = doc["inputs"];
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(std::string_view(inputs.at(0)["input"]), a.string());
  EXPECT_EQ(int64_t(inputs.at(0)["parsed"]), 5);
  EXPECT_EQ(int64_t(inputs.at(0)["skipped"]), 0);
  EXPECT_EQ(std::string_view(inputs.at(1)["input"]), b.string());
  EXPECT_EQ(int64_t(inputs.at(1)["parsed"]), 5);
  EXPECT_EQ(int64_t(inputs.at(1)["skipped"]), 1);
  EXPECT_NE(merged.err.find("skipped " + b.string() + ":6"), std::string::npos) << merged.err;

  CliRun table = replay({"--rules", pack_dir().string(), "--events", a.string(), "--events", b.string()});
  ASSERT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("10 events"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("input " + a.string() + ": 5 parsed, 0 skipped"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("input " + b.string() + ": 5 parsed, 1 skipped"), std::string::npos) << table.out;

  EXPECT_EQ(replay({"--rules", pack_dir().string(), "--events", "-", "--events", "-"}).code, 2);
  EXPECT_EQ(replay({"--rules", pack_dir().string(), "--events", a.string(), "--events",
                    (dir.path() / "missing.ndjson").string()})
                .code,
            1);
}

TEST(Replay, AbsenceClosesOnlyWithAnExplicitEnd) {
  fs::path events = pack_dir() / "tests/synthetic/mfa_deactivated_not_reactivated.synthetic.ndjson";
  auto fired = [&](std::vector<std::string> extra) {
    std::vector<std::string> words{"--rules", pack_dir().string(), "--events", events.string()};
    words.insert(words.end(), extra.begin(), extra.end());
    CliRun r = replay(words);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out.find("okta.mfa_deactivated_not_reactivated") != std::string::npos;
  };
  EXPECT_FALSE(fired({}));  // the log just ends: no claim that nothing followed
  EXPECT_TRUE(fired({"--to", "2026-03-03T00:00:00Z"}));
}

// Every sample file of the corpus, one at a time and all together: no crash, every record accounted
// for, and what fires names real users and real evidence.
TEST(Replay, AllSharedSamples) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(shared_data_dir() / "okta-logs"))
    if (e.path().extension() == ".ndjson" && e.path().filename().string().find(".meta.") == std::string::npos)
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 8u);
  TempDir dir;
  std::string all;
  std::size_t total = 0;
  for (const fs::path& f : files) {
    std::size_t lines = 0;
    for (const std::string& l : read_lines(f)) {
      if (l.empty()) continue;
      ++lines;
      all += l + "\n";
    }
    total += lines;
    CliRun r = replay({"--rules", pack_dir().string(), "--events", f.string(), "--format", "json"});
    ASSERT_EQ(r.code, 0) << f << r.err;
    simdjson::dom::parser p;
    simdjson::dom::element doc = parse_json(p, r.out);
    EXPECT_EQ(std::size_t(int64_t(doc["events"]) + int64_t(doc["skipped"]) + int64_t(doc["duplicates"])), lines) << f;
    // The .raw file keeps Panther's lower-cased keys on purpose (no eventType): those are skipped and
    // listed; every normalised file parses completely.
    if (f.filename().string().find(".raw.") == std::string::npos) {
      EXPECT_EQ(int64_t(doc["skipped"]), 0) << f << r.err;
    }
    CliRun t = replay({"--rules", pack_dir().string(), "--events", f.string()});
    ASSERT_EQ(t.code, 0) << f;
    EXPECT_NE(t.out.find("DETECTIONS ("), std::string::npos);
  }
  fs::path merged = dir.write("all.ndjson", all);
  CliRun r = replay({"--rules", pack_dir().string(), "--events", merged.string(), "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc = parse_json(p, r.out);
  EXPECT_EQ(std::size_t(int64_t(doc["events"]) + int64_t(doc["skipped"]) + int64_t(doc["duplicates"])), total);
  std::map<std::string, int> by_detection;
  for (simdjson::dom::element d : simdjson::dom::array(doc["detections"])) {
    by_detection[std::string(std::string_view(d["detection"]))]++;
    EXPECT_GT(simdjson::dom::array(d["evidence"]).size(), 0u);
    for (simdjson::dom::element u : simdjson::dom::array(d["evidence"]))
      EXPECT_TRUE(all.find(std::string(std::string_view(u))) != std::string::npos ||
                  std::string_view(u).find(".ndjson:") != std::string_view::npos)
          << std::string_view(u);
  }
  for (const auto& [id, n] : by_detection)
    std::cout << "  " << id << ": " << n << "\n";
  EXPECT_GT(by_detection["okta.brute_force_then_success"], 0);
  EXPECT_GT(by_detection["okta.admin_role_granted"], 0);
  EXPECT_GT(by_detection["okta.threatinsight_detected"], 0);
  for (simdjson::dom::element u : simdjson::dom::array(doc["users"])) {
    EXPECT_GE(double(u["final_risk"]), 0.0);
    EXPECT_FALSE(std::string_view(u["user"]).empty());
  }
}

constexpr const char* kTwoFailures = R"(
detections:
  - id: t.fail2
    where: { eventType: user.session.start, outcome.result: FAILURE }
    threshold: { count: 2, within: 10m }
tests:
  - name: one failure delivered twice
    events:
      - { uuid: a, published: "2024-01-01T00:00:00.000Z", eventType: user.session.start,
          actor: { id: 00u1, type: User }, outcome: { result: FAILURE } }
      - { uuid: a, published: "2024-01-01T00:00:00.000Z", eventType: user.session.start,
          actor: { id: 00u1, type: User }, outcome: { result: FAILURE } }
    expect: { detections: [] }
)";

// The daemon drops a uuid it has seen; a backtest of the same export given twice must not count
// each event twice.
TEST(Replay, DuplicateUuidsCountOnce) {
  TempDir dir;
  fs::path rules_file = dir.write("r.yml", kTwoFailures);
  fs::path one = dir.write("one.ndjson", failure_line(0, "a") + "\n");
  CliRun twice =
      replay({"--rules", rules_file.string(), "--events", one.string(), "--events", one.string(), "--format", "json"});
  ASSERT_EQ(twice.code, 0) << twice.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc = parse_json(p, twice.out);
  EXPECT_EQ(simdjson::dom::array(doc["detections"]).size(), 0u) << twice.out;
  EXPECT_EQ(int64_t(doc["events"]), 1);
  EXPECT_EQ(int64_t(doc["duplicates"]), 1);
  EXPECT_NE(twice.err.find("dropped 1 event(s) with a uuid already seen"), std::string::npos) << twice.err;
  CliRun table = replay({"--rules", rules_file.string(), "--events", one.string(), "--events", one.string()});
  EXPECT_NE(table.out.find(", 1 duplicate(s) dropped"), std::string::npos) << table.out;

  // Two different events still fire.
  fs::path two = dir.write("two.ndjson", failure_line(0, "a") + "\n" + failure_line(1, "b") + "\n");
  CliRun distinct = replay({"--rules", rules_file.string(), "--events", two.string(), "--format", "json"});
  simdjson::dom::parser p2;
  simdjson::dom::element doc2 = parse_json(p2, distinct.out);
  EXPECT_EQ(simdjson::dom::array(doc2["detections"]).size(), 1u) << distinct.out;
  EXPECT_EQ(int64_t(doc2["duplicates"]), 0);
  EXPECT_EQ(distinct.err.find("dropped"), std::string::npos) << distinct.err;
}

TEST(RulesTest, DuplicateUuidsInACaseCountOnce) {
  TempDir dir;
  fs::path f = dir.write("r.yml", kTwoFailures);
  CliRun r = rules({"test", f.string()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS " + f.string() + ": one failure delivered twice"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: dropped 1 event(s) with a uuid already seen"), std::string::npos) << r.out;
}

TEST(Replay, ToBeforeFromIsAUsageError) {
  CliRun r = replay({"--rules", pack_dir().string(), "--events", "e.ndjson", "--from", "2024-01-02T00:00:00Z", "--to",
                     "2024-01-01T00:00:00Z"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--to 2024-01-01T00:00:00.000Z is before --from 2024-01-02T00:00:00.000Z"), std::string::npos)
      << r.err;
}

TEST(RulesCheck, DirectoryWithoutRuleFilesIsAnError) {
  TempDir dir;
  dir.write("README.md", "no rules here\n");
  CliRun r = rules({"check", dir.path().string()});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(dir.path().string() + ": error: no rule files (*.yml, *.yaml) in this directory"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("ok:"), std::string::npos) << r.out;
  CliRun t = rules({"test", dir.path().string()});
  EXPECT_EQ(t.code, 1) << t.out;
  EXPECT_NE(t.err.find("no rule files"), std::string::npos) << t.err;
}

}  // namespace
}  // namespace og::test
