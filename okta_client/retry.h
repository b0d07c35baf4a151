#pragma once

// Retry arithmetic shared by the transport and its tests: Okta's 429 wait and jittered exponential backoff.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include "okta_client/rate_limiter.h"

namespace og::okta {

// RFC 9110 IMF-fixdate ("Thu, 11 Sep 2025 16:21:50 GMT") to UTC epoch seconds; nullopt when malformed.
std::optional<std::int64_t> parse_http_date(std::string_view text);

// How long to wait after a 429, as Okta's SDKs compute it: X-Rate-Limit-Reset - Date + 1 s, both on Okta's clock
// so local clock skew does not matter. nullopt when either header is missing; never negative; capped at `cap`.
std::optional<std::chrono::milliseconds> rate_limit_wait(const RateLimitHeaders& headers,
                                                         std::chrono::milliseconds cap);

// Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^retry)]; retry counts from 0.
std::chrono::milliseconds full_jitter_backoff(int retry, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                              std::mt19937_64& rng);

}  // namespace og::okta
