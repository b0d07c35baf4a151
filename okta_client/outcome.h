#pragma once

// Typed outcomes of Okta operations, and the classification of transport results into them.

#include <boost/assert/source_location.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "okta_client/okta_json.h"
#include "okta_client/transport.h"

namespace og::okta {

// How actions and lookups reach Okta: Transport::send in the daemon, a recording fake in tests.
// The handler must run on the io_context thread that drives the caller.
using SendFn = std::function<void(Request, ResponseHandler)>;

enum class OutcomeKind : std::uint8_t {
  success,
  already_in_state,  // Okta refused because the user is already where we wanted them (treated as done)
  not_found,         // 404: the user or group does not exist (E0000007)
  forbidden,         // 401/403: the token lacks the permission, or the target is protected
  invalid,           // 400/405/409/422 and other refusals: Okta's error object says why
  rate_limited,      // still 429 after the transport's own backoff
  transient,         // nothing happened (connect/TLS failure, 5xx on an idempotent request): safe to retry
  unknown,           // a non-idempotent request may or may not have been applied
};
std::string_view to_string(OutcomeKind kind);

// Secret text from a response (tempPassword, resetPasswordUrl). Formatting and streaming print
// "[redacted]"; only reveal() gives the value, and the storage is wiped on destruction.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  ~Secret();

  bool empty() const { return value_.empty(); }
  std::string_view reveal() const { return value_; }

 private:
  void wipe() noexcept;
  std::string value_;
};

// Why a request failed, without the request's secrets. Shared by actions and lookups.
struct Failure {
  OutcomeKind kind = OutcomeKind::transient;
  unsigned http_status = 0;  // 0 when no HTTP answer was received
  std::optional<OktaError> okta_error;
  std::string detail;  // human text for logs
};

struct ActionOutcome {
  OutcomeKind kind = OutcomeKind::unknown;
  unsigned http_status = 0;
  std::optional<OktaError> okta_error;
  std::string detail;
  // already_in_state: the user status Okta reported when re-read (e.g. "SUSPENDED", "DEPROVISIONED").
  std::string observed_status;
  // Confirmed by re-reading the user after an unknown outcome or an ambiguous refusal.
  bool verified_by_reread = false;
  int attempts = 0;  // HTTP exchanges for the operation itself (transport retries included)
  // tempPassword / resetPasswordUrl; never printed.
  Secret secret;

  bool done() const { return kind == OutcomeKind::success || kind == OutcomeKind::already_in_state; }
};

// Lets result<T, Failure>::value() throw (found by ADL); the data plane uses has_value() instead.
[[noreturn]] void throw_exception_from_error(const Failure& failure, const boost::source_location& loc);

// Log/diagnostic text for an outcome: kind, status, Okta error code/summary/id/causes. Never the secret.
std::string describe(const ActionOutcome& outcome);
std::string describe(const Failure& failure);

// Classification of one HTTP exchange (no re-reads). 2xx -> success; 404 -> not_found; 401/403 ->
// forbidden; 429 -> rate_limited; 5xx -> transient for idempotent requests, unknown otherwise; other
// 4xx -> invalid. Transport failures map by whether the request may have reached Okta.
Failure classify_status(unsigned status, std::string_view body, bool idempotent);
Failure classify_transport_failure(const TransportFailure& failure, bool idempotent);

}  // namespace og::okta

template <>
struct fmt::formatter<og::okta::Secret> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const og::okta::Secret&, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format("[redacted]", ctx);
  }
};

template <>
struct fmt::formatter<og::okta::ActionOutcome> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const og::okta::ActionOutcome& o, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(og::okta::describe(o), ctx);
  }
};
