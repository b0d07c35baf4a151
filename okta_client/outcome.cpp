#include "okta_client/outcome.h"

#include <openssl/crypto.h>

#include <stdexcept>

namespace og::okta {

std::string_view to_string(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::success:
      return "success";
    case OutcomeKind::already_in_state:
      return "already_in_state";
    case OutcomeKind::not_found:
      return "not_found";
    case OutcomeKind::forbidden:
      return "forbidden";
    case OutcomeKind::invalid:
      return "invalid";
    case OutcomeKind::rate_limited:
      return "rate_limited";
    case OutcomeKind::transient:
      return "transient";
    case OutcomeKind::unknown:
      return "unknown";
  }
  return "unknown";
}

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) {
  other.wipe();
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}

Secret::~Secret() {
  wipe();
}

void Secret::wipe() noexcept {
  // A moved-from or short (SSO) string may still hold the bytes in its inline buffer.
  if (value_.capacity() > 0) OPENSSL_cleanse(value_.data(), value_.capacity());
  value_.clear();
}

namespace {

void append_okta_error(std::string& out, const std::optional<OktaError>& e) {
  if (!e) return;
  out += fmt::format(" {}: {}", e->error_code, e->error_summary);
  for (const auto& cause : e->error_causes)
    out += fmt::format(" [{}]", cause);
  if (!e->error_id.empty()) out += fmt::format(" (errorId {})", e->error_id);
}

}  // namespace

void throw_exception_from_error(const Failure& failure, const boost::source_location&) {
  throw std::runtime_error(describe(failure));
}

std::string describe(const ActionOutcome& o) {
  std::string out(to_string(o.kind));
  if (o.http_status != 0) out += fmt::format(" http {}", o.http_status);
  if (!o.observed_status.empty()) out += fmt::format(" user status {}", o.observed_status);
  if (o.verified_by_reread) out += " (verified by re-read)";
  append_okta_error(out, o.okta_error);
  if (!o.detail.empty()) out += fmt::format(": {}", o.detail);
  return out;
}

std::string describe(const Failure& f) {
  std::string out(to_string(f.kind));
  if (f.http_status != 0) out += fmt::format(" http {}", f.http_status);
  append_okta_error(out, f.okta_error);
  if (!f.detail.empty()) out += fmt::format(": {}", f.detail);
  return out;
}

Failure classify_status(unsigned status, std::string_view body, bool idempotent) {
  Failure f;
  f.http_status = status;
  if (status >= 200 && status < 300) {
    f.kind = OutcomeKind::success;
    return f;
  }
  // Only error bodies are parsed: a 2xx body may carry a secret and never reaches the detail text.
  f.okta_error = parse_okta_error(body);
  if (status == 404) {
    f.kind = OutcomeKind::not_found;
  } else if (status == 401 || status == 403) {
    f.kind = OutcomeKind::forbidden;
  } else if (status == 429) {
    f.kind = OutcomeKind::rate_limited;
  } else if (status >= 500) {
    // Okta may have applied a lifecycle change before failing; only a re-read can tell.
    f.kind = idempotent ? OutcomeKind::transient : OutcomeKind::unknown;
  } else if (status == 408) {
    f.kind = idempotent ? OutcomeKind::transient : OutcomeKind::unknown;
  } else {
    f.kind = OutcomeKind::invalid;
  }
  if (!f.okta_error) f.detail = fmt::format("HTTP {} without an Okta error object", status);
  return f;
}

namespace {

// Local names, so this file does not depend on the transport's implementation being linked.
std::string_view name_of(TransportError e) {
  switch (e) {
    case TransportError::connect_failed:
      return "connect_failed";
    case TransportError::tls_failed:
      return "tls_failed";
    case TransportError::timeout:
      return "timeout";
    case TransportError::unknown_outcome:
      return "unknown_outcome";
    case TransportError::rate_limited:
      return "rate_limited";
    case TransportError::body_too_large:
      return "body_too_large";
    case TransportError::auth_failed:
      return "auth_failed";
    case TransportError::shutting_down:
      return "shutting_down";
    case TransportError::invalid_request:
      return "invalid_request";
    case TransportError::protocol_error:
      return "protocol_error";
  }
  return "transport_error";
}

}  // namespace

Failure classify_transport_failure(const TransportFailure& failure, bool idempotent) {
  Failure f;
  f.detail = fmt::format("{}: {}", name_of(failure.error), failure.detail);
  switch (failure.error) {
    case TransportError::connect_failed:
    case TransportError::tls_failed:
    case TransportError::timeout:
    case TransportError::shutting_down:
      f.kind = OutcomeKind::transient;
      break;
    case TransportError::unknown_outcome:
    case TransportError::body_too_large:  // Okta answered; we could not read what it said
    case TransportError::protocol_error:
      f.kind = idempotent ? OutcomeKind::transient : OutcomeKind::unknown;
      break;
    case TransportError::rate_limited:
      f.kind = OutcomeKind::rate_limited;
      break;
    case TransportError::auth_failed:
      f.kind = OutcomeKind::forbidden;
      break;
    case TransportError::invalid_request:
      f.kind = OutcomeKind::invalid;
      break;
  }
  return f;
}

}  // namespace og::okta
