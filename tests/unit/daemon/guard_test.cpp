#include "daemon/guard.h"

#include <gtest/gtest.h>

#include "daemon/breaker.h"
#include "daemon/exception_resolver.h"
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
  ex.set_login_owner("admin@example.com", "00uADMIN", now);  // as the daemon resolves it
  GuardConfig cfg;
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uBREAK"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uX", "admin@example.COM"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uX", "admin@example.com"), now + 2h).kind,
            GuardVerdict::Kind::proceed);  // the login exception expired
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uOLD"), now).kind, GuardVerdict::Kind::proceed);
  EXPECT_NE(evaluate_guard(cfg, ex, suspend("00uBREAK"), now).reason.find("break-glass"), std::string::npos);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uADMIN"), now).kind, GuardVerdict::Kind::skip);  // the login's owner

  ex.add({ExceptionEntry::Type::group, "00gADMINS", std::nullopt, "admins"});
  // Unknown members: wait, never act on someone who might be a break-glass admin.
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uY"), now).kind, GuardVerdict::Kind::defer);
  ex.set_group_members("00gADMINS", {"00uY"}, now);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uY"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uZ"), now).kind, GuardVerdict::Kind::proceed);
  ex.set_group_members("00gADMINS", {}, now + 1min);  // refreshed: Y left the group
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uY"), now).kind, GuardVerdict::Kind::proceed);
}

// Detections name a user by Okta id, an alert not resolved yet by login: an exception must hold
// whichever name the action carries, and wait while it cannot tell.
TEST(Guard, ExceptionsHoldForEitherNameOfTheUser) {
  const TimePoint now = from_ms(1'000'000);
  GuardConfig cfg;
  auto by_login = [](const std::string& login) { return suspend(login, login); };
  ExceptionList ex;
  ex.add({ExceptionEntry::Type::login, "Break.Glass@example.com", std::nullopt, "break-glass"});
  ex.add({ExceptionEntry::Type::user, "00uOWNER", std::nullopt, "org owner"});
  // Not resolved yet: an action named by id cannot be told apart from the login entry, nor one
  // named by login from the user entry.
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uBREAK"), now).kind, GuardVerdict::Kind::defer);
  EXPECT_EQ(evaluate_guard(cfg, ex, by_login("owner@example.com"), now).kind, GuardVerdict::Kind::defer);
  // Named the way the entry is: decided without any resolution.
  EXPECT_EQ(evaluate_guard(cfg, ex, by_login("break.glass@EXAMPLE.com"), now).kind, GuardVerdict::Kind::skip);
  // Named by an email, the user may still be the login entry's: wait.
  EXPECT_EQ(evaluate_guard(cfg, ex, by_login("bg.mail@example.org"), now).kind, GuardVerdict::Kind::defer);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uOWNER", "owner@example.com"), now).kind, GuardVerdict::Kind::skip);

  ex.set_login_owner("break.glass@example.com", "00uBREAK", now, {"BG.Mail@example.org"});
  ex.set_user_names("00uOWNER", {"Owner@Example.com", "owner.alias@example.org"}, now);
  auto v = evaluate_guard(cfg, ex, suspend("00uBREAK"), now);
  EXPECT_EQ(v.kind, GuardVerdict::Kind::skip);
  EXPECT_NE(v.reason.find("break-glass"), std::string::npos);
  EXPECT_EQ(evaluate_guard(cfg, ex, by_login("owner@example.com"), now).kind, GuardVerdict::Kind::skip);
  // An alert names users by email by default, which need not be their login.
  EXPECT_EQ(evaluate_guard(cfg, ex, by_login("Owner.Alias@example.org"), now).kind, GuardVerdict::Kind::skip);
  // A mapping that puts an email where the id goes, padded: the executor would resolve it, trimmed.
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend(" Owner.Alias@example.org "), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, ex, by_login("bg.mail@example.org"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, ex, suspend("00uOTHER"), now).kind, GuardVerdict::Kind::proceed);
  EXPECT_EQ(evaluate_guard(cfg, ex, by_login("other@example.com"), now).kind, GuardVerdict::Kind::proceed);

  // Okta has no such user: resolved to nothing, protecting nobody, holding nobody back.
  ExceptionList gone;
  gone.add({ExceptionEntry::Type::login, "left@example.com", std::nullopt, ""});
  gone.set_login_owner("left@example.com", "", now);
  EXPECT_EQ(evaluate_guard(cfg, gone, suspend("00uX"), now).kind, GuardVerdict::Kind::proceed);

  // Group members match by login too.
  ExceptionList group;
  group.add({ExceptionEntry::Type::group, "00gADMINS", std::nullopt, "admins"});
  group.set_group_members("00gADMINS", {"00uADMIN"}, now, {"Admin@Example.com", "admin.mail@example.org"});
  EXPECT_EQ(evaluate_guard(cfg, group, by_login("admin@example.com"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, group, by_login("admin.mail@example.org"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, group, by_login("x@example.com"), now).kind, GuardVerdict::Kind::proceed);

  // A reload keeps what was resolved for the entries it keeps; a new entry waits for its own.
  ExceptionList reloaded;
  reloaded.add({ExceptionEntry::Type::login, "break.glass@example.com", std::nullopt, "break-glass"});
  reloaded.add({ExceptionEntry::Type::login, "new@example.com", std::nullopt, ""});
  reloaded.keep_resolved(ex);
  EXPECT_EQ(evaluate_guard(cfg, reloaded, suspend("00uBREAK"), now).kind, GuardVerdict::Kind::skip);
  EXPECT_EQ(evaluate_guard(cfg, reloaded, suspend("00uX"), now).kind, GuardVerdict::Kind::defer);
  reloaded.set_login_owner("new@example.com", "00uNEW", now);
  EXPECT_EQ(evaluate_guard(cfg, reloaded, suspend("00uX"), now).kind, GuardVerdict::Kind::proceed);
  ExceptionList regrouped;
  regrouped.add({ExceptionEntry::Type::group, "00gADMINS", std::nullopt, "admins"});
  regrouped.keep_resolved(group);
  EXPECT_EQ(evaluate_guard(cfg, regrouped, suspend("00uADMIN"), now).kind, GuardVerdict::Kind::skip);
}

// What Okta answers decides what the resolver hands on: a user it does not know protects nobody;
// a failed lookup changes nothing (the earlier resolution stays, or the actions keep waiting).
TEST(Guard, ExceptionResolverHandsOnAnswersAndKeepsFailuresOut) {
  auto failure = [](okta::OutcomeKind kind) { return okta::Failure{kind, 0, std::nullopt, "test"}; };
  ExceptionLookups lookups{
      [&](std::string id, okta::Lookups::Callback<std::vector<okta::OktaUser>> cb) {
        if (id == "00gGoodGroup00000001")
          return cb(std::vector<okta::OktaUser>{{"00uA", "ACTIVE", "A@example.com", "a.mail@example.org"}});
        if (id == "00gAdministrators001") return cb(std::vector<okta::OktaUser>{{"00uROOT", "ACTIVE", "", ""}});
        cb(failure(okta::OutcomeKind::transient));
      },
      [&](std::string name, okta::Lookups::Callback<okta::OktaGroup> cb) {
        if (name == "Okta Administrators") return cb(okta::OktaGroup{"00gAdministrators001", "OKTA_GROUP", name, ""});
        cb(failure(okta::OutcomeKind::not_found));
      },
      [&](std::string id, okta::Lookups::Callback<okta::OktaUser> cb) {
        if (id == "00uOWNER")
          return cb(okta::OktaUser{"00uOWNER", "ACTIVE", "owner@example.com", "owner.mail@example.org"});
        cb(failure(id == "00uGONE" ? okta::OutcomeKind::not_found : okta::OutcomeKind::rate_limited));
      },
      [&](std::string login, okta::Lookups::Callback<okta::OktaUser> cb) {
        if (login == "break@example.com")
          return cb(okta::OktaUser{"00uBREAK", "ACTIVE", login, "break.mail@example.org"});
        cb(failure(okta::OutcomeKind::not_found));
      }};
  std::vector<std::string> got;
  auto joined = [](const std::vector<std::string>& names) {
    std::string all;
    for (const auto& n : names)
      all += " " + n;
    return all;
  };
  ExceptionSink sink{[&](const std::string& g, std::vector<std::string> ids, std::vector<std::string> names) {
                       got.push_back("group " + g + " " + ids.at(0) + joined(names));
                     },
                     [&](const std::string& login, std::string id, std::vector<std::string> names) {
                       got.push_back("login " + login + " -> " + id + joined(names));
                     },
                     [&](const std::string& id, std::vector<std::string> names) {
                       got.push_back("user " + id + " ->" + joined(names));
                     }};
  std::vector<std::string> logged;
  resolve_exceptions({{"00gGoodGroup00000001", "00gDownGroup00000001", "Okta Administrators", "No Such Group"},
                      {"00uOWNER", "00uGONE", "00uBUSY"},
                      {"break@example.com", "x@y"}},
                     lookups, sink, [&](LogLevel level, std::string message) {
                       logged.push_back(std::string(to_string(level)) + " " + message);
                     });
  // A group written by name is found by its exact name, and keeps that name in the list.
  EXPECT_EQ(got,
            (std::vector<std::string>{
                "group 00gGoodGroup00000001 00uA A@example.com a.mail@example.org", "group Okta Administrators 00uROOT",
                "user 00uOWNER -> owner@example.com owner.mail@example.org", "user 00uGONE ->",
                "login break@example.com -> 00uBREAK break@example.com break.mail@example.org", "login x@y -> "}));
  ASSERT_EQ(logged.size(), 5u);
  EXPECT_EQ(logged[0].rfind("error exception group 00gDownGroup00000001", 0), 0u) << logged[0];
  EXPECT_EQ(logged[1].rfind("error exception group 'No Such Group'", 0), 0u) << logged[1];
  EXPECT_EQ(logged[2].rfind("warn exception user 00uGONE", 0), 0u) << logged[2];
  EXPECT_EQ(logged[3].rfind("error exception user 00uBUSY", 0), 0u) << logged[3];
  EXPECT_EQ(logged[4].rfind("warn exception login x@y", 0), 0u) << logged[4];
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

TEST(Revert, OnlyANewerDecisionThatTookOverTheStateBlocks) {
  auto prev = effective(1, ActionState::done, 3600s, 0);
  EXPECT_TRUE(revert_blocked(prev, effective(2, ActionState::already_in_state, 600s, 1)));
  for (auto state : {ActionState::decided, ActionState::sending, ActionState::held, ActionState::skipped,
                     ActionState::failed, ActionState::reverted})
    EXPECT_FALSE(revert_blocked(prev, effective(2, state, 0s, 1))) << to_string(state);
  // Permanent and perhaps applied before it gave up: undoing the state might undo it.
  auto gave_up = effective(2, ActionState::failed, 0s, 1);
  gave_up.possibly_sent = true;
  EXPECT_TRUE(revert_blocked(prev, gave_up));
  gave_up.action.ttl = 600s;
  EXPECT_FALSE(revert_blocked(prev, gave_up));
}

}  // namespace
}  // namespace og::test
