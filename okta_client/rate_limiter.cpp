#include "okta_client/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace og::okta {

namespace {

std::string_view path_only(std::string_view target) {
  auto end = target.find_first_of("?#");
  if (end != std::string_view::npos) target = target.substr(0, end);
  while (target.size() > 1 && target.back() == '/')
    target.remove_suffix(1);
  return target;
}

// Splits "/a/b/c" into {"a","b","c"} (at most 8 segments are looked at).
std::size_t segments(std::string_view path, std::string_view (&out)[8]) {
  std::size_t n = 0;
  std::size_t pos = 0;
  while (pos < path.size() && n < 8) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out[n++] = path.substr(pos, next - pos);
    pos = next;
  }
  return n;
}

}  // namespace

std::string_view to_string(Bucket bucket) {
  switch (bucket) {
    case Bucket::user_get:
      return "user_get";
    case Bucket::user_write:
      return "user_write";
    case Bucket::users_list:
      return "users_list";
    case Bucket::groups:
      return "groups";
    case Bucket::group_by_id:
      return "group_by_id";
    case Bucket::logs:
      return "logs";
    case Bucket::oauth_token:
      return "oauth_token";
    case Bucket::other:
      return "other";
  }
  return "other";
}

Bucket classify(boost::beast::http::verb method, std::string_view target) {
  using boost::beast::http::verb;
  std::string_view seg[8];
  const std::size_t n = segments(path_only(target), seg);
  // /oauth2/v1/token and /oauth2/{authorizationServerId}/v1/token
  if (n >= 3 && seg[0] == "oauth2" && seg[n - 1] == "token" && seg[n - 2] == "v1") return Bucket::oauth_token;
  if (n < 3 || seg[0] != "api" || seg[1] != "v1") return Bucket::other;
  if (seg[2] == "logs") return Bucket::logs;
  if (seg[2] == "users") {
    if (n == 3) return (method == verb::get || method == verb::post) ? Bucket::users_list : Bucket::other;
    if (n == 4 && method == verb::get) return Bucket::user_get;
    // Writes to a user and to what hangs under it (lifecycle, sessions) share the "user by id" write bucket.
    if (method == verb::post || method == verb::put || method == verb::delete_) return Bucket::user_write;
    return Bucket::other;
  }
  if (seg[2] == "groups") {
    // Okta: "/api/v1/groups/{id} only" has its own bucket; everything else under /api/v1/groups shares one.
    if (n == 4) return Bucket::group_by_id;
    return Bucket::groups;
  }
  return Bucket::other;
}

RateLimiter::RateLimiter(Options options)
    : options_(options), concurrency_limit_(std::max<std::size_t>(1, options.max_concurrency)) {}

RateLimiter::Clock::duration RateLimiter::admit(Bucket bucket, bool enforcement, Clock::time_point now) const {
  if (in_flight_total_ >= concurrency_limit_) return Clock::duration::max();  // a completion re-runs the scheduler
  const State& s = state(bucket);
  if (s.blocked_until > now) return s.blocked_until - now;
  if (!s.known) {
    // Until the first answer tells us the bucket's size, probe with one request at a time.
    return s.in_flight == 0 ? Clock::duration::zero() : Clock::duration::max();
  }
  if (now >= s.reset_at) {
    // A new window began; its first answer will refresh the counters. Keep probing gently until then.
    return s.in_flight == 0 ? Clock::duration::zero() : Clock::duration::max();
  }
  // In-flight requests are not yet in the server's count; an answer that overtook one counts it twice, which
  // errs on the safe side.
  const auto effective = s.remaining - static_cast<std::int64_t>(s.in_flight);
  const auto reserve =
      enforcement
          ? std::int64_t{0}
          : std::max<std::int64_t>(
                1, static_cast<std::int64_t>(std::ceil(static_cast<double>(s.limit) * options_.enforcement_reserve)));
  const auto usable = effective - reserve;
  if (usable <= 0) return s.reset_at - now;
  if (static_cast<double>(effective) < static_cast<double>(s.limit) * options_.pace_below) {
    // Spread what is left evenly until the reset, so a backlog neither bursts into a 429 nor idles at the end.
    const auto spacing = (s.reset_at - now) / (usable + 1);
    const auto next = s.last_start + spacing;
    if (next > now) return next - now;
  }
  return Clock::duration::zero();
}

void RateLimiter::on_start(Bucket bucket, Clock::time_point now) {
  State& s = state(bucket);
  ++s.in_flight;
  ++in_flight_total_;
  s.last_start = now;
}

void RateLimiter::on_finish(Bucket bucket) {
  State& s = state(bucket);
  if (s.in_flight > 0) --s.in_flight;
  if (in_flight_total_ > 0) --in_flight_total_;
}

void RateLimiter::on_headers(Bucket bucket, const RateLimitHeaders& headers, Clock::time_point now) {
  if (!headers.limit || !headers.remaining || !headers.reset_epoch_s) return;
  State& s = state(bucket);
  // Answers may arrive out of order: within one window keep the lowest remaining seen.
  const bool same_window = s.known && s.reset_epoch_s == *headers.reset_epoch_s && s.limit == *headers.limit;
  s.known = true;
  s.limit = *headers.limit;
  s.remaining = same_window ? std::min(s.remaining, *headers.remaining) : *headers.remaining;
  s.reset_epoch_s = *headers.reset_epoch_s;
  // Without a Date header assume our clock agrees with Okta's; with one, skew cancels out.
  const std::int64_t server_now =
      headers.date_epoch_s
          ? *headers.date_epoch_s
          : std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
  const auto until_reset = std::chrono::seconds(std::max<std::int64_t>(0, *headers.reset_epoch_s - server_now));
  s.reset_at = now + std::min<Clock::duration>(until_reset, options_.max_reset_wait);
}

bool RateLimiter::is_concurrency_429(Bucket bucket, const RateLimitHeaders& headers, Clock::time_point now) const {
  if (!headers.limit || !headers.remaining || !headers.reset_epoch_s) return true;
  const State& s = state(bucket);
  if (!s.known) return false;
  if (*headers.limit != s.limit) return true;
  const bool window_had_budget = now < s.reset_at && s.remaining > static_cast<std::int64_t>(s.in_flight);
  const bool imminent_reset = headers.date_epoch_s && *headers.reset_epoch_s - *headers.date_epoch_s <= 2;
  return window_had_budget && imminent_reset && *headers.reset_epoch_s != s.reset_epoch_s;
}

void RateLimiter::block_until(Bucket bucket, Clock::time_point until) {
  State& s = state(bucket);
  s.blocked_until = std::max(s.blocked_until, until);
  // The window is spent until then; afterwards probe again rather than trusting an older, later reset.
  s.reset_at = std::min(s.reset_at, s.blocked_until);
}

void RateLimiter::on_concurrency_429() {
  concurrency_limit_ = std::max<std::size_t>(1, std::min(concurrency_limit_, in_flight_total_) / 2);
  successes_since_change_ = 0;
}

void RateLimiter::on_success() {
  if (concurrency_limit_ >= std::max<std::size_t>(1, options_.max_concurrency)) return;
  // Additive increase: one more slot after a full window's worth of clean answers.
  if (++successes_since_change_ >= concurrency_limit_ * 4) {
    ++concurrency_limit_;
    successes_since_change_ = 0;
  }
}

RateLimitSnapshot RateLimiter::snapshot(Clock::time_point now) const {
  RateLimitSnapshot out;
  out.concurrency_limit = concurrency_limit_;
  out.in_flight = in_flight_total_;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    const State& s = states_[i];
    BucketSnapshot b{static_cast<Bucket>(i)};
    b.known = s.known;
    b.limit = s.limit;
    b.remaining = s.remaining;
    b.reset_epoch_s = s.reset_epoch_s;
    b.in_flight = s.in_flight;
    if (s.blocked_until > now) {
      b.blocked_for = std::chrono::duration_cast<std::chrono::milliseconds>(s.blocked_until - now);
    }
    out.buckets.push_back(b);
  }
  return out;
}

}  // namespace og::okta
