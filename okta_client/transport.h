#pragma once

// HTTPS transport to one Okta org: a bounded pool of kept-alive connections driven by one io_context thread,
// per-bucket rate limiting from Okta's X-Rate-Limit-* headers, bounded retries, and pluggable auth.
//
// Threading: every callback runs on the io_context thread the Transport was built with. send() and shutdown()
// may be called from any thread (they post); rate_limits() and stats() may be called from any thread.

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "okta_client/rate_limiter.h"

namespace og::okta {

namespace http = boost::beast::http;

class Authenticator;

enum class Priority : std::uint8_t {
  enforcement,  // suspend, clear sessions, group changes: served first when the budget is short
  lookup,       // reads that resolve identities; yield to enforcement
};

struct Request {
  http::verb method = http::verb::get;
  std::string target;  // path + query, already percent-encoded: "/api/v1/users/00u1/lifecycle/suspend"
  std::string body;    // JSON (sent as application/json) or empty
  Priority priority = Priority::lookup;
  // false for lifecycle ops and anything else that must not happen twice: such a request is never re-sent
  // once it may have reached Okta; the caller gets TransportError::unknown_outcome and re-reads state.
  bool idempotent = true;
  // Extra request headers (e.g. content-type for a form post). Authorization, Host, User-Agent, Accept and the
  // X-Okta-Retry-* headers are set by the transport.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Response {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, in received order
  std::chrono::milliseconds latency{};                       // from send() to the final answer, waits included
  int attempts = 1;                                          // 1 + retries

  // First header with this (case-insensitive) name.
  std::optional<std::string_view> header(std::string_view name) const;
};

enum class TransportError : std::uint8_t {
  connect_failed,   // resolve/connect failed on every attempt; nothing was sent
  tls_failed,       // handshake or certificate verification failed; nothing was sent
  timeout,          // timed out on every attempt (a non-idempotent request only if nothing had been sent)
  unknown_outcome,  // sent, but no usable answer came back (non-idempotent: at once; idempotent: on every attempt)
  rate_limited,     // still 429 after max_retries
  body_too_large,   // response body over TransportConfig::body_limit
  auth_failed,      // no credentials could be obtained, or Okta answered 401 with fresh credentials
  shutting_down,    // shutdown() was called before the request completed
  invalid_request,  // bad target / method; never sent
  protocol_error,   // malformed HTTP from the peer
};

std::string_view to_string(TransportError error);

struct TransportFailure {
  TransportError error;
  std::string detail;  // for logs; never contains a secret
  int attempts = 0;
};

// Lets result<T, TransportFailure>::value() throw std::runtime_error(detail), for tests and control-plane code; the
// data plane checks has_value() instead.
[[noreturn]] void throw_exception_from_error(const TransportFailure& failure, const boost::source_location& location);

using ResponseHandler = std::function<void(boost::system::result<Response, TransportFailure>)>;

enum class LogLevel : std::uint8_t { debug, info, warning, error };
// Receives every log line of the client; the default (empty) is silent. Lines never contain secrets.
using LogSink = std::function<void(LogLevel, std::string_view)>;

struct TransportConfig {
  std::string org_url;  // "https://acme.okta.com"; plain http is accepted only for a loopback host (tests)
  // Okta's org-wide concurrency limit is 75 (35 on free plans) and is shared with every other integration;
  // a handful of connections reaches the per-minute limits of the buckets we use.
  std::size_t max_connections = 4;
  std::chrono::milliseconds connect_timeout{5000};   // resolve + TCP connect
  std::chrono::milliseconds tls_timeout{5000};       // TLS handshake
  std::chrono::milliseconds request_timeout{15000};  // each of: write the request, read the response
  std::chrono::milliseconds shutdown_timeout{1000};  // TLS close_notify exchange when a connection is retired
  std::chrono::milliseconds idle_timeout{30000};     // kept-alive connections idle longer are closed, not reused
  std::size_t body_limit = 8u << 20;
  int max_retries = 4;                          // retries after the first attempt, whatever the cause
  std::chrono::milliseconds backoff_base{200};  // full jitter: uniform(0, min(cap, base * 2^n))
  std::chrono::milliseconds backoff_cap{10000};
  std::chrono::milliseconds max_rate_limit_wait{60000};  // a 429 reset further away than this is capped
  std::string ca_file;                                   // PEM bundle; empty: the system's CAs
  bool verify_peer = true;
  LogSink log;
};

struct TransportStats {
  std::uint64_t requests = 0;         // send() calls
  std::uint64_t succeeded = 0;        // handlers called with a Response (any status)
  std::uint64_t failed = 0;           // handlers called with a TransportFailure
  std::uint64_t attempts = 0;         // HTTP exchanges started
  std::uint64_t retries = 0;          // attempts beyond the first
  std::uint64_t responses_429 = 0;    // all 429s
  std::uint64_t concurrency_429 = 0;  // of which caused by the org's concurrency limit
  std::uint64_t connections_opened = 0;
  std::uint64_t reconnects = 0;  // connections opened after a kept-alive one was lost
  std::size_t in_flight = 0;
  std::size_t queued = 0;
  std::size_t concurrency_limit = 0;  // current window of requests in flight (lowered by concurrency 429s)
  struct BucketLatency {
    Bucket bucket;
    std::uint64_t count = 0;
    std::chrono::microseconds total{};
    std::chrono::microseconds max{};
  };
  std::vector<BucketLatency> latency;  // per bucket with at least one answer
};

class Transport {
 public:
  // Fails (returns an error string, never a secret) when the org URL or TLS configuration is unusable.
  static boost::system::result<std::unique_ptr<Transport>, std::string> create(boost::asio::io_context& io,
                                                                               TransportConfig config,
                                                                               std::shared_ptr<Authenticator> auth);
  ~Transport();  // implies shutdown(); pending handlers are still called (with shutting_down)
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Thread-safe. The handler runs exactly once, on the io_context thread.
  void send(Request request, ResponseHandler handler);
  // Thread-safe. Fails queued and in-flight work with shutting_down and closes the connections.
  void shutdown();

  RateLimitSnapshot rate_limits() const;
  TransportStats stats() const;

  class Impl;

 private:
  explicit Transport(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace og::okta
