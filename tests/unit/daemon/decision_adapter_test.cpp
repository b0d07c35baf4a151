// Decision -> PlannedAction for every action kind, the grouping into Responses, and the pure half of
// the Okta executor (PlannedAction params -> og::okta::Action, outcome -> ExecutionResult).

#include "daemon/decision_adapter.h"

#include <gtest/gtest.h>

#include "daemon/response_okta.h"

namespace og::test {
namespace {

using correlator::Decision;
using daemon::ActionKind;
using daemon::ActionParams;
using daemon::PlannedAction;
namespace C = correlator;

Decision base(C::ActionKind kind, std::uint32_t ordinal = 0) {
  Decision d;
  d.response = "push_fatigue_response";
  d.user = {"00uttidj01jqL21aM1d6", C::IdentityKind::okta_id};
  d.action = kind;
  d.ordinal = ordinal;
  d.detections = {"okta.mfa_push_fatigue"};
  d.evidence = {"uuid-1", "uuid-2"};
  d.risk = 90;
  d.time = C::EventTime(std::chrono::milliseconds(1'715'000'000'123));
  d.id = C::decision_id(d.response, d.user, d.time, ordinal);
  return d;
}

TEST(DecisionAdapter, CommonFieldsCarryOver) {
  Decision d = base(C::ActionKind::suspend);
  d.ttl = std::chrono::milliseconds(3'600'000);
  PlannedAction a = daemon::to_planned_action(d);
  EXPECT_EQ(a.kind, ActionKind::suspend);
  EXPECT_EQ(a.user_id, "00uttidj01jqL21aM1d6");
  EXPECT_EQ(a.login, "");
  EXPECT_TRUE(a.params.empty());
  EXPECT_EQ(a.ttl, std::chrono::seconds(3600));
  EXPECT_EQ(a.incident_id, d.id);
  EXPECT_EQ(a.detection_ids, d.detections);
  EXPECT_EQ(a.contributing_uuids, d.evidence);
  EXPECT_EQ(a.risk, 90);
  EXPECT_FALSE(a.dry_run);
  EXPECT_EQ(daemon::to_ms(a.event_time), 1'715'000'000'123);
}

TEST(DecisionAdapter, RedeliveryGivesTheSameKeyAndAnotherIncidentAnother) {
  Decision d = base(C::ActionKind::suspend);
  EXPECT_EQ(daemon::to_planned_action(d).idempotency_key(),
            daemon::to_planned_action(base(C::ActionKind::suspend)).idempotency_key());
  Decision later = base(C::ActionKind::suspend);
  later.time += std::chrono::minutes(5);
  later.id = C::decision_id(later.response, later.user, later.time, 0);
  EXPECT_NE(daemon::to_planned_action(d).idempotency_key(), daemon::to_planned_action(later).idempotency_key());
}

TEST(DecisionAdapter, SubSecondTtlRoundsUpAndNoTtlIsZero) {
  Decision d = base(C::ActionKind::add_to_group);
  d.group = "00gStepUpMfaOktaGrp1";
  d.group_is_id = true;
  d.ttl = std::chrono::milliseconds(1500);
  EXPECT_EQ(daemon::to_planned_action(d).ttl, std::chrono::seconds(2));
  d.ttl = std::chrono::milliseconds(200);
  EXPECT_EQ(daemon::to_planned_action(d).ttl, std::chrono::seconds(1));
  d.ttl.reset();
  EXPECT_EQ(daemon::to_planned_action(d).ttl, std::chrono::seconds(0));
}

TEST(DecisionAdapter, EveryKindParams) {
  EXPECT_EQ(daemon::to_planned_action(base(C::ActionKind::unsuspend)).kind, ActionKind::unsuspend);

  Decision g = base(C::ActionKind::add_to_group);
  g.group = "Step-up MFA";
  auto ga = daemon::to_planned_action(g);
  EXPECT_EQ(ga.kind, ActionKind::add_to_group);
  EXPECT_EQ(ga.params, (ActionParams{{"group_name", "Step-up MFA"}}));
  g.action = C::ActionKind::remove_from_group;
  g.group = "00gStepUpMfaOktaGrp1";
  g.group_is_id = true;
  auto gr = daemon::to_planned_action(g);
  EXPECT_EQ(gr.kind, ActionKind::remove_from_group);
  EXPECT_EQ(gr.params, (ActionParams{{"group", "00gStepUpMfaOktaGrp1"}}));

  Decision cs = base(C::ActionKind::clear_sessions);
  EXPECT_TRUE(daemon::to_planned_action(cs).params.empty());
  cs.oauth_tokens = true;
  cs.forget_devices = true;
  EXPECT_EQ(daemon::to_planned_action(cs).params, (ActionParams{{"forget_devices", "true"}, {"oauth_tokens", "true"}}));

  Decision ep = base(C::ActionKind::expire_password);
  ep.temp_password = true;
  ep.revoke_sessions = true;
  auto epa = daemon::to_planned_action(ep);
  EXPECT_EQ(epa.kind, ActionKind::expire_password);
  EXPECT_EQ(epa.params, (ActionParams{{"revoke_sessions", "true"}, {"temp_password", "true"}}));

  Decision rp = base(C::ActionKind::reset_password);
  auto rpa = daemon::to_planned_action(rp);
  EXPECT_EQ(rpa.kind, ActionKind::reset_password);
  EXPECT_EQ(rpa.params, (ActionParams{{"send_email", "false"}}));
  rp.send_email = true;
  rp.revoke_sessions = true;
  EXPECT_EQ(daemon::to_planned_action(rp).params, (ActionParams{{"revoke_sessions", "true"}, {"send_email", "true"}}));

  Decision sp = base(C::ActionKind::set_profile);
  sp.profile = {{"uebaHealth", "10"}, {"riskLevel", "high"}, {"note", "\"quoted\""}};
  auto spa = daemon::to_planned_action(sp);
  EXPECT_EQ(spa.kind, ActionKind::set_profile);
  EXPECT_EQ(spa.params, (ActionParams{{"note", R"("\"quoted\"")"}, {"riskLevel", "high"}, {"uebaHealth", "10"}}));

  Decision ur = base(C::ActionKind::set_user_risk);
  ur.level = "medium";
  auto ura = daemon::to_planned_action(ur);
  EXPECT_EQ(ura.kind, ActionKind::set_user_risk);
  EXPECT_EQ(ura.params.at("level"), "MEDIUM");
  // '_' is outside Okta's allowed reason characters.
  EXPECT_EQ(ura.params.at("reason"), "oktaguard okta.mfa-push-fatigue risk 90");
  ur.level.clear();
  EXPECT_EQ(daemon::to_planned_action(ur).params.at("level"), "HIGH");

  Decision n = base(C::ActionKind::notify);
  EXPECT_TRUE(daemon::to_planned_action(n).params.empty());
  n.message = "look at user 00u";
  auto na = daemon::to_planned_action(n);
  EXPECT_EQ(na.kind, ActionKind::notify);
  EXPECT_EQ(na.params, (ActionParams{{"message", "look at user 00u"}}));
}

TEST(DecisionAdapter, UnresolvedLoginKeepsTheLoginForTheExecutor) {
  Decision d = base(C::ActionKind::suspend);
  d.user = {"john.doe@example.com", C::IdentityKind::login};
  auto a = daemon::to_planned_action(d);
  EXPECT_EQ(a.user_id, "john.doe@example.com");
  EXPECT_EQ(a.login, "john.doe@example.com");
  auto plan = daemon::plan_okta_action(a);
  ASSERT_TRUE(plan) << plan.error();
  EXPECT_EQ(plan->user_name, "john.doe@example.com");
  EXPECT_EQ(plan->action.user_id, "");
}

TEST(DecisionAdapter, DryRunPerResponse) {
  daemon::DecisionAdapterOptions o;
  o.dry_run_responses = {"push_fatigue_response"};
  EXPECT_TRUE(daemon::to_planned_action(base(C::ActionKind::suspend), o).dry_run);
  o.dry_run_responses = {"other"};
  EXPECT_FALSE(daemon::to_planned_action(base(C::ActionKind::suspend), o).dry_run);
}

TEST(DecisionAdapter, GroupsOneFiringIntoOrderedSteps) {
  std::vector<Decision> ds;
  ds.push_back(base(C::ActionKind::clear_sessions, 1));
  Decision other_user = base(C::ActionKind::suspend, 0);
  other_user.user.id = "00uHomerSimpsonDuff1";
  ds.push_back(other_user);
  ds.push_back(base(C::ActionKind::add_to_group, 0));
  ds.back().group = "Step-up MFA";
  ds.push_back(base(C::ActionKind::suspend, 2));
  daemon::DecisionAdapterOptions o;
  o.stop_on_failure = true;
  auto rs = daemon::to_responses(ds, o);
  ASSERT_EQ(rs.size(), 2u);
  ASSERT_EQ(rs[0].steps.size(), 3u);
  EXPECT_TRUE(rs[0].stop_on_failure);
  EXPECT_EQ(rs[0].steps[0].kind, ActionKind::add_to_group);
  EXPECT_EQ(rs[0].steps[1].kind, ActionKind::clear_sessions);
  EXPECT_EQ(rs[0].steps[2].kind, ActionKind::suspend);
  ASSERT_EQ(rs[1].steps.size(), 1u);
  EXPECT_EQ(rs[1].steps[0].user_id, "00uHomerSimpsonDuff1");
}

TEST(DecisionAdapter, RiskReasonKeepsOnlyOktaCharacters) {
  EXPECT_EQ(daemon::okta_risk_reason("a_b!c, d-e.f\x01"), "a-b-c, d-e.f-");
  EXPECT_EQ(daemon::okta_risk_reason(std::string(600, 'x')).size(), 500u);
}

// -- the executor's pure mapping ---------------------------------------------------------------

okta::Action plan_of(const Decision& d) {
  auto plan = daemon::plan_okta_action(daemon::to_planned_action(d));
  EXPECT_TRUE(plan) << plan.error();
  return plan ? plan->action : okta::Action{};
}

TEST(OktaPlan, ProfileValuesKeepTheirJsonTypes) {
  EXPECT_EQ(daemon::parse_profile_value("35"), okta::ProfileValue(std::int64_t{35}));
  EXPECT_EQ(daemon::parse_profile_value("-7"), okta::ProfileValue(std::int64_t{-7}));
  EXPECT_EQ(daemon::parse_profile_value("0.25"), okta::ProfileValue(0.25));
  EXPECT_EQ(daemon::parse_profile_value("1e3"), okta::ProfileValue(1000.0));
  EXPECT_EQ(daemon::parse_profile_value("true"), okta::ProfileValue(true));
  EXPECT_EQ(daemon::parse_profile_value("false"), okta::ProfileValue(false));
  EXPECT_EQ(daemon::parse_profile_value("null"), okta::ProfileValue(nullptr));
  EXPECT_EQ(daemon::parse_profile_value("high"), okta::ProfileValue(std::string("high")));
  EXPECT_EQ(daemon::parse_profile_value("012"), okta::ProfileValue(std::string("012")));
  EXPECT_EQ(daemon::parse_profile_value("1."), okta::ProfileValue(std::string("1.")));
  EXPECT_EQ(daemon::parse_profile_value(R"("35")"), okta::ProfileValue(std::string("35")));
  EXPECT_EQ(daemon::parse_profile_value(R"("a\"b\u00e9\ud83d\ude00")"),
            okta::ProfileValue(std::string("a\"b\xc3\xa9\xf0\x9f\x98\x80")));
  EXPECT_EQ(daemon::parse_profile_value(R"("a"b")"), okta::ProfileValue(std::string(R"("a"b")")));
  // A quoted rendering survives the adapter and the executor unchanged.
  EXPECT_EQ(daemon::parse_profile_value(daemon::profile_param_value("\"x\"")),
            okta::ProfileValue(std::string("\"x\"")));
}

TEST(OktaPlan, EveryKindMapsToTheOktaAction) {
  EXPECT_EQ(plan_of(base(C::ActionKind::suspend)).kind(), okta::ActionKind::suspend);
  EXPECT_EQ(plan_of(base(C::ActionKind::unsuspend)).kind(), okta::ActionKind::unsuspend);

  Decision cs = base(C::ActionKind::clear_sessions);
  cs.oauth_tokens = true;
  auto csa = std::get<okta::Action::ClearSessions>(plan_of(cs).params);
  EXPECT_TRUE(csa.oauth_tokens);
  EXPECT_FALSE(csa.forget_devices);

  Decision ep = base(C::ActionKind::expire_password);
  ep.temp_password = true;
  ep.revoke_sessions = true;
  auto epa = std::get<okta::Action::ExpirePassword>(plan_of(ep).params);
  EXPECT_TRUE(epa.temp_password);
  EXPECT_TRUE(epa.revoke_sessions);

  Decision rp = base(C::ActionKind::reset_password);
  rp.revoke_sessions = true;
  auto rpa = std::get<okta::Action::ResetPassword>(plan_of(rp).params);
  EXPECT_FALSE(rpa.send_email);
  EXPECT_TRUE(rpa.revoke_sessions);

  Decision sp = base(C::ActionKind::set_profile);
  sp.profile = {{"uebaHealth", "10"}, {"riskLevel", "high"}};
  auto spa = plan_of(sp);
  EXPECT_EQ(okta::profile_update_body(std::get<okta::Action::SetProfile>(spa.params).attrs),
            R"({"profile":{"riskLevel":"high","uebaHealth":10}})");
  EXPECT_EQ(daemon::describe_request(spa), "POST /api/v1/users/00uttidj01jqL21aM1d6");

  Decision g = base(C::ActionKind::add_to_group);
  g.group = "00gStepUpMfaOktaGrp1";
  g.group_is_id = true;
  auto ga = plan_of(g);
  EXPECT_EQ(std::get<okta::Action::AddToGroup>(ga.params).group_id, "00gStepUpMfaOktaGrp1");
  EXPECT_EQ(daemon::describe_request(ga), "PUT /api/v1/groups/00gStepUpMfaOktaGrp1/users/00uttidj01jqL21aM1d6");
  g.action = C::ActionKind::remove_from_group;
  g.group = "Step-up MFA";
  g.group_is_id = false;
  auto gplan = daemon::plan_okta_action(daemon::to_planned_action(g));
  ASSERT_TRUE(gplan);
  EXPECT_EQ(gplan->group_name, "Step-up MFA");
  EXPECT_EQ(gplan->action.kind(), okta::ActionKind::remove_from_group);

  Decision ur = base(C::ActionKind::set_user_risk);
  ur.level = "LOW";
  auto ura = std::get<okta::Action::SetUserRisk>(plan_of(ur).params);
  EXPECT_EQ(ura.level, okta::RiskLevel::low);
  EXPECT_EQ(ura.reason, "oktaguard okta.mfa-push-fatigue risk 90");
  EXPECT_FALSE(okta::validate(plan_of(ur)));

  EXPECT_FALSE(daemon::plan_okta_action(daemon::to_planned_action(base(C::ActionKind::notify))));
}

TEST(OktaPlan, BadParamsAreRefusedWithTheirName) {
  PlannedAction a;
  a.kind = ActionKind::clear_sessions;
  a.user_id = "00uttidj01jqL21aM1d6";
  a.params = {{"oauth_tokens", "yes"}};
  auto p = daemon::plan_okta_action(a);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("oauth_tokens"), std::string::npos);
  a.kind = ActionKind::add_to_group;
  a.params = {};
  EXPECT_FALSE(daemon::plan_okta_action(a));
  a.kind = ActionKind::set_user_risk;
  a.params = {{"level", "EXTREME"}};
  EXPECT_FALSE(daemon::plan_okta_action(a));
  a.kind = ActionKind::suspend;
  a.user_id.clear();
  EXPECT_FALSE(daemon::plan_okta_action(a));
}

TEST(OktaPlan, OutcomeMapsWithTheSecretOnlyInItsField) {
  okta::ActionOutcome o;
  o.kind = okta::OutcomeKind::success;
  o.http_status = 200;
  o.secret = okta::Secret("Tmp-Pass-4242");
  okta::Action act{"00uttidj01jqL21aM1d6", okta::Action::ExpirePassword{true, true}};
  auto r = daemon::to_execution_result(std::move(o), act);
  EXPECT_EQ(r.outcome, daemon::Outcome::success);
  EXPECT_EQ(r.http_status, 200u);
  EXPECT_EQ(r.secret, "Tmp-Pass-4242");
  EXPECT_EQ(r.request, "POST /api/v1/users/00uttidj01jqL21aM1d6/lifecycle/expire_password_with_temp_password");
  EXPECT_EQ(r.summary.find("Tmp-Pass-4242"), std::string::npos);

  okta::ActionOutcome nf;
  nf.kind = okta::OutcomeKind::not_found;
  nf.http_status = 404;
  nf.okta_error = okta::OktaError{"E0000007", "Not found: Resource not found: 00u", {}, {}, {}};
  auto rn = daemon::to_execution_result(std::move(nf), act);
  EXPECT_EQ(rn.outcome, daemon::Outcome::not_found);
  EXPECT_EQ(rn.okta_error_code, "E0000007");
  EXPECT_EQ(rn.okta_error_summary, "Not found: Resource not found: 00u");
  EXPECT_TRUE(rn.secret.empty());

  for (auto k : {okta::OutcomeKind::already_in_state, okta::OutcomeKind::forbidden, okta::OutcomeKind::invalid,
                 okta::OutcomeKind::rate_limited, okta::OutcomeKind::transient, okta::OutcomeKind::unknown})
    EXPECT_EQ(daemon::to_string(daemon::to_outcome(k)), okta::to_string(k));
}

}  // namespace
}  // namespace og::test
