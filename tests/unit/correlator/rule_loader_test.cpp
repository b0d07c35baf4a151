#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>

#include "correlator/rule_set.h"
#include "tests/unit/correlator/rule_test_util.h"

namespace og::test {
namespace {

bool has(const Diagnostics& ds, std::uint32_t line, std::uint32_t col, std::string_view fragment) {
  for (const Diagnostic& d : ds.items()) {
    if (d.line == line && d.column == col && d.message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

TEST(RuleLoader, LoadsEveryConstructAndIndexesByEventType) {
  auto rules = load_ok(R"(
lists:
  fail: [FAILURE, DENY]
  more: [$fail, SKIPPED]
macros:
  sign_in: { eventType: user.session.start }
  failed_sign_in: { macro: sign_in, outcome.result: { in_list: fail } }
detections:
  - id: t.threshold
    where: { macro: failed_sign_in }
    threshold: { count: 5, within: 10m }
    risk: 10
  - id: t.distinct
    where: { macro: failed_sign_in }
    key: client.ipAddress
    distinct: { field: actor.alternateId, count: 3, within: 30m }
    risk_to: key_users
  - id: t.sequence
    sequence:
      within: 10m
      steps:
        - { where: { eventType: user.mfa.okta_verify.deny_push }, count: ">= 3" }
        - { where: { eventType: user.authentication.auth_via_mfa } }
  - id: t.absence
    absence: { first: { eventType: user.mfa.factor.deactivate }, not_followed_by: { eventType: user.mfa.factor.activate }, within: 12h }
  - id: t.geo
    where: { macro: sign_in }
    geo_velocity: { max_kmh: 900, min_km: 100 }
  - id: t.first
    where: { macro: sign_in }
    first_seen: { field: client.geographicalContext.country, learning: 14d }
  - id: t.evidence
    evidence:
      within: 1h
      min_points: 100
      signals:
        - { detection: t.threshold, points: 60 }
        - { where: { eventType: user.account.reset_password }, points: 50 }
  - id: t.any
    where: { debugContext.debugData.logOnlySecurityData: { exists: true } }
responses:
  - id: r1
    when: { risk_at_least: 50 }
    do: [ { add_to_group: { group: Step-up, ttl: 24h } }, { set_profile: { uebaHealth: "{{ 100 - risk }}" } }, notify ]
exceptions:
  - id: e1
    detections: [t.threshold]
    ips: [10.0.0.0/8]
    expires: 2026-09-30T00:00:00Z
settings: { risk_half_life: 12h }
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->detections.size(), 8u);
  EXPECT_EQ(rules->settings.risk_half_life, std::chrono::hours(12));
  auto idx = [&](std::string_view id) { return *rules->find_detection(id); };
  // The evidence detection comes after the detection it listens to.
  EXPECT_LT(idx("t.threshold"), idx("t.evidence"));
  EXPECT_EQ(rules->detections[idx("t.threshold")].listeners, std::vector<std::uint32_t>{idx("t.evidence")});
  EXPECT_EQ(rules->detections[idx("t.sequence")].steps[0].count, 3u);
  const auto& session = rules->by_event_type.at(Symbol::intern("user.session.start"));
  EXPECT_NE(std::find(session.begin(), session.end(), idx("t.geo")), session.end());
  EXPECT_EQ(session.size(), 4u);  // threshold, distinct, geo, first_seen
  EXPECT_EQ(rules->any_event_type, std::vector<std::uint32_t>{idx("t.any")});
  EXPECT_EQ(rules->fields.extra_paths(), std::vector<std::string>{"debugContext.debugData.logOnlySecurityData"});
  EXPECT_EQ(rules->exceptions[0].detections, std::vector<std::uint32_t>{idx("t.threshold")});
  EXPECT_EQ(rules->responses[0].tiers[0].size(), 3u);
}

TEST(RuleLoader, ReportsEveryProblemWithItsPosition) {
  Diagnostics ds = load_fail(R"(detections:
  - id: a
    wher: { eventType: x }
    threshold: { count: five, within: 10 }
  - id: b
    where: { eventTyp: x, client.ipAddress: { cidr: 10.0.0.0/33 } }
    risk_to: everyone
  - id: c
    where: { actor.id: { regex: "(" } , macro: nope }
    first_seen: { field: client.geographicalContext.country, learning: soon }
)",
                             "rules/x.yml");
  // Every problem, not just the first.
  EXPECT_TRUE(has(ds, 3, 5, "unknown key 'wher' (did you mean 'where'?)")) << render_text(ds);
  EXPECT_TRUE(has(ds, 4, 25, "expected a positive integer, got \"five\"")) << render_text(ds);
  EXPECT_TRUE(has(ds, 4, 39, "expected a duration like 10m")) << render_text(ds);
  EXPECT_TRUE(has(ds, 6, 14, "unknown field 'eventTyp' (did you mean 'eventType'?)")) << render_text(ds);
  EXPECT_TRUE(has(ds, 6, 53, "expected an IP address or CIDR")) << render_text(ds);
  EXPECT_TRUE(has(ds, 7, 14, "expected one of: actor, targets, key, key_users")) << render_text(ds);
  EXPECT_TRUE(has(ds, 9, 33, "invalid regular expression")) << render_text(ds);
  EXPECT_TRUE(has(ds, 9, 48, "unknown macro 'nope'")) << render_text(ds);
  EXPECT_TRUE(has(ds, 10, 72, "expected a duration")) << render_text(ds);
  EXPECT_EQ(ds.error_count(), 9u) << render_text(ds);
  std::string text = render_text(ds.items().front());
  EXPECT_EQ(text.rfind("rules/x.yml:3:5: error: unknown key 'wher'", 0), 0u) << text;
}

TEST(RuleLoader, RendersJson) {
  Diagnostics ds = load_fail("detections:\n  - id: a\n    risk: \"lots\"\n", "f.yml");
  std::string json = render_json(ds);
  EXPECT_NE(
      json.find(
          R"("severity":"error","file":"f.yml","line":3,"column":11,"path":"detections[0].risk","message":"expected a number, got \"lots\"")"),
      std::string::npos)
      << json;
}

TEST(RuleLoader, DuplicateIdsAcrossFilesAndYamlSyntaxErrors) {
  LoadResult r = load_rules_from_sources({
      RuleSource{"a.yml", "detections:\n  - id: same\n    where: { eventType: x }\n"},
      RuleSource{"b.yml", "detections:\n  - id: same\n    where: { eventType: y }\n"},
      RuleSource{"c.yml", "detections: [ { id: x\n"},
  });
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r.diagnostics, 2, 9, "duplicate detection id 'same' (first defined at a.yml:2:9)"))
      << render_text(r.diagnostics);
  bool syntax = false;
  for (const Diagnostic& d : r.diagnostics.items())
    syntax |= d.file == "c.yml" && d.message.find("YAML syntax") == 0;
  EXPECT_TRUE(syntax) << render_text(r.diagnostics);
}

TEST(RuleLoader, MacroAndEvidenceCyclesAreErrors) {
  Diagnostics ds = load_fail(R"(macros:
  a: { macro: b }
  b: { macro: a }
detections:
  - id: x
    evidence: { within: 1h, min_points: 1, signals: [ { detection: y, points: 1 } ] }
  - id: y
    evidence: { within: 1h, min_points: 1, signals: [ { detection: x, points: 1 } ] }
  - id: z
    key: client.ipAddress
    evidence: { within: 1h, min_points: 1, signals: [ { detection: w, points: 1 } ] }
  - id: w
    where: { eventType: x }
)");
  std::string text = render_text(ds);
  EXPECT_NE(text.find("macro cycle: a -> b -> a"), std::string::npos) << text;
  EXPECT_NE(text.find("evidence detections form a cycle among: x, y"), std::string::npos) << text;
  EXPECT_NE(text.find("detection 'w' is keyed by actor.id, but this detection by client.ipAddress"), std::string::npos)
      << text;
}

TEST(RuleLoader, ValidatesResponsesTemplatesAndTests) {
  Diagnostics ds = load_fail(R"(detections:
  - id: d
    where: { eventType: x }
responses:
  - id: r
    when: { detection: dd, risk_at_least: high }
    tiers:
      - do: [ { suspend: { ttl: 1h, reason: x } }, { set_profile: { a: "{{ 100 - rsk }}" } }, explode ]
      - do: [ { add_to_group: { ttl: 1h } }, { set_user_risk: { level: EXTREME } } ]
tests:
  - name: t
    events: no/such/file.ndjson
    expect: { detections: [d, e], actions: [suspend, teleport] }
)");
  std::string text = render_text(ds);
  for (const char* fragment :
       {"unknown detection 'dd' (did you mean 'd'?)", "expected a number, got \"high\"", "unknown key 'reason'",
        "unknown template variable 'rsk' (did you mean 'risk'?)", "unknown action 'explode'",
        "missing required key 'group' (or 'group_id')", "expected LOW, MEDIUM or HIGH", "events file not found",
        "unknown detection 'e'", "unknown action 'teleport'"}) {
    EXPECT_NE(text.find(fragment), std::string::npos) << fragment << "\n" << text;
  }
}

TEST(RuleLoader, InlineTestEventsBecomeJson) {
  auto rules = load_ok(R"(detections:
  - id: d
    where: { eventType: x }
tests:
  - name: inline
    events:
      - { eventType: x, actor: { id: "00u1", type: User }, n: 5, ok: true, s: "5" }
    expect: { detections: [d], risk: { 00u1: ">= 10" }, actions: [] }
)");
  ASSERT_TRUE(rules);
  ASSERT_EQ(rules->tests.size(), 1u);
  EXPECT_EQ(rules->tests[0].events_json[0],
            R"({"eventType":"x","actor":{"id":"00u1","type":"User"},"n":5,"ok":true,"s":"5"})");
  EXPECT_EQ(rules->tests[0].expect_risk[0].op, ">=");
  EXPECT_EQ(rules->tests[0].expect_risk[0].value, 10);
  EXPECT_TRUE(rules->tests[0].expect_actions_given);
}

TEST(RuleLoader, LoadsTheTestRuleDirectory) {
  LoadResult r = load_rules({std::filesystem::path(OG_SOURCE_DIR) / "tests/data/rules/pack"});
  ASSERT_TRUE(r.ok()) << render_text(r.diagnostics);
  EXPECT_GE(r.rules->detections.size(), 6u);
  EXPECT_FALSE(r.rules->tests.empty());
  EXPECT_TRUE(std::filesystem::is_regular_file(r.rules->tests[0].events_file));
}

TEST(RuleLoader, FingerprintFollowsTheMacrosADetectionUses) {
  std::string base =
      "macros:\n  m: { outcome.result: FAILURE }\ndetections:\n  - id: d\n    where: { macro: m }\n  - id: e\n    "
      "where: { eventType: y }\n";
  auto a = load_ok(base);
  auto b = load_ok(base);
  std::string changed = base;
  changed.replace(changed.find("FAILURE"), 7, "DENY");
  auto c = load_ok(changed);
  EXPECT_EQ(a->detections[0].fingerprint, b->detections[0].fingerprint);
  EXPECT_NE(a->detections[0].fingerprint, c->detections[0].fingerprint);
  EXPECT_EQ(a->detections[1].fingerprint, c->detections[1].fingerprint);
}

TEST(RuleLoader, FingerprintFollowsNestedMacros) {
  std::string base =
      "macros:\n  n: { outcome.result: FAILURE }\n  m: { macro: n }\ndetections:\n  - id: d\n    where: { macro: m }\n";
  auto a = load_ok(base);
  std::string changed = base;
  changed.replace(changed.find("FAILURE"), 7, "DENY");
  auto c = load_ok(changed);
  ASSERT_TRUE(a && c);
  EXPECT_NE(a->detections[0].fingerprint, c->detections[0].fingerprint);
}

TEST(RuleLoader, FingerprintFollowsListsOfNestedMacrosAndIncludedLists) {
  std::string base =
      "lists:\n  inner: [FAILURE]\n  outer: [$inner, DENY]\nmacros:\n  n: { outcome.result: { in_list: outer } }\n"
      "  m: { macro: n }\ndetections:\n  - id: d\n    where: { macro: m }\n  - id: e\n    where: { eventType: y }\n";
  auto a = load_ok(base);
  std::string changed = base;
  changed.replace(changed.find("FAILURE"), 7, "SKIPPED");
  auto c = load_ok(changed);
  ASSERT_TRUE(a && c);
  EXPECT_NE(a->detections[0].fingerprint, c->detections[0].fingerprint);
  EXPECT_EQ(a->detections[1].fingerprint, c->detections[1].fingerprint);
}

TEST(RuleLoader, SelfReferencingAliasIsAnErrorAtTheAlias) {
  Diagnostics ds = load_fail("detections:\n  - id: a\n    where: &w { all: [ *w ] }\n", "rules/x.yml");
  EXPECT_TRUE(has(ds, 3, 24, "alias '*w' refers to a node that contains it")) << render_text(ds);
  EXPECT_EQ(render_text(ds).rfind("rules/x.yml:3:24: error: ", 0), 0u) << render_text(ds);
}

TEST(RuleLoader, AliasBombIsRejectedQuickly) {
  // Six levels of ten: a million predicate nodes once expanded.
  std::string yaml = "macros:\n  m0: &m0 { eventType: x }\n";
  for (int level = 1; level <= 6; ++level) {
    std::string ref = fmt::format("*m{}", level - 1);
    yaml += fmt::format("  m{0}: &m{0} {{ any: [{1}, {1}, {1}, {1}, {1}, {1}, {1}, {1}, {1}, {1}] }}\n", level, ref);
  }
  yaml += "detections:\n  - id: d\n    where: { macro: m6 }\n";
  auto start = std::chrono::steady_clock::now();
  Diagnostics ds = load_fail(yaml);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_NE(render_text(ds).find("expands to more than 100000 nodes through aliases"), std::string::npos)
      << render_text(ds);
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST(RuleLoader, AliasesWithinTheLimitStillLoad) {
  auto rules = load_ok(R"(macros:
  sign_in: &s { eventType: user.session.start }
detections:
  - id: a
    where: *s
  - id: b
    where: { all: [ *s, { outcome.result: FAILURE } ] }
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->detections.size(), 2u);
}

TEST(RuleLoader, EmptyListsAreErrorsWhereTheyWouldChangeTheMeaning) {
  Diagnostics ds = load_fail(R"(lists:
  none: []
detections:
  - id: a
    where: { macro: [] }
  - id: b
    where: { outcome.result: { in: [] } }
  - id: c
    where: { outcome.result: { in_list: none } }
  - id: d
    where: { client.ipAddress: { cidr: [] } }
  - id: e
    where: { outcome.result: [] }
  - id: f
    where: { client.ipAddress: { cidr_list: none } }
  - id: g
    where: { actor.alternateId: { suffix: [] } }
exceptions:
  - id: x
    detections: []
    users: [alice]
)");
  EXPECT_TRUE(has(ds, 5, 21, "expected a non-empty list")) << render_text(ds);
  EXPECT_TRUE(has(ds, 7, 36, "expected a non-empty list")) << render_text(ds);
  EXPECT_TRUE(has(ds, 9, 41, "list 'none' is empty; expected a non-empty list")) << render_text(ds);
  EXPECT_TRUE(has(ds, 11, 40, "expected a non-empty list")) << render_text(ds);
  EXPECT_TRUE(has(ds, 13, 30, "expected a non-empty list")) << render_text(ds);
  EXPECT_TRUE(has(ds, 15, 45, "list 'none' is empty; expected a non-empty list")) << render_text(ds);
  EXPECT_TRUE(has(ds, 17, 43, "expected a non-empty list")) << render_text(ds);
  EXPECT_TRUE(has(ds, 20, 17, "expected a non-empty list")) << render_text(ds);
  EXPECT_EQ(ds.error_count(), 8u) << render_text(ds);
}

TEST(RuleLoader, NonFiniteNumbersAndOverlongDurationsAreErrors) {
  Diagnostics ds = load_fail(R"(detections:
  - id: a
    where: { eventType: x }
    risk: inf
  - id: b
    where: { eventType: x }
    risk: nan
  - id: c
    where: { eventType: x }
    cooldown: 150000000000d
  - id: d
    where: { eventType: x }
    threshold: { count: 2, within: 106751992d }
  - id: e
    where: { eventType: x }
    cooldown: 36526d
  - id: f
    where: { eventType: x }
    cooldown: 99999999999999999999999s
)");
  EXPECT_TRUE(has(ds, 4, 11, "expected a number, got \"inf\"")) << render_text(ds);
  EXPECT_TRUE(has(ds, 7, 11, "expected a number, got \"nan\"")) << render_text(ds);
  EXPECT_TRUE(has(ds, 10, 15, "duration too large (at most 100 years)")) << render_text(ds);
  EXPECT_TRUE(has(ds, 13, 36, "duration too large (at most 100 years)")) << render_text(ds);
  EXPECT_TRUE(has(ds, 16, 15, "duration too large (at most 100 years)")) << render_text(ds);
  EXPECT_TRUE(has(ds, 19, 15, "duration too large (at most 100 years)")) << render_text(ds);
  EXPECT_EQ(ds.error_count(), 6u) << render_text(ds);
  // A hundred years is still allowed.
  auto rules = load_ok("detections:\n  - id: a\n    where: { eventType: x }\n    cooldown: 36525d\n");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->detections[0].cooldown, std::chrono::hours(24 * 36525));
}

TEST(RuleLoader, ListItemsAreReportedAtTheItem) {
  Diagnostics ds = load_fail(R"(macros:
  m: { eventType: x }
detections:
  - id: d1
    where: { macro: [m, nope], client.ipAddress: { cidr: [10.0.0.0/8, 10.0.0.0/33] } }
    key: [actor.id, clientt]
exceptions:
  - id: e
    detections: [d1,
      d3_typo]
    ips: [10.0.0.0/8, 300.1.1.1]
)");
  EXPECT_TRUE(has(ds, 5, 25, "unknown macro 'nope'")) << render_text(ds);
  EXPECT_TRUE(has(ds, 5, 71, "expected an IP address or CIDR like 10.0.0.0/8, got \"10.0.0.0/33\"")) << render_text(ds);
  EXPECT_TRUE(has(ds, 6, 21, "unknown field 'clientt'")) << render_text(ds);
  EXPECT_TRUE(has(ds, 10, 7, "unknown detection 'd3_typo'")) << render_text(ds);
  EXPECT_TRUE(has(ds, 11, 23, "expected an IP address or CIDR, got \"300.1.1.1\"")) << render_text(ds);
  EXPECT_EQ(ds.error_count(), 5u) << render_text(ds);
  EXPECT_NE(render_text(ds).find("[exceptions[0].detections[1]]"), std::string::npos) << render_text(ds);
}

}  // namespace
}  // namespace og::test
