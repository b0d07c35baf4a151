#include "okta_client/okta_json.h"

#include <gtest/gtest.h>

#include "tests/unit/okta_client/okta_json_cassettes.h"

namespace og::test {
namespace {

using okta::next_link_target;
using okta::parse_okta_error;

std::optional<std::string> header_of(const Exchange& x, std::string_view name) {
  for (const auto& [k, v] : x.response_headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST(OktaJson, ErrorObjectFromRecorded404) {
  const auto all = load_exchanges();
  const auto& x = find_exchange(all, "GET", "/api/v1/users/00usfhrjbkppPBkoY4x6", 404);
  auto e = parse_okta_error(x.response_body);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error_code, "E0000007");
  EXPECT_EQ(e->error_summary, "Not found: Resource not found: 00usfhrjbkppPBkoY4x6 (User)");
  EXPECT_EQ(e->error_id, "oaeMzddieo5QvW8lOZVv0uV6w");
  EXPECT_TRUE(e->error_causes.empty());
}

TEST(OktaJson, ErrorCausesFromRecorded403) {
  const auto all = load_exchanges();
  const auto& x = find_exchange(all, "POST", "/lifecycle/unlock", 403);
  auto e = parse_okta_error(x.response_body);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error_code, "E0000032");
  ASSERT_EQ(e->error_causes.size(), 1u);
  EXPECT_EQ(e->error_causes[0], "The user is not locked out.");
}

TEST(OktaJson, EveryRecordedErrorBodyParses) {
  int checked = 0;
  for (const auto& x : load_exchanges()) {
    if (x.status < 400) continue;
    auto e = parse_okta_error(x.response_body);
    if (x.response_body.find("\"errorCode\"") == std::string::npos) {
      // The harness's {"status":404,"message":...} body is tolerated, not mistaken for an Okta error.
      EXPECT_FALSE(e) << x.line;
      continue;
    }
    ASSERT_TRUE(e) << x.line << " " << x.response_body;
    EXPECT_EQ(e->error_code.substr(0, 5), "E0000") << x.line;
    EXPECT_FALSE(e->error_summary.empty()) << x.line;
    EXPECT_FALSE(e->error_id.empty()) << x.line;
    ++checked;
  }
  EXPECT_GE(checked, 70);
}

TEST(OktaJson, NonOktaBodiesAreNotErrors) {
  EXPECT_FALSE(parse_okta_error(""));
  EXPECT_FALSE(parse_okta_error("<html>Bad gateway</html>"));
  EXPECT_FALSE(parse_okta_error(R"({"status": 404, "message": "Resource not found"})"));
  EXPECT_FALSE(parse_okta_error(R"({"errorCode":"E0000007"} trailing)"));
  EXPECT_FALSE(parse_okta_error(R"([{"errorCode":"E0000007"}])"));
}

TEST(OktaJson, UserFromRecordedGet) {
  const auto all = load_exchanges();
  const auto& x = find_exchange(all, "GET", "/api/v1/users/00usfhrjbkppPBkoY4x6", 200);
  auto u = okta::parse_user(x.response_body);
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->id, "00usfhrjbkppPBkoY4x6");
  EXPECT_EQ(u->status, "STAGED");
  EXPECT_EQ(u->login, "John.Doe-Get@example.com");
  EXPECT_EQ(u->email, "John.Doe-Get@example.com");
}

TEST(OktaJson, EveryRecordedUserAndListParses) {
  int users = 0, lists = 0;
  for (const auto& x : load_exchanges()) {
    if (x.method != "GET" || x.status != 200) continue;
    const auto path = x.uri.substr(x.uri.find("/api/"));
    if (path.starts_with("/api/v1/users/00") && path.find('/', 14) == std::string::npos) {
      auto u = okta::parse_user(x.response_body);
      ASSERT_TRUE(u) << x.line;
      EXPECT_FALSE(u->status.empty());
      ++users;
    } else if (path.starts_with("/api/v1/users?")) {
      auto l = okta::parse_users(x.response_body);
      ASSERT_TRUE(l) << x.line;
      for (const auto& u : l.value())
        EXPECT_TRUE(u.id.starts_with("00u")) << x.line;
      ++lists;
    } else if (path.starts_with("/api/v1/groups?") || path.ends_with("/groups")) {
      auto g = okta::parse_groups(x.response_body);
      ASSERT_TRUE(g) << x.line;
      for (const auto& grp : g.value())
        EXPECT_TRUE(grp.id.starts_with("00g")) << x.line;
      ++lists;
    }
  }
  EXPECT_GE(users, 5);
  EXPECT_GE(lists, 5);
}

TEST(OktaJson, GroupsFromRecordedSearch) {
  const auto all = load_exchanges();
  const auto& x = find_exchange(all, "GET", "/api/v1/groups?q=Group-Target-Test", 200);
  auto g = okta::parse_groups(x.response_body);
  ASSERT_TRUE(g);
  ASSERT_EQ(g->size(), 1u);
  EXPECT_EQ((*g)[0].id, "00gsfbh2pJyrDzGmQ4x6");
  EXPECT_EQ((*g)[0].name, "Group-Target-Test");
  EXPECT_EQ((*g)[0].type, "OKTA_GROUP");
  EXPECT_EQ((*g)[0].description, "");  // null in the recording
}

TEST(OktaJson, ShapeErrors) {
  EXPECT_EQ(okta::parse_user("[]").error(), okta::JsonError::wrong_shape);
  EXPECT_EQ(okta::parse_users("{}").error(), okta::JsonError::wrong_shape);
  EXPECT_EQ(okta::parse_user(R"({"status":"ACTIVE"})").error(), okta::JsonError::missing_field);
  EXPECT_EQ(okta::parse_user(R"({"id":"00u1"} {})").error(), okta::JsonError::malformed);
  EXPECT_EQ(okta::parse_user(R"({"id":"00u1",)").error(), okta::JsonError::malformed);
  EXPECT_FALSE(okta::parse_users(R"([{"id":"00u1"}, 3])"));
}

TEST(OktaJson, SecretMembersFromRecordedAnswers) {
  const auto all = load_exchanges();
  const auto& t = find_exchange(all, "POST", "00usfdd3qe32hVMJL4x6/lifecycle/expire_password_with_temp_password", 200);
  auto temp = okta::parse_string_member(t.response_body, "tempPassword");
  ASSERT_TRUE(temp);
  EXPECT_EQ(*temp, "x4HpS7TE");
  const auto& r = find_exchange(all, "POST", "/lifecycle/reset_password?sendEmail=false", 200);
  auto url = okta::parse_string_member(r.response_body, "resetPasswordUrl");
  ASSERT_TRUE(url);
  EXPECT_TRUE(url->starts_with("https://test.okta.com/reset_password/"));
  EXPECT_EQ(okta::parse_string_member("{}", "tempPassword").error(), okta::JsonError::missing_field);
  EXPECT_EQ(okta::parse_string_member(R"({"tempPassword":null})", "tempPassword").error(),
            okta::JsonError::missing_field);
}

TEST(OktaJson, NextLinkFromRecordedPagination) {
  const auto all = load_exchanges();
  int pages = 0;
  for (const auto& x : all) {
    if (x.cassette.find("test_user_pagination") == std::string::npos || x.method != "GET" || x.status != 200) continue;
    auto link = header_of(x, "link");
    ASSERT_TRUE(link) << x.line;
    auto next = next_link_target(*link);
    ASSERT_TRUE(next) << *link;
    EXPECT_TRUE(next->starts_with("/api/v1/users?after=000usf")) << *next;
    EXPECT_TRUE(next->ends_with("&limit=1")) << *next;
    ++pages;
  }
  EXPECT_EQ(pages, 2);
  // A self-only link (user groups) has no next page.
  const auto& groups = find_exchange(all, "GET", "/api/v1/users/00uqrkpsp7ZR4AkPB5d7/groups", 200);
  auto self = header_of(groups, "link");
  ASSERT_TRUE(self);
  EXPECT_EQ(next_link_target(*self), std::nullopt);
}

TEST(OktaJson, NextLinkVariants) {
  EXPECT_EQ(next_link_target(R"(<https://a.okta.com/api/v1/users?limit=2>; rel="self", )"
                             R"(<https://a.okta.com/api/v1/users?after=x&limit=2>; rel="next")"),
            "/api/v1/users?after=x&limit=2");
  EXPECT_EQ(next_link_target(R"(<https://a.okta.com/api/v1/groups?after=y>; rel=next)"), "/api/v1/groups?after=y");
  // Another host's link keeps only path + query: the request still goes to the configured org.
  EXPECT_EQ(next_link_target(R"(<https://evil.example/api/v1/users?after=z>; rel="next")"), "/api/v1/users?after=z");
  EXPECT_EQ(next_link_target(R"(<https://a.okta.com/x>; rel="nextpage")"), std::nullopt);
  EXPECT_EQ(next_link_target(R"(<https://a.okta.com/x y>; rel="next")"), std::nullopt);
  EXPECT_EQ(next_link_target(R"(<https://a.okta.com>; rel="next")"), std::nullopt);
  EXPECT_EQ(next_link_target(""), std::nullopt);
}

TEST(OktaJson, QuoteAndPercentEncode) {
  EXPECT_EQ(okta::json_quote(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(okta::json_quote("x\ny\x01"), "\"x\\ny\\u0001\"");
  EXPECT_EQ(okta::json_quote("é"), "\"é\"");
  EXPECT_EQ(okta::percent_encode("a.b-c_d~e"), "a.b-c_d~e");
  EXPECT_EQ(okta::percent_encode("a b/c?d#e&f=g+h%i\"j"), "a%20b%2Fc%3Fd%23e%26f%3Dg%2Bh%25i%22j");
  EXPECT_EQ(okta::percent_encode("é"), "%C3%A9");
}

}  // namespace
}  // namespace og::test
