#include "okta_client/identity.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/unit/okta_client/okta_json_cassettes.h"

namespace og::test {
namespace {

using okta::NameKind;
using okta::OutcomeKind;

TEST(IdentityNormalise, Rules) {
  okta::IdentityOptions o;
  o.windows_domains = {{"CORP", "corp.example.com"}};
  auto n = [&](std::string_view s) { return okta::normalise_name(s, o); };
  EXPECT_EQ(n("00usfhrjbkppPBkoY4x6").kind, NameKind::okta_id);
  EXPECT_EQ(n("00usfhrjbkppPBkoY4x6").key, "00usfhrjbkppPBkoY4x6");  // ids are case-sensitive
  EXPECT_EQ(n(" John.Doe@Example.COM ").key, "john.doe@example.com");
  EXPECT_EQ(n("corp\\JDoe").key, "jdoe@corp.example.com");
  EXPECT_EQ(n("CORP\\jdoe").kind, NameKind::login);
  EXPECT_EQ(n("OTHER\\jdoe").kind, NameKind::unusable);  // unmapped domain, no default
  EXPECT_EQ(n("jdoe").kind, NameKind::unusable);         // a bare short name is ambiguous
  EXPECT_EQ(n("").kind, NameKind::unusable);
  EXPECT_EQ(n("a@b@c").kind, NameKind::unusable);
  EXPECT_EQ(n("a\n@b").kind, NameKind::unusable);
  EXPECT_EQ(n("CORP\\a\\b").kind, NameKind::unusable);
  o.default_login_domain = "example.com";
  EXPECT_EQ(n("OTHER\\JDoe").key, "jdoe@example.com");
  EXPECT_EQ(n("jdoe").key, "jdoe@example.com");
}

class IdentityTest : public ::testing::Test {
 protected:
  okta::IdentityOptions options() {
    okta::IdentityOptions o;
    o.windows_domains = {{"CORP", "example.com"}};
    o.clock = [this] { return now_; };
    o.positive_ttl = std::chrono::seconds(60);
    o.negative_ttl = std::chrono::seconds(10);
    o.log = log_.sink();
    return o;
  }
  void make(okta::IdentityOptions o) { resolver_ = std::make_unique<okta::IdentityResolver>(io_, sender_.fn(), o); }

  // Resolves and runs the io_context until the callback came (or nothing is left to run).
  okta::LookupResult<std::string> resolve(std::string_view name) {
    std::optional<okta::LookupResult<std::string>> got;
    resolver_->resolve(name, [&](auto r) { got.emplace(std::move(r)); });
    io_.restart();
    io_.poll();
    EXPECT_TRUE(got) << name;
    if (!got) return okta::Failure{};
    return std::move(*got);
  }

  static okta::Response user(std::string_view id, std::string_view login) {
    return response(200, fmt::format(R"({{"id":"{}","status":"ACTIVE","profile":{{"login":"{}","email":"{}"}}}})", id,
                                     login, login));
  }

  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
  boost::asio::io_context io_;
  ScriptedSender sender_;
  CapturedLog log_;
  std::unique_ptr<okta::IdentityResolver> resolver_;
};

TEST_F(IdentityTest, OktaIdsAndLearnedNamesNeedNoRequest) {
  make(options());
  EXPECT_EQ(resolve("00usfhrjbkppPBkoY4x6").value(), "00usfhrjbkppPBkoY4x6");
  resolver_->learn("John.Doe@Example.com", "00usfhrjbkppPBkoY4x6");
  resolver_->learn("garbage", "00usfhrjbkppPBkoY4x6");  // not a login: ignored
  resolver_->learn("x@example.com", "not-an-id");       // not an id: ignored
  EXPECT_EQ(resolve("john.doe@example.com").value(), "00usfhrjbkppPBkoY4x6");
  EXPECT_EQ(resolve("CORP\\john.doe").value(), "00usfhrjbkppPBkoY4x6");
  EXPECT_EQ(resolver_->try_cached("JOHN.DOE@example.com"), "00usfhrjbkppPBkoY4x6");
  EXPECT_TRUE(sender_.requests.empty());
  const auto s = resolver_->stats();
  EXPECT_EQ(s.given_ids, 1u);
  EXPECT_EQ(s.learned_hits, 3u);
  EXPECT_EQ(s.learned_size, 1u);
  EXPECT_EQ(resolve("nobody").error().kind, OutcomeKind::invalid);
}

TEST_F(IdentityTest, LookupThenCacheThenExpiry) {
  make(options());
  sender_.push(user("00u00000000000000001", "a@example.com"));
  EXPECT_EQ(resolve("A@example.com").value(), "00u00000000000000001");
  ASSERT_EQ(sender_.requests.size(), 1u);
  EXPECT_EQ(sender_.requests[0].target, "/api/v1/users/a%40example.com");
  EXPECT_EQ(sender_.requests[0].priority, okta::Priority::lookup);
  EXPECT_EQ(resolve("a@EXAMPLE.com").value(), "00u00000000000000001");
  EXPECT_EQ(sender_.requests.size(), 1u);
  now_ += std::chrono::seconds(61);
  sender_.push(user("00u00000000000000001", "a@example.com"));
  EXPECT_EQ(resolve("a@example.com").value(), "00u00000000000000001");
  EXPECT_EQ(sender_.requests.size(), 2u);
  EXPECT_EQ(resolver_->stats().cache_hits, 1u);
}

TEST_F(IdentityTest, EmailFallbackAndNegativeCaching) {
  make(options());
  const auto all = load_exchanges();
  // Login lookup: 404 (recorded E0000007), then search by email: one user whose login differs.
  sender_.push(to_response(find_exchange(all, "GET", "/api/v1/users/00usfgmn9xhwtA6f74x6", 404)));
  sender_.push(response(200, R"([{"id":"00u00000000000000002","status":"ACTIVE",)"
                             R"("profile":{"login":"bob","email":"bob@example.com"}}])"));
  EXPECT_EQ(resolve("bob@example.com").value(), "00u00000000000000002");
  ASSERT_EQ(sender_.requests.size(), 2u);
  EXPECT_EQ(sender_.requests[1].target, "/api/v1/users?search=profile.email%20eq%20%22bob%40example.com%22&limit=200");

  // Unknown everywhere: not_found, cached for negative_ttl.
  sender_.push(response(404, R"({"errorCode":"E0000007","errorSummary":"Not found","errorId":"x"})"));
  sender_.push(response(200, "[]"));
  EXPECT_EQ(resolve("ghost@example.com").error().kind, OutcomeKind::not_found);
  EXPECT_EQ(resolve("ghost@example.com").error().kind, OutcomeKind::not_found);
  EXPECT_EQ(sender_.requests.size(), 4u);
  EXPECT_EQ(resolver_->stats().negative_hits, 1u);
  EXPECT_FALSE(resolver_->try_cached("ghost@example.com"));
  now_ += std::chrono::seconds(11);
  sender_.push(user("00u00000000000000003", "ghost@example.com"));
  EXPECT_EQ(resolve("ghost@example.com").value(), "00u00000000000000003");

  // What the log stream teaches replaces a cached negative at once.
  sender_.push(response(404, R"({"errorCode":"E0000007","errorSummary":"Not found","errorId":"y"})"));
  sender_.push(response(200, "[]"));
  EXPECT_FALSE(resolve("new@example.com"));
  resolver_->learn("new@example.com", "00u00000000000000004");
  EXPECT_EQ(resolve("new@example.com").value(), "00u00000000000000004");
}

TEST_F(IdentityTest, EmailSearchIgnoresDeprovisionedAccounts) {
  make(options());
  const auto not_found = [] {
    return response(404, R"({"errorCode":"E0000007","errorSummary":"Not found","errorId":"z"})");
  };
  // A rehire: the old account, deprovisioned, still carries the email; the new one has another login.
  sender_.push(not_found());
  sender_.push(response(200, R"([{"id":"00u0000000000000000o","status":"DEPROVISIONED",)"
                             R"("profile":{"login":"rehire.old@example.com","email":"rehire@example.com"}},)"
                             R"({"id":"00u0000000000000000n","status":"ACTIVE",)"
                             R"("profile":{"login":"rehire.new@example.com","email":"rehire@example.com"}}])"));
  EXPECT_EQ(resolve("rehire@example.com").value(), "00u0000000000000000n");

  // Two accounts that are not deprovisioned still make the email ambiguous.
  sender_.push(not_found());
  sender_.push(response(200, R"([{"id":"00u0000000000000000s","status":"SUSPENDED",)"
                             R"("profile":{"login":"s@example.com","email":"twice@example.com"}},)"
                             R"({"id":"00u0000000000000000a","status":"ACTIVE",)"
                             R"("profile":{"login":"a@example.com","email":"twice@example.com"}},)"
                             R"({"id":"00u0000000000000000d","status":"DEPROVISIONED",)"
                             R"("profile":{"login":"d@example.com","email":"twice@example.com"}}])"));
  const auto twice = resolve("twice@example.com");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, OutcomeKind::invalid);
  EXPECT_NE(twice.error().detail.find("2 users"), std::string::npos) << twice.error().detail;

  // Deprovisioned accounts only: the one there is, as a login lookup would answer too.
  sender_.push(not_found());
  sender_.push(response(200, R"([{"id":"00u0000000000000000g","status":"DEPROVISIONED",)"
                             R"("profile":{"login":"gone.login@example.com","email":"gone@example.com"}}])"));
  EXPECT_EQ(resolve("gone@example.com").value(), "00u0000000000000000g");
  EXPECT_EQ(sender_.requests.size(), 6u);
}

TEST_F(IdentityTest, LearnedLoginRenamedThenReassignedIsAskedOfOkta) {
  make(options());
  const std::string a = "00u0000000000000000A";
  const std::string b = "00u0000000000000000B";
  resolver_->learn("jsmith@corp.com", a);
  resolver_->learn("Jane.Doe@corp.com", a);  // A renamed: jsmith@corp.com may now be anyone's
  sender_.push(user(b, "jsmith@corp.com"));
  EXPECT_EQ(resolve("jsmith@corp.com").value(), b);
  ASSERT_EQ(sender_.requests.size(), 1u);
  EXPECT_EQ(sender_.requests[0].target, "/api/v1/users/jsmith%40corp.com");
  EXPECT_EQ(resolve("jane.doe@corp.com").value(), a);
  EXPECT_EQ(resolver_->stats().learned_size, 1u);
  EXPECT_EQ(sender_.requests.size(), 1u);

  // Learning a name again, or under the same id, displaces nothing.
  resolver_->learn("jane.doe@corp.com", a);
  EXPECT_EQ(resolve("jane.doe@corp.com").value(), a);
  EXPECT_EQ(sender_.requests.size(), 1u);
}

TEST_F(IdentityTest, RenameAlsoDropsALookupAnswerForTheOldLogin) {
  make(options());
  const std::string a = "00u0000000000000000A";
  const std::string b = "00u0000000000000000B";
  // A lookup in flight when the name is learned caches its answer after the learned entry.
  sender_.set_deferred(true);
  std::optional<okta::LookupResult<std::string>> got;
  resolver_->resolve("jsmith@corp.com", [&](auto r) { got.emplace(std::move(r)); });
  io_.poll();
  resolver_->learn("jsmith@corp.com", a);
  sender_.push(user(a, "jsmith@corp.com"));
  sender_.release();
  ASSERT_TRUE(got);
  sender_.set_deferred(false);

  resolver_->learn("jane.doe@corp.com", a);
  EXPECT_FALSE(resolver_->try_cached("jsmith@corp.com"));
  sender_.push(user(b, "jsmith@corp.com"));
  EXPECT_EQ(resolve("jsmith@corp.com").value(), b);
  EXPECT_EQ(sender_.requests.size(), 2u);
}

TEST_F(IdentityTest, ReassignedLoginIsNotDroppedForItsFormerOwner) {
  make(options());
  const std::string a = "00u0000000000000000A";
  const std::string b = "00u0000000000000000B";
  resolver_->learn("jsmith@corp.com", a);
  resolver_->learn("jsmith@corp.com", b);    // the login now belongs to B ...
  resolver_->learn("jane.doe@corp.com", a);  // ... so A's new name must not take it from B
  EXPECT_EQ(resolve("jsmith@corp.com").value(), b);
  EXPECT_EQ(resolve("jane.doe@corp.com").value(), a);
  EXPECT_TRUE(sender_.requests.empty());
  EXPECT_EQ(resolver_->stats().learned_size, 2u);
}

TEST_F(IdentityTest, TransientFailuresAreNotCached) {
  make(options());
  sender_.push(failure(okta::TransportError::connect_failed));
  EXPECT_EQ(resolve("c@example.com").error().kind, OutcomeKind::transient);
  sender_.push(user("00u00000000000000005", "c@example.com"));
  EXPECT_EQ(resolve("c@example.com").value(), "00u00000000000000005");
  EXPECT_EQ(sender_.requests.size(), 2u);
}

TEST_F(IdentityTest, ConcurrentLookupsForOneNameAreCoalesced) {
  make(options());
  sender_.set_deferred(true);
  std::vector<okta::LookupResult<std::string>> got;
  for (int i = 0; i < 5; ++i) {
    resolver_->resolve(i % 2 ? "D@example.com" : "CORP\\d", [&](auto r) { got.push_back(std::move(r)); });
  }
  io_.poll();
  EXPECT_EQ(sender_.requests.size(), 1u);
  EXPECT_TRUE(got.empty());

  // Another name is not held up by the lookup in flight.
  resolver_->learn("e@example.com", "00u00000000000000007");
  std::optional<okta::LookupResult<std::string>> other;
  resolver_->resolve("e@example.com", [&](auto r) { other.emplace(std::move(r)); });
  ASSERT_TRUE(other);
  EXPECT_EQ(other->value(), "00u00000000000000007");

  sender_.push(user("00u00000000000000006", "d@example.com"));
  sender_.release();
  ASSERT_EQ(got.size(), 5u);
  for (const auto& r : got)
    EXPECT_EQ(r.value(), "00u00000000000000006");
  EXPECT_EQ(resolver_->stats().lookups, 1u);
  EXPECT_EQ(resolver_->stats().coalesced, 4u);
}

TEST_F(IdentityTest, CacheIsBounded) {
  auto o = options();
  o.cache_capacity = 2;
  o.learned_capacity = 2;
  o.max_pending = 1;
  make(o);
  for (int i = 0; i < 4; ++i) {
    const auto id = fmt::format("00u0000000000000000{}", i);
    sender_.push(user(id, fmt::format("u{}@example.com", i)));
    EXPECT_EQ(resolve(fmt::format("u{}@example.com", i)).value(), id);
    resolver_->learn(fmt::format("l{}@example.com", i), id);
  }
  auto s = resolver_->stats();
  EXPECT_EQ(s.cache_size, 2u);
  EXPECT_EQ(s.learned_size, 2u);
  EXPECT_EQ(s.evictions, 4u);
  // The least recently used entries went first.
  EXPECT_FALSE(resolver_->try_cached("u0@example.com"));
  EXPECT_TRUE(resolver_->try_cached("u3@example.com"));

  // Lookups in flight are bounded too: beyond max_pending, a caller is told to retry later.
  sender_.set_deferred(true);
  std::vector<okta::LookupResult<std::string>> got;
  resolver_->resolve("p1@example.com", [&](auto r) { got.push_back(std::move(r)); });
  resolver_->resolve("p2@example.com", [&](auto r) { got.push_back(std::move(r)); });
  io_.restart();
  io_.poll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].error().kind, OutcomeKind::transient);
  sender_.push(user("00u00000000000000009", "p1@example.com"));
  sender_.release();
  EXPECT_EQ(got.size(), 2u);
}

TEST_F(IdentityTest, UsableFromOtherThreads) {
  make(options());
  for (int i = 0; i < 8; ++i)
    resolver_->learn(fmt::format("t{}@example.com", i), "00u0000000000000000" + std::to_string(i));
  // Every miss is answered by the sender on the io thread.
  okta::IdentityOptions o = options();
  o.clock = {};
  std::atomic<int> answered{0};
  auto send = [](okta::Request, okta::ResponseHandler h) {
    h(response(200, R"({"id":"00u00000000000000099","status":"ACTIVE","profile":{"login":"m@example.com"}})"));
  };
  okta::IdentityResolver threaded(io_, send, o);
  auto work = boost::asio::make_work_guard(io_);
  io_.restart();
  std::thread io_thread([&] { io_.run(); });
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        // One id per name: a user has one login, and a second name for an id replaces the first.
        if (i % 10 == 0) threaded.learn(fmt::format("x{}@example.com", t), fmt::format("00u0000000000000009{}", t));
        threaded.resolve(i % 3 ? "m@example.com" : fmt::format("x{}@example.com", t), [&](auto r) {
          if (r) answered.fetch_add(1);
        });
      }
    });
  }
  for (auto& c : callers)
    c.join();
  while (answered.load() < 800)
    std::this_thread::yield();
  work.reset();
  io_.stop();
  io_thread.join();
  EXPECT_EQ(answered.load(), 800);
  EXPECT_LE(threaded.requests_sent(), 4u);  // at most one miss per name before it is cached
}

TEST_F(IdentityTest, GroupsResolvedOnceAndRefreshedKeepingTheLastAnswer) {
  auto o = options();
  o.group_refresh = std::chrono::seconds(100);
  make(o);
  const auto all = load_exchanges();
  const auto& recorded = find_exchange(all, "GET", "/api/v1/groups?q=Group-Target-Test", 200);
  std::vector<okta::LookupResult<okta::OktaGroup>> got;
  auto cb = [&](auto r) { got.push_back(std::move(r)); };
  sender_.push(to_response(recorded));
  resolver_->resolve_group("Group-Target-Test", cb);
  resolver_->resolve_group("Group-Target-Test", cb);
  io_.poll();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].value().id, "00gsfbh2pJyrDzGmQ4x6");
  EXPECT_EQ(sender_.requests.size(), 1u);

  now_ += std::chrono::seconds(101);
  sender_.push(failure(okta::TransportError::timeout));
  resolver_->resolve_group("Group-Target-Test", cb);
  io_.restart();
  io_.poll();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].value().id, "00gsfbh2pJyrDzGmQ4x6");  // stale but known
  EXPECT_EQ(sender_.requests.size(), 2u);
  EXPECT_NE(log_.joined().find("refresh failed"), std::string::npos);
}

}  // namespace
}  // namespace og::test
