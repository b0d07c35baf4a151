#include "okta_client/rate_limiter.h"

#include <gtest/gtest.h>

namespace og::test {
namespace {

using namespace std::chrono_literals;
using okta::Bucket;
using okta::RateLimiter;
using okta::RateLimitHeaders;
namespace http = boost::beast::http;
using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, ClassifiesOktaBuckets) {
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/users/00u1abc"), Bucket::user_get);
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/users/jane%40example.com"), Bucket::user_get);
  EXPECT_EQ(okta::classify(http::verb::post, "/api/v1/users/00u1/lifecycle/suspend"), Bucket::user_write);
  EXPECT_EQ(okta::classify(http::verb::post, "/api/v1/users/00u1/lifecycle/unsuspend?sendEmail=false"),
            Bucket::user_write);
  EXPECT_EQ(okta::classify(http::verb::delete_, "/api/v1/users/00u1/sessions?oauthTokens=true"), Bucket::user_write);
  EXPECT_EQ(okta::classify(http::verb::post, "/api/v1/users/00u1"), Bucket::user_write);
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/users?search=profile.login%20eq%20%22a%22"), Bucket::users_list);
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/users/"), Bucket::users_list);
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/users/00u1/groups"), Bucket::other);
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/groups?q=Step-up"), Bucket::groups);
  EXPECT_EQ(okta::classify(http::verb::put, "/api/v1/groups/00g1/users/00u1"), Bucket::groups);
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/groups/00g1"), Bucket::group_by_id);
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/logs?since=2024-01-01T00%3A00%3A00Z"), Bucket::logs);
  EXPECT_EQ(okta::classify(http::verb::post, "/oauth2/v1/token"), Bucket::oauth_token);
  EXPECT_EQ(okta::classify(http::verb::get, "/api/v1/apps"), Bucket::other);
  EXPECT_EQ(okta::classify(http::verb::get, "/"), Bucket::other);
}

RateLimitHeaders window(std::int64_t limit, std::int64_t remaining, std::int64_t seconds_to_reset) {
  RateLimitHeaders h;
  h.limit = limit;
  h.remaining = remaining;
  h.date_epoch_s = 1'700'000'000;
  h.reset_epoch_s = *h.date_epoch_s + seconds_to_reset;
  return h;
}

TEST(RateLimiterTest, ProbesAnUnknownBucketOneAtATime) {
  RateLimiter limiter({.max_concurrency = 4});
  const auto t0 = Clock::now();
  EXPECT_EQ(limiter.admit(Bucket::user_write, true, t0), Clock::duration::zero());
  limiter.on_start(Bucket::user_write, t0);
  EXPECT_GT(limiter.admit(Bucket::user_write, true, t0), Clock::duration::zero());
  EXPECT_EQ(limiter.admit(Bucket::logs, false, t0), Clock::duration::zero());  // other buckets are independent
  limiter.on_headers(Bucket::user_write, window(600, 599, 60), t0);
  limiter.on_finish(Bucket::user_write);
  EXPECT_EQ(limiter.admit(Bucket::user_write, true, t0), Clock::duration::zero());
}

TEST(RateLimiterTest, BoundsRequestsInFlight) {
  RateLimiter limiter({.max_concurrency = 2});
  const auto t0 = Clock::now();
  limiter.on_headers(Bucket::user_write, window(600, 500, 60), t0);
  limiter.on_start(Bucket::user_write, t0);
  limiter.on_start(Bucket::user_write, t0);
  EXPECT_EQ(limiter.admit(Bucket::user_write, true, t0), Clock::duration::max());
  limiter.on_finish(Bucket::user_write);
  EXPECT_EQ(limiter.admit(Bucket::user_write, true, t0), Clock::duration::zero());
}

TEST(RateLimiterTest, ExhaustedWindowWaitsForTheResetOnOurClock) {
  RateLimiter limiter({.max_concurrency = 4});
  const auto t0 = Clock::now();
  // Date says the window resets 20 s after the answer: our clock's value of "now" does not matter.
  limiter.on_headers(Bucket::user_get, window(100, 0, 20), t0);
  const auto wait = limiter.admit(Bucket::user_get, true, t0);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(wait), 20s);
  EXPECT_EQ(limiter.admit(Bucket::user_get, true, t0 + 20s), Clock::duration::zero());
}

TEST(RateLimiterTest, LookupsLeaveAReserveForEnforcement) {
  RateLimiter limiter({.max_concurrency = 4, .enforcement_reserve = 0.1});
  const auto t0 = Clock::now();
  limiter.on_headers(Bucket::user_write, window(100, 10, 30), t0);
  EXPECT_GT(limiter.admit(Bucket::user_write, false, t0), 29s);  // lookup: the last 10 are reserved
  // Enforcement may go; paced because the window is nearly spent: 10 left over 30 s.
  limiter.on_start(Bucket::user_write, t0);
  limiter.on_finish(Bucket::user_write);
  limiter.on_headers(Bucket::user_write, window(100, 9, 30), t0);
  const auto wait = limiter.admit(Bucket::user_write, true, t0);
  EXPECT_GT(wait, 2s);
  EXPECT_LT(wait, 4s);
  // Within one window the lowest count wins (answers overtake each other); a new window starts afresh.
  limiter.on_headers(Bucket::user_write, window(100, 80, 30), t0);
  EXPECT_GT(limiter.admit(Bucket::user_write, false, t0), 29s);
  limiter.on_headers(Bucket::user_write, window(100, 80, 90), t0);
  EXPECT_EQ(limiter.admit(Bucket::user_write, false, t0), Clock::duration::zero());
}

TEST(RateLimiterTest, PacesALowBudgetEvenlyUntilTheReset) {
  RateLimiter limiter({.max_concurrency = 4, .enforcement_reserve = 0.1, .pace_below = 0.5});
  auto now = Clock::now();
  const auto reset = now + 60s;
  limiter.on_headers(Bucket::user_write, window(600, 300, 60), now);
  // Simulate a backlog: start whenever admitted, answer instantly with the server's count.
  std::int64_t remaining = 300;
  int started = 0;
  while (now < reset && remaining > 0) {
    auto wait = limiter.admit(Bucket::user_write, true, now);
    if (wait != Clock::duration::zero()) {
      ASSERT_NE(wait, Clock::duration::max());
      now += wait;
      continue;
    }
    limiter.on_start(Bucket::user_write, now);
    --remaining;
    ++started;
    RateLimitHeaders h = window(600, remaining, std::chrono::duration_cast<std::chrono::seconds>(reset - now).count());
    limiter.on_headers(Bucket::user_write, h, now);
    limiter.on_finish(Bucket::user_write);
  }
  // The whole remaining budget is used (nothing wasted) and spread over the window (no burst into a 429).
  EXPECT_EQ(started, 300);
  EXPECT_GT(now, reset - 2s);
}

TEST(RateLimiterTest, FarResetIsCapped) {
  RateLimiter limiter({.max_concurrency = 4, .enforcement_reserve = 0.1, .pace_below = 0.5, .max_reset_wait = 45s});
  const auto t0 = Clock::now();
  limiter.on_headers(Bucket::logs, window(50, 0, 3600), t0);
  EXPECT_EQ(limiter.admit(Bucket::logs, true, t0), 45s);
}

TEST(RateLimiterTest, BlockedBucketWaits) {
  RateLimiter limiter({.max_concurrency = 4});
  const auto t0 = Clock::now();
  limiter.on_headers(Bucket::logs, window(50, 40, 60), t0);
  limiter.block_until(Bucket::logs, t0 + 9s);
  EXPECT_EQ(limiter.admit(Bucket::logs, true, t0), 9s);
  EXPECT_EQ(limiter.admit(Bucket::logs, true, t0 + 9s), Clock::duration::zero());
}

TEST(RateLimiterTest, RecognisesConcurrency429s) {
  RateLimiter limiter({.max_concurrency = 8});
  const auto t0 = Clock::now();
  // Headers absent: cannot be a window we know of.
  EXPECT_TRUE(limiter.is_concurrency_429(Bucket::user_write, RateLimitHeaders{}, t0));
  // Unknown bucket with headers: believe the window.
  EXPECT_FALSE(limiter.is_concurrency_429(Bucket::user_write, window(600, 0, 30), t0));
  limiter.on_headers(Bucket::user_write, window(600, 12, 30), t0);
  // Okta reports the concurrent values instead of the bucket's: a limit that is not the bucket's.
  EXPECT_TRUE(limiter.is_concurrency_429(Bucket::user_write, window(75, 0, 1), t0));
  // The window we know, exhausted by someone else: a real window 429.
  EXPECT_FALSE(limiter.is_concurrency_429(Bucket::user_write, window(600, 0, 30), t0));
  // Same limit, but a reset a second away while our window still had 12 left: concurrency.
  EXPECT_TRUE(limiter.is_concurrency_429(Bucket::user_write, window(600, 0, 1), t0));
  // ... unless our window is over anyway (then it is the start of a new one).
  EXPECT_FALSE(limiter.is_concurrency_429(Bucket::user_write, window(600, 0, 1), t0 + 31s));
}

TEST(RateLimiterTest, ConcurrencyWindowShrinksAndRecovers) {
  RateLimiter limiter({.max_concurrency = 8});
  const auto t0 = Clock::now();
  for (int i = 0; i < 8; ++i)
    limiter.on_start(Bucket::other, t0);
  limiter.on_concurrency_429();
  EXPECT_EQ(limiter.concurrency_limit(), 4u);
  limiter.on_concurrency_429();
  EXPECT_EQ(limiter.concurrency_limit(), 2u);
  for (int i = 0; i < 8; ++i)
    limiter.on_finish(Bucket::other);
  for (int i = 0; i < 1000 && limiter.concurrency_limit() < 8; ++i)
    limiter.on_success();
  EXPECT_EQ(limiter.concurrency_limit(), 8u);
  for (int i = 0; i < 20; ++i)
    limiter.on_concurrency_429();
  EXPECT_EQ(limiter.concurrency_limit(), 1u);  // never zero
}

}  // namespace
}  // namespace og::test
