#include "daemon/guard.h"

#include <gtest/gtest.h>

#include "daemon/breaker.h"
#include "daemon/revert.h"

namespace og::test {
namespace {

using namespace og::daemon;
using namespace std::chrono_literals;

PlannedAction suspend(const std::string& user, const std::string& login = "") {
  PlannedAction a;
  a.kind = ActionKind::suspend;
  a.user_id = user;
  a.login = login;
  a.incident_id = "inc";
  a.detection_ids = {"okta.brute_force"};
  return a;
}

TEST(Guard, ExceptionsByUserLoginAndGroupWithExpiry) {
  const TimePoint now = from_ms(1'000'000);
  ExceptionList ex;
  ex.add({ExceptionEntry::Type::user, "00uBREAK", std::nullopt, "break-glass"});
  ex.add({ExceptionEntry::Type::login, "Admin@Example.com", now + 1h, ""});
  ex.add({ExceptionEntry::Type::user, "00uOLD", now - 1s, "expired"});
  GuardConfig cfg;
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uBREAK"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uX", "admin@example.COM"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uX", "admin@example.com"), now + 2h).kind,
            GuardVerdict::Kind::proceed);  // the login exception expired
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uOLD"), now).kind, GuardVerdict::Kind::proceed);
  EXPECT_NE(evaluate_guard(cfg, ex, suspend("00uBREAK"), now).reason.find("break-glass"), std::string::npos);

  ex.add({ExceptionEntry::Type::group, "00gADMINS", std::nullopt, "admins"});
  // Unknown members: wait, never act on someone who might be a break-glass admin.
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uY"), now).kind, GuardVerdict::Kind::defer);
  ex.set_group_members("00gADMINS", {"00uY"}, now);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uY"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uZ"), now).kind, GuardVerdict::Kind::proceed);
  ex.set_group_members("00gADMINS", {}, now + 1min);  // refreshed: Y left the group
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uY"), now).kind, GuardVerdict::Kind::proceed);
}

TEST(Guard, DryRunGlobalPerDetectionPerResponse) {
  const TimePoint now = from_ms(1'000'000);
  ExceptionList ex;
  GuardConfig cfg;
  auto a = suspend("00u1");
  EXPECT_EQ(evaluate_guard(cfg, ex, a, now).kind, GuardVerdict::Kind::proceed);
  cfg.shadow_detections = {"okta.brute_force"};
  auto v = evaluate_guard(cfg, ex, a, now);
  EXPECT_EQ(v.kind, GuardVerdict::Kind::skip);
  EXPECT_TRUE(v.would_have);
  cfg.shadow_detections.clear();
  a.dry_run = true;
  EXPECT_TRUE(evaluate_guard(cfg, ex, a, now).would_have);
  a.dry_run = false;
  cfg.dry_run = true;
  EXPECT_EQ(evaluate_guard(cfg, ex, a, now).reason, "dry_run: global");
  // An excepted user is reported as excepted even in shadow mode.
  ex.add({ExceptionEntry::Type::user, "00u1", std::nullopt, ""});
  EXPECT_FALSE(evaluate_guard(cfg, ex, a, now).would_have);
}

TEST(Guard, CooldownPerKind) {
  GuardConfig cfg;
  cfg.default_cooldown = 600s;
  cfg.cooldowns[ActionKind::clear_sessions] = 0s;
  EXPECT_EQ(cooldown_for(cfg, ActionKind::suspend), 600s);
  EXPECT_EQ(cooldown_for(cfg, ActionKind::clear_sessions), 0s);
}

TEST(Breaker, TripsAfterNAndHoldsEverythingBeyond) {
  Breaker b({3, 300s, 0s});
  std::int64_t t = 1'000'000;
  EXPECT_TRUE(b.admit(1, t).allowed);
  EXPECT_TRUE(b.admit(2, t + 1).allowed);
  EXPECT_TRUE(b.admit(2, t + 2).allowed);  // a resend of a counted action does not count again
  EXPECT_TRUE(b.admit(3, t + 3).allowed);
  auto fourth = b.admit(4, t + 4);
  EXPECT_FALSE(fourth.allowed);
  EXPECT_TRUE(fourth.tripped_now);
  EXPECT_TRUE(b.tripped());
  auto fifth = b.admit(5, t + 400'000);  // long after the window: still held until released
  EXPECT_FALSE(fifth.allowed);
  EXPECT_FALSE(fifth.tripped_now);
  EXPECT_FALSE(b.maybe_rearm(t + 10'000'000));  // rearm_after 0: operator only
  b.release(t + 500'000, "operator");
  EXPECT_FALSE(b.tripped());
  EXPECT_EQ(b.in_window(t + 500'000), 0u);
  EXPECT_TRUE(b.admit(6, t + 500'001).allowed);
}

TEST(Breaker, SlidingWindowCoolDownAndRestore) {
  Breaker b({2, 60s, 600s});
  std::int64_t t = 1'000'000;
  EXPECT_TRUE(b.admit(1, t).allowed);
  EXPECT_TRUE(b.admit(2, t + 30'000).allowed);
  EXPECT_TRUE(b.admit(3, t + 60'001).allowed);  // 1 left the window
  EXPECT_FALSE(b.admit(4, t + 60'002).allowed);
  EXPECT_FALSE(b.maybe_rearm(t + 60'002 + 599'999));
  // Persisted trip survives a restart.
  Breaker restarted({2, 60s, 600s});
  restarted.restore(b.record(), {});
  EXPECT_TRUE(restarted.tripped());
  EXPECT_FALSE(restarted.admit(5, t + 70'000).allowed);
  EXPECT_TRUE(restarted.maybe_rearm(t + 60'002 + 600'000));
  EXPECT_TRUE(restarted.admit(5, t + 700'000).allowed);
  // Restore counts sends already in the window.
  Breaker counted({2, 60s, 0s});
  counted.restore({}, {{10, t}, {11, t + 1}});
  EXPECT_FALSE(counted.admit(12, t + 2).allowed);
}

ActionRecord effective(std::int64_t id, ActionState state, std::chrono::seconds ttl, std::int64_t decided_ms) {
  ActionRecord r;
  r.id = id;
  r.action.kind = ActionKind::suspend;
  r.action.user_id = "00u1";
  r.action.ttl = ttl;
  r.state = state;
  r.decided_ms = decided_ms;
  return r;
}

TEST(Revert, PlanUsesTtlAndCooldownRepeats) {
  auto a = effective(1, ActionState::done, 3600s, 0);
  auto plan = plan_revert(a, 1000, {}, std::nullopt);
  EXPECT_TRUE(plan.schedule);
  EXPECT_EQ(plan.due_ms, 1000 + 3'600'000);
  auto later = effective(2, ActionState::skipped, 3600s, 600'000);
  plan = plan_revert(a, 1000, {later}, std::nullopt);
  EXPECT_EQ(plan.due_ms, 600'000 + 3'600'000);
  auto permanent = effective(3, ActionState::skipped, 0s, 700'000);
  EXPECT_FALSE(plan_revert(a, 1000, {later, permanent}, std::nullopt).schedule);
  auto no_ttl = effective(4, ActionState::done, 0s, 0);
  EXPECT_FALSE(plan_revert(no_ttl, 1000, {}, std::nullopt).schedule);
  auto clear = effective(5, ActionState::done, 60s, 0);
  clear.action.kind = ActionKind::clear_sessions;
  EXPECT_FALSE(plan_revert(clear, 1000, {}, std::nullopt).schedule);
}

TEST(Revert, AlreadyInStateIsRevertedOnlyWhenTheStateIsOurs) {
  auto a = effective(2, ActionState::already_in_state, 3600s, 0);
  // An admin suspended the user before us: not ours to undo.
  auto plan = plan_revert(a, 1000, {}, std::nullopt);
  EXPECT_FALSE(plan.schedule);
  EXPECT_NE(plan.note.find("already in this state"), std::string::npos);
  // Our own earlier send may have landed before a crash.
  a.possibly_sent = true;
  EXPECT_TRUE(plan_revert(a, 1000, {}, std::nullopt).schedule);
  a.possibly_sent = false;
  // An earlier suspension of ours with a revert pending: ours, and the newer one's revert wins.
  auto prior = effective(1, ActionState::done, 3600s, 0);
  prior.revert_state = RevertState::scheduled;
  EXPECT_TRUE(plan_revert(a, 1000, {}, prior).schedule);
  prior.revert_state = RevertState::superseded;  // dropped for a newer decision: this one
  EXPECT_TRUE(plan_revert(a, 1000, {}, prior).schedule);
  // An earlier permanent suspension of ours: never undone by a later temporary one.
  auto permanent = effective(1, ActionState::done, 0s, 0);
  a.possibly_sent = true;
  EXPECT_FALSE(plan_revert(a, 1000, {}, permanent).schedule);
}

TEST(Revert, FollowersExtendOrCancelAndNewerDecisionsBlock) {
  auto prev = effective(1, ActionState::done, 3600s, 0);
  prev.revert_state = RevertState::scheduled;
  prev.revert_due_ms = 3'600'000;
  auto f = effective(2, ActionState::skipped, 3600s, 1'000'000);
  EXPECT_TRUE(absorb_follower(prev, f));
  EXPECT_EQ(prev.revert_due_ms, 4'600'000);
  auto shorter = effective(3, ActionState::skipped, 60s, 1'000'000);
  EXPECT_FALSE(absorb_follower(prev, shorter));
  EXPECT_EQ(prev.revert_due_ms, 4'600'000);
  auto perm = effective(4, ActionState::skipped, 0s, 1'000'000);
  EXPECT_TRUE(absorb_follower(prev, perm));
  EXPECT_EQ(prev.revert_state, RevertState::superseded);
  EXPECT_FALSE(revert_blocked(prev, std::nullopt));
  EXPECT_TRUE(revert_blocked(prev, effective(5, ActionState::done, 0s, 2)));
}

}  // namespace
}  // namespace og::test
