#include "correlator/risk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "correlator/watermark.h"
#include "tests/unit/correlator/rule_test_util.h"

namespace og::test {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

RiskContribution points(double p, EventTime t) {
  return RiskContribution{Symbol::intern("d"), {}, p, t, {}};
}

// Risk decayed under half a point is gone whether or not a sweep has dropped it yet, so when
// sweeps run cannot change a later value.
TEST(RiskLedger, ResidualRiskIsGoneWithOrWithoutASweep) {
  RiskLedger swept(hours(1)), unswept(hours(1));
  const UserRef u{"u", IdentityKind::okta_id};
  for (RiskLedger* ledger : {&swept, &unswept})
    ledger->add(u, points(10, at(hours(0))));
  // 10 points after 5 half-lives: 0.3125.
  EXPECT_EQ(unswept.value("u", at(hours(5))), 0.0);
  EXPECT_EQ(swept.sweep(at(hours(5))), 1u);
  for (RiskLedger* ledger : {&swept, &unswept})
    EXPECT_EQ(ledger->add(u, points(20, at(hours(6)))), 20.0);
  EXPECT_EQ(swept.value("u", at(hours(7))), unswept.value("u", at(hours(7))));
  ASSERT_NE(unswept.find("u"), nullptr);
  EXPECT_EQ(unswept.find("u")->contributions.size(), 1u);
}

TEST(RiskLedger, DecayIsExactAndOrderIndependent) {
  std::vector<std::pair<double, EventTime>> adds;
  std::mt19937 rng(1);
  for (int i = 0; i < 50; ++i)
    adds.emplace_back(1 + rng() % 40, at(minutes(static_cast<int>(rng() % 600))));
  auto expected = [&](EventTime now) {
    double v = 0;
    for (auto& [p, t] : adds)
      v += p * std::exp2(-std::chrono::duration<double>(now - t).count() / 3600.0);
    return v;
  };
  for (unsigned seed : {1u, 2u, 3u}) {
    auto order = adds;
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    RiskLedger ledger(hours(1));
    for (auto& [p, t] : order)
      ledger.add(UserRef{"u", IdentityKind::okta_id}, points(p, t));
    EXPECT_NEAR(ledger.value("u", at(hours(11))), expected(at(hours(11))), 1e-9);
    // Contributions stay in time order whatever the arrival order.
    const UserRisk* r = ledger.find("u");
    ASSERT_TRUE(r);
    EXPECT_TRUE(std::is_sorted(r->contributions.begin(), r->contributions.end(),
                               [](const auto& a, const auto& b) { return a.time < b.time; }));
    EXPECT_LE(r->contributions.size(), RiskLedger::kMaxContributions);
  }
  RiskLedger ledger(hours(1));
  ledger.add(UserRef{"u", IdentityKind::okta_id}, points(10, at(hours(0))));
  EXPECT_NEAR(ledger.value("u", at(hours(2))), 2.5, 1e-12);
  EXPECT_EQ(ledger.sweep(at(hours(4))), 0u);  // 0.625 left
  EXPECT_EQ(ledger.sweep(at(hours(5))), 1u);  // 0.3125: forgotten
  EXPECT_EQ(ledger.size(), 0u);
}

TEST(CompactId, RoundTripsUuidsAndShortIds) {
  for (std::string s :
       {"85a5d008-e1dc-4a4e-8615-42903697579b", "85A5D008-E1DC-4A4E-8615-42903697579B", "e1", "", "0123456789abcdef"}) {
    EXPECT_EQ(CompactId::from(s).str(), s);
  }
  // Mixed-case uuids and long ids keep their text (long ones truncated, marked).
  EXPECT_EQ(CompactId::from("85A5D008-e1dc-4A4E-8615-42903697579B").str(), "85A5D008-e1dc-4~");
  EXPECT_EQ(CompactId::from("an-id-longer-than-sixteen").str(), "an-id-longer-th~");
  EXPECT_NE(CompactId::from("a"), CompactId::from("b"));
}

TEST(EntryId, RoundTripsEveryText) {
  for (std::string s :
       {"85a5d008-e1dc-4a4e-8615-42903697579b", "85A5D008-E1DC-4A4E-8615-42903697579B",
        "85A5D008-e1dc-4A4E-8615-42903697579B", "00u1abcd2EFGH3ijk697", "", "e1", "0123456789012345678901",
        "01234567890123456789012", "85a5d008-e1dc-4a4e-8615-42903697579b,85a5d008-e1dc-4a4e-8615-42903697579c",
        "85a5d008-e1dc-4a4e-8615-42903697579g"}) {
    EntryId id(s);
    EXPECT_EQ(id.str(), s);
    EXPECT_EQ(id.empty(), s.empty());
    EntryId copy = id;
    EXPECT_EQ(copy.str(), s);
    EntryId moved = std::move(copy);
    EXPECT_EQ(moved.str(), s);
    copy = moved;
    moved = EntryId("x");
    EXPECT_EQ(copy.str(), s);
    std::array<char, 36> buf;
    EXPECT_EQ(copy.view(buf), s);
  }
  EXPECT_EQ(sizeof(EntryId), 24u);
}

std::shared_ptr<const Event> shared(Event e) {
  return std::make_shared<const Event>(std::move(e));
}

TEST(ReorderBuffer, ReleasesInTimeThenUuidOrder) {
  ReorderBuffer buffer(minutes(1));
  std::vector<std::string> out;
  auto apply = [&](std::shared_ptr<const Event>&& e) { out.push_back(e->uuid.str()); };
  EXPECT_TRUE(buffer.push(shared(make_event("x", "a", at(minutes(5)), "b")), 0));
  EXPECT_TRUE(buffer.push(shared(make_event("x", "a", at(minutes(5)), "a")), 0));
  EXPECT_TRUE(buffer.push(shared(make_event("x", "a", at(minutes(4)), "z")), 1));
  buffer.release(apply);  // watermark min(5m, 4m) - 1m = 3m
  EXPECT_TRUE(out.empty());
  buffer.observe(0, at(minutes(7)));
  buffer.observe(1, at(minutes(7)));
  buffer.release(apply);
  EXPECT_EQ(out, (std::vector<std::string>{"z", "a", "b"}));
  EXPECT_FALSE(buffer.push(shared(make_event("x", "a", at(minutes(2)), "late")), 0));
  buffer.remove_partition(1);
  EXPECT_EQ(buffer.watermark(), at(minutes(6)));
}

}  // namespace
}  // namespace og::test
