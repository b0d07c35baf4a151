#include "correlator/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "correlator/parse.h"
#include "tests/support/data.h"
#include "tests/unit/correlator/rule_test_util.h"

namespace og::test {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

Event sign_in(const std::string& user, EventTime t, const char* result, const std::string& ip = "198.51.100.1") {
  Event e = make_event("user.session.start", user, t);
  e.outcome_result = Symbol::intern(result);
  e.client_ip = ip;
  return e;
}

TEST(Engine, ThresholdFiresOncePerWindowAndAddsRisk) {
  auto rules = load_ok(R"(detections:
  - id: bf
    where: { eventType: user.session.start, outcome.result: FAILURE }
    threshold: { count: 3, within: 10m }
    risk: 30
)");
  Shard shard(rules);
  shard.apply(sign_in("u1", at(minutes(0)), "FAILURE"));
  shard.apply(sign_in("u1", at(minutes(4)), "FAILURE"));
  shard.apply(sign_in("u2", at(minutes(5)), "FAILURE"));
  shard.apply(sign_in("u1", at(minutes(6)), "SUCCESS"));
  EXPECT_TRUE(shard.detections().empty());
  shard.apply(sign_in("u1", at(minutes(9)), "FAILURE"));
  ASSERT_EQ(shard.detections().size(), 1u);
  const Detection& d = shard.detections()[0];
  EXPECT_EQ(d.key, "u1");
  EXPECT_EQ(d.window_start, at(minutes(0)));
  EXPECT_EQ(d.evidence.size(), 3u);
  ASSERT_EQ(d.users.size(), 1u);
  EXPECT_EQ(d.users[0].id, "u1");
  EXPECT_DOUBLE_EQ(shard.risk("u1"), 30.0);
  // The window was consumed; two more failures are not enough, and old ones slide out.
  shard.apply(sign_in("u1", at(minutes(10)), "FAILURE"));
  shard.apply(sign_in("u1", at(minutes(25)), "FAILURE"));
  shard.apply(sign_in("u1", at(minutes(26)), "FAILURE"));
  EXPECT_EQ(shard.detections().size(), 1u);
  shard.apply(sign_in("u1", at(minutes(27)), "FAILURE"));
  EXPECT_EQ(shard.detections().size(), 2u);
}

TEST(Engine, DistinctCountsValuesAndNamesEveryUserUnderTheKey) {
  auto rules = load_ok(R"(detections:
  - id: spray
    where: { outcome.result: FAILURE }
    key: client.ipAddress
    distinct: { field: actor.alternateId, count: 3, within: 30m }
    risk: 20
    risk_to: key_users
)");
  Shard shard(rules);
  shard.apply(sign_in("a", at(minutes(0)), "FAILURE", "203.0.113.5"));
  shard.apply(sign_in("a", at(minutes(1)), "FAILURE", "203.0.113.5"));
  shard.apply(sign_in("b", at(minutes(2)), "FAILURE", "203.0.113.5"));
  shard.apply(sign_in("c", at(minutes(3)), "FAILURE", "198.51.100.1"));
  EXPECT_TRUE(shard.detections().empty());
  shard.apply(sign_in("c", at(minutes(4)), "FAILURE", "203.0.113.5"));
  ASSERT_EQ(shard.detections().size(), 1u);
  EXPECT_EQ(shard.detections()[0].key, "203.0.113.5");
  std::vector<std::string> users;
  for (const UserRef& u : shard.detections()[0].users)
    users.push_back(u.id);
  EXPECT_EQ(users, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_DOUBLE_EQ(shard.risk("b"), 20.0);
}

constexpr const char* kFatigue = R"(detections:
  - id: fatigue
    key: actor.id
    sequence:
      within: 10m
      steps:
        - { where: { eventType: deny_push }, count: 3 }
        - { where: { eventType: auth_via_mfa, outcome.result: SUCCESS } }
    risk: 90
    severity: critical
responses:
  - id: contain
    when: { detection: fatigue }
    escalation_horizon: 30d
    cooldown: 1m
    tiers:
      - do: [ { clear_sessions: { oauth_tokens: true } }, { set_profile: { health: "{{ 100 - risk }}", why: "{{ detection }} on {{ key }}" } } ]
      - do: [ { suspend: { ttl: 1h } } ]
)";

Event mfa_ok(const std::string& u, EventTime t) {
  Event e = make_event("auth_via_mfa", u, t);
  e.outcome_result = Symbol::intern("SUCCESS");
  return e;
}

TEST(Engine, SequenceNeedsStepsInOrderWithinTheWindow) {
  Shard shard(load_ok(kFatigue));
  // Success before enough denials: nothing.
  shard.apply(make_event("deny_push", "u", at(minutes(0))));
  shard.apply(mfa_ok("u", at(minutes(1))));
  shard.apply(make_event("deny_push", "u", at(minutes(2))));
  shard.apply(make_event("deny_push", "u", at(minutes(3))));
  EXPECT_TRUE(shard.detections().empty());
  // Third denial (the first slid out? no: 0,2,3 are within 10m) then success at 13m: the window
  // from the oldest counted denial (0m) has expired, so it restarts from denials 2m and 3m: only 2.
  shard.apply(mfa_ok("u", at(minutes(13))));
  EXPECT_TRUE(shard.detections().empty());
  shard.apply(make_event("deny_push", "u", at(minutes(14))));
  shard.apply(make_event("deny_push", "u", at(minutes(15))));
  shard.apply(make_event("deny_push", "u", at(minutes(16))));
  shard.apply(mfa_ok("u", at(minutes(17))));
  ASSERT_EQ(shard.detections().size(), 1u);
  EXPECT_EQ(shard.detections()[0].window_start, at(minutes(14)));
  EXPECT_EQ(shard.detections()[0].evidence.size(), 4u);
}

TEST(Engine, ResponsesRenderTemplatesAndEscalate) {
  Shard shard(load_ok(kFatigue));
  for (int round = 0; round < 3; ++round) {
    auto base = at(hours(round));
    for (int i = 0; i < 3; ++i)
      shard.apply(make_event("deny_push", "u", base + minutes(i)));
    shard.apply(mfa_ok("u", base + minutes(5)));
  }
  std::vector<Decision> ds = shard.take_decisions();
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_EQ(ds[0].action, ActionKind::clear_sessions);
  EXPECT_TRUE(ds[0].oauth_tokens);
  EXPECT_EQ(ds[0].ordinal, 0u);
  EXPECT_EQ(ds[1].action, ActionKind::set_profile);
  EXPECT_EQ(ds[1].ordinal, 1u);
  EXPECT_EQ(ds[1].profile,
            (std::vector<std::pair<std::string, std::string>>{{"health", "10"}, {"why", "fatigue on u"}}));
  // Second and third incidents within the horizon: the next tier, then the last tier again.
  EXPECT_EQ(ds[2].action, ActionKind::suspend);
  EXPECT_EQ(ds[2].tier, 1u);
  EXPECT_EQ(ds[2].ttl, std::optional<Duration>(hours(1)));
  EXPECT_EQ(ds[3].action, ActionKind::suspend);
  EXPECT_EQ(ds[0].user.id, "u");
  EXPECT_EQ(ds[0].detections, std::vector<std::string>{"fatigue"});
  EXPECT_EQ(ds[0].evidence.size(), 4u);
  EXPECT_EQ(ds[0].id, decision_id("contain", UserRef{"u", IdentityKind::okta_id}, at(minutes(5)), 0));
  EXPECT_NE(ds[0].id, ds[1].id);
}

TEST(Engine, RiskDecaysWithTheHalfLifeAndIsExplained) {
  auto rules = load_ok(R"(detections:
  - id: grant
    where: { eventType: user.account.privilege.grant }
    risk: 40
responses:
  - id: high
    when: { risk_at_least: 60 }
    do: [ notify ]
settings: { risk_half_life: 1h }
)");
  Shard shard(rules);
  shard.apply(make_event("user.account.privilege.grant", "u", at(minutes(0)), "e1"));
  shard.apply(make_event("noise", "u", at(minutes(60))));
  EXPECT_NEAR(shard.risk("u"), 20.0, 1e-9);
  // 20 + 40 = 60 at 60m: the response fires.
  shard.apply(make_event("user.account.privilege.grant", "u", at(minutes(60)), "e2"));
  EXPECT_NEAR(shard.risk("u"), 60.0, 1e-9);
  ASSERT_EQ(shard.decisions().size(), 1u);
  EXPECT_NEAR(shard.decisions()[0].risk, 60.0, 1e-9);
  auto ex = shard.explain("u");
  ASSERT_TRUE(ex);
  ASSERT_EQ(ex->contributions.size(), 2u);
  EXPECT_EQ(ex->contributions[0].evidence, std::vector<std::string>{"e1"});
  EXPECT_NEAR(ex->contributions[0].points_now, 20.0, 1e-9);
  EXPECT_EQ(ex->responses.size(), 1u);
  EXPECT_NE(render_text(*ex).find("grant key=u +40.0"), std::string::npos) << render_text(*ex);
  // Residual risk returns to zero on its own: after enough half-lives the user is forgotten.
  shard.apply(make_event("noise", "u", at(hours(20))));
  shard.apply(make_event("noise", "v", at(hours(21))));
  EXPECT_LT(shard.risk("u"), 0.001);
  EXPECT_EQ(shard.metrics().tracked_users, 0u);
}

TEST(Engine, AbsenceFiresWhenTheDeadlinePassesWithoutTheFollowUp) {
  auto rules = load_ok(R"(detections:
  - id: mfa_gone
    absence: { first: { eventType: user.mfa.factor.deactivate }, not_followed_by: { eventType: user.mfa.factor.activate }, within: 12h }
    risk: 25
)");
  Shard shard(rules);
  shard.apply(make_event("user.mfa.factor.deactivate", "a", at(hours(0)), "da"));
  shard.apply(make_event("user.mfa.factor.deactivate", "b", at(hours(1)), "db"));
  shard.apply(make_event("user.mfa.factor.activate", "b", at(hours(5))));
  shard.apply(make_event("other", "c", at(hours(12))));  // exactly at a's deadline: B could still come
  EXPECT_TRUE(shard.detections().empty());
  shard.apply(make_event("other", "c", at(hours(12) + seconds(1))));
  ASSERT_EQ(shard.detections().size(), 1u);
  EXPECT_EQ(shard.detections()[0].key, "a");
  EXPECT_EQ(shard.detections()[0].time, at(hours(12)));
  EXPECT_EQ(shard.detections()[0].evidence, std::vector<std::string>{"da"});
  EXPECT_DOUBLE_EQ(shard.risk("a"), 25.0 * std::exp2(-1.0 / 24 / 3600));
}

TEST(Engine, GeoVelocityNeedsDistanceAndSpeed) {
  auto rules = load_ok(R"(detections:
  - id: travel
    where: { eventType: user.session.start }
    geo_velocity: { max_kmh: 900, min_km: 100 }
    risk: 40
)");
  Shard shard(rules);
  auto located = [](EventTime t, double lat, double lon) {
    Event e = sign_in("u", t, "SUCCESS");
    e.geo.lat = lat;
    e.geo.lon = lon;
    return e;
  };
  shard.apply(located(at(minutes(0)), 37.7749, -122.4194));   // San Francisco
  shard.apply(located(at(minutes(30)), 37.3382, -121.8863));  // San Jose, 68 km: under min_km
  shard.apply(located(at(hours(8)), 40.7128, -74.0060));      // New York, ~4100 km in 7.5 h: 550 km/h
  EXPECT_TRUE(shard.detections().empty());
  shard.apply(located(at(hours(9)), 51.5074, -0.1278));  // London, ~5570 km in 1 h
  ASSERT_EQ(shard.detections().size(), 1u);
  EXPECT_EQ(shard.detections()[0].window_start, at(hours(8)));
}

TEST(Engine, FirstSeenLearnsThenFlagsNewValues) {
  auto rules = load_ok(R"(detections:
  - id: new_country
    where: { eventType: user.session.start }
    first_seen: { field: client.geographicalContext.country, learning: 1d, forget_after: 30d, max_values: 2 }
    risk: 15
)");
  Shard shard(rules);
  auto from = [](EventTime t, const char* country) {
    Event e = sign_in("u", t, "SUCCESS");
    e.geo.country = Symbol::intern(country);
    return e;
  };
  shard.apply(from(at(hours(0)), "US"));
  shard.apply(from(at(hours(2)), "FR"));  // learning: silent
  shard.apply(from(at(hours(30)), "US"));
  EXPECT_TRUE(shard.detections().empty());
  shard.apply(from(at(hours(31)), "JP"));  // new after learning; evicts the least recently seen (FR)
  ASSERT_EQ(shard.detections().size(), 1u);
  shard.apply(from(at(hours(32)), "JP"));
  shard.apply(from(at(hours(33)), "FR"));
  // FR came back after being evicted by the cap (at 31 h JP pushed out FR, at 33 h FR pushed out US).
  EXPECT_EQ(shard.detections().size(), 2u);
  shard.apply(from(at(hours(34)), "JP"));
  EXPECT_EQ(shard.detections().size(), 2u);
  // After forget_after, a value is new again while the key remembers others...
  shard.apply(from(at(hours(34) + hours(24 * 29)), "FR"));  // known: seen 29 days ago
  shard.apply(from(at(hours(34) + hours(24 * 31)), "JP"));  // forgotten: seen 31 days ago
  EXPECT_EQ(shard.detections().size(), 3u);
  // ...and once every value is forgotten the key starts over, learning silently again.
  shard.apply(from(at(hours(34) + hours(24 * 62)), "DE"));
  shard.apply(from(at(hours(35) + hours(24 * 62)), "BR"));
  EXPECT_EQ(shard.detections().size(), 3u);
  shard.apply(from(at(hours(34) + hours(24 * 63)), "CA"));  // learning over
  EXPECT_EQ(shard.detections().size(), 4u);
}

TEST(Engine, EvidenceAddsDistinctSignalsIncludingOtherDetections) {
  auto rules = load_ok(R"(detections:
  - id: grant
    where: { eventType: grant }
  - id: ato
    evidence:
      within: 1h
      min_points: 100
      signals:
        - { detection: grant, points: 50 }
        - { where: { eventType: reset }, points: 30 }
        - { where: { eventType: token }, points: 40 }
    risk: 70
)");
  Shard shard(rules);
  shard.apply(make_event("reset", "u", at(minutes(0))));
  shard.apply(make_event("reset", "u", at(minutes(1))));  // the same signal twice counts once: 30, not 60
  shard.apply(make_event("grant", "u", at(minutes(2))));  // 80
  EXPECT_EQ(ids(shard.detections()), std::vector<std::string>{"grant"});
  shard.apply(make_event("token", "v", at(minutes(3))));  // another key
  EXPECT_EQ(ids(shard.detections()), std::vector<std::string>{"grant"});
  shard.apply(make_event("token", "u", at(minutes(30))));  // 120
  EXPECT_EQ(ids(shard.detections()), (std::vector<std::string>{"grant", "ato"}));
  EXPECT_EQ(shard.detections()[1].window_start, at(minutes(1)));
  // Signals slide out of the window: 30 then, 40 more than an hour later, is not enough.
  shard.apply(make_event("reset", "w", at(minutes(100))));
  shard.apply(make_event("token", "w", at(minutes(161))));
  EXPECT_EQ(shard.detections().size(), 2u);
  EXPECT_NEAR(shard.risk("u"), 70.0 * std::exp2(-131.0 / (24 * 60)), 1e-9);  // added at 30m, read at 161m
}

TEST(Engine, ExceptionsByUserIpPredicateAndExpiry) {
  auto rules = load_ok(R"(detections:
  - id: d
    where: { eventType: x }
    risk: 50
responses:
  - id: r
    when: { detection: d }
    cooldown: 0s
    do: [ notify ]
exceptions:
  - id: office
    detections: [d]
    ips: [10.0.0.0/8]
  - id: vip
    responses: [r]
    users: [boss@example.com]
    expires: 2024-01-02T00:00:00Z
)");
  Shard shard(rules);
  Event office = make_event("x", "a", at(minutes(0)));
  office.client_ip = "10.1.2.3";
  shard.apply(office);
  EXPECT_TRUE(shard.detections().empty());
  Event boss = make_event("x", "boss", at(minutes(1)));
  boss.client_ip = "203.0.113.1";
  shard.apply(boss);
  EXPECT_EQ(shard.detections().size(), 1u);
  EXPECT_TRUE(shard.decisions().empty());  // the response is excepted for the boss...
  Event later = boss;
  later.published = at(hours(25));
  shard.apply(later);
  EXPECT_EQ(shard.decisions().size(), 1u);  // ...until the exception expires
  EXPECT_EQ(shard.metrics().excepted, 2u);
}

// Determinism: any arrival order within the lateness gives the same detections and decisions.
TEST(Engine, SameDecisionsInAnyArrivalOrderWithinTheLateness) {
  LoadResult pack = load_rules({std::filesystem::path(OG_SOURCE_DIR) / "tests/data/rules/pack"});
  ASSERT_TRUE(pack.ok()) << render_text(pack.diagnostics);
  std::vector<Event> events;
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    std::string user = "u" + std::to_string(rng() % 5);
    auto t = at(seconds(i * 7));
    Event e;
    switch (rng() % 4) {
      case 0:
        e = sign_in(user, t, "FAILURE", "203.0.113." + std::to_string(rng() % 3));
        break;
      case 1:
        e = make_event("user.mfa.okta_verify.deny_push", user, t);
        break;
      case 2:
        e = mfa_ok(user, t);
        e.event_type = Symbol::intern("user.authentication.auth_via_mfa");
        break;
      default:
        e = sign_in(user, t, "SUCCESS");
        e.geo.country = Symbol::intern(rng() % 2 ? "US" : "BR");
        e.geo.lat = rng() % 2 ? 40.0 : -23.0;
        e.geo.lon = rng() % 2 ? -74.0 : -46.0;
    }
    events.push_back(std::move(e));
  }
  auto run = [&](std::vector<Event> input, unsigned seed) {
    // Shuffle within blocks of 60 s of event time: less than the 2-minute lateness.
    std::mt19937 r2(seed);
    for (std::size_t b = 0; b < input.size(); b += 8) {
      std::shuffle(input.begin() + static_cast<std::ptrdiff_t>(b),
                   input.begin() + static_cast<std::ptrdiff_t>(std::min(b + 8, input.size())), r2);
    }
    Shard shard(pack.rules);
    for (std::size_t i = 0; i < input.size(); ++i)
      shard.push(input[i], static_cast<std::int32_t>(i % 3));
    shard.flush();
    EXPECT_EQ(shard.metrics().late_events, 0u);
    std::vector<std::string> out;
    for (const Detection& d : shard.take_detections())
      out.push_back(d.id + "|" + d.key + "|" + std::to_string(d.time.time_since_epoch().count()));
    for (const Decision& d : shard.take_decisions())
      out.push_back(d.id + "|" + std::string(to_string(d.action)));
    return out;
  };
  auto a = run(events, 1);
  auto b = run(events, 2);
  auto c = run(events, 3);
  EXPECT_GT(a.size(), 5u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

TEST(Engine, ReorderBufferHoldsEventsUntilEveryPartitionPassedThem) {
  auto rules = load_ok("detections:\n  - id: d\n    where: { eventType: x }\nsettings: { lateness: 1m }\n");
  Shard shard(rules);
  shard.push(make_event("x", "a", at(minutes(10))), 0);
  EXPECT_TRUE(shard.detections().empty());  // watermark 9m
  shard.push(make_event("x", "b", at(minutes(20))), 0);
  EXPECT_EQ(shard.detections().size(), 1u);  // watermark 19m releases 10m
  // An event behind what was released is late: applied at once, counted.
  shard.push(make_event("x", "c", at(minutes(5))), 1);
  EXPECT_EQ(shard.detections().size(), 2u);
  EXPECT_EQ(shard.metrics().late_events, 1u);
  // Partition 1 now holds the watermark back until it moves too.
  shard.observe(0, at(minutes(30)));
  EXPECT_EQ(shard.detections().size(), 2u);
  shard.observe(1, at(minutes(30)));
  EXPECT_EQ(shard.detections().size(), 3u);
  EXPECT_EQ(shard.metrics().buffered_events, 0u);
}

// The Engine has its shards hand every event back, so the routing thread that allocated it frees
// it: each must come back exactly once, after it was applied, with no reference left in the shard.
TEST(Engine, AShardHandsBackEveryEventItHasApplied) {
  auto rules = load_ok("detections:\n  - id: d\n    where: { eventType: x }\nsettings: { lateness: 1m }\n");
  Shard shard(rules);
  std::vector<std::shared_ptr<const Event>> retired;
  shard.retire_events_into(&retired);
  auto push = [&](const char* uuid, EventTime t, std::int32_t partition) {
    Event e = make_event("x", "a", t);
    e.uuid = uuid;
    shard.push(std::make_shared<const Event>(std::move(e)), partition);
  };
  push("held", at(minutes(10)), 0);
  EXPECT_TRUE(retired.empty());  // still in the reorder buffer
  push("releases-held", at(minutes(20)), 0);
  ASSERT_EQ(retired.size(), 1u);
  EXPECT_EQ(retired[0]->uuid, "held");
  push("late", at(minutes(5)), 0);  // behind the watermark: applied at once
  ASSERT_EQ(retired.size(), 2u);
  EXPECT_EQ(retired[1]->uuid, "late");
  shard.flush();
  ASSERT_EQ(retired.size(), 3u);
  EXPECT_EQ(retired[2]->uuid, "releases-held");
  EXPECT_EQ(shard.detections().size(), 3u);
  for (const auto& e : retired)
    EXPECT_EQ(e.use_count(), 1) << e->uuid;
  // Without a sink the shard frees them itself.
  shard.retire_events_into(nullptr);
  push("freed-here", at(minutes(30)), 0);
  shard.flush();
  EXPECT_EQ(retired.size(), 3u);
  EXPECT_EQ(shard.detections().size(), 4u);
}

// Evicting idle keys must not forget which kept sequences have passed step 0: their next step
// would then be ignored.
TEST(Engine, ASequencePastStepZeroCompletesAfterAnEviction) {
  std::string rules = std::string(kFatigue) + "settings: { max_tracked_keys: 100 }\n";
  Shard shard(load_ok(rules));
  int second = 0;
  auto deny = [&](const std::string& user) { shard.apply(make_event("deny_push", user, at(seconds(second++)))); };
  for (int i = 0; i < 150; ++i)
    deny("early" + std::to_string(i));
  for (int i = 0; i < 3; ++i)
    deny("victim");  // step 1 reached
  for (int i = 0; i < 50; ++i)
    deny("late" + std::to_string(i));  // more evictions, of the early users only
  ASSERT_GT(shard.metrics().evicted_keys, 50u);
  ASSERT_TRUE(shard.detections().empty());
  shard.apply(mfa_ok("victim", at(seconds(second))));
  ASSERT_EQ(shard.detections().size(), 1u);
  EXPECT_EQ(shard.detections()[0].key, "victim");
}

// Detections sharing a composite key read it once per event; a detection with another key read
// for the first time in between must not leave the later ones with a stale key (under ASan: a
// use after free).
TEST(Engine, ACompositeKeySurvivesAnotherKeyReadInBetween) {
  Shard shard(load_ok(R"(detections:
  - id: a
    where: { eventType: user.session.start }
    key: [actor.id, client.ipAddress]
  - id: b
    where: { eventType: user.session.start }
    key: client.ipAddress
  - id: c
    where: { eventType: user.session.start }
    key: [actor.id, client.ipAddress]
)"));
  shard.apply(sign_in("u1", at(seconds(0)), "SUCCESS", "10.0.0.1"));
  std::vector<std::string> keys;
  for (const Detection& d : shard.detections())
    keys.push_back(d.id + " " + d.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"a u1\x1f"
                                            "10.0.0.1",
                                            "b 10.0.0.1",
                                            "c u1\x1f"
                                            "10.0.0.1"}));
}

// A key whose remembered values were all forgotten starts over (learning silently again), whether
// or not a sweep dropped its state in between: the outcome must not depend on when sweeps run.
TEST(Engine, AKeyWithEveryValueForgottenLearnsAgainWithOrWithoutASweep) {
  auto rules = load_ok(R"(detections:
  - id: new_ip
    where: { eventType: user.session.start }
    first_seen: { field: client.ipAddress, learning: 5m, forget_after: 10m }
)");
  // `crowd` other users make sweeps rare (one per a quarter as many events as keys), so none runs
  // between the victim's two sign-ins; with none of them a sweep runs at nearly every event.
  auto run = [&](int crowd) {
    Shard shard(rules);
    for (int i = 0; i < crowd; ++i)
      shard.apply(sign_in("other" + std::to_string(i), at(minutes(0)), "SUCCESS"));
    shard.apply(sign_in("bystander", at(minutes(2)), "SUCCESS"));  // a sweep here, at the latest
    shard.apply(sign_in("victim", at(minutes(3)), "SUCCESS", "10.0.0.1"));
    shard.apply(sign_in("victim", at(minutes(20)), "SUCCESS", "10.0.0.2"));
    std::size_t victim = 0;
    for (const Detection& d : shard.detections())
      victim += d.key == "victim";
    return victim;
  };
  EXPECT_EQ(run(1000), 0u);
  EXPECT_EQ(run(0), 0u);
}

TEST(Engine, EvictsTheIdlestKeysPastTheCap) {
  auto rules = load_ok(R"(detections:
  - id: g
    where: { eventType: user.session.start }
    first_seen: { field: client.ipAddress }
settings: { max_tracked_keys: 100 }
)");
  Shard shard(rules);
  for (int i = 0; i < 500; ++i)
    shard.apply(sign_in("u" + std::to_string(i), at(seconds(i * 10)), "SUCCESS"));
  ShardMetrics m = shard.metrics();
  EXPECT_LE(m.tracked_keys, 100u);
  EXPECT_GT(m.evicted_keys, 300u);
  // The idlest went first: the newest user is still known (no detection for a seen value).
  std::size_t before = shard.detections().size();
  shard.apply(sign_in("u499", at(seconds(5000)), "SUCCESS"));
  EXPECT_EQ(shard.detections().size(), before);
}

// A run whose window has passed starts over from its newest first-step events before the next event
// is judged, with or without a sweep in between (an unrelated event can trigger one).
TEST(Engine, AnExpiredSequenceRestartsBeforeJudgingTheNextStepWithOrWithoutASweep) {
  auto rules = load_ok(R"(detections:
  - id: t.seq
    key: actor.id
    sequence:
      within: 10m
      steps:
        - where: { eventType: a.step }
        - where: { eventType: b.step }
        - where: { eventType: c.step }
)");
  for (bool unrelated : {false, true}) {
    Shard shard(rules);
    shard.apply(make_event("a.step", "u1", at(minutes(0))));
    shard.apply(make_event("b.step", "u1", at(minutes(1))));
    shard.apply(make_event("a.step", "u1", at(minutes(8))));
    if (unrelated) shard.apply(make_event("x.other", "u2", at(minutes(11))));
    // The run from 00:00 has expired at 00:12: it restarts from a@08, which b@12 and c@13 complete.
    shard.apply(make_event("b.step", "u1", at(minutes(12))));
    shard.apply(make_event("c.step", "u1", at(minutes(13))));
    ASSERT_EQ(shard.detections().size(), 1u) << "with an unrelated event: " << unrelated;
    EXPECT_EQ(shard.detections()[0].window_start, at(minutes(8)));
    EXPECT_EQ(shard.detections()[0].evidence.size(), 3u);
  }
}

// A response exception by user spares that user, not every user of an event its user acted in: an
// excepted admin's grant of a role to someone else still gets a decision for that someone.
TEST(Engine, AResponseExceptionByUserSparesOnlyThatUser) {
  auto rules = load_ok(R"(detections:
  - id: t.grant
    where: { eventType: user.account.privilege.grant }
    key: actor.id
    risk: 60
    risk_to: targets
responses:
  - id: r1
    when: { risk_at_least: 50 }
    do: [ notify ]
exceptions:
  - id: ex_admin
    responses: [r1]
    users: [00uADMIN]
)");
  auto grant = [](const std::string& actor, const std::string& target, EventTime t) {
    Event e = make_event("user.account.privilege.grant", actor, t);
    EntityRef user;
    user.id = target;
    user.type = Symbol::intern("User");
    e.targets.push_back(user);
    return e;
  };
  Shard shard(rules);
  shard.apply(grant("00uADMIN", "00uVICTIM", at(minutes(0))));
  ASSERT_EQ(shard.decisions().size(), 1u);
  EXPECT_EQ(shard.decisions()[0].user.id, "00uVICTIM");
  // The excepted user's own risk is still spared.
  shard.apply(grant("00uOTHER", "00uADMIN", at(minutes(1))));
  EXPECT_EQ(shard.decisions().size(), 1u);
}

// Past the key cap, expired state is freed before live keys are evicted, so what is evicted (and so
// what fires) does not depend on whether a sweep ran just before.
TEST(Engine, TheKeyCapEvictsTheSameKeysWithOrWithoutAnEarlierSweep) {
  auto rules = load_ok(R"(settings:
  max_tracked_keys: 2
detections:
  - id: t.thr
    where: { eventType: a.step }
    key: actor.id
    threshold: { count: 2, within: 10m }
)");
  for (bool unrelated : {false, true}) {
    Shard shard(rules);
    shard.apply(make_event("a.step", "u1", at(minutes(0))));
    shard.apply(make_event("a.step", "u2", at(seconds(30))));
    if (unrelated) shard.apply(make_event("x.other", "u9", at(minutes(10) + seconds(10))));
    // u1's window has expired by 10:20: it goes, not u2's, which u2@10:25 completes.
    shard.apply(make_event("a.step", "u3", at(minutes(10) + seconds(20))));
    shard.apply(make_event("a.step", "u2", at(minutes(10) + seconds(25))));
    EXPECT_EQ(ids(shard.detections()), (std::vector<std::string>{"t.thr"})) << "with an unrelated event: " << unrelated;
  }
}

TEST(Engine, PantherBruteForceScenarioThroughTheParser) {
  LoadResult pack = load_rules({std::filesystem::path(OG_SOURCE_DIR) / "tests/data/rules/pack"});
  ASSERT_TRUE(pack.ok()) << render_text(pack.diagnostics);
  auto parser = make_okta_parser(&pack.rules->fields);
  Shard shard(pack.rules);
  auto lines =
      read_lines(std::filesystem::path(OG_SOURCE_DIR) / "tests/data/rules/pack/tests/brute_force_logins.ndjson");
  ASSERT_EQ(lines.size(), 10u);
  for (const std::string& line : lines) {
    auto ev = parser->parse(line, RecordMeta{Symbol::intern("okta"), {}, 0});
    ASSERT_TRUE(ev.has_value());
    shard.push(std::move(*ev));
  }
  shard.flush();
  std::vector<std::string> got = ids(shard.detections());
  EXPECT_NE(std::find(got.begin(), got.end(), "okta.brute_force_by_user"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "okta.brute_force_then_success"), got.end());
  // 30 (brute force) + 60 (then success) = 90 >= 50: step-up.
  bool step_up = false;
  for (const Decision& d : shard.decisions())
    step_up |= d.action == ActionKind::add_to_group && d.group == "Step-up MFA";
  EXPECT_TRUE(step_up);
  EXPECT_GE(shard.risk("00uu1uuuuIlllaaaa356"), 89.0);
}

}  // namespace
}  // namespace og::test
