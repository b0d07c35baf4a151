// The operations layer over the real transport against the Okta emulator (plain HTTP on loopback).

#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "okta_client/auth.h"
#include "okta_client/client.h"
#include "tests/okta_emulator/emulator_process.h"

namespace og::test {
namespace {

using okta::Action;
using okta::OutcomeKind;

class OktaOperations : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions eo;
    eo.seed = std::filesystem::path(OG_SOURCE_DIR) / "tests/okta_emulator/seed-demo.json";
    emulator_ = std::make_unique<EmulatorProcess>(eo);
    okta::ClientConfig cfg;
    cfg.transport.org_url = emulator_->base_url();
    cfg.transport.log = sink();
    cfg.actions.log = sink();
    cfg.lookups.log = sink();
    cfg.identity.log = sink();
    cfg.identity.windows_domains = {{"DUFF", "duff.com"}};
    auto client = okta::Client::create(io_, cfg, std::make_shared<okta::SswsAuthenticator>(emulator_->token()));
    ASSERT_TRUE(client) << client.error();
    client_ = std::move(*client);
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (client_) client_->shutdown();
    work_.reset();
    if (io_thread_.joinable()) io_thread_.join();
    client_.reset();
  }
  okta::LogSink sink() {
    return [this](okta::LogLevel, std::string_view line) {
      std::lock_guard lock(log_mutex_);
      log_ += std::string(line) + "\n";
    };
  }
  okta::ActionOutcome run(Action a) {
    std::promise<okta::ActionOutcome> p;
    client_->execute(std::move(a), [&](okta::ActionOutcome o) { p.set_value(std::move(o)); });
    return p.get_future().get();
  }
  okta::LookupResult<std::string> resolve(std::string_view name) {
    std::promise<okta::LookupResult<std::string>> p;
    client_->identity().resolve(name, [&](auto r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  std::string state() { return emulator_->get("/__emulator/state").second; }

  std::unique_ptr<EmulatorProcess> emulator_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(io_);
  std::thread io_thread_;
  std::unique_ptr<okta::Client> client_;
  std::mutex log_mutex_;
  std::string log_;
};

TEST_F(OktaOperations, SuspendTwiceThenUnsuspend) {
  auto first = run(Action{"00uHomerSimpsonDuff1", Action::Suspend{}});
  EXPECT_EQ(first.kind, OutcomeKind::success) << okta::describe(first);
  auto second = run(Action{"00uHomerSimpsonDuff1", Action::Suspend{}});
  EXPECT_EQ(second.kind, OutcomeKind::already_in_state) << okta::describe(second);
  EXPECT_EQ(second.observed_status, "SUSPENDED");
  auto back = run(Action{"00uHomerSimpsonDuff1", Action::Unsuspend{}});
  EXPECT_EQ(back.kind, OutcomeKind::success) << okta::describe(back);
  auto again = run(Action{"00uHomerSimpsonDuff1", Action::Unsuspend{}});
  EXPECT_EQ(again.kind, OutcomeKind::already_in_state) << okta::describe(again);
  EXPECT_EQ(again.observed_status, "ACTIVE");
  // Suspending a deprovisioned user: already beyond suspended, recorded as such.
  auto gone = run(Action{"00uFormerEmployee001", Action::Suspend{}});
  EXPECT_EQ(gone.kind, OutcomeKind::already_in_state) << okta::describe(gone);
  EXPECT_EQ(gone.observed_status, "DEPROVISIONED");
  auto missing = run(Action{"00uDoesNotExist00001", Action::Suspend{}});
  EXPECT_EQ(missing.kind, OutcomeKind::not_found) << okta::describe(missing);
  ASSERT_TRUE(missing.okta_error);
  EXPECT_EQ(missing.okta_error->error_code, "E0000007");
}

TEST_F(OktaOperations, SessionsGroupsProfileRiskOnTheRealPaths) {
  EXPECT_EQ(run(Action{"00uttidj01jqL21aM1d6", Action::ClearSessions{true, false}}).kind, OutcomeKind::success);
  EXPECT_EQ(run(Action{"00uttidj01jqL21aM1d6", Action::AddToGroup{"00gStepUpMfaOktaGrp1"}}).kind, OutcomeKind::success);
  EXPECT_EQ(run(Action{"00uttidj01jqL21aM1d6", Action::AddToGroup{"00gStepUpMfaOktaGrp1"}}).kind, OutcomeKind::success);
  EXPECT_EQ(run(Action{"00uttidj01jqL21aM1d6", Action::SetProfile{{{"uebaHealth", std::int64_t{35}}}}}).kind,
            OutcomeKind::success);
  auto risk = run(Action{"00uttidj01jqL21aM1d6", Action::SetUserRisk{okta::RiskLevel::high, "push fatigue"}});
  EXPECT_EQ(risk.kind, OutcomeKind::success) << okta::describe(risk);
  EXPECT_EQ(run(Action{"00uttidj01jqL21aM1d6", Action::RemoveFromGroup{"00gStepUpMfaOktaGrp1"}}).kind,
            OutcomeKind::success);

  const auto requests = emulator_->get("/__emulator/requests").second;
  EXPECT_NE(requests.find("oauthTokens=true&forgetDevices=false"), std::string::npos) << requests;
  EXPECT_NE(requests.find("/api/v1/groups/00gStepUpMfaOktaGrp1/users/00uttidj01jqL21aM1d6"), std::string::npos);
  EXPECT_EQ(requests.find("\"PUT\",\"path\":\"/api/v1/users/00uttidj01jqL21aM1d6\""), std::string::npos);
  const auto s = state();
  EXPECT_NE(s.find("35"), std::string::npos);
}

TEST_F(OktaOperations, TempPasswordIsReturnedButNeverLogged) {
  auto o = run(Action{"00uc1umudIxtsadWL356", Action::ExpirePassword{true, true}});
  ASSERT_EQ(o.kind, OutcomeKind::success) << okta::describe(o);
  ASSERT_FALSE(o.secret.empty());
  const std::string secret(o.secret.reveal());
  auto r = run(Action{"00ubewfku1EX0WCFk697", Action::ResetPassword{false, false}});
  ASSERT_EQ(r.kind, OutcomeKind::success) << okta::describe(r);
  ASSERT_FALSE(r.secret.empty());
  const std::string url(r.secret.reveal());
  std::lock_guard lock(log_mutex_);
  EXPECT_FALSE(log_.empty());
  EXPECT_EQ(log_.find(secret), std::string::npos);
  EXPECT_EQ(log_.find(url), std::string::npos);
  EXPECT_EQ(fmt::format("{}", o).find(secret), std::string::npos);
}

TEST_F(OktaOperations, IdentityResolutionAgainstTheOrg) {
  EXPECT_EQ(resolve("Homer.Simpson@DUFF.com").value(), "00uHomerSimpsonDuff1");
  EXPECT_EQ(resolve("DUFF\\homer.simpson").value(), "00uHomerSimpsonDuff1");  // cached now
  // Login differs from email: found through the email search.
  EXPECT_EQ(resolve("secops-oncall@company.com").value(), "00uBreakGlassAdmin01");
  EXPECT_EQ(resolve("nobody@company.com").error().kind, OutcomeKind::not_found);
  // A hostile login matches nobody (it would match every user if it could widen the search).
  EXPECT_EQ(resolve("x\" or profile.login sw \"@duff.com").error().kind, OutcomeKind::not_found);
  EXPECT_EQ(resolve("no-domain\" or \"").error().kind, OutcomeKind::invalid);
  std::promise<okta::LookupResult<okta::OktaGroup>> g;
  client_->identity().resolve_group("Step-up MFA", [&](auto r) { g.set_value(std::move(r)); });
  auto group = g.get_future().get();
  ASSERT_TRUE(group) << okta::describe(group.error());
  EXPECT_EQ(group->id, "00gStepUpMfaOktaGrp1");
  const auto st = client_->identity().stats();
  EXPECT_EQ(st.cache_hits, 1u);
}

}  // namespace
}  // namespace og::test
