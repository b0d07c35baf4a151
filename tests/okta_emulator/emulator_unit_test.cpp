// The emulator's parts without sockets: status machine, search expressions, rate limiter, JWT
// checks, and the API answers for the operations oktaguard performs.
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <set>

#include "tests/okta_emulator/api.h"
#include "tests/okta_emulator/jwt.h"
#include "tests/okta_emulator/lifecycle.h"
#include "tests/okta_emulator/rate_limiter.h"
#include "tests/okta_emulator/search_expr.h"

namespace og::test {
namespace {

using namespace og::test::emulator;

TEST(EmulatorLifecycle, OnlyTheTransitionsTheSpecAllows) {
  const UserStatus all[] = {UserStatus::staged,    UserStatus::provisioned,      UserStatus::active,
                            UserStatus::recovery,  UserStatus::password_expired, UserStatus::locked_out,
                            UserStatus::suspended, UserStatus::deprovisioned};
  for (auto s : all) {
    SCOPED_TRACE(std::string(to_string(s)));
    EXPECT_EQ(transition(s, LifecycleOp::suspend),
              s == UserStatus::active ? std::optional(UserStatus::suspended) : std::nullopt);
    EXPECT_EQ(transition(s, LifecycleOp::unsuspend),
              s == UserStatus::suspended ? std::optional(UserStatus::active) : std::nullopt);
    EXPECT_EQ(transition(s, LifecycleOp::unlock),
              s == UserStatus::locked_out ? std::optional(UserStatus::active) : std::nullopt);
    bool usable = s == UserStatus::active || s == UserStatus::recovery || s == UserStatus::password_expired ||
                  s == UserStatus::locked_out;
    EXPECT_EQ(transition(s, LifecycleOp::expire_password).has_value(), usable);
    EXPECT_EQ(transition(s, LifecycleOp::reset_password).has_value(), usable);
    EXPECT_EQ(parse_status(to_string(s)), s);
  }
  EXPECT_EQ(transition(UserStatus::locked_out, LifecycleOp::reset_password), UserStatus::recovery);
  EXPECT_FALSE(parse_status("active"));
}

Json doc(std::string_view text) {
  return *Json::parse(text);
}

TEST(EmulatorSearch, ParsesAndEvaluatesOktaExpressions) {
  auto user = doc(R"({"id":"00u1","status":"ACTIVE","lastUpdated":"2024-01-01T00:00:00.000Z",
    "profile":{"login":"Homer.Simpson@duff.com","email":"h@duff.com","firstName":"Homer","uebaHealth":40,
    "nick":"say \"hi\" \\ bye"}})");
  auto eval = [&](std::string_view expr, bool ci) {
    auto p = parse_expression(expr);
    EXPECT_TRUE(p.expr) << expr << ": " << p.error;
    return p.expr && evaluate(*p.expr, user, ci);
  };
  EXPECT_TRUE(eval(R"(profile.login eq "homer.simpson@duff.com")", true));
  EXPECT_FALSE(eval(R"(profile.login eq "homer.simpson@duff.com")", false));  // filter= is exact
  EXPECT_TRUE(eval(R"(profile.email eq "h@duff.com" and status eq "ACTIVE")", false));
  EXPECT_TRUE(eval(R"(id eq "00u2" or (status EQ "ACTIVE" and not (id eq "00u3")))", false));
  EXPECT_FALSE(eval(R"(id eq "00u2" or status eq "SUSPENDED")", false));
  EXPECT_TRUE(eval(R"(profile.nick eq "say \"hi\" \\ bye")", false));
  EXPECT_TRUE(eval(R"(profile.firstName sw "ho")", false));
  EXPECT_TRUE(eval(R"(profile.login co "SIMPSON")", false));
  EXPECT_TRUE(eval(R"(profile.uebaHealth lt 50)", false));
  EXPECT_TRUE(eval(R"(lastUpdated gt "2023-06-01T00:00:00.000Z")", false));
  EXPECT_TRUE(eval(R"(profile.login pr)", false));
  EXPECT_FALSE(eval(R"(profile.missing pr)", false));
  // `or` binds looser than `and`.
  EXPECT_TRUE(eval(R"(id eq "00u1" or id eq "x" and status eq "NOPE")", false));

  for (auto bad : {R"(profile.login eq "unterminated)", R"(profile.login xx "a")", R"((id eq "a")", R"(id eq "a" and)",
                   R"(profile.login eq "bad \n escape")", R"(id eq "a" trailing)"}) {
    auto p = parse_expression(bad);
    EXPECT_FALSE(p.expr) << bad;
    EXPECT_FALSE(p.error.empty()) << bad;
  }
}

TEST(EmulatorSearch, ArraysMatchWhenAnyElementMatches) {
  auto event =
      doc(R"({"eventType":"user.session.start","target":[{"id":"a","type":"AppInstance"},{"id":"b","type":"User"}]})");
  auto p = parse_expression(R"(target.id eq "b" and eventType sw "user.session")");
  ASSERT_TRUE(p.expr);
  EXPECT_TRUE(evaluate(*p.expr, event, false));
  p = parse_expression(R"(target.id eq "c")");
  EXPECT_FALSE(evaluate(*p.expr, event, false));
}

TEST(EmulatorSearch, RulesRejectWhatOktaRejects) {
  ExprRules filter;
  filter.ops = {Op::eq};
  filter.attributes = {"status", "lastUpdated", "profile.login"};
  filter.range_attributes = {"lastUpdated"};
  filter.range_ops = {Op::gt};
  filter.allow_not = false;
  auto check = [&](std::string_view e) { return check_rules(*parse_expression(e).expr, filter); };
  EXPECT_EQ(check(R"(status eq "ACTIVE" or profile.login eq "x")"), "");
  EXPECT_EQ(check(R"(lastUpdated gt "2020-01-01T00:00:00.000Z")"), "");
  EXPECT_NE(check(R"(status gt "A")"), "");
  EXPECT_NE(check(R"(profile.city eq "x")"), "");
  EXPECT_NE(check(R"(not (status eq "ACTIVE"))"), "");
}

TEST(EmulatorRateLimiter, FixedMinuteWindowPerBucket) {
  RateLimiter rl(1000);
  rl.set_limit("users-lifecycle", 2);
  auto a = rl.take("users-lifecycle", 100);
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.limit, 2);
  EXPECT_EQ(a.remaining, 1);
  EXPECT_EQ(a.reset_epoch_s, 160);
  EXPECT_TRUE(rl.take("users-lifecycle", 130).allowed);
  auto c = rl.take("users-lifecycle", 159);
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.remaining, 0);
  EXPECT_EQ(c.reset_epoch_s, 160);
  EXPECT_TRUE(rl.take("users", 159).allowed);  // other buckets are unaffected
  EXPECT_EQ(rl.take("users", 159).limit, 1000);
  auto d = rl.take("users-lifecycle", 160);  // the window rolled over
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reset_epoch_s, 220);
}

TEST(EmulatorBuckets, NamedAsOktaDocumentsThem) {
  // developer.okta.com/docs/reference/rl-global-mgmt: create/list users, get a user by id or login,
  // update/delete a user by id (the user's sub-resources with it), groups except by id, group by id.
  EXPECT_EQ(bucket_for("GET", "/api/v1/users"), "users");
  EXPECT_EQ(bucket_for("POST", "/api/v1/users"), "users");
  EXPECT_EQ(bucket_for("GET", "/api/v1/users/00u1"), "users-get");
  EXPECT_EQ(bucket_for("GET", "/api/v1/users/homer.simpson@duff.com"), "users-get");
  EXPECT_EQ(bucket_for("POST", "/api/v1/users/00u1"), "users-id");  // partial update: with the lifecycle ops
  EXPECT_EQ(bucket_for("DELETE", "/api/v1/users/00u1"), "users-id");
  EXPECT_EQ(bucket_for("POST", "/api/v1/users/00u1/lifecycle/suspend"), "users-id");
  EXPECT_EQ(bucket_for("DELETE", "/api/v1/users/00u1/sessions"), "users-id");
  EXPECT_EQ(bucket_for("PUT", "/api/v1/users/00u1/risk"), "users-id");
  EXPECT_EQ(bucket_for("GET", "/api/v1/users/00u1/groups"), "users-id");
  EXPECT_EQ(bucket_for("GET", "/api/v1/groups"), "groups");
  EXPECT_EQ(bucket_for("GET", "/api/v1/groups/00g1"), "groups-id");
  EXPECT_EQ(bucket_for("GET", "/api/v1/groups/00g1/users"), "groups");
  EXPECT_EQ(bucket_for("PUT", "/api/v1/groups/00g1/users/00u1"), "groups");
  EXPECT_EQ(bucket_for("GET", "/api/v1/logs"), "logs");
  EXPECT_EQ(bucket_for("POST", "/oauth2/v1/token"), "oauth2-token");
  EXPECT_EQ(bucket_for("GET", "/api/v1/apps"), "default");
  for (const char* path : {"/api/v1/users", "/api/v1/users/00u1", "/api/v1/users/00u1/lifecycle/suspend",
                           "/api/v1/groups/00g1", "/api/v1/groups/00g1/users", "/api/v1/logs", "/api/v1/apps"}) {
    for (const char* method : {"GET", "POST"}) {
      const auto& names = bucket_names();
      EXPECT_NE(std::find(names.begin(), names.end(), bucket_for(method, path)), names.end()) << method << path;
    }
  }
}

TEST(EmulatorTime, IsoAndHttpDates) {
  EXPECT_EQ(iso_time(1759117795123), "2025-09-29T03:49:55.123Z");
  EXPECT_EQ(parse_iso_time("2025-09-29T03:49:55.123Z"), 1759117795123);
  EXPECT_EQ(parse_iso_time("2021-06-25T21:27:03.49Z"), parse_iso_time("2021-06-25T21:27:03.490Z"));
  EXPECT_EQ(parse_iso_time("2021-06-25T21:27:03.490123456Z"), parse_iso_time("2021-06-25T21:27:03.490Z"));
  EXPECT_EQ(parse_iso_time("2025-09-29T05:49:55.123+02:00"), 1759117795123);
  EXPECT_FALSE(parse_iso_time("redacted"));
  EXPECT_EQ(http_date(1759117795123), "Mon, 29 Sep 2025 03:49:55 GMT");
}

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

TEST(EmulatorJwt, VerifiesRs256AndEs256) {
  for (bool ec : {false, true}) {
    std::unique_ptr<EVP_PKEY, KeyFree> key(ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
    ASSERT_TRUE(key);
    Json claims = Json::object();
    claims.set("iss", "0oa1");
    claims.set("exp", std::int64_t{4102444800});
    auto token = sign_jwt(claims, key.get());
    ASSERT_FALSE(token.empty());
    auto r = verify_jwt(token, key.get());
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.header.get_string("alg"), ec ? "ES256" : "RS256");
    EXPECT_EQ(r.claims.get_string("iss"), "0oa1");
    // A flipped signature byte and a swapped payload both fail.
    auto bad = token;
    bad[bad.size() - 3] = bad[bad.size() - 3] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(verify_jwt(bad, key.get()).ok);
    Json other = claims;
    other.set("iss", "0oa2");
    auto dot = token.find('.');
    auto dot2 = token.find('.', dot + 1);
    auto forged = token.substr(0, dot + 1) + base64url_encode(other.dump()) + token.substr(dot2);
    EXPECT_FALSE(verify_jwt(forged, key.get()).ok);
    std::unique_ptr<EVP_PKEY, KeyFree> wrong(EVP_EC_gen("P-256"));
    EXPECT_FALSE(verify_jwt(token, wrong.get()).ok);
  }
}

// The API through its pure entry point.
class EmulatorApi : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(api_.seed(doc(R"({
      "profileSchema":{"uebaHealth":"integer","riskLevel":"string","score":"number","vip":"boolean"},
      "users":[
        {"id":"00uaaaaaaaaaaaaaaaa1","status":"ACTIVE","profile":{"login":"alice@example.com","email":"alice@example.com","firstName":"Alice","lastName":"A"}},
        {"id":"00uaaaaaaaaaaaaaaaa2","status":"ACTIVE","profile":{"login":"bob@example.com","email":"bob@example.com","firstName":"Bob","lastName":"B"}},
        {"id":"00uaaaaaaaaaaaaaaaa3","status":"SUSPENDED","profile":{"login":"carol@example.com","email":"carol@example.com","firstName":"Carol","lastName":"C"}},
        {"id":"00uaaaaaaaaaaaaaaaa4","status":"DEPROVISIONED","profile":{"login":"dave@example.com","email":"dave@example.com","firstName":"Dave","lastName":"D"}}],
      "groups":[
        {"id":"00ggggggggggggggggg1","type":"OKTA_GROUP","profile":{"name":"Step-up MFA"}},
        {"id":"00ggggggggggggggggg2","type":"APP_GROUP","profile":{"name":"AD Eng"}}],
      "memberships":[{"groupId":"00ggggggggggggggggg2","userId":"00uaaaaaaaaaaaaaaaa1"}]})"),
                          &err))
        << err;
  }
  Response call(std::string method, std::string target, std::string body = {}, std::string auth = "SSWS test-token") {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers = {{"host", "org.example"}, {"authorization", auth}, {"user-agent", "unit"}};
    r.now_ms = now_ms_;
    return api_.handle(r);
  }
  static std::string header(const Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return {};
  }
  Api api_{Settings{}, 42};
  std::int64_t now_ms_ = 1759117795000;
};

TEST_F(EmulatorApi, AuthenticatesSswsOnly) {
  auto r = call("GET", "/api/v1/users/00uaaaaaaaaaaaaaaaa1", "", "SSWS wrong");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(doc(r.body).get_string("errorCode"), "E0000011");
  EXPECT_EQ(call("GET", "/api/v1/users/00uaaaaaaaaaaaaaaaa1", "", "").status, 401u);
  EXPECT_EQ(call("GET", "/api/v1/users/00uaaaaaaaaaaaaaaaa1", "", "Bearer nope").status, 401u);
  EXPECT_EQ(call("GET", "/api/v1/users/00uaaaaaaaaaaaaaaaa1").status, 200u);
}

TEST_F(EmulatorApi, GetsUsersByIdLoginAndShortname) {
  for (auto key : {"00uaaaaaaaaaaaaaaaa1", "alice%40example.com", "ALICE@example.com", "alice"}) {
    auto r = call("GET", std::string("/api/v1/users/") + key);
    ASSERT_EQ(r.status, 200u) << key;
    auto u = doc(r.body);
    EXPECT_EQ(u.get_string("id"), "00uaaaaaaaaaaaaaaaa1");
    EXPECT_TRUE(u.path("_links.suspend.href"));
    EXPECT_TRUE(u.path("credentials.provider.type"));
  }
  auto r = call("GET", "/api/v1/users/nobody");
  EXPECT_EQ(r.status, 404u);
  auto e = doc(r.body);
  EXPECT_EQ(e.get_string("errorCode"), "E0000007");
  EXPECT_EQ(e.get_string("errorSummary"), "Not found: Resource not found: nobody (User)");
  EXPECT_TRUE(e.find("errorCauses")->is_array());
  EXPECT_FALSE(e.get_string("errorId").empty());
}

TEST_F(EmulatorApi, SuspendUnsuspendAndIllegalTransitions) {
  auto r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/suspend");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "{}");
  r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/suspend");
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(doc(r.body).get_string("errorCode"), "E0000038");
  EXPECT_EQ(call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/unsuspend").status, 200u);
  EXPECT_EQ(call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/unsuspend").status, 403u);
  r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/unlock");
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(doc(r.body).get_string("errorCode"), "E0000032");
  EXPECT_EQ(call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa3/lifecycle/expire_password").status, 403u);
  EXPECT_EQ(call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa4/lifecycle/reset_password?sendEmail=false").status, 403u);
  EXPECT_EQ(call("POST", "/api/v1/users/00unobody/lifecycle/suspend").status, 404u);
  // The write-backs land in the System Log in order.
  std::vector<std::string> types;
  for (const auto& e : api_.logs())
    types.push_back(e.event.get_string("eventType"));
  EXPECT_EQ(types, (std::vector<std::string>{"user.lifecycle.suspend", "user.lifecycle.unsuspend"}));
}

TEST_F(EmulatorApi, PasswordOperationsReturnSecretsAndRevokeSessions) {
  auto& u = const_cast<User&>(api_.users()[0]);
  u.sessions = 3;
  auto r = call("POST",
                "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/expire_password_with_temp_password?revokeSessions=true");
  ASSERT_EQ(r.status, 200u);
  auto body = doc(r.body);
  EXPECT_EQ(body.get_string("tempPassword").size(), 12u);
  EXPECT_EQ(api_.users()[0].status, UserStatus::password_expired);
  EXPECT_EQ(api_.users()[0].sessions, 0);
  r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/reset_password");
  EXPECT_EQ(r.status, 400u);  // sendEmail is required
  r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/reset_password?sendEmail=false");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(doc(r.body).get_string("resetPasswordUrl").rfind("http://org.example/reset_password/", 0), 0u);
  EXPECT_EQ(api_.users()[0].status, UserStatus::recovery);
  r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa2/lifecycle/expire_password");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(doc(r.body).get_string("status"), "PASSWORD_EXPIRED");
  r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa2/lifecycle/expire_password?tempPassword=true");
  ASSERT_EQ(r.status, 200u);
  EXPECT_FALSE(doc(r.body).get_string("tempPassword").empty());
  auto state = api_.state_json();
  EXPECT_EQ(state.find("tempPasswords")->as_array().size(), 2u);
  EXPECT_EQ(state.find("resetPasswordUrls")->as_array().size(), 1u);
}

TEST_F(EmulatorApi, ProfileUpdatesAreTyped) {
  auto r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1",
                R"({"profile":{"uebaHealth":35,"riskLevel":"HIGH","score":0.5,"vip":true}})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto u = doc(r.body);
  EXPECT_EQ(u.path("profile.uebaHealth")->as_int(), 35);
  EXPECT_EQ(u.path("profile.firstName")->as_string(), "Alice");  // partial: untouched
  for (auto bad : {R"({"profile":{"uebaHealth":"35"}})", R"({"profile":{"uebaHealth":3.5}})",
                   R"({"profile":{"vip":"yes"}})", R"({"profile":{"unknownAttr":1}})",
                   R"({"profile":{"login":"bob@example.com"}})", R"({"profile":{"email":null}})"}) {
    r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1", bad);
    EXPECT_EQ(r.status, 400u) << bad;
    auto e = doc(r.body);
    EXPECT_EQ(e.get_string("errorCode"), "E0000001") << bad;
    EXPECT_FALSE(e.find("errorCauses")->as_array().empty()) << bad;
  }
  EXPECT_EQ(call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1", "not json").status, 400u);
  EXPECT_EQ(api_.users()[0].profile.find("uebaHealth")->as_int(), 35);
}

TEST_F(EmulatorApi, SearchFilterQueryAndPagination) {
  auto ids = [&](const Response& r) {
    std::vector<std::string> out;
    auto list = doc(r.body);
    for (const auto& u : list.as_array())
      out.push_back(u.get_string("id"));
    return out;
  };
  auto r = call("GET", "/api/v1/users?search=profile.login+eq+%22BOB%40example.com%22");
  EXPECT_EQ(ids(r), (std::vector<std::string>{"00uaaaaaaaaaaaaaaaa2"}));
  r = call("GET", "/api/v1/users?filter=status+eq+%22DEPROVISIONED%22");
  EXPECT_EQ(ids(r), (std::vector<std::string>{"00uaaaaaaaaaaaaaaaa4"}));
  r = call("GET", "/api/v1/users");  // no query: DEPROVISIONED users left out
  EXPECT_EQ(ids(r).size(), 3u);
  r = call("GET", "/api/v1/users?q=ca");
  EXPECT_EQ(ids(r), (std::vector<std::string>{"00uaaaaaaaaaaaaaaaa3"}));
  r = call("GET", "/api/v1/users?filter=profile.city+eq+%22x%22");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(doc(r.body).get_string("errorCode"), "E0000031");

  r = call("GET", "/api/v1/users?limit=2&search=status+eq+%22ACTIVE%22+or+status+eq+%22SUSPENDED%22");
  EXPECT_EQ(ids(r), (std::vector<std::string>{"00uaaaaaaaaaaaaaaaa1", "00uaaaaaaaaaaaaaaaa2"}));
  auto link = header(r, "Link");
  auto next = link.find("rel=\"next\"");
  ASSERT_NE(next, std::string::npos) << link;
  auto start = link.rfind('<', next), end = link.rfind('>', next);
  auto url = link.substr(start + 1, end - start - 1);
  EXPECT_NE(url.find("after=00uaaaaaaaaaaaaaaaa2"), std::string::npos);
  r = call("GET", url.substr(std::string("http://org.example").size()));
  EXPECT_EQ(ids(r), (std::vector<std::string>{"00uaaaaaaaaaaaaaaaa3"}));
  EXPECT_EQ(header(r, "Link").find("rel=\"next\""), std::string::npos);
}

TEST_F(EmulatorApi, GroupMembershipOnlyForOktaGroups) {
  EXPECT_EQ(call("PUT", "/api/v1/groups/00ggggggggggggggggg1/users/00uaaaaaaaaaaaaaaaa2").status, 204u);
  auto r = call("GET", "/api/v1/users/00uaaaaaaaaaaaaaaaa2/groups");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(doc(r.body).as_array().size(), 1u);
  r = call("PUT", "/api/v1/groups/00ggggggggggggggggg2/users/00uaaaaaaaaaaaaaaaa2");
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(call("DELETE", "/api/v1/groups/00ggggggggggggggggg2/users/00uaaaaaaaaaaaaaaaa1").status, 403u);
  EXPECT_EQ(call("PUT", "/api/v1/groups/00gnope/users/00uaaaaaaaaaaaaaaaa2").status, 404u);
  EXPECT_EQ(call("PUT", "/api/v1/groups/00ggggggggggggggggg1/users/00unope").status, 404u);
  EXPECT_EQ(call("DELETE", "/api/v1/groups/00ggggggggggggggggg1/users/00uaaaaaaaaaaaaaaaa2").status, 204u);
  r = call("GET", "/api/v1/groups?search=type+eq+%22APP_GROUP%22");
  ASSERT_EQ(doc(r.body).as_array().size(), 1u);
  r = call("GET", "/api/v1/groups?q=step");
  ASSERT_EQ(doc(r.body).as_array().size(), 1u);
  std::vector<std::string> types;
  for (const auto& e : api_.logs())
    types.push_back(e.event.get_string("eventType"));
  EXPECT_EQ(types, (std::vector<std::string>{"group.user_membership.add", "group.user_membership.remove"}));
}

TEST_F(EmulatorApi, RiskSessionsAndLogsPolling) {
  auto r = call("GET", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/risk");
  EXPECT_EQ(doc(r.body).get_string("riskLevel"), "NONE");
  r = call("PUT", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/risk",
           R"({"riskLevel":"HIGH","riskReason":"oktaguard push fatigue"})");
  EXPECT_EQ(r.status, 201u);
  r = call("PUT", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/risk", R"({"riskLevel":"LOW"})");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(doc(r.body).get_string("reason"), "override.by.admin");
  EXPECT_EQ(call("PUT", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/risk", R"({"riskLevel":"NONE"})").status, 400u);
  r = call("DELETE", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/sessions?oauthTokens=true");
  EXPECT_EQ(r.status, 204u);
  EXPECT_TRUE(r.body.empty());

  // Poll: everything so far, then an empty page that still carries rel="next", then new events.
  r = call("GET", "/api/v1/logs?since=2025-09-29T00:00:00.000Z&limit=2");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(doc(r.body).as_array().size(), 2u);
  auto next_of = [&](const Response& resp) {
    auto link = header(resp, "Link");
    auto pos = link.find("rel=\"next\"");
    EXPECT_NE(pos, std::string::npos) << link;
    auto s = link.rfind('<', pos), e = link.rfind('>', pos);
    return link.substr(s + 1, e - s - 1).substr(std::string("http://org.example").size());
  };
  r = call("GET", next_of(r));
  auto page = doc(r.body);
  ASSERT_EQ(page.as_array().size(), 1u);
  EXPECT_EQ(page.as_array()[0].get_string("eventType"), "user.session.clear");
  auto target = page.as_array()[0].find("target")->as_array()[0];
  EXPECT_EQ(target.get_string("id"), "00uaaaaaaaaaaaaaaaa1");
  EXPECT_EQ(target.get_string("alternateId"), "alice@example.com");
  auto poll = next_of(r);
  r = call("GET", poll);
  EXPECT_EQ(doc(r.body).as_array().size(), 0u);
  auto again = next_of(r);
  now_ms_ += 1000;
  call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/suspend");
  r = call("GET", again);
  ASSERT_EQ(doc(r.body).as_array().size(), 1u);
  EXPECT_EQ(doc(r.body).as_array()[0].get_string("eventType"), "user.lifecycle.suspend");

  r = call("GET",
           "/api/v1/logs?since=2025-09-29T00:00:00.000Z&filter=eventType+eq+%22user.risk.change%22"
           "&sortOrder=DESCENDING");
  EXPECT_EQ(doc(r.body).as_array().size(), 2u);
  r = call("GET", "/api/v1/logs?since=2025-09-29T00:00:00.000Z&until=2025-09-29T03:49:55.000Z");
  EXPECT_EQ(doc(r.body).as_array().size(), 0u);  // until is exclusive
  EXPECT_EQ(call("GET", "/api/v1/logs?limit=5000").status, 400u);
}

TEST_F(EmulatorApi, RateLimitAnswers429WithHeaders) {
  std::string err;
  ASSERT_TRUE(api_.apply_setting("rate-limit", "users-id=2", &err)) << err;
  EXPECT_EQ(call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/suspend").status, 200u);
  // The partial profile update shares the lifecycle calls' bucket, as in Okta.
  EXPECT_EQ(call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa2", R"({"profile":{"uebaHealth":5}})").status, 200u);
  auto r = call("POST", "/api/v1/users/00uaaaaaaaaaaaaaaaa1/lifecycle/unsuspend");
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(doc(r.body).get_string("errorCode"), "E0000047");
  EXPECT_EQ(header(r, "X-Rate-Limit-Limit"), "2");
  EXPECT_EQ(header(r, "X-Rate-Limit-Remaining"), "0");
  EXPECT_EQ(header(r, "X-Rate-Limit-Reset"), std::to_string(now_ms_ / 1000 + 60));
  EXPECT_EQ(header(r, "Date"), http_date(now_ms_));
  // Getting a single user and listing users are buckets of their own.
  ASSERT_TRUE(api_.apply_setting("rate-limit", "users-get=1", &err)) << err;
  EXPECT_EQ(call("GET", "/api/v1/users/00uaaaaaaaaaaaaaaaa1").status, 200u);
  r = call("GET", "/api/v1/users/alice@example.com");
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(header(r, "X-Rate-Limit-Limit"), "1");
  r = call("GET", "/api/v1/users?limit=1");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(header(r, "X-Rate-Limit-Limit"), "6000");
  EXPECT_FALSE(api_.apply_setting("rate-limit", "users", &err));
  EXPECT_FALSE(api_.apply_setting("rate-limit", "users-lifecycle=1", &err));  // no such bucket in Okta
  EXPECT_NE(err.find("users-id"), std::string::npos) << err;
  EXPECT_FALSE(api_.apply_setting("fault-5xx", "1.5", &err));
  EXPECT_FALSE(api_.apply_setting("no-such", "1", &err));
}

TEST_F(EmulatorApi, ConcurrencyLimit429ReportsTheConcurrentValues) {
  std::string err;
  ASSERT_TRUE(api_.apply_setting("concurrency-limit", "3", &err)) << err;
  ASSERT_TRUE(api_.apply_setting("rate-limit", "users-get=100", &err)) << err;
  Request req;
  req.method = "GET";
  req.target = "/api/v1/users/00uaaaaaaaaaaaaaaaa1";
  req.headers = {{"host", "org.example"}, {"authorization", "SSWS test-token"}};
  req.now_ms = now_ms_;
  req.in_flight = 3;
  auto r = api_.handle(req);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(header(r, "X-Rate-Limit-Limit"), "100");
  EXPECT_EQ(header(r, "X-Rate-Limit-Remaining"), "99");
  req.in_flight = 4;
  r = api_.handle(req);
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(doc(r.body).get_string("errorCode"), "E0000047");
  // Not the bucket's per-minute counts: the concurrency limit, none left, an estimated reset.
  EXPECT_EQ(header(r, "X-Rate-Limit-Limit"), "3");
  EXPECT_EQ(header(r, "X-Rate-Limit-Remaining"), "0");
  EXPECT_EQ(header(r, "X-Rate-Limit-Reset"), std::to_string(now_ms_ / 1000 + 1));
  // Back under the limit the headers are the bucket's again, which the 429 did not charge.
  req.in_flight = 1;
  r = api_.handle(req);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(header(r, "X-Rate-Limit-Limit"), "100");
  EXPECT_EQ(header(r, "X-Rate-Limit-Remaining"), "98");
}

TEST_F(EmulatorApi, FaultStatusesAreConfigurable) {
  std::string err;
  EXPECT_EQ(api_.settings().fault_5xx_statuses, std::vector<unsigned>{500});
  ASSERT_TRUE(api_.apply_setting("fault-5xx-status", "503", &err)) << err;  // retried by Okta's SDKs
  Request req;
  req.method = "GET";
  req.target = "/api/v1/users/00uaaaaaaaaaaaaaaaa1";
  req.now_ms = now_ms_;
  auto r = api_.fault_response(req, api_.pick_fault_status());
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(doc(r.body).get_string("errorCode"), "E0000009");
  EXPECT_EQ(doc(r.body).get_string("errorSummary"), "Service Unavailable");
  EXPECT_FALSE(header(r, "X-Okta-Request-Id").empty());
  ASSERT_TRUE(api_.apply_setting("fault-5xx-status", "502,504", &err)) << err;
  std::set<unsigned> seen;
  for (int i = 0; i < 64; ++i)
    seen.insert(api_.pick_fault_status());
  EXPECT_EQ(seen, (std::set<unsigned>{502, 504}));
  ASSERT_TRUE(api_.apply_setting("fault-5xx-status", "500", &err)) << err;
  r = api_.fault_response(req, api_.pick_fault_status());
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(doc(r.body).get_string("errorSummary"), "Internal Server Error");
  for (const char* bad : {"", "404", "503,", "5O3", "600"})
    EXPECT_FALSE(api_.apply_setting("fault-5xx-status", bad, &err)) << bad;
  EXPECT_EQ(api_.settings().fault_5xx_statuses, std::vector<unsigned>{500});  // a bad value changes nothing
  // The config endpoint takes the list as an array too.
  Request cfg;
  cfg.method = "POST";
  cfg.target = "/__emulator/config";
  cfg.body = R"({"fault-5xx-status":[502,503,504]})";
  r = api_.handle(cfg);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(doc(r.body).find("fault-5xx-status")->dump(), "[502,503,504]");
}

TEST_F(EmulatorApi, GroupMembersPageWithLimitAfterAndNextLink) {
  for (const char* uid : {"00uaaaaaaaaaaaaaaaa1", "00uaaaaaaaaaaaaaaaa2", "00uaaaaaaaaaaaaaaaa3"})
    ASSERT_EQ(call("PUT", std::string("/api/v1/groups/00ggggggggggggggggg1/users/") + uid).status, 204u);
  auto next_of = [](const Response& r) -> std::string {
    auto link = header(r, "Link");
    auto pos = link.find("rel=\"next\"");
    if (pos == std::string::npos) return {};
    auto s = link.rfind('<', pos), e = link.rfind('>', pos);
    return link.substr(s + 1, e - s - 1).substr(std::string("http://org.example").size());
  };
  auto ids = [](const Response& r) {
    std::vector<std::string> out;
    auto page = doc(r.body);  // as_array() refers into it
    for (const auto& u : page.as_array())
      out.push_back(u.get_string("id"));
    return out;
  };
  auto r = call("GET", "/api/v1/groups/00ggggggggggggggggg1/users?limit=2");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(ids(r), (std::vector<std::string>{"00uaaaaaaaaaaaaaaaa1", "00uaaaaaaaaaaaaaaaa2"}));
  EXPECT_NE(header(r, "Link").find("rel=\"self\""), std::string::npos) << header(r, "Link");
  auto next = next_of(r);
  EXPECT_EQ(next, "/api/v1/groups/00ggggggggggggggggg1/users?after=00uaaaaaaaaaaaaaaaa2&limit=2");
  r = call("GET", next);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(ids(r), std::vector<std::string>{"00uaaaaaaaaaaaaaaaa3"});
  EXPECT_EQ(next_of(r), "");  // the last page has no next
  // Without limit: all of them on one page; an unknown cursor: an empty page; bad input: 400/404.
  r = call("GET", "/api/v1/groups/00ggggggggggggggggg1/users");
  EXPECT_EQ(ids(r).size(), 3u);
  EXPECT_EQ(next_of(r), "");
  r = call("GET", "/api/v1/groups/00ggggggggggggggggg1/users?after=00uaaaaaaaaaaaaaaaa3");
  EXPECT_TRUE(ids(r).empty());
  EXPECT_EQ(call("GET", "/api/v1/groups/00ggggggggggggggggg1/users?limit=x").status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/groups/00gnope/users").status, 404u);
  // A seeded membership is listed too.
  r = call("GET", "/api/v1/groups/00ggggggggggggggggg2/users?limit=1");
  EXPECT_EQ(ids(r), std::vector<std::string>{"00uaaaaaaaaaaaaaaaa1"});
}

TEST_F(EmulatorApi, TestSessionsEmitSessionStartEvents) {
  Request r;
  r.method = "POST";
  r.target = "/__emulator/users/alice@example.com/sessions";
  r.body = R"({"count":2})";
  r.headers = {{"user-agent", "Mozilla/5.0 (emulated)"}};
  r.remote_ip = "10.0.0.7";
  r.now_ms = now_ms_;
  ASSERT_EQ(api_.handle(r).status, 201u);
  auto logs = call("GET", "/api/v1/logs?since=2025-09-29T00:00:00.000Z&filter=eventType+eq+%22user.session.start%22");
  ASSERT_EQ(logs.status, 200u);
  auto events = doc(logs.body).as_array();
  ASSERT_EQ(events.size(), 2u);
  const auto& e = events[0];
  // The shape of the real samples: the user signs in, so the user is the actor.
  EXPECT_EQ(e.get_string("displayMessage"), "User login to Okta");
  EXPECT_EQ(e.get_string("legacyEventType"), "core.user_auth.login_success");
  EXPECT_EQ(e.path("actor.id")->as_string(), "00uaaaaaaaaaaaaaaaa1");
  EXPECT_EQ(e.path("actor.type")->as_string(), "User");
  EXPECT_EQ(e.path("actor.alternateId")->as_string(), "alice@example.com");
  EXPECT_EQ(e.path("outcome.result")->as_string(), "SUCCESS");
  EXPECT_EQ(e.path("client.ipAddress")->as_string(), "10.0.0.7");
  EXPECT_EQ(e.path("client.userAgent.rawUserAgent")->as_string(), "Mozilla/5.0 (emulated)");
  EXPECT_EQ(e.get_string("published"), iso_time(now_ms_));
  EXPECT_FALSE(e.path("authenticationContext.externalSessionId")->as_string().empty());
  // One sign-in session each.
  EXPECT_NE(e.path("authenticationContext.externalSessionId")->as_string(),
            events[1].path("authenticationContext.externalSessionId")->as_string());
  EXPECT_EQ(e.find("target")->as_array()[0].get_string("type"), "AppInstance");
  EXPECT_EQ(api_.users()[0].sessions, 2);
  EXPECT_EQ(api_.users()[0].last_login_ms, now_ms_);
}

TEST_F(EmulatorApi, IntrospectionRecordsRequestsWithoutSecrets) {
  call("GET", "/api/v1/users/00uaaaaaaaaaaaaaaaa1");
  Request r;
  r.method = "GET";
  r.target = "/__emulator/requests";
  auto list = doc(api_.handle(r).body);
  ASSERT_EQ(list.as_array().size(), 1u);
  EXPECT_EQ(list.as_array()[0].path("headers.authorization")->as_string(), "SSWS");
  EXPECT_EQ(list.as_array()[0].get_string("path"), "/api/v1/users/00uaaaaaaaaaaaaaaaa1");
  r.method = "POST";
  r.target = "/__emulator/logs";
  r.body = R"([{"eventType":"user.session.start","published":"2025-09-29T03:00:00.000Z"}])";
  EXPECT_EQ(api_.handle(r).status, 201u);
  EXPECT_EQ(api_.logs().size(), 1u);
  r.target = "/__emulator/users/00uaaaaaaaaaaaaaaaa1/sessions";
  r.body = R"({"count":2})";
  EXPECT_EQ(api_.handle(r).status, 201u);
  EXPECT_EQ(api_.users()[0].sessions, 2);
  r.target = "/__emulator/seed";
  r.body = R"({"users":[{"id":"00ux","profile":{"login":"x@example.com","nope":1}}]})";
  EXPECT_EQ(api_.handle(r).status, 400u);  // nope is not in profileSchema
  EXPECT_EQ(api_.users().size(), 4u);      // a bad seed leaves the org as it was
}

}  // namespace
}  // namespace og::test
