#include <gtest/gtest.h>

#include <set>

#include "okta_client/actions.h"

namespace og::test {
namespace {

using okta::Action;
using okta::http::verb;

constexpr const char* kUser = "00usfdd3eO3sfObs54x6";
constexpr const char* kGroup = "00gsf7bj3rH2d9PvL4x6";

Action make(Action::Params p) {
  return Action{kUser, std::move(p)};
}

struct Expected {
  Action action;
  verb method;
  std::string target;
  std::string body;
  bool idempotent;
};

std::vector<Expected> every_operation() {
  return {
      {make(Action::Suspend{}), verb::post, "/api/v1/users/00usfdd3eO3sfObs54x6/lifecycle/suspend", "", false},
      {make(Action::Unsuspend{}), verb::post, "/api/v1/users/00usfdd3eO3sfObs54x6/lifecycle/unsuspend", "", false},
      {make(Action::ClearSessions{}), verb::delete_,
       "/api/v1/users/00usfdd3eO3sfObs54x6/sessions?oauthTokens=false&forgetDevices=false", "", true},
      {make(Action::ClearSessions{true, true}), verb::delete_,
       "/api/v1/users/00usfdd3eO3sfObs54x6/sessions?oauthTokens=true&forgetDevices=true", "", true},
      {make(Action::ExpirePassword{}), verb::post, "/api/v1/users/00usfdd3eO3sfObs54x6/lifecycle/expire_password", "",
       false},
      {make(Action::ExpirePassword{true, true}), verb::post,
       "/api/v1/users/00usfdd3eO3sfObs54x6/lifecycle/expire_password_with_temp_password?revokeSessions=true", "",
       false},
      {make(Action::ExpirePassword{true, false}), verb::post,
       "/api/v1/users/00usfdd3eO3sfObs54x6/lifecycle/expire_password_with_temp_password?revokeSessions=false", "",
       false},
      {make(Action::ResetPassword{true, false}), verb::post,
       "/api/v1/users/00usfdd3eO3sfObs54x6/lifecycle/reset_password?sendEmail=true&revokeSessions=false", "", false},
      {make(Action::ResetPassword{false, true}), verb::post,
       "/api/v1/users/00usfdd3eO3sfObs54x6/lifecycle/reset_password?sendEmail=false&revokeSessions=true", "", false},
      {make(Action::SetProfile{{{"uebaHealth", std::int64_t{40}}, {"riskNote", std::string("push \"fatigue\"")}}}),
       verb::post, "/api/v1/users/00usfdd3eO3sfObs54x6",
       R"({"profile":{"riskNote":"push \"fatigue\"","uebaHealth":40}})", true},
      {make(Action::AddToGroup{kGroup}), verb::put, "/api/v1/groups/00gsf7bj3rH2d9PvL4x6/users/00usfdd3eO3sfObs54x6",
       "", true},
      {make(Action::RemoveFromGroup{kGroup}), verb::delete_,
       "/api/v1/groups/00gsf7bj3rH2d9PvL4x6/users/00usfdd3eO3sfObs54x6", "", true},
      {make(Action::SetUserRisk{okta::RiskLevel::high, "MFA push fatigue, 5 denies in 2m."}), verb::put,
       "/api/v1/users/00usfdd3eO3sfObs54x6/risk",
       R"({"riskLevel":"HIGH","riskReason":"MFA push fatigue, 5 denies in 2m."})", true},
      {make(Action::SetUserRisk{okta::RiskLevel::low, ""}), verb::put, "/api/v1/users/00usfdd3eO3sfObs54x6/risk",
       R"({"riskLevel":"LOW"})", true},
  };
}

TEST(ActionsRequest, EveryOperationOnItsRealPath) {
  for (const auto& e : every_operation()) {
    SCOPED_TRACE(e.action.canonical());
    ASSERT_FALSE(okta::validate(e.action)) << *okta::validate(e.action);
    const okta::Request r = okta::build_request(e.action);
    EXPECT_EQ(r.method, e.method);
    EXPECT_EQ(r.target, e.target);
    EXPECT_EQ(r.body, e.body);
    EXPECT_EQ(r.idempotent, e.idempotent);
    EXPECT_EQ(r.priority, okta::Priority::enforcement);
    EXPECT_TRUE(r.headers.empty());
  }
}

TEST(ActionsRequest, ProfileUpdateIsPartialAndTyped) {
  okta::ProfileAttrs attrs{{"b", true}, {"a", nullptr}, {"d", 0.5}, {"c", std::int64_t{-3}}};
  EXPECT_EQ(okta::profile_update_body(attrs), R"({"profile":{"a":null,"b":true,"c":-3,"d":0.5}})");
  // A hostile value stays a JSON string: it cannot add attributes.
  okta::ProfileAttrs hostile{{"note", std::string("\",\"login\":\"attacker@evil")}};
  EXPECT_EQ(okta::profile_update_body(hostile), R"({"profile":{"note":"\",\"login\":\"attacker@evil"}})");
}

TEST(ActionsRequest, CanonicalStringsAreStableAndDistinct) {
  std::set<std::string> seen;
  for (const auto& e : every_operation()) {
    const auto c = e.action.canonical();
    EXPECT_TRUE(seen.insert(c).second) << "duplicate canonical " << c;
    EXPECT_EQ(c, Action(e.action).canonical());
  }
  EXPECT_EQ(make(Action::Suspend{}).canonical(), R"(suspend;user="00usfdd3eO3sfObs54x6")");
  EXPECT_EQ(make(Action::ClearSessions{true, false}).canonical(),
            R"(clear_sessions;user="00usfdd3eO3sfObs54x6";oauth_tokens=true;forget_devices=false)");
  // Attribute order does not matter; values and users do.
  okta::ProfileAttrs x{{"a", std::int64_t{1}}, {"b", std::int64_t{2}}};
  okta::ProfileAttrs y;
  y.emplace("b", std::int64_t{2});
  y.emplace("a", std::int64_t{1});
  EXPECT_EQ(make(Action::SetProfile{x}).canonical(), make(Action::SetProfile{y}).canonical());
  EXPECT_NE(make(Action::SetProfile{{{"a", std::int64_t{1}}}}).canonical(),
            make(Action::SetProfile{{{"a", std::string("1")}}}).canonical());
  EXPECT_NE(make(Action::AddToGroup{kGroup}).canonical(), make(Action::RemoveFromGroup{kGroup}).canonical());
  EXPECT_NE(make(Action::Suspend{}).canonical(), (Action{"00uother0000000000000", Action::Suspend{}}).canonical());
}

TEST(ActionsRequest, ValidationRefusesWhatOktaWouldOrWhatCouldEscapeThePath) {
  EXPECT_TRUE(okta::validate(Action{"", Action::Suspend{}}));
  EXPECT_TRUE(okta::validate(Action{"00u1/../../groups", Action::Suspend{}}));
  EXPECT_TRUE(okta::validate(Action{"00u1?x=1", Action::Suspend{}}));
  // "me" names the API token's own user: an event must never be able to suspend the admin.
  EXPECT_TRUE(okta::validate(Action{"me", Action::Suspend{}}));
  EXPECT_TRUE(okta::validate(Action{"ME", Action::Suspend{}}));
  EXPECT_TRUE(okta::validate(make(Action::AddToGroup{"00g1/users"})));
  EXPECT_TRUE(okta::validate(make(Action::ExpirePassword{false, true})));
  EXPECT_TRUE(okta::validate(make(Action::SetProfile{})));
  EXPECT_TRUE(okta::validate(make(Action::SetProfile{{{"x", std::numeric_limits<double>::infinity()}}})));
  EXPECT_TRUE(okta::validate(make(Action::SetUserRisk{okta::RiskLevel::high, "bad <script>"})));
  EXPECT_TRUE(okta::validate(make(Action::SetUserRisk{okta::RiskLevel::high, std::string(501, 'a')})));
  EXPECT_FALSE(okta::validate(make(Action::SetUserRisk{okta::RiskLevel::medium, std::string(500, 'a')})));
}

}  // namespace
}  // namespace og::test
