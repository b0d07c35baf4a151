#include "daemon/response.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "daemon/actions_cli.h"
#include "daemon/audit.h"
#include "daemon/response_okta.h"
#include "daemon/response_testing.h"

namespace og::test {
namespace {

using namespace og::daemon;
using namespace std::chrono_literals;
using og::daemon::testing::FakeOkta;
using og::daemon::testing::FakeUser;
using og::daemon::testing::ManualClock;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

PlannedAction action(ActionKind kind, const std::string& user, const std::string& incident,
                     std::chrono::seconds ttl = 0s) {
  PlannedAction a;
  a.kind = kind;
  a.user_id = user;
  a.login = user + "@example.com";
  a.incident_id = incident;
  a.ttl = ttl;
  a.detection_ids = {"okta.mfa_push_fatigue"};
  a.contributing_uuids = {"evt-" + incident + "-1", "evt-" + incident + "-2"};
  a.risk = 90;
  if (kind == ActionKind::add_to_group || kind == ActionKind::remove_from_group) a.params = {{"group", "00gSTEPUP"}};
  return a;
}

Response one(PlannedAction a) {
  return Response{{std::move(a)}, false};
}

class ResponseEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("og-resp-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::remove_all(dir_);
    config_.state_dir = dir_;
    config_.poll_interval = 0ms;
    config_.retry_base = 1000ms;
    config_.log = [](std::string_view, std::string_view) {};
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  ResponseEngine& open() {
    engine_.reset();
    auto e = ResponseEngine::open(config_, okta_, clock_);
    EXPECT_TRUE(e) << (e ? "" : e.error());
    engine_ = std::move(*e);
    return *engine_;
  }

  SubmitResult submit(Response r) {
    SubmitResult out;
    bool called = false;
    engine_->submit(std::move(r), [&](const SubmitResult& res) {
      out = res;
      called = true;
    });
    EXPECT_TRUE(engine_->run_until_idle(5s));
    EXPECT_TRUE(called);
    return out;
  }

  std::unique_ptr<Journal> reader() {
    auto j = Journal::open(dir_, Journal::Mode::reader);
    EXPECT_TRUE(j) << (j ? "" : j.error());
    return std::move(*j);
  }

  ActionRecord row(std::int64_t id) {
    auto r = reader()->get(id);
    EXPECT_TRUE(r);
    return r ? *r : ActionRecord{};
  }

  int cli(std::vector<std::string> args, std::string* out_text = nullptr) {
    args.push_back("--state-dir");
    args.push_back(dir_.string());
    std::vector<std::string_view> views(args.begin(), args.end());
    std::ostringstream out, err;
    int rc = actions_command(views, out, err);
    if (out_text) *out_text = out.str() + err.str();
    return rc;
  }

  std::filesystem::path dir_;
  ResponseConfig config_;
  ManualClock clock_;
  FakeOkta okta_;
  std::unique_ptr<ResponseEngine> engine_;
};

TEST_F(ResponseEngineTest, StateMachineJournalAndAudit) {
  open();
  auto res = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 3600s)));
  ASSERT_TRUE(res.ok);
  ASSERT_EQ(res.action_ids.size(), 1u);
  auto r = row(res.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::done);
  EXPECT_EQ(r.outcome, "success");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.request, "POST /api/v1/users/00u1/suspend");
  EXPECT_EQ(r.revert_state, RevertState::scheduled);
  EXPECT_EQ(r.revert_due_ms, clock_.ms() + 3'600'000);
  auto history = reader()->transitions(r.id);
  std::vector<std::string> states;
  for (const auto& t : history)
    states.push_back(t.from + ">" + t.to);
  EXPECT_EQ(states, (std::vector<std::string>{">decided", "decided>sending", "sending>done", "done>done"}));
  EXPECT_TRUE(okta_.user("00u1").suspended);
  engine_->stop();
  auto audit = slurp(dir_ / "audit.jsonl");
  EXPECT_NE(audit.find(R"("to":"sending")"), std::string::npos);
  EXPECT_NE(audit.find(R"("contributing_uuids":["evt-inc-1-1","evt-inc-1-2"])"), std::string::npos);
  EXPECT_NE(audit.find(R"("detections":["okta.mfa_push_fatigue"])"), std::string::npos);
  EXPECT_NE(audit.find(R"("outcome":"success")"), std::string::npos);
  EXPECT_NE(audit.find(R"("request":"POST /api/v1/users/00u1/suspend")"), std::string::npos);
  // Every line is a JSON object on its own line.
  std::istringstream lines(audit);
  int n = 0;
  std::vector<std::string> moves;
  for (std::string line; std::getline(lines, line); ++n) {
    EXPECT_EQ(line.front(), '{');
    EXPECT_EQ(line.back(), '}');
    // What the metrics and the Kafka key read back from a line.
    if (audit_line_field(line, "kind") == "suspend")
      moves.push_back(audit_line_field(line, "user_id") + ":" + audit_line_field(line, "from") + ">" +
                      audit_line_field(line, "to"));
  }
  EXPECT_GE(n, 4);
  ASSERT_GE(moves.size(), 3u);
  EXPECT_EQ(moves[0], "00u1:>decided");
  EXPECT_EQ(moves[1], "00u1:decided>sending");
  EXPECT_EQ(moves[2], "00u1:sending>done");
  EXPECT_EQ(audit_line_field(R"({"kind":"suspend"})", "to"), "");
}

TEST_F(ResponseEngineTest, JournaledBeforeTheCallbackReleasesOffsets) {
  open();
  bool seen_in_reader = false;
  engine_->submit(one(action(ActionKind::clear_sessions, "00u1", "inc-1")), [&](const SubmitResult& res) {
    ASSERT_TRUE(res.ok);
    // A separate connection sees the committed decision when the callback runs.
    seen_in_reader = reader()->get(res.action_ids[0]).has_value();
  });
  engine_->run_until_idle(5s);
  EXPECT_TRUE(seen_in_reader);
}

TEST_F(ResponseEngineTest, RedeliveredDecisionNeverActsTwiceEvenAcrossRestart) {
  open();
  auto first = submit(one(action(ActionKind::clear_sessions, "00u1", "inc-1")));
  auto again = submit(one(action(ActionKind::clear_sessions, "00u1", "inc-1")));
  EXPECT_EQ(first.action_ids, again.action_ids);
  open();
  auto after_restart = submit(one(action(ActionKind::clear_sessions, "00u1", "inc-1")));
  EXPECT_EQ(first.action_ids, after_restart.action_ids);
  EXPECT_EQ(okta_.user("00u1").sessions_cleared, 1);
  EXPECT_EQ(okta_.call_count(), 1u);
  EXPECT_EQ(engine_->stats().deduplicated, 1u);
}

TEST_F(ResponseEngineTest, CooldownSkipsRepeatsWithinTheWindow) {
  config_.guard.default_cooldown = 600s;
  open();
  auto a = submit(one(action(ActionKind::add_to_group, "00u1", "inc-1")));
  clock_.advance(300s);
  auto b = submit(one(action(ActionKind::add_to_group, "00u1", "inc-2")));
  auto rb = row(b.action_ids[0]);
  EXPECT_EQ(rb.state, ActionState::skipped);
  EXPECT_EQ(rb.cooldown_of, a.action_ids[0]);
  EXPECT_NE(rb.reason.find("cooldown"), std::string::npos);
  // Other users and other actions are not affected.
  EXPECT_EQ(row(submit(one(action(ActionKind::add_to_group, "00u2", "inc-2"))).action_ids[0]).state, ActionState::done);
  clock_.advance(301s);
  EXPECT_EQ(row(submit(one(action(ActionKind::add_to_group, "00u1", "inc-3"))).action_ids[0]).state, ActionState::done);
  EXPECT_EQ(okta_.call_count(), 3u);
}

TEST_F(ResponseEngineTest, DryRunIsJournaledAndAuditedAsWouldHave) {
  config_.guard.shadow_detections = {"okta.mfa_push_fatigue"};
  open();
  auto res = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 3600s)));
  auto r = row(res.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::skipped);
  EXPECT_EQ(r.reason, "dry_run: detection okta.mfa_push_fatigue");
  EXPECT_EQ(r.revert_state, RevertState::none);
  EXPECT_EQ(okta_.call_count(), 0u);
  engine_->stop();
  auto audit = slurp(dir_ / "audit.jsonl");
  EXPECT_NE(audit.find(R"("to":"skipped","would_have":true)"), std::string::npos);
}

TEST_F(ResponseEngineTest, ExceptionsAreNeverActedUponAndUnresolvedGroupsWait) {
  open();
  ExceptionList ex;
  ex.add({ExceptionEntry::Type::login, "00ubreak@example.com", std::nullopt, "break-glass"});
  ex.add({ExceptionEntry::Type::group, "00gADMINS", std::nullopt, "admins"});
  engine_->set_exceptions(ex);
  auto excepted = submit(one(action(ActionKind::suspend, "00uBREAK", "inc-1")));
  EXPECT_EQ(row(excepted.action_ids[0]).state, ActionState::skipped);
  auto waiting = submit(one(action(ActionKind::suspend, "00uADMIN", "inc-1")));
  auto normal = submit(one(action(ActionKind::suspend, "00uX", "inc-1")));
  EXPECT_EQ(row(waiting.action_ids[0]).state, ActionState::decided);  // group not resolved yet
  EXPECT_EQ(row(normal.action_ids[0]).state, ActionState::decided);
  EXPECT_EQ(okta_.call_count(), 0u);
  engine_->run_until_idle(5s);
  EXPECT_EQ(engine_->stats().waiting_for_exceptions, 2u);
  engine_->set_group_members("00gADMINS", {"00uADMIN"});
  engine_->run_until_idle(5s);  // resolved: checked again at once, not after exception_retry
  EXPECT_EQ(row(waiting.action_ids[0]).state, ActionState::skipped);
  EXPECT_EQ(row(normal.action_ids[0]).state, ActionState::done);
  EXPECT_EQ(okta_.call_count(), 1u);
  EXPECT_EQ(engine_->stats().waiting_for_exceptions, 0u);
  EXPECT_FALSE(okta_.user("00uADMIN").suspended);
}

TEST_F(ResponseEngineTest, BreakerRuleGoneWrongOverAThousandUsersSendsOnlyN) {
  config_.breaker = {20, 300s, 0s};  // defaults N and T; re-arm only by operator
  open();
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 1000; ++i) {
    engine_->submit(one(action(ActionKind::suspend, "00u" + std::to_string(i), "every-signin-" + std::to_string(i))),
                    [&](const SubmitResult& r) { ids.push_back(r.action_ids.at(0)); });
    if (i % 100 == 0) engine_->run_once();
  }
  ASSERT_TRUE(engine_->run_until_idle(60s));
  ASSERT_EQ(ids.size(), 1000u);
  EXPECT_EQ(okta_.call_count(), 20u);
  auto stats = engine_->stats();
  EXPECT_EQ(stats.breaker_trips, 1u);
  EXPECT_EQ(stats.held_breaker, 980u);
  EXPECT_TRUE(stats.breaker_tripped);
  auto j = reader();
  ListFilter f;
  f.state = ActionState::held;
  f.limit = 5000;
  EXPECT_EQ(j->list(f).size(), 980u);
  f.state = ActionState::done;
  EXPECT_EQ(j->list(f).size(), 20u);
  // Non-destructive actions still go through.
  submit(one(action(ActionKind::add_to_group, "00u5", "x")));
  EXPECT_EQ(okta_.call_count(), 21u);
  // The trip survives a restart.
  open();
  submit(one(action(ActionKind::suspend, "00uNEW", "later")));
  EXPECT_EQ(okta_.call_count(), 21u);
  // Released by the operator while the daemon is stopped: the next start re-arms before sending.
  engine_.reset();
  std::string out;
  EXPECT_EQ(cli({"release"}, &out), 0) << out;
  EXPECT_NE(out.find("not running"), std::string::npos);
  open();
  engine_->run_until_idle(5s);
  submit(one(action(ActionKind::suspend, "00uNEWER", "later")));
  EXPECT_EQ(okta_.call_count(), 22u);
  EXPECT_TRUE(okta_.user("00uNEWER").suspended);
  EXPECT_FALSE(okta_.user("00uNEW").suspended);  // held stays held: release does not flush a bad rule's backlog
  engine_->stop();
  auto audit = slurp(dir_ / "audit.jsonl");
  EXPECT_NE(audit.find(R"("event":"breaker_tripped")"), std::string::npos);
  EXPECT_NE(audit.find(R"("event":"breaker_release")"), std::string::npos);
}

TEST_F(ResponseEngineTest, KillSwitchFileStopsWriteBackWithinOneSecond) {
  SystemWallClock wall;
  config_.poll_interval = 200ms;
  auto e = ResponseEngine::open(config_, okta_, wall);
  ASSERT_TRUE(e) << e.error();
  engine_ = std::move(*e);
  engine_->start();
  { std::ofstream(dir_ / "killswitch") << "automation\n"; }
  auto t0 = std::chrono::steady_clock::now();
  while (!engine_->stats().kill_switch && std::chrono::steady_clock::now() - t0 < 3s) {
    std::this_thread::sleep_for(5ms);
  }
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 1s);
  std::printf("kill switch observed after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  for (int i = 0; i < 50; ++i) {
    engine_->submit(one(action(ActionKind::suspend, "00u" + std::to_string(i), "inc")), {});
  }
  while (engine_->stats().held_kill_switch < 50 && std::chrono::steady_clock::now() - t0 < 5s) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(engine_->stats().held_kill_switch, 50u);
  EXPECT_EQ(okta_.call_count(), 0u);
  std::filesystem::remove(dir_ / "killswitch");
  engine_->submit(one(action(ActionKind::suspend, "00uAFTER", "inc")), {});
  auto t1 = std::chrono::steady_clock::now();
  while (okta_.call_count() < 1 && std::chrono::steady_clock::now() - t1 < 3s)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(okta_.call_count(), 1u);
  // A configured file elsewhere: the command's file in the state directory still stops write-back.
  engine_->stop();
  engine_.reset();  // releases the journal's lock
  config_.kill_switch_file = dir_ / "configured-kill-switch";
  e = ResponseEngine::open(config_, okta_, wall);
  ASSERT_TRUE(e) << e.error();
  engine_ = std::move(*e);
  engine_->start();
  for (const std::filesystem::path& file : {dir_ / "killswitch", dir_ / "configured-kill-switch"}) {
    { std::ofstream(file) << "automation\n"; }
    t1 = std::chrono::steady_clock::now();
    while (!engine_->stats().kill_switch && std::chrono::steady_clock::now() - t1 < 3s)
      std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(engine_->stats().kill_switch) << file;
    std::filesystem::remove(file);
    t1 = std::chrono::steady_clock::now();
    while (engine_->stats().kill_switch && std::chrono::steady_clock::now() - t1 < 3s)
      std::this_thread::sleep_for(5ms);
    EXPECT_FALSE(engine_->stats().kill_switch) << file;
  }
  // In-process operator command.
  engine_->set_kill_switch(true);
  t1 = std::chrono::steady_clock::now();
  while (!engine_->stats().kill_switch && std::chrono::steady_clock::now() - t1 < 3s)
    std::this_thread::sleep_for(5ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 1s);
  engine_->stop();
}

TEST_F(ResponseEngineTest, RevertNeverUndoesANewerDecision) {
  config_.guard.default_cooldown = 600s;
  open();
  const auto t0 = clock_.ms();
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 3600s)));
  clock_.advance(1200s);  // past the cooldown: a second suspension is decided and sent
  auto b = submit(one(action(ActionKind::suspend, "00u1", "inc-2", 3600s)));
  auto rb = row(b.action_ids[0]);
  EXPECT_EQ(rb.state, ActionState::already_in_state);
  EXPECT_EQ(rb.revert_state, RevertState::scheduled);  // the state is ours
  clock_.advance(2400s + 1s);                          // A's revert is due
  engine_->run_until_idle(5s);
  EXPECT_EQ(row(a.action_ids[0]).revert_state, RevertState::superseded);
  EXPECT_TRUE(okta_.user("00u1").suspended);
  clock_.advance(1200s);  // B's revert is due
  engine_->run_until_idle(5s);
  EXPECT_FALSE(okta_.user("00u1").suspended);
  rb = row(b.action_ids[0]);
  EXPECT_EQ(rb.state, ActionState::reverted);
  EXPECT_EQ(rb.revert_state, RevertState::done);
  auto revert = row(rb.revert_action_id);
  EXPECT_EQ(revert.action.kind, ActionKind::unsuspend);
  EXPECT_EQ(revert.revert_of, rb.id);
  EXPECT_EQ(revert.state, ActionState::done);
  EXPECT_GE(revert.decided_ms, t0 + 1'200'000 + 3'600'000);
}

// An alert whose user was not resolved in time names them by login; a System Log detection names
// the same person by Okta id. Once Okta has resolved the login they are one user: the later
// permanent decision holds, and the earlier ttl must not unsuspend them.
TEST_F(ResponseEngineTest, PermanentDecisionByOktaIdSupersedesTheRevertOfOneByLogin) {
  okta_.set_login("alice@corp", "00uALICE");
  open();
  auto edr = action(ActionKind::suspend, "alice@corp", "edr-1", 3600s);
  edr.login = "alice@corp";
  auto a = submit(one(edr));
  ASSERT_EQ(row(a.action_ids[0]).revert_state, RevertState::scheduled);
  ASSERT_TRUE(okta_.user("00uALICE").suspended);
  clock_.advance(1800s);  // past the cooldown: decided and sent
  auto b = submit(one(action(ActionKind::suspend, "00uALICE", "syslog-1")));
  EXPECT_EQ(row(b.action_ids[0]).state, ActionState::already_in_state);
  clock_.advance(1800s + 1s);  // the login's ttl ends
  engine_->run_until_idle(5s);
  EXPECT_TRUE(okta_.user("00uALICE").suspended);
  auto ra = row(a.action_ids[0]);
  EXPECT_EQ(ra.revert_state, RevertState::superseded);
  EXPECT_NE(ra.state, ActionState::reverted);
}

// The revert of a suspension by login queues behind a decision for the same user by id that is still
// being retried, then finds it in effect: it must not unsuspend Alice in between.
TEST_F(ResponseEngineTest, RevertByLoginWaitsForAPendingDecisionById) {
  okta_.set_login("alice@corp", "00uALICE");
  open();
  auto edr = action(ActionKind::suspend, "alice@corp", "edr-1", 3600s);
  edr.login = "alice@corp";
  auto a = submit(one(edr));
  clock_.advance(3590s);
  okta_.force("00uALICE", Outcome::rate_limited, 1);
  auto b = submit(one(action(ActionKind::suspend, "00uALICE", "syslog-1")));
  ASSERT_EQ(row(b.action_ids[0]).state, ActionState::decided);
  clock_.advance(20s);  // the ttl ends as the retry of the decision by id falls due
  engine_->run_until_idle(5s);
  EXPECT_TRUE(okta_.user("00uALICE").suspended);
  EXPECT_EQ(row(a.action_ids[0]).revert_state, RevertState::superseded);
  for (const auto& call : okta_.calls())
    EXPECT_NE(call.action.kind, ActionKind::unsuspend);
}

// The same split for groups: a step-up group named by name and then by id is one group, so the
// cooldown sees the repeat, and a permanent repeat cancels the first one's removal.
TEST_F(ResponseEngineTest, GroupNamedByNameAndByIdIsOneGroupForCooldownAndRevert) {
  config_.guard.default_cooldown = 600s;
  okta_.set_group_name("Step-up MFA", "00gSTEPUP");
  open();
  auto by_name = action(ActionKind::add_to_group, "00u1", "edr-1", 3600s);
  by_name.params = {{"group_name", "Step-up MFA"}};
  auto a = submit(one(by_name));
  ASSERT_TRUE(okta_.user("00u1").groups.contains("00gSTEPUP"));
  clock_.advance(300s);
  auto b = submit(one(action(ActionKind::add_to_group, "00u1", "syslog-1")));
  auto rb = row(b.action_ids[0]);
  EXPECT_EQ(rb.state, ActionState::skipped);
  EXPECT_EQ(rb.cooldown_of, a.action_ids[0]);
  EXPECT_EQ(row(a.action_ids[0]).revert_state, RevertState::superseded);
  clock_.advance(3600s);
  engine_->run_until_idle(5s);
  EXPECT_TRUE(okta_.user("00u1").groups.contains("00gSTEPUP"));
}

TEST_F(ResponseEngineTest, CooldownRepeatExtendsTheRevert) {
  config_.guard.default_cooldown = 600s;
  open();
  auto a = submit(one(action(ActionKind::add_to_group, "00u1", "inc-1", 3600s)));
  auto due = row(a.action_ids[0]).revert_due_ms;
  clock_.advance(300s);
  submit(one(action(ActionKind::add_to_group, "00u1", "inc-2", 3600s)));
  EXPECT_EQ(row(a.action_ids[0]).revert_due_ms, due + 300'000);
  clock_.advance(3600s - 300s + 1s);
  engine_->run_until_idle(5s);
  EXPECT_TRUE(okta_.user("00u1").groups.contains("00gSTEPUP"));
  clock_.advance(300s);
  engine_->run_until_idle(5s);
  EXPECT_FALSE(okta_.user("00u1").groups.contains("00gSTEPUP"));
}

TEST_F(ResponseEngineTest, AdminSuspensionIsNotAutoReverted) {
  FakeUser admin_suspended;
  admin_suspended.suspended = true;
  okta_.set_user("00u1", admin_suspended);
  open();
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 60s)));
  auto r = row(a.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::already_in_state);
  EXPECT_EQ(r.revert_state, RevertState::none);
  clock_.advance(120s);
  engine_->run_until_idle(5s);
  EXPECT_TRUE(okta_.user("00u1").suspended);
}

TEST_F(ResponseEngineTest, RevertDueWhileDownRunsAtStartAndUnfinishedResume) {
  open();
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 600s)));
  okta_.set_defer(true);
  engine_->submit(one(action(ActionKind::add_to_group, "00u2", "inc-1", 600s)), {});
  engine_->run_once();
  engine_->run_once();
  auto sent = reader()->list({});
  ASSERT_EQ(okta_.call_count(), 2u);
  engine_.reset();       // "crash" while the group add is in flight
  okta_.complete_all();  // Okta applied it anyway; nobody hears the answer
  okta_.set_defer(false);
  clock_.advance(3600s);  // the suspension's revert fell due while down
  open();
  ASSERT_TRUE(engine_->run_until_idle(5s));
  EXPECT_FALSE(okta_.user("00u1").suspended);
  EXPECT_EQ(row(a.action_ids[0]).state, ActionState::reverted);
  auto calls = okta_.calls();
  ASSERT_GE(calls.size(), 4u);
  // The group add was resent flagged possibly_sent; "already a member" counts as ours and is reverted
  // on time (its ttl counts from the resumed answer).
  bool resent = false;
  for (const auto& c : calls) {
    if (c.action.kind == ActionKind::add_to_group && c.attempt.possibly_sent) resent = true;
  }
  EXPECT_TRUE(resent);
  ListFilter by_user;
  by_user.user = "00u2";
  auto group_rows = reader()->list(by_user);
  ASSERT_FALSE(group_rows.empty());
  auto g = group_rows.back();
  EXPECT_EQ(g.action.kind, ActionKind::add_to_group);
  EXPECT_TRUE(is_effective(g.state));
  EXPECT_EQ(g.revert_state, RevertState::scheduled);
  clock_.advance(601s);
  engine_->run_until_idle(5s);
  EXPECT_FALSE(okta_.user("00u2").groups.contains("00gSTEPUP"));
}

class SecretLeakingExecutor final : public ActionExecutor {
 public:
  void execute(const PlannedAction&, const Attempt&, std::function<void(ExecutionResult)> done) override {
    ExecutionResult r;
    r.outcome = Outcome::success;
    r.http_status = 200;
    r.secret = "https://example.okta.com/reset/SECRET-TOKEN-7c1e";
    r.summary = "reset link " + r.secret;  // a careless executor: the engine must still not store it
    r.okta_error_summary = r.secret;
    r.request = "POST /api/v1/users/00u1/lifecycle/reset_password?sendEmail=false";
    done(std::move(r));
  }
};

TEST_F(ResponseEngineTest, SecretsAreNeverWrittenUnlessASinkIsConfigured) {
  SecretLeakingExecutor exec;
  std::string delivered;
  {
    auto e = ResponseEngine::open(config_, exec, clock_);
    ASSERT_TRUE(e) << e.error();
    auto& engine = **e;
    engine.submit(one(action(ActionKind::reset_password, "00u1", "inc-1")), {});
    ASSERT_TRUE(engine.run_until_idle(5s));
    EXPECT_EQ(engine.stats().secrets_discarded, 1u);
    engine.set_secret_sink([&](const ActionRecord&, std::string_view s) { delivered = s; });
    engine.submit(one(action(ActionKind::reset_password, "00u2", "inc-1")), {});
    ASSERT_TRUE(engine.run_until_idle(5s));
    engine.stop();
  }
  EXPECT_EQ(delivered, "https://example.okta.com/reset/SECRET-TOKEN-7c1e");
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    auto bytes = slurp(entry.path());
    EXPECT_EQ(bytes.find("SECRET-TOKEN-7c1e"), std::string::npos) << entry.path();
    ++files;
  }
  EXPECT_GE(files, 2u);  // journal.db (+ wal) and audit.jsonl
  auto r = row(1);
  EXPECT_EQ(r.state, ActionState::done);
  EXPECT_NE(r.result_summary.find("[redacted]"), std::string::npos);
}

TEST_F(ResponseEngineTest, OrderedStepsRunInOrderWithPerStepOutcomes) {
  open();
  okta_.set_defer(true);
  Response r{{action(ActionKind::add_to_group, "00u1", "inc-1"), action(ActionKind::clear_sessions, "00u1", "inc-1")},
             false};
  engine_->submit(r, {});
  engine_->run_once();
  ASSERT_EQ(okta_.call_count(), 1u);
  EXPECT_EQ(okta_.calls()[0].action.kind, ActionKind::add_to_group);
  engine_->run_once();
  EXPECT_EQ(okta_.call_count(), 1u);  // step 2 waits for step 1
  okta_.complete_all();
  engine_->run_once();
  ASSERT_EQ(okta_.call_count(), 2u);
  EXPECT_EQ(okta_.calls()[1].action.kind, ActionKind::clear_sessions);
  okta_.complete_all();
  engine_->run_until_idle(5s);
  auto rows = reader()->list({});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 1);
  EXPECT_EQ(rows[0].state, ActionState::done);
  EXPECT_EQ(rows[1].state, ActionState::done);

  // stop_on_failure: a failed first step skips the rest.
  okta_.set_defer(false);
  okta_.force("00u9", Outcome::not_found);
  auto res = submit(Response{
      {action(ActionKind::add_to_group, "00u9", "inc-2"), action(ActionKind::clear_sessions, "00u9", "inc-2")}, true});
  auto s1 = row(res.action_ids[0]);
  EXPECT_EQ(s1.state, ActionState::failed);
  EXPECT_EQ(s1.okta_error_code, "E0000007");
  EXPECT_EQ(s1.http_status, 404u);
  EXPECT_EQ(row(res.action_ids[1]).state, ActionState::skipped);
}

TEST_F(ResponseEngineTest, TransientOutcomesRetryWithBackoffThenFail) {
  config_.max_attempts = 3;
  open();
  okta_.force("00u1", Outcome::transient, 1);
  auto a = submit(one(action(ActionKind::add_to_group, "00u1", "inc-1")));
  EXPECT_EQ(row(a.action_ids[0]).state, ActionState::decided);
  clock_.advance(1001ms);
  engine_->run_until_idle(5s);
  auto r = row(a.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::done);
  EXPECT_EQ(r.attempts, 2);
  okta_.force("00u2", Outcome::transient);
  auto b = submit(one(action(ActionKind::add_to_group, "00u2", "inc-1")));
  for (int i = 0; i < 5; ++i) {
    clock_.advance(10s);
    engine_->run_until_idle(5s);
  }
  r = row(b.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::failed);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_NE(r.reason.find("gave up after 3"), std::string::npos);
}

// An auto-revert outlasts an Okta outage (it does not give up like a first action), and one Okta
// refused outright can be asked for again by the operator.
TEST_F(ResponseEngineTest, RevertsOutlastAnOutageAndAFailedOneCanBeAskedForAgain) {
  config_.max_attempts = 3;
  open();
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 60s)));
  EXPECT_TRUE(okta_.user("00u1").suspended);
  okta_.force("00u1", Outcome::transient, 8);  // out of reach for the revert's first 8 attempts
  clock_.advance(61s);
  engine_->run_until_idle(5s);
  for (int i = 0; i < 4; ++i) {
    clock_.advance(60s);
    engine_->run_until_idle(5s);
  }
  EXPECT_TRUE(okta_.user("00u1").suspended);
  auto parent = row(a.action_ids[0]);
  ASSERT_EQ(parent.revert_state, RevertState::started);
  auto revert = row(parent.revert_action_id);
  EXPECT_EQ(revert.state, ActionState::decided) << revert.reason;
  EXPECT_GT(revert.attempts, 3);
  for (int i = 0; i < 6; ++i) {
    clock_.advance(60s);
    engine_->run_until_idle(5s);
  }
  EXPECT_FALSE(okta_.user("00u1").suspended);
  EXPECT_EQ(row(a.action_ids[0]).state, ActionState::reverted);

  auto b = submit(one(action(ActionKind::suspend, "00u2", "inc-2", 60s)));
  okta_.force("00u2", Outcome::forbidden, 1);
  clock_.advance(61s);
  engine_->run_until_idle(5s);
  EXPECT_TRUE(okta_.user("00u2").suspended);
  parent = row(b.action_ids[0]);
  EXPECT_EQ(parent.revert_state, RevertState::cancelled);
  EXPECT_EQ(row(parent.revert_action_id).state, ActionState::failed);
  engine_.reset();
  std::string out;
  ASSERT_EQ(cli({"revert", std::to_string(b.action_ids[0])}, &out), 0) << out;  // queued for the next start
  open();
  engine_->run_until_idle(5s);
  EXPECT_FALSE(okta_.user("00u2").suspended);
  EXPECT_EQ(row(b.action_ids[0]).state, ActionState::reverted);
  EXPECT_EQ(row(parent.revert_action_id).state, ActionState::done);  // the failed revert, tried again
}

// Turning dry-run on and restarting stops what waits to be sent too (here a retry), not only what
// is decided from then on.
TEST_F(ResponseEngineTest, DryRunTurnedOnStopsActionsStillWaitingToBeSent) {
  open();
  okta_.force("00u1", Outcome::rate_limited, 1);  // refused before anything was applied
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1")));
  ASSERT_EQ(row(a.action_ids[0]).state, ActionState::decided);  // waiting for its retry
  EXPECT_FALSE(row(a.action_ids[0]).possibly_sent);
  EXPECT_EQ(okta_.call_count(), 1u);
  engine_.reset();
  config_.guard.dry_run = true;
  open();
  clock_.advance(10s);
  engine_->run_until_idle(5s);
  auto r = row(a.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::skipped);
  EXPECT_EQ(r.reason, "dry_run: global");
  EXPECT_EQ(okta_.call_count(), 1u);
  EXPECT_FALSE(okta_.user("00u1").suspended);
}

TEST_F(ResponseEngineTest, OperatorCliListShowRevert) {
  open();
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 86400s)));
  submit(one(action(ActionKind::clear_sessions, "00u2", "inc-2")));
  std::string out;
  // Reads beside a running (journal-owning) engine.
  ASSERT_EQ(cli({"list"}, &out), 0) << out;
  EXPECT_NE(out.find("suspend"), std::string::npos);
  EXPECT_NE(out.find("clear_sessions"), std::string::npos);
  ASSERT_EQ(cli({"list", "--user", "00u2", "--state", "done", "--since", "2023-11-14"}, &out), 0) << out;
  EXPECT_EQ(out.find("suspend"), std::string::npos);
  EXPECT_NE(out.find("clear_sessions"), std::string::npos);
  // The manual clock stands at 2023-11-14T22:13:20Z.
  ASSERT_EQ(cli({"list", "--since", "2023-11-14T22:14:00Z"}, &out), 0) << out;
  EXPECT_EQ(out.find("clear_sessions"), std::string::npos);
  ASSERT_EQ(cli({"show", std::to_string(a.action_ids[0])}, &out), 0) << out;
  EXPECT_NE(out.find("okta.mfa_push_fatigue"), std::string::npos);
  EXPECT_NE(out.find("evt-inc-1-2"), std::string::npos);
  EXPECT_NE(out.find("sending -> done"), std::string::npos);
  EXPECT_NE(out.find("revert:       scheduled"), std::string::npos);
  EXPECT_EQ(cli({"show", "999"}, &out), 1);
  EXPECT_EQ(cli({"list", "--state", "bogus"}, &out), 2);
  EXPECT_EQ(cli({"revert", "2"}, &out), 1);  // clearing sessions has no inverse
  // Early manual revert with the daemon stopped: performed at the next start.
  engine_.reset();
  ASSERT_EQ(cli({"revert", std::to_string(a.action_ids[0])}, &out), 0) << out;
  EXPECT_TRUE(okta_.user("00u1").suspended);
  open();
  engine_->run_until_idle(5s);
  EXPECT_FALSE(okta_.user("00u1").suspended);
  EXPECT_EQ(row(a.action_ids[0]).state, ActionState::reverted);
  // Kill switch command toggles the file flag.
  ASSERT_EQ(cli({"killswitch", "on"}, &out), 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "killswitch"));
  ASSERT_EQ(cli({"killswitch", "status"}, &out), 0);
  EXPECT_EQ(out, "on: " + (dir_ / "killswitch").string() + "\n");
  submit(one(action(ActionKind::suspend, "00u3", "inc-3")));
  EXPECT_FALSE(okta_.user("00u3").suspended);
  ASSERT_EQ(cli({"killswitch", "off"}, &out), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "killswitch"));
}

TEST_F(ResponseEngineTest, ManualRevertOfARunningDaemonWithinASecond) {
  config_.poll_interval = 200ms;
  open();
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 86400s)));
  engine_->start();
  std::string out;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(cli({"revert", std::to_string(a.action_ids[0])}, &out), 0) << out;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_NE(out.find("revert: revert #"), std::string::npos) << out;
  auto t1 = std::chrono::steady_clock::now();
  while (okta_.user("00u1").suspended && std::chrono::steady_clock::now() - t1 < 3s) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_FALSE(okta_.user("00u1").suspended);
  engine_->stop();
}

// A transient answer to a suspend means the request never left (once written, a POST's lost answer is
// an unknown outcome): a suspension found by the retry is someone else's, and its ttl must not undo it.
TEST_F(ResponseEngineTest, RetryAfterASuspendThatNeverLeftDoesNotClaimAnAdminsSuspension) {
  config_.max_attempts = 3;
  open();
  okta_.force("00u1", Outcome::transient, 1);
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 600s)));
  ASSERT_EQ(row(a.action_ids[0]).state, ActionState::decided);
  EXPECT_FALSE(row(a.action_ids[0]).possibly_sent);
  FakeUser admin;
  admin.suspended = true;
  okta_.set_user("00u1", admin);
  clock_.advance(2s);
  engine_->run_until_idle(5s);
  auto r = row(a.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::already_in_state);
  EXPECT_EQ(r.revert_state, RevertState::none);
  clock_.advance(3600s);
  engine_->run_until_idle(5s);
  EXPECT_TRUE(okta_.user("00u1").suspended);
}

// The transport never reports a written non-idempotent request as transient (a lost answer to it is
// unknown), so only an idempotent one's transient failure may have reached Okta.
TEST(OktaExecutionResult, TransientFailureMayHaveBeenSentOnlyForAnIdempotentRequest) {
  auto result = [](okta::OutcomeKind kind, okta::Action::Params params) {
    okta::Action action;
    action.user_id = "00u1";
    action.params = std::move(params);
    okta::ActionOutcome outcome;
    outcome.kind = kind;
    return to_execution_result(std::move(outcome), action);
  };
  EXPECT_FALSE(result(okta::OutcomeKind::transient, okta::Action::Suspend{}).possibly_sent);
  EXPECT_TRUE(result(okta::OutcomeKind::unknown, okta::Action::Suspend{}).possibly_sent);
  EXPECT_TRUE(result(okta::OutcomeKind::transient, okta::Action::AddToGroup{"00g1"}).possibly_sent);
  EXPECT_FALSE(result(okta::OutcomeKind::rate_limited, okta::Action::AddToGroup{"00g1"}).possibly_sent);
}

// A newer decision still being retried when the ttl of the first one ends may yet fail: the revert
// waits for it instead of being dropped, or a temporary suspension would become permanent.
TEST_F(ResponseEngineTest, RevertWaitsForAPendingNewerDecisionAndRunsWhenItFails) {
  config_.max_attempts = 3;
  config_.guard.default_cooldown = 0s;
  open();
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 3600s)));
  ASSERT_TRUE(okta_.user("00u1").suspended);
  clock_.advance(3590s);
  okta_.force("00u1", Outcome::rate_limited, 3);  // every attempt of the newer decision
  auto b = submit(one(action(ActionKind::suspend, "00u1", "inc-2", 600s)));
  ASSERT_EQ(row(b.action_ids[0]).state, ActionState::decided);
  clock_.advance(20s);  // the first revert falls due while the newer decision waits for its retry
  engine_->run_until_idle(5s);
  EXPECT_NE(row(a.action_ids[0]).revert_state, RevertState::superseded);
  EXPECT_TRUE(okta_.user("00u1").suspended);
  clock_.advance(60s);
  engine_->run_until_idle(5s);
  EXPECT_EQ(row(b.action_ids[0]).state, ActionState::failed);
  EXPECT_FALSE(okta_.user("00u1").suspended);
  EXPECT_EQ(row(a.action_ids[0]).state, ActionState::reverted);
}

// A decision the kill switch held never reached Okta: it does not take over the user's state, so the
// earlier suspension still ends on time once write-back resumes.
TEST_F(ResponseEngineTest, NewerDecisionHeldByTheKillSwitchDoesNotCancelTheRevert) {
  config_.guard.default_cooldown = 0s;
  open();
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 3600s)));
  clock_.advance(1800s);
  engine_->set_kill_switch(true);
  auto b = submit(one(action(ActionKind::suspend, "00u1", "inc-2", 600s)));
  ASSERT_EQ(row(b.action_ids[0]).state, ActionState::held);
  clock_.advance(2000s);
  engine_->run_until_idle(5s);
  EXPECT_TRUE(okta_.user("00u1").suspended);  // reverts wait under the kill switch
  engine_->set_kill_switch(false);
  engine_->run_until_idle(5s);
  EXPECT_FALSE(okta_.user("00u1").suspended);
  EXPECT_EQ(row(a.action_ids[0]).state, ActionState::reverted);
}

// A retry of a suspend that may already have landed is not a new send: held, its effect would never
// be reverted. Under the kill switch it waits, as reverts do.
TEST_F(ResponseEngineTest, KillSwitchMakesAnActionThatMayHaveLandedWaitNotHeld) {
  open();
  okta_.force("00u1", Outcome::unknown, 1);
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 600s)));
  ASSERT_TRUE(row(a.action_ids[0]).possibly_sent);
  FakeUser landed;
  landed.suspended = true;
  okta_.set_user("00u1", landed);
  engine_->set_kill_switch(true);
  clock_.advance(5s);
  engine_->run_until_idle(5s);
  EXPECT_EQ(row(a.action_ids[0]).state, ActionState::decided);
  EXPECT_EQ(okta_.call_count(), 1u);
  engine_->set_kill_switch(false);
  engine_->run_until_idle(5s);
  auto r = row(a.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::already_in_state);
  EXPECT_EQ(r.revert_state, RevertState::scheduled);
  clock_.advance(601s);
  engine_->run_until_idle(5s);
  EXPECT_FALSE(okta_.user("00u1").suspended);
}

// The breaker counted the first attempt; its retry is not a new destructive send and completes, so
// its ttl is kept.
TEST_F(ResponseEngineTest, BreakerLetsAnActionThatMayHaveLandedComplete) {
  config_.breaker.max_actions = 1;
  open();
  okta_.force("00u1", Outcome::unknown, 1);
  auto a = submit(one(action(ActionKind::suspend, "00u1", "inc-1", 600s)));
  ASSERT_TRUE(row(a.action_ids[0]).possibly_sent);
  auto b = submit(one(action(ActionKind::suspend, "00u2", "inc-2", 600s)));
  ASSERT_EQ(row(b.action_ids[0]).state, ActionState::held);
  ASSERT_TRUE(engine_->stats().breaker_tripped);
  clock_.advance(5s);
  engine_->run_until_idle(5s);
  auto r = row(a.action_ids[0]);
  EXPECT_EQ(r.state, ActionState::done);
  EXPECT_EQ(r.revert_state, RevertState::scheduled);
  EXPECT_TRUE(okta_.user("00u1").suspended);
  EXPECT_FALSE(okta_.user("00u2").suspended);
}

// The engine stops on the file response.kill_switch_file names as on the state directory's, so the
// command reads the configuration too: status names what engages the switch, and off does not report
// the switch off while a file it could not remove still engages it.
TEST_F(ResponseEngineTest, KillSwitchCommandsHonourTheConfiguredFile) {
  std::filesystem::create_directories(dir_);
  const auto configured = dir_ / "configured-kill-switch";
  const auto config_file = dir_ / "oktaguard.yaml";
  std::ofstream(config_file) << "sources:\n"
                                "  files:\n"
                                "    - {path: /tmp/replay.json, source: okta, format: okta_system_log}\n"
                                "okta:\n"
                                "  org_url: https://example.okta.com\n"
                                "  auth:\n"
                                "    ssws: {token_file: /run/credentials/oktaguard/okta-token}\n"
                                "rules:\n"
                                "  paths: [/etc/oktaguard/rules]\n"
                                "response:\n"
                                "  kill_switch_file: "
                             << configured.string() << "\nstate_dir: " << dir_.string() << "\n";
  auto ks = [&](std::string what, std::string* out) {
    return cli({"killswitch", std::move(what), "--config", config_file.string()}, out);
  };
  std::string out;
  ASSERT_EQ(ks("status", &out), 0) << out;
  EXPECT_EQ(out, "off\n");
  { std::ofstream(configured) << "incident 42\n"; }
  ASSERT_EQ(ks("status", &out), 0) << out;
  EXPECT_EQ(out, "on: " + configured.string() + "\n");
  ASSERT_EQ(ks("off", &out), 0) << out;
  EXPECT_FALSE(std::filesystem::exists(configured));
  ASSERT_EQ(ks("status", &out), 0) << out;
  EXPECT_EQ(out, "off\n");
  // Both engaged, and the configured one cannot be removed (a non-empty directory stands in for a
  // file in a directory the operator may not write).
  ASSERT_EQ(ks("on", &out), 0) << out;
  std::filesystem::create_directories(configured / "x");
  ASSERT_EQ(ks("status", &out), 0) << out;
  EXPECT_EQ(out, "on: " + (dir_ / "killswitch").string() + ", " + configured.string() + "\n");
  EXPECT_EQ(ks("off", &out), 1);
  EXPECT_NE(out.find(configured.string()), std::string::npos) << out;
  EXPECT_EQ(out.find("kill switch off"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "killswitch"));

  // A configuration that no longer loads does not keep the operator from the state directory's
  // switch: `off` removes it, and fails after naming what it could not check.
  std::filesystem::remove_all(configured);
  ASSERT_EQ(ks("on", &out), 0) << out;
  std::ofstream(config_file, std::ios::app) << "unknown_section: 1\n";
  EXPECT_EQ(ks("off", &out), 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "killswitch"));
  EXPECT_NE(out.find("response.kill_switch_file was not checked"), std::string::npos) << out;
  EXPECT_EQ(ks("status", &out), 1);
  EXPECT_EQ(out.substr(0, 4), "off\n") << out;
}

}  // namespace
}  // namespace og::test
