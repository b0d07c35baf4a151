// The whole write-back path over real sockets: correlator Decisions -> decision_adapter -> a real
// ResponseEngine (temp state dir, manual wall clock) -> OktaActionExecutor -> okta::Client -> the Okta
// emulator. Asserts, through the emulator's introspection, exactly which writes reached "Okta", in
// which order and on which paths, and that a temporary password never reaches the state directory.

#include "daemon/response_okta.h"

#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <thread>

#include "daemon/decision_adapter.h"
#include "daemon/journal.h"
#include "daemon/response.h"
#include "daemon/response_testing.h"
#include "okta_client/auth.h"
#include "okta_client/client.h"
#include "tests/okta_emulator/emulator_process.h"
#include "tests/okta_emulator/json.h"

namespace og::test {
namespace {

using namespace std::chrono_literals;
namespace C = correlator;
using emulator::Json;

constexpr const char* kJohn = "00uttidj01jqL21aM1d6";
constexpr const char* kJack = "00uc1umudIxtsadWL356";
constexpr const char* kStepUp = "00gStepUpMfaOktaGrp1";

struct Write {
  std::string method, path, query, body;
};

class ResponseOkta : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("og-resp-okta-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::remove_all(dir_);
    EmulatorOptions eo;
    eo.seed = std::filesystem::path(OG_SOURCE_DIR) / "tests/okta_emulator/seed-demo.json";
    emulator_ = std::make_unique<EmulatorProcess>(eo);
    okta::ClientConfig cfg;
    cfg.transport.org_url = emulator_->base_url();
    cfg.transport.log = sink();
    cfg.actions.log = sink();
    cfg.lookups.log = sink();
    cfg.identity.log = sink();
    auto client = okta::Client::create(io_, cfg, std::make_shared<okta::SswsAuthenticator>(emulator_->token()));
    ASSERT_TRUE(client) << client.error();
    client_ = std::move(*client);
    io_thread_ = std::thread([this] { io_.run(); });
    executor_ = std::make_unique<daemon::OktaActionExecutor>(io_, *client_);

    daemon::ResponseConfig rc;
    rc.state_dir = dir_;
    rc.poll_interval = 0ms;
    rc.log = [this](std::string_view level, std::string_view line) {
      std::lock_guard lock(log_mutex_);
      log_ += std::string(level) + " " + std::string(line) + "\n";
    };
    auto engine = daemon::ResponseEngine::open(rc, *executor_, clock_);
    ASSERT_TRUE(engine) << engine.error();
    engine_ = std::move(*engine);
    // An operator-configured sink: the only way the secret may leave the engine. Kept here so the test
    // knows what to look for in the state directory.
    engine_->set_secret_sink([this](const daemon::ActionRecord&, std::string_view secret) {
      std::lock_guard lock(log_mutex_);
      secrets_.emplace_back(secret);
    });
  }
  void TearDown() override {
    engine_.reset();
    if (client_) client_->shutdown();
    work_.reset();
    if (io_thread_.joinable()) io_thread_.join();
    executor_.reset();
    client_.reset();
    std::filesystem::remove_all(dir_);
  }
  okta::LogSink sink() {
    return [this](okta::LogLevel, std::string_view line) {
      std::lock_guard lock(log_mutex_);
      log_ += std::string(line) + "\n";
    };
  }

  static C::Decision decision(std::string response, C::UserRef user, C::ActionKind kind, std::uint32_t ordinal,
                              C::EventTime t) {
    C::Decision d;
    d.response = std::move(response);
    d.user = std::move(user);
    d.action = kind;
    d.ordinal = ordinal;
    d.detections = {"okta.mfa_push_fatigue"};
    d.evidence = {"ev-uuid-1", "ev-uuid-2", "ev-uuid-3"};
    d.risk = 90;
    d.time = t;
    d.id = C::decision_id(d.response, d.user, t, ordinal);
    return d;
  }

  // Submits every Response the decisions group into and runs the engine until nothing is left to do.
  void feed(const std::vector<C::Decision>& decisions) {
    for (auto& r : daemon::to_responses(decisions)) {
      bool journaled = false;
      engine_->submit(std::move(r), [&](const daemon::SubmitResult& res) {
        EXPECT_TRUE(res.ok) << res.error;
        journaled = true;
      });
      ASSERT_TRUE(engine_->run_until_idle(20s));
      EXPECT_TRUE(journaled);
    }
  }

  std::vector<Write> writes() {
    auto list = Json::parse(emulator_->get("/__emulator/requests").second);
    EXPECT_TRUE(list && list->is_array());
    std::vector<Write> out;
    if (!list) return out;
    for (const auto& r : list->as_array()) {
      if (r.get_string("method") == "GET") continue;  // lookups
      out.push_back({r.get_string("method"), r.get_string("path"), r.get_string("query"), r.get_string("body")});
    }
    return out;
  }

  const Json* user_state(const Json& state, std::string_view id) {
    const Json* users = state.find("users");
    if (!users || !users->is_array()) return nullptr;
    for (const auto& u : users->as_array())
      if (u.get_string("id") == id) return &u;
    return nullptr;
  }
  Json state() {
    const auto [status, body] = emulator_->get("/__emulator/state");
    std::string error;
    auto s = Json::parse(body, &error);
    EXPECT_TRUE(s) << status << " " << error << ": " << body.substr(0, 300);
    return s ? *s : Json::object();
  }

  // Every byte of every file under the state directory.
  std::string state_dir_bytes() {
    std::string all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      all += ss.str();
    }
    return all;
  }

  std::filesystem::path dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(io_);
  std::thread io_thread_;
  std::unique_ptr<okta::Client> client_;
  std::unique_ptr<daemon::OktaActionExecutor> executor_;
  daemon::testing::ManualClock clock_;
  std::unique_ptr<daemon::ResponseEngine> engine_;
  std::mutex log_mutex_;
  std::string log_;
  std::vector<std::string> secrets_;
};

TEST_F(ResponseOkta, DecisionSequenceReachesOktaExactlyOnceInOrder) {
  const C::EventTime t0(std::chrono::milliseconds(1'715'000'000'000));
  const C::UserRef john{kJohn, C::IdentityKind::okta_id};

  // Tier 1 of a push-fatigue response: step-up group by NAME for a day, profile health as an integer.
  auto step_up = decision("fatigue_stepup", john, C::ActionKind::add_to_group, 0, t0);
  step_up.group = "Step-up MFA";
  step_up.ttl = 24h;
  auto health = decision("fatigue_stepup", john, C::ActionKind::set_profile, 1, t0);
  health.profile = {{"uebaHealth", "10"}};
  auto sessions = decision("fatigue_sessions", john, C::ActionKind::clear_sessions, 0, t0 + 1s);
  sessions.oauth_tokens = true;
  auto suspend = decision("fatigue_suspend", john, C::ActionKind::suspend, 0, t0 + 2s);
  suspend.ttl = 2s;
  const std::vector<C::Decision> batch{step_up, health, sessions, suspend};
  feed(batch);

  auto s = state();
  const Json* u = user_state(s, kJohn);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->get_string("status"), "SUSPENDED");
  const Json* ueba = u->path("profile.uebaHealth");
  ASSERT_TRUE(ueba);
  EXPECT_TRUE(ueba->is_integer()) << s.dump();
  if (ueba->is_integer()) {
    EXPECT_EQ(ueba->as_int(), 10);
  }
  bool in_group = false;
  for (const auto& g : u->find("groups")->as_array())
    in_group |= g.as_string() == kStepUp;
  EXPECT_TRUE(in_group);

  // Redelivery of the same events re-decides the same things: deduplicated, nothing sent again.
  feed(batch);
  EXPECT_EQ(writes().size(), 4u);

  // The suspend's ttl runs on the engine's (manual) clock: not yet due, then due.
  clock_.advance(1s);
  ASSERT_TRUE(engine_->run_until_idle(20s));
  EXPECT_EQ(writes().size(), 4u);
  clock_.advance(2s);
  ASSERT_TRUE(engine_->run_until_idle(20s));

  const auto w = writes();
  ASSERT_EQ(w.size(), 5u);
  const std::string john_path = std::string("/api/v1/users/") + kJohn;
  EXPECT_EQ(w[0].method, "PUT");
  EXPECT_EQ(w[0].path, std::string("/api/v1/groups/") + kStepUp + "/users/" + kJohn);
  EXPECT_EQ(w[1].method, "POST");
  EXPECT_EQ(w[1].path, john_path);
  EXPECT_EQ(w[1].body, R"({"profile":{"uebaHealth":10}})");
  EXPECT_EQ(w[2].method, "DELETE");
  EXPECT_EQ(w[2].path, john_path + "/sessions");
  EXPECT_EQ(w[2].query, "oauthTokens=true&forgetDevices=false");
  EXPECT_EQ(w[3].method, "POST");
  EXPECT_EQ(w[3].path, john_path + "/lifecycle/suspend");
  EXPECT_EQ(w[4].method, "POST");
  EXPECT_EQ(w[4].path, john_path + "/lifecycle/unsuspend");

  s = state();
  u = user_state(s, kJohn);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->get_string("status"), "ACTIVE");
  in_group = false;
  for (const auto& g : u->find("groups")->as_array())
    in_group |= g.as_string() == kStepUp;
  EXPECT_TRUE(in_group) << "the group ttl (24 h) has not elapsed";

  const auto st = engine_->stats();
  EXPECT_EQ(st.sent, 5u);
  EXPECT_EQ(st.done, 5u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.reverts_started, 1u);
  EXPECT_GE(st.deduplicated, 4u);

  // The journal records what was sent, method and path only.
  engine_.reset();
  auto j = daemon::Journal::open(dir_, daemon::Journal::Mode::reader);
  ASSERT_TRUE(j) << j.error();
  std::map<std::string, std::string> requests;
  for (const auto& r : (*j)->list({}))
    requests[std::string(daemon::to_string(r.action.kind))] = r.request;
  EXPECT_EQ(requests["add_to_group"], "PUT /api/v1/groups/00gStepUpMfaOktaGrp1/users/00uttidj01jqL21aM1d6");
  EXPECT_EQ(requests["clear_sessions"], "DELETE /api/v1/users/00uttidj01jqL21aM1d6/sessions");
  EXPECT_EQ(requests["unsuspend"], "POST /api/v1/users/00uttidj01jqL21aM1d6/lifecycle/unsuspend");
}

// Okta answers 204 to adding a user to a group they are already in: a step-up with a ttl must not
// take away, when it ends, a membership oktaguard did not make. John is in "Engineering (AD)" in the
// seed; the same step-up to a group he is not in is sent, and removed at its ttl.
TEST_F(ResponseOkta, AddingAMemberIsAlreadyInStateAndItsTtlRemovesNothing) {
  const C::UserRef john{kJohn, C::IdentityKind::okta_id};
  const C::EventTime t0{std::chrono::milliseconds(1'700'000'000'000)};
  auto member = decision("stepup_member", john, C::ActionKind::add_to_group, 0, t0);
  member.group = "00gAdEngineeringApp1";
  member.group_is_id = true;
  member.ttl = 2s;
  auto fresh = decision("stepup_fresh", john, C::ActionKind::add_to_group, 0, t0);
  fresh.group = kStepUp;
  fresh.group_is_id = true;
  fresh.ttl = 2s;
  feed({member, fresh});
  clock_.advance(3s);
  ASSERT_TRUE(engine_->run_until_idle(20s));

  const auto w = writes();
  ASSERT_EQ(w.size(), 2u) << log_;
  EXPECT_EQ(w[0].method + " " + w[0].path, std::string("PUT /api/v1/groups/") + kStepUp + "/users/" + kJohn);
  EXPECT_EQ(w[1].method + " " + w[1].path, std::string("DELETE /api/v1/groups/") + kStepUp + "/users/" + kJohn);
  Json s = state();
  const Json* u = user_state(s, kJohn);
  ASSERT_TRUE(u);
  bool engineering = false;
  for (const auto& g : u->find("groups")->as_array())
    engineering |= g.as_string() == "00gAdEngineeringApp1";
  EXPECT_TRUE(engineering) << "the membership oktaguard did not make was taken away";
  const auto st = engine_->stats();
  EXPECT_EQ(st.already_in_state, 1u);
  EXPECT_EQ(st.reverts_started, 1u);

  // A retry after an attempt that may have added the user (a 5xx once the PUT was out) finds them a
  // member: that is this action's membership, which its ttl removes, not one found before it.
  daemon::PlannedAction add;
  add.kind = daemon::ActionKind::add_to_group;
  add.user_id = kJohn;
  add.params.emplace("group", "00gAdEngineeringApp1");
  auto run = [&](int attempt, bool possibly_sent) {
    std::promise<daemon::ExecutionResult> got;
    executor_->execute(add, {1, "k", attempt, possibly_sent},
                       [&](daemon::ExecutionResult r) { got.set_value(std::move(r)); });
    return got.get_future().get();
  };
  EXPECT_EQ(run(1, false).outcome, daemon::Outcome::already_in_state);
  // A retry after a failure before anything was sent (a lookup): the membership is not ours.
  EXPECT_EQ(run(2, false).outcome, daemon::Outcome::already_in_state);
  auto retried = run(2, true);
  EXPECT_EQ(retried.outcome, daemon::Outcome::success) << retried.summary;
  EXPECT_EQ(writes().size(), 2u);  // neither sent a PUT
}

TEST_F(ResponseOkta, LoginIsResolvedAndTheTempPasswordNeverReachesTheStateDir) {
  const C::EventTime t0(std::chrono::milliseconds(1'715'000'100'000));
  auto expire = decision("compromised_password", {"Jack.Naglieri@runpanther.io", C::IdentityKind::login},
                         C::ActionKind::expire_password, 0, t0);
  expire.temp_password = true;
  expire.revoke_sessions = true;
  auto missing =
      decision("compromised_password", {"nobody@company.com", C::IdentityKind::login}, C::ActionKind::suspend, 0, t0);
  auto note = decision("compromised_password", {kJohn, C::IdentityKind::okta_id}, C::ActionKind::notify, 0, t0);
  note.message = "password expired for a user";
  feed({expire, missing, note});

  const auto w = writes();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].method, "POST");
  EXPECT_EQ(w[0].path, std::string("/api/v1/users/") + kJack + "/lifecycle/expire_password_with_temp_password");
  EXPECT_EQ(w[0].query, "revokeSessions=true");
  auto s = state();
  const Json* jack = user_state(s, kJack);
  ASSERT_TRUE(jack);
  EXPECT_EQ(jack->get_string("status"), "PASSWORD_EXPIRED");

  const auto st = engine_->stats();
  EXPECT_EQ(st.done, 2u);    // expire + notify
  EXPECT_EQ(st.failed, 1u);  // the unknown login: not_found is final
  std::string secret;
  {
    std::lock_guard lock(log_mutex_);
    ASSERT_EQ(secrets_.size(), 1u);
    secret = secrets_[0];
    EXPECT_EQ(log_.find(secret), std::string::npos);
  }
  ASSERT_GE(secret.size(), 6u);
  EXPECT_EQ(state_dir_bytes().find(secret), std::string::npos);

  engine_.reset();  // closes the journal (checkpoint) and syncs the audit file
  EXPECT_EQ(state_dir_bytes().find(secret), std::string::npos);

  auto j = daemon::Journal::open(dir_, daemon::Journal::Mode::reader);
  ASSERT_TRUE(j) << j.error();
  bool saw_not_found = false;
  for (const auto& r : (*j)->list({})) {
    if (r.action.user_id != "nobody@company.com") continue;
    saw_not_found = true;
    EXPECT_EQ(r.state, daemon::ActionState::failed);
    EXPECT_EQ(r.outcome, "not_found");
    EXPECT_NE(r.result_summary.find("no Okta user has login or email 'nobody@company.com'"), std::string::npos)
        << r.result_summary;
  }
  EXPECT_TRUE(saw_not_found);
}

}  // namespace
}  // namespace og::test
