#include "okta_client/transport.h"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <charconv>
#include <deque>
#include <list>
#include <mutex>
#include <random>
#include <stdexcept>

#include "okta_client/auth.h"
#include "okta_client/connection_pool.h"
#include "okta_client/retry.h"
#include "okta_client/url.h"
#include "okta_client/version.h"

namespace og::okta {

namespace net = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;

std::string_view to_string(TransportError error) {
  switch (error) {
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
  return "?";
}

void throw_exception_from_error(const TransportFailure& failure, const boost::source_location&) {
  throw std::runtime_error(fmt::format("{}: {}", to_string(failure.error), failure.detail));
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<std::int64_t> parse_i64(std::optional<std::string_view> text) {
  if (!text) return std::nullopt;
  std::int64_t value = 0;
  auto s = *text;
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

bool valid_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return false;
  for (unsigned char c : target) {
    // Already percent-encoded: no spaces, controls or non-ASCII; CR/LF would split the request line.
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool is_certificate_error(const boost::system::error_code& ec) {
  return ec.category() == net::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

}  // namespace

std::optional<std::string_view> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

class Transport::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(net::io_context& io, TransportConfig config, OrgUrl url, std::unique_ptr<net::ssl::context> tls,
       std::shared_ptr<Authenticator> auth)
      : io_(io),
        config_(std::move(config)),
        url_(std::move(url)),
        tls_(std::move(tls)),
        auth_(std::move(auth)),
        pool_(io.get_executor(), tls_.get(), url_,
              detail::ConnectionTimeouts{config_.connect_timeout, config_.tls_timeout, config_.request_timeout,
                                         config_.shutdown_timeout},
              config_.idle_timeout),
        limiter_(RateLimiter::Options{.max_concurrency = config_.max_connections,
                                      .max_reset_wait = config_.max_rate_limit_wait}),
        pump_timer_(io),
        rng_(std::random_device{}()) {}

  void attach() {
    if (!auth_) return;
    std::weak_ptr<Impl> weak = shared_from_this();
    auth_->attach(
        [weak](Request request, ResponseHandler handler) {
          if (auto self = weak.lock()) {
            self->submit(std::move(request), std::move(handler), /*raw=*/true);
          } else {
            handler(TransportFailure{TransportError::shutting_down, "transport is gone", 0});
          }
        },
        config_.log);
  }

  void submit(Request request, ResponseHandler handler, bool raw) {
    {
      std::lock_guard lock(stats_mutex_);
      ++stats_.requests;
    }
    auto p = std::make_shared<Pending>();
    p->bucket = classify(request.method, request.target);
    p->request = std::move(request);
    p->handler = std::move(handler);
    p->raw = raw;
    p->started = Clock::now();
    if (shutting_down_) {
      fail(p, TransportError::shutting_down, "transport is shutting down");
      return;
    }
    if (!valid_target(p->request.target) || p->request.method == http::verb::unknown) {
      fail(p, TransportError::invalid_request, "target must be an absolute, percent-encoded path");
      return;
    }
    if (raw) {
      // Token requests skip the queue: an authenticated request may be waiting for them, and holding them behind
      // the concurrency window could deadlock a pool of one.
      start_attempt(p);
      return;
    }
    queue(p).push_back(p);
    pump();
  }

  void shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    log(LogLevel::info, "okta transport shutting down");
    pump_timer_.cancel();
    for (auto& per_priority : queues_) {
      for (auto& q : per_priority) {
        auto pending = std::move(q);
        q.clear();
        for (auto& p : pending)
          fail(p, TransportError::shutting_down, "transport is shutting down");
      }
    }
    for (auto& timer : retry_timers_)
      timer->cancel();
    if (auth_) auth_->shutdown();
    pool_.close_all();
  }

  RateLimitSnapshot rate_limits() const {
    std::lock_guard lock(stats_mutex_);
    return snapshot_;
  }

  TransportStats stats() const {
    std::lock_guard lock(stats_mutex_);
    return stats_;
  }

  net::io_context& io() { return io_; }

 private:
  struct Pending {
    Request request;
    ResponseHandler handler;
    Bucket bucket = Bucket::other;
    bool raw = false;
    int attempts = 0;       // exchanges started
    int retry_count = 0;    // retries after 429 (X-Okta-Retry-Count)
    std::string retry_for;  // x-okta-request-id of the last 429
    bool reauthenticated = false;
    std::string authorization;  // value sent with the current attempt; never logged
    Clock::time_point started;
  };
  using PendingPtr = std::shared_ptr<Pending>;

  std::deque<PendingPtr>& queue(const PendingPtr& p) {
    return queues_[p->request.priority == Priority::enforcement ? 0 : 1][static_cast<std::size_t>(p->bucket)];
  }

  void log(LogLevel level, std::string_view message) const {
    if (config_.log) config_.log(level, message);
  }

  // Starts whatever the concurrency window and the buckets allow, enforcement first; sleeps until the earliest
  // time something may become admissible.
  void pump() {
    if (pumping_ || shutting_down_) return;
    pumping_ = true;
    auto now = Clock::now();
    auto earliest = Clock::duration::max();
    bool started = true;
    while (started) {
      started = false;
      for (std::size_t prio = 0; prio < 2 && !started; ++prio) {
        for (std::size_t b = 0; b < bucket_count && !started; ++b) {
          auto& q = queues_[prio][b];
          if (q.empty()) continue;
          auto wait = limiter_.admit(static_cast<Bucket>(b), prio == 0, now);
          if (wait == Clock::duration::zero()) {
            auto p = std::move(q.front());
            q.pop_front();
            start_attempt(p);
            started = true;
            now = Clock::now();
          } else {
            earliest = std::min(earliest, wait);
          }
        }
      }
    }
    pumping_ = false;
    update_snapshot();
    if (earliest != Clock::duration::max()) {
      const auto when = now + earliest;
      if (!pump_armed_ || when < pump_at_) {
        pump_armed_ = true;
        pump_at_ = when;
        pump_timer_.expires_at(when);
        pump_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
          if (ec) return;
          self->pump_armed_ = false;
          self->pump();
        });
      }
    }
  }

  void start_attempt(const PendingPtr& p) {
    ++p->attempts;
    limiter_.on_start(p->bucket, Clock::now());
    {
      std::lock_guard lock(stats_mutex_);
      ++stats_.attempts;
      if (p->attempts > 1) ++stats_.retries;
    }
    if (p->raw || !auth_) {
      p->authorization.clear();
      exchange(p);
      return;
    }
    auth_->authorization([self = shared_from_this(), p](boost::system::result<std::string, TransportFailure> header) {
      if (self->shutting_down_) {
        self->limiter_.on_finish(p->bucket);
        self->fail(p, TransportError::shutting_down, "transport is shutting down");
        return;
      }
      if (!header) {
        self->limiter_.on_finish(p->bucket);
        self->fail(p, TransportError::auth_failed, header.error().detail);
        self->pump();
        return;
      }
      p->authorization = std::move(*header);
      self->exchange(p);
    });
  }

  void exchange(const PendingPtr& p) {
    auto req = std::make_shared<http::request<http::string_body>>(p->request.method, p->request.target, 11);
    req->set(http::field::host, url_.host_header());
    req->set(http::field::user_agent, user_agent());
    req->set(http::field::accept, "application/json");
    if (!p->request.body.empty()) req->set(http::field::content_type, "application/json");
    for (const auto& [name, value] : p->request.headers)
      req->set(name, value);
    if (!p->authorization.empty()) req->set(http::field::authorization, p->authorization);
    if (!p->retry_for.empty()) {
      // Okta's SDKs tag a retry after a 429 so Okta can tell retries from new load.
      req->set("X-Okta-Retry-For", p->retry_for);
      req->set("X-Okta-Retry-Count", std::to_string(p->retry_count));
    }
    req->body() = p->request.body;
    req->keep_alive(true);
    req->prepare_payload();

    bool fresh = false;
    auto connection = pool_.acquire(fresh);
    if (fresh) {
      std::lock_guard lock(stats_mutex_);
      ++stats_.connections_opened;
      if (lost_connections_ > 0) {
        --lost_connections_;
        ++stats_.reconnects;
      }
    }
    connection->exchange(req, config_.body_limit,
                         [self = shared_from_this(), p, connection](detail::ExchangeResult result) {
                           self->on_exchange(p, connection, std::move(result));
                         });
  }

  void on_exchange(const PendingPtr& p, const std::shared_ptr<detail::Connection>& connection,
                   detail::ExchangeResult result) {
    limiter_.on_finish(p->bucket);
    if (shutting_down_) {
      pool_.discard(connection);
      // Once written, a non-idempotent request may have been applied: its fate is unknown, not "never
      // sent", or a retry after the restart would take the state it finds for someone else's.
      const bool written = result.sent || !result.ec;
      fail(p, written && !p->request.idempotent ? TransportError::unknown_outcome : TransportError::shutting_down,
           "transport is shutting down");
      return;
    }
    if (result.ec) {
      pool_.discard(connection);
      if (result.reused) ++lost_connections_;
      on_failure(p, result);
    } else {
      pool_.release(connection);
      on_response(p, std::move(*result.response));
    }
    pump();
  }

  void on_failure(const PendingPtr& p, const detail::ExchangeResult& result) {
    const auto& ec = result.ec;
    const bool timed_out = ec == beast::error::timeout;
    auto detail = fmt::format("{} {}: {} failed: {}", http::to_string(p->request.method), p->request.target,
                              detail::to_string(result.phase), ec.message());
    log(LogLevel::warning, detail);
    if (ec == http::error::body_limit) {
      fail(p, TransportError::body_too_large, std::move(detail));
      return;
    }
    if (result.phase == detail::Phase::tls && is_certificate_error(ec)) {
      fail(p, TransportError::tls_failed, std::move(detail));  // retrying cannot fix a certificate
      return;
    }
    if (result.phase == detail::Phase::read &&
        ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      // Malformed HTTP is not transient; sent, so a non-idempotent request's fate is unknown.
      fail(p, p->request.idempotent ? TransportError::protocol_error : TransportError::unknown_outcome,
           std::move(detail));
      return;
    }
    if (result.sent && !p->request.idempotent) {
      // Okta may have acted on it: never re-send blindly; the caller re-reads state and decides.
      fail(p, TransportError::unknown_outcome, std::move(detail));
      return;
    }
    if (p->attempts <= config_.max_retries) {
      retry_after(p, full_jitter_backoff(p->attempts - 1, config_.backoff_base, config_.backoff_cap, rng_));
      return;
    }
    TransportError error = TransportError::connect_failed;
    if (timed_out) {
      error = TransportError::timeout;
    } else if (result.phase == detail::Phase::tls) {
      error = TransportError::tls_failed;
    } else if (result.sent) {
      error = TransportError::unknown_outcome;
    }
    fail(p, error, std::move(detail));
  }

  void on_response(const PendingPtr& p, http::response<http::string_body> message) {
    Response response;
    response.status = message.result_int();
    response.attempts = p->attempts;
    for (const auto& field : message) {
      response.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(message.body());

    RateLimitHeaders rl;
    rl.limit = parse_i64(response.header("x-rate-limit-limit"));
    rl.remaining = parse_i64(response.header("x-rate-limit-remaining"));
    rl.reset_epoch_s = parse_i64(response.header("x-rate-limit-reset"));
    if (auto date = response.header("date")) rl.date_epoch_s = parse_http_date(*date);
    const auto now = Clock::now();
    const auto request_id = std::string(response.header("x-okta-request-id").value_or(""));

    log(LogLevel::debug, fmt::format("{} {} -> {} (attempt {}, request id {})", http::to_string(p->request.method),
                                     p->request.target, response.status, p->attempts, request_id));

    if (response.status == 429) {
      const bool concurrency = limiter_.is_concurrency_429(p->bucket, rl, now);
      {
        std::lock_guard lock(stats_mutex_);
        ++stats_.responses_429;
        if (concurrency) ++stats_.concurrency_429;
      }
      if (!concurrency) limiter_.on_headers(p->bucket, rl, now);
      if (p->attempts > config_.max_retries) {
        fail(p, TransportError::rate_limited,
             fmt::format("{} {}: still 429 after {} attempts (request id {})", http::to_string(p->request.method),
                         p->request.target, p->attempts, request_id));
        return;
      }
      // A 429 was rejected before any processing, so even a non-idempotent request may be sent again.
      p->retry_for = request_id;
      ++p->retry_count;
      if (concurrency) {
        // Too many requests in flight org-wide: shrink our window and retry soon, not after a whole minute.
        limiter_.on_concurrency_429();
        log(LogLevel::warning, fmt::format("concurrency 429 on {}; requests in flight now limited to {}",
                                           to_string(p->bucket), limiter_.concurrency_limit()));
        retry_after(p, full_jitter_backoff(p->retry_count, config_.backoff_base, config_.backoff_cap, rng_));
        return;
      }
      auto wait = rate_limit_wait(rl, config_.max_rate_limit_wait)
                      .value_or(full_jitter_backoff(p->retry_count, config_.backoff_base, config_.backoff_cap, rng_));
      limiter_.block_until(p->bucket, now + wait);
      log(LogLevel::warning, fmt::format("429 on bucket {}; waiting {} ms", to_string(p->bucket), wait.count()));
      if (p->raw) {
        retry_after(p, wait);  // token requests never queue behind the requests waiting for them
      } else {
        queue(p).push_front(p);
      }
      return;
    }

    limiter_.on_headers(p->bucket, rl, now);
    limiter_.on_success();

    if (response.status == 401 && !p->raw && auth_) {
      if (!p->reauthenticated && auth_->invalidate(p->authorization)) {
        p->reauthenticated = true;
        queue(p).push_front(p);
        return;
      }
      fail(p, TransportError::auth_failed,
           fmt::format("{} {}: Okta answered 401 (request id {})", http::to_string(p->request.method),
                       p->request.target, request_id));
      return;
    }
    if (response.status == 502 || response.status == 503 || response.status == 504) {
      if (!p->request.idempotent) {
        fail(p, TransportError::unknown_outcome,
             fmt::format("{} {}: HTTP {} after sending (request id {})", http::to_string(p->request.method),
                         p->request.target, response.status, request_id));
        return;
      }
      if (p->attempts <= config_.max_retries) {
        retry_after(p, full_jitter_backoff(p->attempts - 1, config_.backoff_base, config_.backoff_cap, rng_));
        return;
      }
    }
    succeed(p, std::move(response));
  }

  void retry_after(const PendingPtr& p, std::chrono::milliseconds delay) {
    auto timer = std::make_shared<net::steady_timer>(io_, delay);
    retry_timers_.push_back(timer);
    auto it = std::prev(retry_timers_.end());
    timer->async_wait([self = shared_from_this(), p, it](boost::system::error_code) {
      self->retry_timers_.erase(it);
      if (self->shutting_down_) {
        self->fail(p, TransportError::shutting_down, "transport is shutting down");
        return;
      }
      if (p->raw) {
        self->start_attempt(p);
      } else {
        self->queue(p).push_front(p);
        self->pump();
      }
    });
  }

  void record_latency(const PendingPtr& p) {
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - p->started);
    std::lock_guard lock(stats_mutex_);
    auto it = std::find_if(stats_.latency.begin(), stats_.latency.end(),
                           [&](const TransportStats::BucketLatency& l) { return l.bucket == p->bucket; });
    if (it == stats_.latency.end()) {
      stats_.latency.push_back({p->bucket});
      it = std::prev(stats_.latency.end());
    }
    ++it->count;
    it->total += latency;
    it->max = std::max(it->max, latency);
  }

  void succeed(const PendingPtr& p, Response response) {
    record_latency(p);
    response.latency = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - p->started);
    {
      std::lock_guard lock(stats_mutex_);
      ++stats_.succeeded;
    }
    auto handler = std::move(p->handler);
    p->handler = nullptr;
    if (handler) handler(std::move(response));
  }

  void fail(const PendingPtr& p, TransportError error, std::string detail) {
    {
      std::lock_guard lock(stats_mutex_);
      ++stats_.failed;
    }
    if (error != TransportError::shutting_down) {
      log(LogLevel::warning, fmt::format("request failed: {}: {}", to_string(error), detail));
    }
    auto handler = std::move(p->handler);
    p->handler = nullptr;
    if (handler) handler(TransportFailure{error, std::move(detail), p->attempts});
  }

  void update_snapshot() {
    auto snapshot = limiter_.snapshot(Clock::now());
    std::size_t queued = 0;
    for (auto& per_priority : queues_) {
      for (auto& q : per_priority)
        queued += q.size();
    }
    std::lock_guard lock(stats_mutex_);
    snapshot_ = std::move(snapshot);
    stats_.in_flight = limiter_.in_flight();
    stats_.queued = queued;
    stats_.concurrency_limit = limiter_.concurrency_limit();
  }

  net::io_context& io_;
  TransportConfig config_;
  OrgUrl url_;
  std::unique_ptr<net::ssl::context> tls_;
  std::shared_ptr<Authenticator> auth_;
  detail::ConnectionPool pool_;
  RateLimiter limiter_;
  std::array<std::array<std::deque<PendingPtr>, bucket_count>, 2> queues_;  // [enforcement, lookup][bucket]
  std::list<std::shared_ptr<net::steady_timer>> retry_timers_;
  net::steady_timer pump_timer_;
  Clock::time_point pump_at_{};
  bool pump_armed_ = false;
  bool pumping_ = false;
  bool shutting_down_ = false;
  std::size_t lost_connections_ = 0;
  std::mt19937_64 rng_;

  mutable std::mutex stats_mutex_;  // guards stats_ and snapshot_, read from other threads
  TransportStats stats_;
  RateLimitSnapshot snapshot_;
};

boost::system::result<std::unique_ptr<Transport>, std::string> Transport::create(net::io_context& io,
                                                                                 TransportConfig config,
                                                                                 std::shared_ptr<Authenticator> auth) {
  auto url = parse_org_url(config.org_url);
  if (!url) return url.error();
  if (config.max_connections == 0) return std::string("max_connections must be at least 1");
  if (config.max_retries < 0) return std::string("max_retries must not be negative");
  std::unique_ptr<net::ssl::context> tls;
  if (url->tls) {
    tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (config.ca_file.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->load_verify_file(config.ca_file, ec);
    }
    if (ec)
      return fmt::format("cannot load CA certificates{}: {}", config.ca_file.empty() ? "" : " from " + config.ca_file,
                         ec.message());
    tls->set_verify_mode(config.verify_peer ? net::ssl::verify_peer : net::ssl::verify_none);
  }
  auto impl = std::make_shared<Impl>(io, std::move(config), std::move(*url), std::move(tls), std::move(auth));
  impl->attach();
  return std::unique_ptr<Transport>(new Transport(std::move(impl)));
}

Transport::Transport(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Transport::~Transport() {
  shutdown();
}

void Transport::send(Request request, ResponseHandler handler) {
  net::post(impl_->io(), [impl = impl_, request = std::move(request), handler = std::move(handler)]() mutable {
    impl->submit(std::move(request), std::move(handler), false);
  });
}

void Transport::shutdown() {
  net::post(impl_->io(), [impl = impl_] { impl->shutdown(); });
}

RateLimitSnapshot Transport::rate_limits() const {
  return impl_->rate_limits();
}

TransportStats Transport::stats() const {
  return impl_->stats();
}

}  // namespace og::okta
