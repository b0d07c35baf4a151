#include "correlator/decision.h"

#include <fmt/format.h>

namespace og::correlator {

std::string decision_id(std::string_view response, const UserRef& user, EventTime incident, std::uint32_t ordinal) {
  // FNV-1a then a final avalanche: stable across runs, builds and platforms (it is an idempotency key).
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  mix(response);
  mix(user.id);
  mix(fmt::format("{}", incident.time_since_epoch().count()));
  mix(fmt::format("{}", ordinal));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return fmt::format("{:016x}", h);
}

}  // namespace og::correlator
