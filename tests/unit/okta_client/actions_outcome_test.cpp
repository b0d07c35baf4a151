#include <gtest/gtest.h>

#include "okta_client/actions.h"
#include "tests/unit/okta_client/okta_json_cassettes.h"

namespace og::test {
namespace {

using okta::Action;
using okta::OutcomeKind;
using okta::TransportError;

constexpr const char* kUser = "00uqrks9ig7XuWV7X5d7";

std::string user_body(std::string_view status) {
  return fmt::format(R"({{"id":"{}","status":"{}","profile":{{"login":"a@example.com","email":"a@example.com"}}}})",
                     kUser, status);
}

// Okta's "not allowed in the user's current status" answer, as recorded for a lifecycle refusal.
std::string recorded_e0000038(const std::vector<Exchange>& all) {
  return find_exchange(all, "POST", "/lifecycle/reactivate", 403).response_body;
}

class ActionsOutcome : public ::testing::Test {
 protected:
  okta::ActionOutcome run(Action a) {
    okta::ActionRunner runner(sender_.fn(), okta::ActionOptions{1, log_.sink()});
    std::optional<okta::ActionOutcome> out;
    runner.execute(std::move(a), [&](okta::ActionOutcome o) { out.emplace(std::move(o)); });
    EXPECT_TRUE(out) << "done not called";
    return out ? std::move(*out) : okta::ActionOutcome{};
  }
  std::vector<Exchange> all_ = load_exchanges();
  ScriptedSender sender_;
  CapturedLog log_;
};

TEST_F(ActionsOutcome, SuspendSuccessFromRecording) {
  sender_.push(to_response(find_exchange(all_, "POST", "/lifecycle/suspend", 200)));
  auto o = run(Action{kUser, Action::Suspend{}});
  EXPECT_EQ(o.kind, OutcomeKind::success);
  EXPECT_EQ(o.http_status, 200u);
  EXPECT_EQ(o.attempts, 1);
  ASSERT_EQ(sender_.requests.size(), 1u);
  EXPECT_EQ(sender_.requests[0].target, "/api/v1/users/00uqrks9ig7XuWV7X5d7/lifecycle/suspend");
}

TEST_F(ActionsOutcome, ClearSessionsAndGroupMembershipFromRecordings) {
  sender_.push(to_response(find_exchange(all_, "DELETE", "/sessions", 204)));
  EXPECT_EQ(run(Action{kUser, Action::ClearSessions{true, false}}).kind, OutcomeKind::success);
  // PUT on an existing member answers 204 too: success, not an error.
  sender_.push(to_response(find_exchange(all_, "PUT", "/api/v1/groups/00gsf7bj3rH2d9PvL4x6/users/", 204)));
  sender_.push(to_response(find_exchange(all_, "PUT", "/api/v1/groups/00gsf7bj3rH2d9PvL4x6/users/", 204)));
  EXPECT_EQ(run(Action{kUser, Action::AddToGroup{"00gsf7bj3rH2d9PvL4x6"}}).kind, OutcomeKind::success);
  EXPECT_EQ(run(Action{kUser, Action::AddToGroup{"00gsf7bj3rH2d9PvL4x6"}}).kind, OutcomeKind::success);
  sender_.push(to_response(find_exchange(all_, "DELETE", "/api/v1/groups/00gsf7bj3rH2d9PvL4x6/users/", 204)));
  EXPECT_EQ(run(Action{kUser, Action::RemoveFromGroup{"00gsf7bj3rH2d9PvL4x6"}}).kind, OutcomeKind::success);
  sender_.push(to_response(find_exchange(all_, "POST", "/lifecycle/unsuspend", 200)));
  EXPECT_EQ(run(Action{kUser, Action::Unsuspend{}}).kind, OutcomeKind::success);
  sender_.push(to_response(find_exchange(all_, "POST", "/lifecycle/expire_password", 200)));
  EXPECT_EQ(run(Action{kUser, Action::ExpirePassword{}}).kind, OutcomeKind::success);
  sender_.push(okta::Response{200, R"({"reason":"override.by.admin","riskLevel":"HIGH"})", {}, {}, 1});
  EXPECT_EQ(run(Action{kUser, Action::SetUserRisk{okta::RiskLevel::high, ""}}).kind, OutcomeKind::success);
  sender_.push(okta::Response{200, user_body("ACTIVE"), {}, {}, 1});
  EXPECT_EQ(run(Action{kUser, Action::SetProfile{{{"uebaHealth", std::int64_t{10}}}}}).kind, OutcomeKind::success);
}

TEST_F(ActionsOutcome, NotFoundSurfacesOktaError) {
  sender_.push(to_response(find_exchange(all_, "GET", "/api/v1/users/00usfgmn9xhwtA6f74x6", 404)));
  auto o = run(Action{"00usfgmn9xhwtA6f74x6", Action::ClearSessions{}});
  EXPECT_EQ(o.kind, OutcomeKind::not_found);
  EXPECT_EQ(o.http_status, 404u);
  ASSERT_TRUE(o.okta_error);
  EXPECT_EQ(o.okta_error->error_code, "E0000007");
  EXPECT_EQ(o.okta_error->error_id, "oaelr1lt59PSM-TvHYQ_LDr5g");
  EXPECT_NE(okta::describe(o).find("E0000007"), std::string::npos);
  EXPECT_NE(log_.joined().find("oaelr1lt59PSM-TvHYQ_LDr5g"), std::string::npos);
}

TEST_F(ActionsOutcome, ForbiddenAndInvalidAndRateLimited) {
  const auto& e401 = find_exchange(all_, "GET", "/blocks", 401);
  sender_.push(to_response(e401));
  auto f = run(Action{kUser, Action::ClearSessions{}});
  EXPECT_EQ(f.kind, OutcomeKind::forbidden);
  EXPECT_EQ(f.okta_error->error_code, "E0000015");

  sender_.push(okta::Response{400,
                              R"({"errorCode":"E0000001","errorSummary":"Api validation failed: profile",)"
                              R"("errorLink":"E0000001","errorId":"oaeX","errorCauses":[{"errorSummary":)"
                              R"("uebaHealth: Property value must be an integer."}]})",
                              {},
                              {},
                              1});
  auto v = run(Action{kUser, Action::SetProfile{{{"uebaHealth", std::string("high")}}}});
  EXPECT_EQ(v.kind, OutcomeKind::invalid);
  ASSERT_TRUE(v.okta_error);
  ASSERT_EQ(v.okta_error->error_causes.size(), 1u);
  EXPECT_EQ(v.okta_error->error_causes[0], "uebaHealth: Property value must be an integer.");

  sender_.push(to_response(find_exchange(all_, "GET", "/agentPools", 429)));
  auto r = run(Action{kUser, Action::AddToGroup{"00g1"}});
  EXPECT_EQ(r.kind, OutcomeKind::rate_limited);
  EXPECT_EQ(r.okta_error->error_code, "E0000047");
  sender_.push(failure(TransportError::rate_limited, 5));
  auto r2 = run(Action{kUser, Action::AddToGroup{"00g1"}});
  EXPECT_EQ(r2.kind, OutcomeKind::rate_limited);
  EXPECT_EQ(r2.attempts, 5);
}

TEST_F(ActionsOutcome, RefusedSuspendOfSuspendedUserIsAlreadyInState) {
  sender_.push(okta::Response{403, recorded_e0000038(all_), {}, {}, 1});
  sender_.push(okta::Response{200, user_body("SUSPENDED"), {}, {}, 1});
  auto o = run(Action{kUser, Action::Suspend{}});
  EXPECT_EQ(o.kind, OutcomeKind::already_in_state);
  EXPECT_EQ(o.observed_status, "SUSPENDED");
  EXPECT_TRUE(o.verified_by_reread);
  EXPECT_TRUE(o.done());
  ASSERT_EQ(sender_.requests.size(), 2u);
  EXPECT_EQ(sender_.requests[1].method, okta::http::verb::get);
  EXPECT_EQ(sender_.requests[1].target, "/api/v1/users/00uqrks9ig7XuWV7X5d7");
}

TEST_F(ActionsOutcome, RefusedSuspendOfDeprovisionedUserRecordsWhich) {
  sender_.push(okta::Response{400,
                              R"({"errorCode":"E0000001","errorSummary":"Api validation failed: suspendUser",)"
                              R"("errorCauses":[{"errorSummary":"Cannot suspend a user that is not active"}]})",
                              {},
                              {},
                              1});
  sender_.push(okta::Response{200, user_body("DEPROVISIONED"), {}, {}, 1});
  auto o = run(Action{kUser, Action::Suspend{}});
  EXPECT_EQ(o.kind, OutcomeKind::already_in_state);
  EXPECT_EQ(o.observed_status, "DEPROVISIONED");
}

// Okta refuses to suspend anyone not ACTIVE; a locked-out user (as after a brute force) or one whose
// password an earlier action expired is not suspended, and signs in again once unlocked or reset.
TEST_F(ActionsOutcome, RefusedSuspendOfALockedOutOrExpiredUserIsNotDone) {
  for (const char* status : {"LOCKED_OUT", "PASSWORD_EXPIRED", "RECOVERY"}) {
    sender_.push(okta::Response{403, recorded_e0000038(all_), {}, {}, 1});
    sender_.push(okta::Response{200, user_body(status), {}, {}, 1});
    auto o = run(Action{kUser, Action::Suspend{}});
    EXPECT_EQ(o.kind, OutcomeKind::forbidden) << status;
    EXPECT_EQ(o.observed_status, status);
    EXPECT_FALSE(o.done()) << status;
  }
}

TEST_F(ActionsOutcome, RefusalOfAnActiveUserStaysARefusal) {
  sender_.push(okta::Response{403, recorded_e0000038(all_), {}, {}, 1});
  sender_.push(okta::Response{200, user_body("ACTIVE"), {}, {}, 1});
  auto o = run(Action{kUser, Action::Suspend{}});
  EXPECT_EQ(o.kind, OutcomeKind::forbidden);
  EXPECT_EQ(o.observed_status, "ACTIVE");
  EXPECT_EQ(o.okta_error->error_code, "E0000038");
  EXPECT_FALSE(o.done());
}

TEST_F(ActionsOutcome, UnsuspendOfActiveUserIsAlreadyInState) {
  sender_.push(okta::Response{400, recorded_e0000038(all_), {}, {}, 1});
  sender_.push(okta::Response{200, user_body("ACTIVE"), {}, {}, 1});
  auto o = run(Action{kUser, Action::Unsuspend{}});
  EXPECT_EQ(o.kind, OutcomeKind::already_in_state);
  EXPECT_EQ(o.observed_status, "ACTIVE");
}

TEST_F(ActionsOutcome, UnknownOutcomeResolvedByReread) {
  sender_.push(failure(TransportError::unknown_outcome));
  sender_.push(okta::Response{200, user_body("SUSPENDED"), {}, {}, 1});
  auto o = run(Action{kUser, Action::Suspend{}});
  EXPECT_EQ(o.kind, OutcomeKind::success);
  EXPECT_TRUE(o.verified_by_reread);
  EXPECT_EQ(sender_.requests.size(), 2u);  // no second suspend
}

TEST_F(ActionsOutcome, UnknownOutcomeNotAppliedIsResentOnce) {
  sender_.push(failure(TransportError::unknown_outcome));
  sender_.push(okta::Response{200, user_body("ACTIVE"), {}, {}, 1});
  sender_.push(to_response(find_exchange(all_, "POST", "/lifecycle/suspend", 200)));
  auto o = run(Action{kUser, Action::Suspend{}});
  EXPECT_EQ(o.kind, OutcomeKind::success);
  ASSERT_EQ(sender_.requests.size(), 3u);
  EXPECT_EQ(sender_.requests[2].target, "/api/v1/users/00uqrks9ig7XuWV7X5d7/lifecycle/suspend");
  EXPECT_EQ(o.attempts, 2);

  // Unknown again after the resend: no endless loop, the outcome stays unknown.
  sender_.requests.clear();
  sender_.push(failure(TransportError::unknown_outcome));
  sender_.push(okta::Response{200, user_body("ACTIVE"), {}, {}, 1});
  sender_.push(okta::Response{502, "", {}, {}, 1});
  sender_.push(okta::Response{200, user_body("ACTIVE"), {}, {}, 1});
  auto u = run(Action{kUser, Action::Suspend{}});
  EXPECT_EQ(u.kind, OutcomeKind::unknown);
  EXPECT_EQ(u.observed_status, "ACTIVE");
  EXPECT_EQ(sender_.requests.size(), 4u);
}

TEST_F(ActionsOutcome, TransportFailuresAreTyped) {
  sender_.push(failure(TransportError::connect_failed));
  EXPECT_EQ(run(Action{kUser, Action::ClearSessions{}}).kind, OutcomeKind::transient);
  sender_.push(failure(TransportError::auth_failed));
  EXPECT_EQ(run(Action{kUser, Action::ClearSessions{}}).kind, OutcomeKind::forbidden);
  sender_.push(okta::Response{503, "", {}, {}, 5});
  EXPECT_EQ(run(Action{kUser, Action::ClearSessions{}}).kind, OutcomeKind::transient);
  // An unknown outcome whose re-read fails stays unknown.
  sender_.push(failure(TransportError::unknown_outcome));
  sender_.push(failure(TransportError::timeout));
  EXPECT_EQ(run(Action{kUser, Action::Suspend{}}).kind, OutcomeKind::unknown);
  // Invalid actions are never sent.
  sender_.requests.clear();
  EXPECT_EQ(run(Action{"00u/../x", Action::Suspend{}}).kind, OutcomeKind::invalid);
  EXPECT_TRUE(sender_.requests.empty());
}

TEST_F(ActionsOutcome, SecretsAreHeldButNeverPrinted) {
  const auto& temp = find_exchange(all_, "POST", "00usfdd3qe32hVMJL4x6/lifecycle/expire_password_with_temp_password");
  sender_.push(to_response(temp));
  auto o = run(Action{kUser, Action::ExpirePassword{true, true}});
  EXPECT_EQ(o.kind, OutcomeKind::success);
  EXPECT_EQ(o.secret.reveal(), "x4HpS7TE");

  const auto& reset = find_exchange(all_, "POST", "/lifecycle/reset_password?sendEmail=false", 200);
  sender_.push(to_response(reset));
  auto r = run(Action{kUser, Action::ResetPassword{false, false}});
  EXPECT_EQ(r.kind, OutcomeKind::success);
  const std::string url(r.secret.reveal());
  EXPECT_TRUE(url.starts_with("https://test.okta.com/reset_password/"));

  const std::string printed =
      fmt::format("{} {} {} {} {} {}", o, r, o.secret, r.secret, okta::describe(o), okta::describe(r));
  for (const auto& text : {printed, log_.joined()}) {
    EXPECT_EQ(text.find("x4HpS7TE"), std::string::npos) << text;
    EXPECT_EQ(text.find("drpjVW9zZIrdSqkLInNb"), std::string::npos) << text;
    EXPECT_EQ(text.find("reset_password/"), std::string::npos) << text;
  }
  EXPECT_NE(printed.find("[redacted]"), std::string::npos);
  EXPECT_FALSE(log_.lines.empty());

  // Moving the outcome moves the secret; the source is left empty.
  okta::ActionOutcome moved = std::move(o);
  EXPECT_EQ(moved.secret.reveal(), "x4HpS7TE");
  EXPECT_TRUE(o.secret.empty());  // NOLINT(bugprone-use-after-move): the wipe is the point
}

TEST_F(ActionsOutcome, UnknownOutcomeOfTempPasswordReportsTheLostSecretWithoutResending) {
  sender_.push(failure(TransportError::unknown_outcome));
  sender_.push(okta::Response{200, user_body("PASSWORD_EXPIRED"), {}, {}, 1});
  auto o = run(Action{kUser, Action::ExpirePassword{true, false}});
  EXPECT_EQ(o.kind, OutcomeKind::success);
  EXPECT_TRUE(o.secret.empty());
  EXPECT_NE(o.detail.find("lost"), std::string::npos);
  EXPECT_EQ(sender_.requests.size(), 2u);
}

}  // namespace
}  // namespace og::test
