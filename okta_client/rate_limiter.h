#pragma once

// Client-side view of Okta's per-minute rate-limit buckets and of the org's concurrency limit. Pure logic with an
// injected clock so it can be tested without sockets; the Transport owns one instance on its io_context thread.

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace og::okta {

// Okta's documented management buckets (developer.okta.com/docs/reference/rl-global-mgmt). Each has its own
// X-Rate-Limit-* counters, so one exhausted bucket must not hold back requests for another.
enum class Bucket : std::uint8_t {
  user_get,     // GET /api/v1/users/{idOrLogin}
  user_write,   // POST/PUT/DELETE /api/v1/users/{id} and below it (lifecycle, sessions...)
  users_list,   // GET/POST /api/v1/users (search, create)
  groups,       // /api/v1/groups except /api/v1/groups/{id}...
  group_by_id,  // /api/v1/groups/{id} and below it (membership)
  logs,         // /api/v1/logs
  oauth_token,  // /oauth2/v1/token (client credentials for our own access token)
  other,        // "most other API actions"
};
inline constexpr std::size_t bucket_count = 8;
std::string_view to_string(Bucket bucket);

// Maps a request to its bucket; target is the path plus optional query.
Bucket classify(boost::beast::http::verb method, std::string_view target);

// The X-Rate-Limit-* and Date headers of one response; absent or malformed values are nullopt.
struct RateLimitHeaders {
  std::optional<std::int64_t> limit;
  std::optional<std::int64_t> remaining;
  std::optional<std::int64_t> reset_epoch_s;  // UTC seconds, Okta's clock
  std::optional<std::int64_t> date_epoch_s;   // the response's Date, Okta's clock
};

struct BucketSnapshot {
  Bucket bucket;
  bool known = false;  // false until a response of this bucket carried the headers
  std::int64_t limit = 0;
  std::int64_t remaining = 0;
  std::int64_t reset_epoch_s = 0;
  std::chrono::milliseconds blocked_for{};  // left of a 429 wait
  std::size_t in_flight = 0;
};

struct RateLimitSnapshot {
  std::vector<BucketSnapshot> buckets;
  std::size_t concurrency_limit = 0;
  std::size_t in_flight = 0;
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::size_t max_concurrency = 4;
    // Lookups leave this share of a bucket's window (at least one request) to enforcement actions.
    double enforcement_reserve = 0.1;
    // Below this share of the window left, requests are spread evenly until the reset instead of bursting.
    double pace_below = 0.5;
    // A reset further away than this is not believed (clock trouble, or a 429 that is not about the window):
    // the bucket reopens for a probe after this long.
    std::chrono::milliseconds max_reset_wait{60000};
  };

  explicit RateLimiter(Options options);

  // Zero when a request may start now; otherwise how long to wait before asking again.
  Clock::duration admit(Bucket bucket, bool enforcement, Clock::time_point now) const;
  // A request of the bucket starts / ends (whatever the outcome).
  void on_start(Bucket bucket, Clock::time_point now);
  void on_finish(Bucket bucket);
  // Headers of any response of the bucket (429s included). The Date header anchors Okta's reset to our clock.
  void on_headers(Bucket bucket, const RateLimitHeaders& headers, Clock::time_point now);

  // Whether a 429 with these headers comes from the org's concurrency limit rather than the bucket's window. Okta
  // documents that a concurrency 429 reports the concurrent values in X-Rate-Limit-* (so the limit is not the
  // bucket's per-minute limit), with a reset that is only an estimate a moment away. Also counted as concurrency:
  // headers missing, or a reset a couple of seconds away that is not the reset of a window we know still had budget.
  bool is_concurrency_429(Bucket bucket, const RateLimitHeaders& headers, Clock::time_point now) const;
  // A window 429: no request of the bucket starts before `until`.
  void block_until(Bucket bucket, Clock::time_point until);
  // Concurrency 429: halve the requests allowed in flight (at least one); successes add one back per window.
  void on_concurrency_429();
  void on_success();

  std::size_t concurrency_limit() const { return concurrency_limit_; }
  std::size_t in_flight() const { return in_flight_total_; }
  RateLimitSnapshot snapshot(Clock::time_point now) const;

 private:
  struct State {
    bool known = false;
    std::int64_t limit = 0;
    std::int64_t remaining = 0;
    std::int64_t reset_epoch_s = 0;
    Clock::time_point reset_at{};  // reset on our clock
    Clock::time_point blocked_until{};
    Clock::time_point last_start{};
    std::size_t in_flight = 0;
  };
  const State& state(Bucket b) const { return states_[static_cast<std::size_t>(b)]; }
  State& state(Bucket b) { return states_[static_cast<std::size_t>(b)]; }

  Options options_;
  State states_[bucket_count];
  std::size_t concurrency_limit_;
  std::size_t successes_since_change_ = 0;
  std::size_t in_flight_total_ = 0;
};

}  // namespace og::okta
