#include "okta_client/lookups.h"

#include <gtest/gtest.h>

#include "tests/unit/okta_client/okta_json_cassettes.h"

namespace og::test {
namespace {

using okta::OutcomeKind;

// Reads back what Okta would parse from `search=...`: percent-decoding, then one `attr eq "value"`
// comparison with backslash escapes. Returns nullopt unless the whole expression is exactly that.
std::optional<std::pair<std::string, std::string>> parse_single_comparison(std::string_view query_value) {
  std::string expr;
  for (std::size_t i = 0; i < query_value.size(); ++i) {
    const char c = query_value[i];
    if (c == '%') {
      if (i + 2 >= query_value.size()) return std::nullopt;
      expr.push_back(static_cast<char>(std::stoi(std::string(query_value.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (c == '+' || c == '&' || c == '=' || c == '#' || c == ' ') {
      return std::nullopt;  // would be a query separator or decoded differently: must have been encoded
    } else {
      expr.push_back(c);
    }
  }
  const auto sp = expr.find(" eq \"");
  if (sp == std::string::npos) return std::nullopt;
  std::string attr = expr.substr(0, sp), value;
  std::size_t i = sp + 5;
  for (; i < expr.size(); ++i) {
    if (expr[i] == '\\') {
      if (++i >= expr.size()) return std::nullopt;
      value.push_back(expr[i]);
    } else if (expr[i] == '"') {
      break;
    } else {
      value.push_back(expr[i]);
    }
  }
  if (i != expr.size() - 1) return std::nullopt;  // anything after the closing quote is a second clause
  return std::make_pair(attr, value);
}

std::string query_param(const std::string& target, std::string_view name) {
  const auto q = target.find('?');
  std::string_view rest = std::string_view(target).substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto part = rest.substr(0, amp);
    if (part.substr(0, part.find('=')) == name) return std::string(part.substr(part.find('=') + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

TEST(LookupsSearch, HostileLoginsCannotChangeTheExpression) {
  const std::vector<std::string> hostile = {
      "alice@example.com",
      R"(x" or profile.login sw ")",
      R"(x\" or status eq "ACTIVE)",
      R"(trailing\)",
      R"(\\\"")",
      "a&limit=1&search=status eq \"ACTIVE\"",
      "a+b%22c%20d#frag",
      "') or (1 eq 1",
      "ünïcødé@例え.jp",
      "\"",
  };
  for (const auto& login : hostile) {
    SCOPED_TRACE(login);
    ScriptedSender sender;
    sender.push(response(200, "[]"));
    okta::Lookups lookups(sender.fn(), {});
    std::optional<okta::LookupResult<std::vector<okta::OktaUser>>> got;
    lookups.find_users_by_email(login, [&](auto r) { got.emplace(std::move(r)); });
    ASSERT_TRUE(got);
    ASSERT_EQ(sender.requests.size(), 1u);
    const auto& target = sender.requests[0].target;
    EXPECT_TRUE(target.starts_with("/api/v1/users?search=")) << target;
    EXPECT_EQ(query_param(target, "limit"), "200");
    auto parsed = parse_single_comparison(query_param(target, "search"));
    ASSERT_TRUE(parsed) << target;
    EXPECT_EQ(parsed->first, "profile.email");
    EXPECT_EQ(parsed->second, login);
  }
}

TEST(LookupsSearch, UnexpressibleValuesAreRefusedNotSent) {
  EXPECT_FALSE(okta::search_equals("profile.email", "a\nb"));
  EXPECT_FALSE(okta::search_equals("profile.email", ""));
  EXPECT_FALSE(okta::search_equals("profile.email eq \"x\" or profile.login", "a"));
  EXPECT_EQ(okta::search_equals("profile.login", R"(a"b\c)"), R"(profile.login eq "a\"b\\c")");
  ScriptedSender sender;
  okta::Lookups lookups(sender.fn(), {});
  std::optional<okta::LookupResult<std::vector<okta::OktaUser>>> got;
  lookups.find_users_by_email(std::string("x\0y", 3), [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && !*got);
  EXPECT_EQ(got->error().kind, OutcomeKind::invalid);
  EXPECT_TRUE(sender.requests.empty());
}

class LookupsTest : public ::testing::Test {
 protected:
  std::vector<Exchange> all_ = load_exchanges();
  ScriptedSender sender_;
  okta::Lookups lookups_{sender_.fn(), okta::LookupOptions{200, 3, {}}};
};

TEST_F(LookupsTest, UserByIdAndByLoginFromRecordings) {
  sender_.push(to_response(find_exchange(all_, "GET", "/api/v1/users/00usfhrjbkppPBkoY4x6", 200)));
  sender_.push(to_response(find_exchange(all_, "GET", "/api/v1/users/John.Doe-Get@example.com", 200)));
  std::optional<okta::LookupResult<okta::OktaUser>> a, b;
  lookups_.get_user("00usfhrjbkppPBkoY4x6", [&](auto r) { a.emplace(std::move(r)); });
  lookups_.get_user_by_login("john.doe-get@EXAMPLE.com", [&](auto r) { b.emplace(std::move(r)); });
  ASSERT_TRUE(a && *a && b && *b);
  EXPECT_EQ((*a)->id, "00usfhrjbkppPBkoY4x6");
  EXPECT_EQ((*b)->id, "00usfhrjbkppPBkoY4x6");
  EXPECT_EQ(sender_.requests[0].target, "/api/v1/users/00usfhrjbkppPBkoY4x6");
  EXPECT_EQ(sender_.requests[1].target, "/api/v1/users/john.doe-get%40EXAMPLE.com");
  EXPECT_EQ(sender_.requests[1].priority, okta::Priority::lookup);
  EXPECT_TRUE(sender_.requests[1].idempotent);
}

TEST_F(LookupsTest, ShortNameMatchIsNotALoginMatch) {
  // Okta resolves a path segment that is a login short name too: "john.doe-get" finds the user
  // whose login is John.Doe-Get@example.com. That is not the login the event named.
  sender_.push(to_response(find_exchange(all_, "GET", "/api/v1/users/John.Doe-Get@example.com", 200)));
  std::optional<okta::LookupResult<okta::OktaUser>> r;
  lookups_.get_user_by_login("john.doe-get@other.org", [&](auto x) { r.emplace(std::move(x)); });
  ASSERT_TRUE(r && !*r);
  EXPECT_EQ(r->error().kind, OutcomeKind::not_found);
}

TEST_F(LookupsTest, LoginsThatCannotBeAPathUseSearch) {
  sender_.push(response(200, R"([{"id":"00u00000000000000001","status":"ACTIVE","profile":{"login":"me"}}])"));
  sender_.push(response(200, R"([{"id":"00u00000000000000002","status":"ACTIVE","profile":{"login":"a/b@x.org"}}])"));
  std::optional<okta::LookupResult<okta::OktaUser>> me, slash;
  lookups_.get_user_by_login("me", [&](auto x) { me.emplace(std::move(x)); });
  lookups_.get_user_by_login("a/b@x.org", [&](auto x) { slash.emplace(std::move(x)); });
  ASSERT_TRUE(me && *me && slash && *slash);
  EXPECT_EQ((*me)->id, "00u00000000000000001");
  EXPECT_EQ((*slash)->id, "00u00000000000000002");
  EXPECT_EQ(sender_.requests[0].target, "/api/v1/users?search=profile.login%20eq%20%22me%22&limit=200");
  EXPECT_EQ(sender_.requests[1].target, "/api/v1/users?search=profile.login%20eq%20%22a%2Fb%40x.org%22&limit=200");
  // get_user never sends "me" or a path.
  std::optional<okta::LookupResult<okta::OktaUser>> bad;
  lookups_.get_user("me", [&](auto x) { bad.emplace(std::move(x)); });
  ASSERT_TRUE(bad && !*bad);
  EXPECT_EQ(bad->error().kind, OutcomeKind::invalid);
  EXPECT_EQ(sender_.requests.size(), 2u);
}

TEST_F(LookupsTest, PaginationFollowsRecordedNextLinks) {
  std::vector<const Exchange*> pages;
  for (const auto& x : all_) {
    if (x.cassette.find("test_user_pagination") != std::string::npos && x.method == "GET" && x.status == 200) {
      pages.push_back(&x);
    }
  }
  ASSERT_EQ(pages.size(), 2u);
  sender_.push(to_response(*pages[0]));
  sender_.push(to_response(*pages[1]));
  sender_.push(response(200, R"([{"id":"00usfhfauFP74P6gt4x6","status":"STAGED","profile":{"login":"z@x.org"}}])"));
  std::optional<okta::LookupResult<std::vector<okta::OktaUser>>> got;
  lookups_.search_users("status eq \"STAGED\"", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && *got);
  ASSERT_EQ((*got)->size(), 3u);
  EXPECT_EQ((**got)[0].id, "00usfdsyqnIjEmHNm4x6");
  EXPECT_EQ((**got)[1].id, "00usfgmn9xhwtA6f74x6");
  ASSERT_EQ(sender_.requests.size(), 3u);
  EXPECT_EQ(sender_.requests[1].target, "/api/v1/users?after=000usfdsyqnIjEmHNm4x6&limit=1");
  EXPECT_EQ(sender_.requests[2].target, "/api/v1/users?after=000usfgmn9xhwtA6f74x6&limit=1");
  EXPECT_EQ(lookups_.requests_sent(), 3u);
}

TEST_F(LookupsTest, PaginationIsBounded) {
  const std::vector<std::pair<std::string, std::string>> loop = {
      {"link", R"(<https://a.okta.com/api/v1/users/00u1/groups?after=x>; rel="next")"}};
  for (int i = 0; i < 3; ++i)
    sender_.push(response(200, "[]", loop));
  std::optional<okta::LookupResult<std::vector<okta::OktaGroup>>> got;
  lookups_.list_user_groups("00u1", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && !*got);
  EXPECT_EQ(got->error().kind, OutcomeKind::invalid);
  EXPECT_EQ(sender_.requests.size(), 3u);

  // A next link to another endpoint is not followed.
  sender_.requests.clear();
  sender_.push(
      response(200, "[]", {{"link", R"(<https://a.okta.com/api/v1/users/00u1/lifecycle/suspend>; rel="next")"}}));
  got.reset();
  lookups_.list_user_groups("00u1", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && !*got);
  EXPECT_EQ(sender_.requests.size(), 1u);
}

TEST_F(LookupsTest, UserGroupsFromRecording) {
  sender_.push(to_response(find_exchange(all_, "GET", "/api/v1/users/00uqrkpsp7ZR4AkPB5d7/groups", 200)));
  std::optional<okta::LookupResult<std::vector<okta::OktaGroup>>> got;
  lookups_.list_user_groups("00uqrkpsp7ZR4AkPB5d7", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && *got);
  ASSERT_EQ((*got)->size(), 2u);
  EXPECT_EQ((**got)[0].name, "Everyone");
  EXPECT_EQ((**got)[0].type, "BUILT_IN");
  EXPECT_EQ((**got)[1].id, "00gqrkqjqdg2c9XZT5d7");
}

TEST_F(LookupsTest, GroupMembersFromRecording) {
  sender_.push(to_response(find_exchange(all_, "GET", "/api/v1/groups/00gsf7bj3rH2d9PvL4x6/users", 200)));
  std::optional<okta::LookupResult<std::vector<okta::OktaUser>>> got;
  lookups_.list_group_members("00gsf7bj3rH2d9PvL4x6", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && *got);
  ASSERT_EQ((*got)->size(), 1u);
  EXPECT_EQ((**got)[0].id, "00usfbpcapvcITLwi4x6");
  EXPECT_EQ((**got)[0].login, "John.Doe-Activate@example.com");
  EXPECT_EQ(sender_.requests[0].target, "/api/v1/groups/00gsf7bj3rH2d9PvL4x6/users?limit=200");

  // Not an Okta id: refused before anything is sent.
  got.reset();
  lookups_.list_group_members("../users/00u1", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && !*got);
  EXPECT_EQ(got->error().kind, OutcomeKind::invalid);
  EXPECT_EQ(sender_.requests.size(), 1u);
}

TEST_F(LookupsTest, GroupByNameNeedsAnExactMatch) {
  const auto& recorded = find_exchange(all_, "GET", "/api/v1/groups?q=Group-Target-Test", 200);
  sender_.push(to_response(recorded));
  std::optional<okta::LookupResult<okta::OktaGroup>> got;
  lookups_.find_group_by_name("Group-Target-Test", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->id, "00gsfbh2pJyrDzGmQ4x6");
  EXPECT_EQ(sender_.requests[0].target, "/api/v1/groups?q=Group-Target-Test");

  // q= is a prefix search: the recorded answer does not contain a group named "Group-Target".
  sender_.push(to_response(recorded));
  got.reset();
  lookups_.find_group_by_name("Group-Target", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && !*got);
  EXPECT_EQ(got->error().kind, OutcomeKind::not_found);

  sender_.push(response(
      200, R"([{"id":"00g1","profile":{"name":"Step-up MFA"}},{"id":"00g2","profile":{"name":"Step-up MFA"}}])"));
  got.reset();
  lookups_.find_group_by_name("Step-up MFA", [&](auto r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got && !*got);
  EXPECT_EQ(got->error().kind, OutcomeKind::invalid);
  EXPECT_EQ(sender_.requests.back().target, "/api/v1/groups?q=Step-up%20MFA");
}

TEST_F(LookupsTest, ErrorsAreTyped) {
  sender_.push(to_response(find_exchange(all_, "GET", "/api/v1/users/00usfgmn9xhwtA6f74x6", 404)));
  sender_.push(failure(okta::TransportError::timeout));
  sender_.push(response(200, "not json"));
  std::vector<okta::LookupResult<okta::OktaUser>> got;
  for (int i = 0; i < 3; ++i)
    lookups_.get_user("00usfgmn9xhwtA6f74x6", [&](auto r) { got.push_back(std::move(r)); });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].error().kind, OutcomeKind::not_found);
  EXPECT_EQ(got[0].error().okta_error->error_code, "E0000007");
  EXPECT_EQ(got[1].error().kind, OutcomeKind::transient);
  EXPECT_EQ(got[2].error().kind, OutcomeKind::transient);
}

}  // namespace
}  // namespace og::test
