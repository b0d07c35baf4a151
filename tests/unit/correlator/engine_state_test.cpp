#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "correlator/engine.h"
#include "tests/unit/correlator/rule_test_util.h"

namespace og::test {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

std::shared_ptr<const RuleSet> pack() {
  LoadResult r = load_rules({std::filesystem::path(OG_SOURCE_DIR) / "tests/data/rules/pack"});
  EXPECT_TRUE(r.ok()) << render_text(r.diagnostics);
  return r.rules;
}

// A reproducible mixed stream over a few users and addresses that makes every pack detection fire.
std::vector<Event> stream(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<Event> out;
  const char* countries[] = {"US", "BR", "JP"};
  const double lats[] = {40.7, -23.5, 35.7}, lons[] = {-74.0, -46.6, 139.7};
  for (std::size_t i = 0; i < n; ++i) {
    std::string user = "00u" + std::to_string(rng() % 12);
    auto t = at(seconds(static_cast<long>(i) * 20));
    Event e;
    unsigned kind = rng() % 10;
    if (kind < 4) {
      e = make_event("user.session.start", user, t);
      e.outcome_result = Symbol::intern("FAILURE");
      e.client_ip = "203.0.113." + std::to_string(rng() % 4);
    } else if (kind < 7) {
      e = make_event("user.session.start", user, t);
      e.outcome_result = Symbol::intern("SUCCESS");
      unsigned c = rng() % 3;
      e.geo.country = Symbol::intern(countries[c]);
      e.geo.lat = lats[c];
      e.geo.lon = lons[c];
      e.user_agent_browser = Symbol::intern(rng() % 2 ? "CHROME" : "FIREFOX");
      e.client_ip = "198.51.100." + std::to_string(rng() % 4);
    } else if (kind == 7) {
      e = make_event("user.mfa.okta_verify.deny_push", user, t);
    } else if (kind == 8) {
      e = make_event("user.authentication.auth_via_mfa", user, t);
      e.outcome_result = Symbol::intern("SUCCESS");
    } else {
      e = make_event(rng() % 2 ? "user.mfa.factor.deactivate" : "user.account.reset_password", user, t);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> summary(const std::vector<Detection>& ds) {
  std::vector<std::string> out;
  for (const Detection& d : ds) {
    std::string users;
    for (const UserRef& u : d.users)
      users += u.id + ",";
    out.push_back(fmt::format("{}|{}|{}|{}", d.id, d.key, d.time.time_since_epoch().count(), users));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> summary(const std::vector<Decision>& ds) {
  std::vector<std::string> out;
  for (const Decision& d : ds)
    out.push_back(fmt::format("{}|{}|{}", d.id, d.user.id, to_string(d.action)));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(EngineState, SnapshotRestoreContinuesAsIfNeverStopped) {
  auto rules = pack();
  std::vector<Event> events = stream(3000, 11);
  Shard whole(rules);
  for (const Event& e : events)
    whole.apply(e);

  Shard first(rules);
  for (std::size_t i = 0; i < 1500; ++i)
    first.apply(events[i]);
  std::string blob = first.snapshot();
  Shard second(rules);
  Diagnostics diags;
  ASSERT_TRUE(second.restore(blob, diags)) << render_text(diags);
  EXPECT_TRUE(diags.empty());
  EXPECT_EQ(second.metrics().tracked_keys, first.metrics().tracked_keys);
  for (std::size_t i = 1500; i < events.size(); ++i)
    second.apply(events[i]);

  std::vector<Detection> joined = first.take_detections();
  for (Detection& d : second.take_detections())
    joined.push_back(std::move(d));
  std::vector<Decision> joined_dec = first.take_decisions();
  for (Decision& d : second.take_decisions())
    joined_dec.push_back(std::move(d));
  auto expect = summary(whole.take_detections());
  EXPECT_GT(expect.size(), 20u);
  EXPECT_EQ(summary(joined), expect);
  EXPECT_EQ(summary(joined_dec), summary(whole.take_decisions()));
  EXPECT_NEAR(second.risk("00u3"), whole.risk("00u3"), 1e-9);
}

TEST(EngineState, CorruptSnapshotsAreRejectedWithoutTouchingState) {
  auto rules = pack();
  Shard a(rules);
  for (const Event& e : stream(500, 3))
    a.apply(e);
  std::string blob = a.snapshot();
  Shard b(rules);
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, blob.size() / 2, blob.size() - 1}) {
    Diagnostics diags;
    EXPECT_FALSE(b.restore(std::string_view(blob).substr(0, cut), diags)) << cut;
    ASSERT_FALSE(diags.empty());
    EXPECT_NE(diags.items()[0].message.find("corrupt or incompatible snapshot"), std::string::npos);
  }
  EXPECT_EQ(b.metrics().tracked_keys, 0u);
  std::string bad = blob;
  bad[8] = 9;  // version
  Diagnostics diags;
  EXPECT_FALSE(b.restore(bad, diags));
}

// At a flush every shard fires the absences due before the latest event of any shard, as one shard
// would: here the user whose deadline passed has no later event on its own shard.
TEST(EngineState, AFlushFiresTheSameAbsencesWithAnyShardCount) {
  auto rules = load_ok(R"(detections:
  - id: t.abs
    key: actor.id
    absence:
      first: { eventType: user.mfa.factor.deactivate }
      not_followed_by: { eventType: user.mfa.factor.activate }
      within: 10m
)");
  // Two users that two shards split between them.
  std::string quiet, busy;
  for (int i = 0; quiet.empty() || busy.empty(); ++i) {
    std::string u = "00u" + std::to_string(i);
    (key_hash(u) % 2 == 0 ? quiet : busy) = u;
  }
  // The deadline (30m) falls within the lateness (2m) of the last event (31m): only the flush can
  // pass it, and on the quiet user's shard the last event is the deactivation itself.
  std::vector<Event> events;
  for (int m = 1; m <= 31; ++m) {
    if (m == 20) events.push_back(make_event("user.mfa.factor.deactivate", quiet, at(minutes(m))));
    events.push_back(make_event("user.session.start", busy, at(minutes(m))));
  }
  for (std::uint32_t shards : {1u, 2u}) {
    EngineOptions options;
    options.shards = shards;
    Engine engine(rules, options);
    for (const Event& e : events)
      engine.push(e, 0);
    engine.flush();
    EXPECT_EQ(ids(engine.take_detections()), (std::vector<std::string>{"t.abs"})) << shards << " shards";
  }
}

// A stored sequence step past the rule's last step would index past its steps when the next event
// arrives: such a snapshot is refused, not restored.
TEST(EngineState, ASnapshotWithASequenceStepPastTheLastIsRefused) {
  auto rules = load_ok(R"(detections:
  - id: t.seq
    key: actor.id
    sequence:
      within: 10m
      steps:
        - where: { eventType: deny }
        - where: { eventType: accept }
)");
  Shard a(rules);
  a.apply(make_event("deny", "u1", at(seconds(0))));  // the run now awaits step 1
  std::string blob = a.snapshot();
  // The sequence record: key hash, then the step awaited (uint32, host order as written).
  const std::uint64_t key = key_hash("u1");
  std::string pattern(reinterpret_cast<const char*>(&key), sizeof key);
  const std::uint32_t one = 1;
  pattern.append(reinterpret_cast<const char*>(&one), sizeof one);
  const std::size_t at_step = blob.find(pattern);
  ASSERT_NE(at_step, std::string::npos);
  Diagnostics ok_diags;
  Shard intact(rules);
  ASSERT_TRUE(intact.restore(blob, ok_diags)) << render_text(ok_diags);
  for (std::uint32_t step : {2u, 3u}) {
    std::string bad = blob;
    std::memcpy(&bad[at_step + sizeof key], &step, sizeof step);
    Shard b(rules);
    Diagnostics diags;
    EXPECT_FALSE(b.restore(bad, diags)) << "step " << step;
    b.apply(make_event("deny", "u1", at(seconds(1))));  // must not read past the steps
  }
}

// Snapshots store key hashes: a change to the hash must come with a new snapshot version.
TEST(EngineState, KeyHashIsXxh3AndStable) {
  EXPECT_EQ(key_hash(""), 0x2d06800538d394c2ULL);  // XXH3-64's published value for no input
  EXPECT_EQ(key_hash("00u1abcdefghijklmnop"), 0xe7b8497a7d2014a9ULL);
  EXPECT_EQ(key_hash("198.51.100.7"), 0x0c1c6c30dbd8af25ULL);
  EXPECT_EQ(key_hash("user.session.start"), 0x77ae6da0c33b2f6dULL);
}

// The key hash of snapshot version 1 (FNV-1a with a final mix), to write such a snapshot.
std::uint64_t fnv_key_hash(std::string_view key) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// A snapshot written before the key hash changed: what is keyed by hash is dropped (no key of this
// build finds it), risk, response history and pending absences (which name their key) are kept.
TEST(EngineState, ASnapshotOfTheEarlierKeyHashKeepsWhatNamesItsKey) {
  auto rules = load_ok(R"(detections:
  - id: mfa_gone
    absence: { first: { eventType: deactivate }, not_followed_by: { eventType: activate }, within: 12h }
    risk: 25
  - id: fails
    where: { eventType: fail }
    threshold: { count: 3, within: 1h }
    risk: 40
responses:
  - id: note
    when: { risk_at_least: 30 }
    do: [ notify ]
)");
  using std::chrono::hours;
  using std::chrono::minutes;
  Shard before(rules);
  for (int m : {0, 1, 2})
    before.apply(make_event("fail", "u", at(minutes(m))));  // fires: risk and a response for u
  for (int m : {3, 4})
    before.apply(make_event("fail", "v", at(minutes(m))));  // two of three in v's window
  before.apply(make_event("deactivate", "w", at(minutes(5))));
  before.apply(make_event("deactivate", "x", at(minutes(5))));
  ASSERT_EQ(before.take_detections().size(), 1u);
  std::string blob = before.snapshot();
  blob[7] = 1;  // the version, after a 7-byte magic
  blob[8] = blob[9] = blob[10] = 0;
  for (std::string_view key : {"u", "v", "w", "x"}) {
    std::uint64_t now = key_hash(key), old = fnv_key_hash(key);
    std::string from(reinterpret_cast<const char*>(&now), 8), to(reinterpret_cast<const char*>(&old), 8);
    std::size_t replaced = 0;
    for (auto at = blob.find(from); at != std::string::npos; at = blob.find(from, at + 8), ++replaced)
      blob.replace(at, 8, to);
    if (key != "u") {  // u's window emptied when it fired
      EXPECT_GT(replaced, 0u) << key;
    }
  }

  Shard after(rules);
  Diagnostics diags;
  ASSERT_TRUE(after.restore(blob, diags)) << render_text(diags);
  ASSERT_FALSE(diags.empty());
  EXPECT_NE(render_text(diags).find("snapshot of version 1"), std::string::npos) << render_text(diags);
  EXPECT_EQ(after.metrics().tracked_keys, 2u) << "the absences of w and x only";
  EXPECT_NEAR(after.risk("u", at(minutes(6))), before.risk("u", at(minutes(6))), 1e-9);
  ASSERT_TRUE(after.explain("u"));
  EXPECT_EQ(after.explain("u")->responses.size(), 1u);
  // v's window is gone: its third failure no longer completes it.
  before.apply(make_event("fail", "v", at(minutes(6))));
  after.apply(make_event("fail", "v", at(minutes(6))));
  EXPECT_EQ(before.take_detections().size(), 1u);
  EXPECT_TRUE(after.take_detections().empty());
  // The absences are kept under this build's hash: w's activation closes w's, x's fires.
  after.apply(make_event("activate", "w", at(minutes(7))));
  after.apply(make_event("other", "y", at(hours(13))));
  std::vector<Detection> fired = after.take_detections();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].id, "mfa_gone");
  EXPECT_EQ(fired[0].key, "x");
}

TEST(EngineState, ReloadKeepsStateOfUnchangedRulesOnly) {
  const std::string common = R"(detections:
  - id: keep
    where: { eventType: fail }
    threshold: { count: 3, within: 1h }
)";
  auto v1 =
      load_ok(common + "  - id: change\n    where: { eventType: fail }\n    threshold: { count: 3, within: 1h }\n");
  Shard shard(v1);
  shard.apply(make_event("fail", "u", at(minutes(0))));
  shard.apply(make_event("fail", "u", at(minutes(1))));
  // An invalid set is rejected with its diagnostics; the caller keeps running the old one.
  LoadResult broken = load_rules_from_sources({RuleSource{"r.yml", common + "  - id: change\n    threshold: 3\n"}});
  EXPECT_FALSE(broken.ok());
  EXPECT_FALSE(broken.diagnostics.empty());
  auto v2 =
      load_ok(common + "  - id: change\n    where: { eventType: fail }\n    threshold: { count: 4, within: 1h }\n");
  ReloadReport report = shard.reload(v2);
  EXPECT_EQ(report.kept, 1u);
  EXPECT_EQ(report.dropped, 1u);
  shard.apply(make_event("fail", "u", at(minutes(2))));
  // `keep` had two events before the reload: the third completes it; `change` starts over.
  EXPECT_EQ(ids(shard.detections()), std::vector<std::string>{"keep"});
}

TEST(EngineState, ShardedEngineMatchesOneShardAndRestoresAcrossShardCounts) {
  auto rules = pack();
  std::vector<Event> events = stream(4000, 5);
  Shard one(rules);
  for (const Event& e : events)
    one.push(e, 0);
  one.flush();
  auto expect = summary(one.take_detections());

  EngineOptions options;
  options.shards = 2;
  options.queue_batch = 64;
  Engine two(rules, options);
  for (std::size_t i = 0; i < 2000; ++i)
    two.push(events[i], 0);
  // Events still in the reorder buffer are not in a snapshot (the daemon stores offsets only for
  // applied events, so they are consumed again): flush first so the cut is exact.
  two.flush();
  std::vector<std::string> blobs = two.snapshot();
  ASSERT_EQ(blobs.size(), 2u);
  std::vector<std::string> before = summary(two.take_detections());
  for (std::size_t i = 2000; i < events.size(); ++i)
    two.push(events[i], 0);
  two.flush();
  std::vector<std::string> rest = summary(two.take_detections());
  std::vector<std::string> all = before;
  all.insert(all.end(), rest.begin(), rest.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, expect);

  // Restore the 2-shard snapshot into 3 shards and finish the stream there.
  options.shards = 3;
  Engine three(rules, options);
  Diagnostics diags;
  ASSERT_TRUE(three.restore(blobs, diags)) << render_text(diags);
  for (std::size_t i = 2000; i < events.size(); ++i)
    three.push(events[i], 0);
  three.flush();
  all = before;
  for (const std::string& s : summary(three.take_detections()))
    all.push_back(s);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, expect);
  // Risk sums are order-independent, so forwarded risk ends up exact.
  for (const char* user : {"00u1", "00u3", "00u7"}) {
    auto ex = three.explain(user);
    ASSERT_TRUE(ex) << user;
    EXPECT_NEAR(ex->risk, one.risk(user, ex->at), 1e-6 * ex->risk) << user;
  }
}

TEST(EngineState, ShardedDecisionsMatchWhenRiskStaysWithTheKeyOwner) {
  // Actor-keyed detections only: every user's risk is applied by the shard that owns the user, so
  // decisions are the same for any shard count. (Risk forwarded between shards, from keys such as an
  // IP address, reaches its user a batch later; see docs/rules.md, "Shards".)
  auto rules = load_ok(R"(detections:
  - id: bf
    where: { eventType: user.session.start, outcome.result: FAILURE }
    threshold: { count: 3, within: 10m }
    risk: 30
  - id: fatigue
    sequence:
      within: 10m
      steps:
        - { where: { eventType: user.mfa.okta_verify.deny_push }, count: 2 }
        - { where: { eventType: user.authentication.auth_via_mfa } }
    risk: 50
responses:
  - id: step_up
    when: { risk_at_least: 50 }
    do: [ { add_to_group: { group: Step-up } } ]
  - id: contain
    when: { risk_at_least: 100 }
    tiers: [ { do: [ clear_sessions ] }, { do: [ { suspend: { ttl: 1h } } ] } ]
)");
  std::vector<Event> events = stream(4000, 9);
  Shard one(rules);
  for (const Event& e : events)
    one.push(e, static_cast<std::int32_t>(e.published.time_since_epoch().count() % 2));
  one.flush();
  auto expect = summary(one.take_decisions());
  EXPECT_GT(expect.size(), 10u);
  Engine two(rules, EngineOptions{2, {}, {}, {}, 32});
  for (const Event& e : events)
    two.push(e, static_cast<std::int32_t>(e.published.time_since_epoch().count() % 2));
  two.flush();
  EXPECT_EQ(summary(two.take_decisions()), expect);
}

// Three failed sign-ins of a user within 10 minutes; the partition tests below feed u1's.
std::shared_ptr<const RuleSet> threshold_rules() {
  return load_ok(R"(detections:
  - id: bf
    where: { eventType: user.session.start, outcome.result: FAILURE }
    threshold: { count: 3, within: 10m }
    risk: 30
)");
}

EngineOptions two_shards_one_minute_late() {
  EngineOptions options;
  options.shards = 2;
  options.lateness = std::chrono::minutes(1);
  return options;
}

Event failure(EventTime t) {
  Event e = make_event("user.session.start", "u1", t);
  e.outcome_result = Symbol::intern("FAILURE");
  return e;
}

// An event whose key values belong to more than eight shards reaches every one of them.
TEST(EngineState, AnEventReachesEveryShardItsKeysBelongTo) {
  const std::vector<std::string> fields = {"actor.id",
                                           "actor.alternateId",
                                           "client.ipAddress",
                                           "uuid",
                                           "transaction.id",
                                           "authenticationContext.externalSessionId",
                                           "authenticationContext.rootSessionId",
                                           "client.userAgent.rawUserAgent",
                                           "client.geographicalContext.city",
                                           "securityContext.isp"};
  std::string yaml = "detections:\n";
  for (std::size_t i = 0; i < fields.size(); ++i)
    yaml += fmt::format("  - id: by_{}\n    where: {{ eventType: x }}\n    key: {}\n", i, fields[i]);
  const std::uint32_t shards = 12;
  // A value per field, each in a shard of its own.
  std::vector<std::string> values;
  std::vector<std::uint64_t> used;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    for (int j = 0;; ++j) {
      std::string v = fmt::format("value-{}-{}", i, j);
      std::uint64_t shard = key_hash(v) % shards;
      if (std::find(used.begin(), used.end(), shard) != used.end()) continue;
      used.push_back(shard);
      values.push_back(v);
      break;
    }
  }
  Event e = make_event("x", values[0], at(minutes(1)));
  e.actor.alternate_id = values[1];
  e.client_ip = values[2];
  e.uuid = values[3];
  e.transaction_id = values[4];
  e.external_session_id = values[5];
  e.root_session_id = values[6];
  e.user_agent = values[7];
  e.geo.city = values[8];
  e.isp = values[9];
  EngineOptions options;
  options.shards = shards;
  Engine engine(load_ok(yaml), options);
  engine.push(std::move(e), 0);
  engine.flush();
  std::vector<std::string> fired;
  for (const Detection& d : engine.take_detections())
    fired.push_back(d.id);
  std::sort(fired.begin(), fired.end());
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < fields.size(); ++i)
    expected.push_back(fmt::format("by_{}", i));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(fired, expected);
}

// A partition that went quiet holds every shard's watermark at its last event; removing it (the
// daemon does so after idle_release) lets the rest be applied, and `released()` says how far.
TEST(EngineState, RemovingAQuietPartitionReleasesTheOthers) {
  Engine engine(threshold_rules(), two_shards_one_minute_late());
  engine.push(make_event("edr.alert", "u9", at(std::chrono::minutes(0))), 7);  // the quiet partition
  engine.sync();  // every shard now knows partition 7's progress
  for (int m = 1; m <= 30; m += 2)
    engine.push(failure(at(std::chrono::minutes(m))), 1);
  engine.sync();
  EXPECT_TRUE(engine.take_detections().empty()) << "held back by partition 7";
  EXPECT_LT(engine.released(), at(std::chrono::minutes(1)));
  engine.remove_partition(7);
  engine.sync();
  EXPECT_FALSE(engine.take_detections().empty());
  EXPECT_GE(engine.released(), at(std::chrono::minutes(28)));
  EXPECT_LT(engine.released(), at(std::chrono::minutes(30))) << "the lateness still applies to partition 1";
}

// The daemon removes a revoked partition possibly right after pushing its last events: the removal
// must not reach a shard before those events (which would bring the partition back there for good).
TEST(EngineState, APartitionRemovedRightAfterItsEventsStaysRemoved) {
  Engine engine(threshold_rules(), two_shards_one_minute_late());
  engine.push(make_event("edr.alert", "u9", at(std::chrono::minutes(0))), 7);  // not yet sent to its shard
  engine.remove_partition(7);
  for (int m = 1; m <= 30; m += 2)
    engine.push(failure(at(std::chrono::minutes(m))), 1);
  engine.sync();
  EXPECT_FALSE(engine.take_detections().empty());
  EXPECT_GE(engine.released(), at(std::chrono::minutes(28)));
}

// A partition announced before it delivers anything (a Kafka assignment) holds back the events
// pushed after the announcement, in every shard.
TEST(EngineState, AnObservedPartitionHoldsTheEventsPushedAfterIt) {
  Engine engine(threshold_rules(), two_shards_one_minute_late());
  engine.push(failure(at(std::chrono::minutes(0))), 1);
  engine.sync();
  engine.observe(7, EventTime{});
  for (int m = 1; m <= 30; m += 2)
    engine.push(failure(at(std::chrono::minutes(m))), 1);
  engine.sync();
  EXPECT_TRUE(engine.take_detections().empty()) << "held back by partition 7";
  engine.push(make_event("edr.alert", "u9", at(std::chrono::minutes(40))), 7);
  engine.sync();
  EXPECT_FALSE(engine.take_detections().empty());
}

}  // namespace
}  // namespace og::test
