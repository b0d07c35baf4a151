#include "okta_client/retry.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace og::okta {

namespace {

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  // "Thu, 11 Sep 2025 16:21:50 GMT": fixed width, 29 characters.
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' ||
      text[19] != ':' || text[22] != ':' || text[25] != ' ' || text.substr(26) != "GMT") {
    return std::nullopt;
  }
  static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto month_it = std::find(months.begin(), months.end(), text.substr(8, 3));
  if (month_it == months.end()) return std::nullopt;
  auto day = parse_int(text.substr(5, 2));
  auto year = parse_int(text.substr(12, 4));
  auto hour = parse_int(text.substr(17, 2));
  auto minute = parse_int(text.substr(20, 2));
  auto second = parse_int(text.substr(23, 2));
  if (!day || !year || !hour || !minute || !second || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 60) {
    return std::nullopt;
  }
  auto month = static_cast<unsigned>(month_it - months.begin()) + 1;
  return days_from_civil(*year, month, static_cast<unsigned>(*day)) * 86400 + *hour * 3600 + *minute * 60 + *second;
}

std::optional<std::chrono::milliseconds> rate_limit_wait(const RateLimitHeaders& headers,
                                                         std::chrono::milliseconds cap) {
  if (!headers.reset_epoch_s || !headers.date_epoch_s) return std::nullopt;
  // Both instants are on Okta's clock; the extra second covers the Date header's truncation to whole seconds.
  auto wait = std::chrono::seconds(*headers.reset_epoch_s - *headers.date_epoch_s + 1);
  auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait);
  return std::clamp(wait_ms, std::chrono::milliseconds(0), cap);
}

std::chrono::milliseconds full_jitter_backoff(int retry, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                              std::mt19937_64& rng) {
  auto ceiling = base;
  for (int i = 0; i < retry && ceiling < cap; ++i)
    ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  if (ceiling.count() <= 0) return std::chrono::milliseconds(0);
  std::uniform_int_distribution<std::int64_t> dist(0, ceiling.count());
  return std::chrono::milliseconds(dist(rng));
}

}  // namespace og::okta
