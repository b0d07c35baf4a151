#include "correlator/rule_predicate.h"

#include <gtest/gtest.h>

#include "tests/unit/correlator/rule_test_util.h"

namespace og::test {
namespace {

// Compiles `where` through the loader, so the YAML syntax is what is tested.
Predicate where(const std::string& yaml) {
  auto rules = load_ok("detections:\n  - id: d\n    where: " + yaml + "\n");
  return rules ? rules->detections[0].where : Predicate();
}

Event sample() {
  Event e = make_event("user.session.start", "00u1", at(std::chrono::minutes(0)));
  e.client_ip = "203.0.113.9";
  e.user_agent = "Mozilla/5.0 Python-Requests/2.31";
  e.outcome_result = Symbol::intern("FAILURE");
  e.as_number = 16509;
  e.is_proxy = false;
  e.geo.country = Symbol::intern("Japan");
  e.ip_chain = {"198.51.100.1", "2001:db8::7"};
  e.targets.push_back(EntityRef{"00u2", Symbol::intern("User"), "bob@example.com", "Bob", IdentityKind::okta_id});
  e.targets.push_back(EntityRef{"0oa1", Symbol::intern("AppInstance"), "app", "App", IdentityKind::okta_id});
  return e;
}

TEST(RulePredicate, FieldOperators) {
  Event e = sample();
  EXPECT_TRUE(where("{ eventType: user.session.start }").matches(e));
  EXPECT_FALSE(where("{ eventType: User.Session.Start }").matches(e));
  EXPECT_TRUE(where("{ eventType: { equals: User.Session.Start, ignore_case: true } }").matches(e));
  EXPECT_TRUE(where("{ outcome.result: [SUCCESS, FAILURE] }").matches(e));
  EXPECT_FALSE(where("{ outcome.result: [SUCCESS, DENY] }").matches(e));
  EXPECT_TRUE(where("{ client.userAgent.rawUserAgent: { contains: python-requests, ignore_case: true } }").matches(e));
  EXPECT_FALSE(where("{ client.userAgent.rawUserAgent: { contains: python-requests } }").matches(e));
  EXPECT_TRUE(where("{ actor.alternateId: { suffix: \"@EXAMPLE.com\", ignore_case: true } }").matches(e));
  EXPECT_TRUE(where("{ actor.id: { prefix: [00x, 00u] } }").matches(e));
  EXPECT_TRUE(where("{ client.userAgent.rawUserAgent: { regex: \"Requests/2\\\\.\\\\d+$\" } }").matches(e));
  EXPECT_FALSE(where("{ client.userAgent.rawUserAgent: { regex: \"^Python\" } }").matches(e));
  EXPECT_TRUE(where("{ client.ipAddress: { cidr: 203.0.113.0/24 } }").matches(e));
  EXPECT_FALSE(where("{ client.ipAddress: { cidr: [10.0.0.0/8, 203.0.114.0/24] } }").matches(e));
  EXPECT_TRUE(where("{ securityContext.asNumber: 16509 }").matches(e));
  EXPECT_TRUE(where("{ securityContext.asNumber: { gte: 16000, lt: 17000 } }").matches(e));
  EXPECT_FALSE(where("{ securityContext.asNumber: { gt: 16509 } }").matches(e));
  EXPECT_TRUE(where("{ securityContext.isProxy: false }").matches(e));
  EXPECT_TRUE(where("{ authenticationContext.externalSessionId: { exists: false } }").matches(e));
  EXPECT_FALSE(where("{ authenticationContext.externalSessionId: { exists: true } }").matches(e));
  EXPECT_TRUE(where("{ client.ipAddress: { not: { cidr: 10.0.0.0/8 } } }").matches(e));
  // An absent field never equals and never compares.
  EXPECT_FALSE(where("{ client.zone: { not: { exists: true } }, securityContext.isp: x }").matches(e));
}

TEST(RulePredicate, MultiValuedFieldsTargetsAndLogic) {
  Event e = sample();
  EXPECT_TRUE(where("{ request.ipChain.ip: { cidr: \"2001:db8::/32\" } }").matches(e));
  EXPECT_FALSE(where("{ request.ipChain.ip: { cidr: \"2001:db9::/32\" } }").matches(e));
  EXPECT_TRUE(where("{ target.type: AppInstance }").matches(e));
  EXPECT_TRUE(where("{ any_target: { target.type: User, target.alternateId: bob@example.com } }").matches(e));
  // Both conditions must hold for the same target.
  EXPECT_FALSE(where("{ any_target: { target.type: AppInstance, target.alternateId: bob@example.com } }").matches(e));
  EXPECT_FALSE(where("{ all_targets: { target.type: User } }").matches(e));
  EXPECT_TRUE(where("{ all_targets: { target.id: { prefix: [00u, 0oa] } } }").matches(e));
  EXPECT_TRUE(where("{ any: [ { eventType: x }, { outcome.result: FAILURE } ] }").matches(e));
  EXPECT_FALSE(where("{ all: [ { eventType: x }, { outcome.result: FAILURE } ] }").matches(e));
  EXPECT_TRUE(where("{ not: { eventType: x } }").matches(e));
  Event none = sample();
  none.targets.clear();
  EXPECT_FALSE(where("{ all_targets: { target.type: User } }").matches(none));
}

TEST(RulePredicate, ListsAndMacrosAcrossFiles) {
  LoadResult r = load_rules_from_sources({
      RuleSource{"a.yml",
                 "lists:\n  rogue: [KP, IR]\n  countries: [$rogue, Japan]\nmacros:\n  bad_place: { "
                 "client.geographicalContext.country: { in_list: countries } }\n"},
      RuleSource{"b.yml", "detections:\n  - id: d\n    where: { macro: bad_place }\n"},
  });
  ASSERT_TRUE(r.ok()) << render_text(r.diagnostics);
  EXPECT_TRUE(r.rules->detections[0].where.matches(sample()));
}

TEST(RulePredicate, IgnoreCaseHoldsInsideNot) {
  Event e = sample();
  e.actor.alternate_id = "Bob@EXAMPLE.COM";
  EXPECT_FALSE(where("{ actor.alternateId: { not: { suffix: \"@example.com\" }, ignore_case: true } }").matches(e));
  EXPECT_FALSE(where("{ actor.alternateId: { not: bob@example.com, ignore_case: true } }").matches(e));
  EXPECT_FALSE(
      where("{ actor.alternateId: { not: [alice@example.com, bob@example.com], ignore_case: true } }").matches(e));
  EXPECT_FALSE(where("{ actor.alternateId: { not: { regex: \"^bob@\" }, ignore_case: true } }").matches(e));
  // The inner mapping may still turn it off.
  EXPECT_TRUE(
      where("{ actor.alternateId: { not: { suffix: \"@example.com\", ignore_case: false }, ignore_case: true } }")
          .matches(e));
  EXPECT_TRUE(where("{ actor.alternateId: { not: { suffix: \"@example.com\" } } }").matches(e));
}

TEST(RulePredicate, Cidr) {
  auto c = parse_cidr("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(*parse_ip("10.200.0.1")));
  EXPECT_FALSE(c->contains(*parse_ip("11.0.0.1")));
  EXPECT_TRUE(parse_cidr("192.0.2.7")->contains(*parse_ip("192.0.2.7")));
  EXPECT_FALSE(parse_cidr("192.0.2.7")->contains(*parse_ip("192.0.2.8")));
  EXPECT_TRUE(parse_cidr("2001:db8::/33")->contains(*parse_ip("2001:db8:7fff::1")));
  EXPECT_FALSE(parse_cidr("2001:db8::/33")->contains(*parse_ip("2001:db8:8000::1")));
  EXPECT_FALSE(parse_cidr("10.0.0.0/33"));
  EXPECT_FALSE(parse_cidr("nonsense"));
  EXPECT_FALSE(parse_ip(""));
}

}  // namespace
}  // namespace og::test
