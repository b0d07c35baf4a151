// Transport behaviour over real loopback sockets against a scripted server: connection reuse, timeouts per phase,
// retries and their bounds, 429 handling, TLS verification, and that the API token never leaks.

#include "okta_client/transport.h"

#include <boost/asio/executor_work_guard.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <optional>

#include "okta_client/auth.h"
#include "okta_client/version.h"
#include "tests/unit/okta_client/transport_test_server.h"

namespace og::test {
namespace {

using namespace std::chrono_literals;
using okta::Priority;
using okta::Request;
using okta::Response;
using okta::Transport;
using okta::TransportConfig;
using okta::TransportError;
using okta::TransportFailure;
using Result = boost::system::result<Response, TransportFailure>;

constexpr std::string_view kToken = "00TOKEN-zq8Xv3-DISTINCTIVE-77";

class Client {
 public:
  explicit Client(TransportConfig config, std::shared_ptr<okta::Authenticator> auth = nullptr)
      : guard_(net::make_work_guard(io_)) {
    config.log = [this](okta::LogLevel, std::string_view line) {
      std::lock_guard lock(log_mutex_);
      logs_.emplace_back(line);
    };
    if (!auth) auth = std::make_shared<okta::SswsAuthenticator>(std::string(kToken));
    auto created = Transport::create(io_, std::move(config), std::move(auth));
    if (!created) throw std::runtime_error(created.error());
    transport_ = std::move(*created);
  }
  ~Client() {
    transport_->shutdown();
    io_.run_for(300ms);
    transport_.reset();
    io_.run_for(50ms);
  }

  void send(Request request, std::function<void(Result)> done) { transport_->send(std::move(request), done); }

  // Runs the io_context until `n` answers arrived (or the deadline passes).
  void run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline = 20s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done() && std::chrono::steady_clock::now() < end)
      io_.run_one_for(50ms);
  }

  Result call(Request request) {
    std::optional<Result> out;
    send(std::move(request), [&](Result r) { out = std::move(r); });
    run_until([&] { return out.has_value(); });
    if (!out) return TransportFailure{TransportError::timeout, "test deadline", 0};
    return std::move(*out);
  }

  std::vector<std::string> logs() {
    std::lock_guard lock(log_mutex_);
    return logs_;
  }
  Transport& transport() { return *transport_; }
  net::io_context& io() { return io_; }

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  std::unique_ptr<Transport> transport_;
  std::mutex log_mutex_;
  std::vector<std::string> logs_;
};

TransportConfig config_for(std::uint16_t port, std::string scheme = "http", std::string host = "127.0.0.1") {
  TransportConfig c;
  c.org_url = scheme + "://" + host + ":" + std::to_string(port);
  c.connect_timeout = 1s;
  c.tls_timeout = 1s;
  c.request_timeout = 1s;
  c.backoff_base = 10ms;
  c.backoff_cap = 50ms;
  c.max_retries = 2;
  return c;
}

Request get(std::string target) {
  Request r;
  r.method = okta::http::verb::get;
  r.target = std::move(target);
  return r;
}

Request suspend(std::string user = "00u1") {
  Request r;
  r.method = okta::http::verb::post;
  r.target = "/api/v1/users/" + user + "/lifecycle/suspend";
  r.priority = Priority::enforcement;
  r.idempotent = false;
  return r;
}

// Reads one request and never answers it.
void read_and_hang(ServerConnection& c) {
  c.read_request();
  c.wait_for_close();
}

// One connection, with a request timeout far beyond a test: the first request stays in flight
// against read_and_hang, the others queue behind it.
TransportConfig one_connection_that_waits(std::uint16_t port) {
  TransportConfig c = config_for(port);
  c.max_connections = 1;
  c.request_timeout = 10s;
  return c;
}

// Answers every request on the connection with 200 and a small JSON body.
void serve_ok(ServerConnection& c) {
  while (auto req = c.read_request()) {
    if (!c.write(raw_response(200, R"({"id":"00u1"})", {{"X-Okta-Request-Id", "ok"}}))) return;
  }
}

TEST(TransportTest, SendsOktaHeadersAndReusesOneConnection) {
  ScriptedServer server(serve_ok);
  Client client(config_for(server.port()));
  for (int i = 0; i < 3; ++i) {
    auto r = client.call(get("/api/v1/users/00u" + std::to_string(i)));
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, R"({"id":"00u1"})");
    EXPECT_EQ(r->header("X-OKTA-REQUEST-ID"), "ok");
    EXPECT_EQ(r->attempts, 1);
  }
  EXPECT_EQ(server.connections(), 1);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].header("Authorization"), "SSWS " + std::string(kToken));
  EXPECT_EQ(reqs[0].header("User-Agent"), okta::user_agent());
  EXPECT_EQ(reqs[0].header("Accept"), "application/json");
  EXPECT_EQ(reqs[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(reqs[2].message.target(), "/api/v1/users/00u2");
  EXPECT_TRUE(reqs[0].header("X-Okta-Retry-For").empty());
  const auto stats = client.transport().stats();
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.succeeded, 3u);
}

TEST(TransportTest, IdleConnectionsOlderThanIdleTimeoutAreNotReused) {
  ScriptedServer server(serve_ok);
  auto config = config_for(server.port());
  config.idle_timeout = 150ms;
  Client client(config);
  ASSERT_TRUE(client.call(get("/api/v1/users/a")));
  ASSERT_TRUE(client.call(get("/api/v1/users/b")));  // straight away: reused
  EXPECT_EQ(server.connections(), 1);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(client.call(get("/api/v1/users/c")));  // the server may have dropped it by now
  EXPECT_EQ(server.connections(), 2);
}

TEST(TransportTest, RefusesPlainHttpOffLoopbackAndBadTargets) {
  net::io_context io;
  TransportConfig c;
  c.org_url = "http://acme.okta.com";
  auto t = Transport::create(io, c, nullptr);
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error(), ::testing::HasSubstr("http://"));
  c.org_url = "https://acme.okta.com/api/v1";
  EXPECT_FALSE(Transport::create(io, c, nullptr));
  c.org_url = "http://[::1]:8080";
  EXPECT_TRUE(Transport::create(io, c, nullptr));

  ScriptedServer server(serve_ok);
  Client client(config_for(server.port()));
  auto r = client.call(get("/api/v1/users/a b"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::invalid_request);
  r = client.call(get("/api/v1/users/x\r\nInjected: 1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(server.connections(), 0);
}

TEST(TransportTest, ConnectFailureIsRetriedThenReported) {
  std::uint16_t port;
  {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  Client client(config_for(port));
  // Nothing was sent, so even a non-idempotent request may be retried.
  auto r = client.call(suspend());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::connect_failed);
  EXPECT_EQ(r.error().attempts, 3);
  EXPECT_EQ(client.transport().stats().retries, 2u);
}

TEST(TransportTest, NoAnswerTimesOutAndIdempotentRequestsAreRetried) {
  ScriptedServer server(read_and_hang);
  auto config = config_for(server.port());
  config.request_timeout = 200ms;
  config.max_retries = 1;
  Client client(config);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.call(get("/api/v1/users/00u1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::timeout);
  EXPECT_EQ(r.error().attempts, 2);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 400ms);
  EXPECT_EQ(server.connections(), 2);
}

TEST(TransportTest, NonIdempotentRequestWithNoAnswerHasUnknownOutcomeAndIsNotResent) {
  ScriptedServer server(read_and_hang);
  auto config = config_for(server.port());
  config.request_timeout = 200ms;
  Client client(config);
  auto r = client.call(suspend());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::unknown_outcome);
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(TransportTest, StallAfterHeadersTimesOutTheRead) {
  ScriptedServer server([](ServerConnection& c) {
    if (!c.read_request()) return;
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":");
    c.wait_for_close();
  });
  auto config = config_for(server.port());
  config.request_timeout = 300ms;
  config.max_retries = 0;
  Client client(config);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.call(get("/api/v1/users/00u1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::timeout);
  EXPECT_THAT(r.error().detail, ::testing::HasSubstr("read"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(TransportTest, ConnectionClosedMidBodyIsRetriedForIdempotentRequests) {
  ScriptedServer server([](ServerConnection& c) {
    if (!c.read_request()) return;
    if (c.index == 0) {
      c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":");
      c.close_abruptly();
      return;
    }
    c.write(raw_response(200, "{}"));
    c.wait_for_close();
  });
  Client client(config_for(server.port()));
  auto r = client.call(get("/api/v1/users/00u1"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(server.connections(), 2);
}

TEST(TransportTest, BodyLimitIsEnforced) {
  ScriptedServer server([](ServerConnection& c) {
    if (!c.read_request()) return;
    c.write(raw_response(200, std::string(4096, 'x')));
    c.wait_for_close();
  });
  auto config = config_for(server.port());
  config.body_limit = 1024;
  Client client(config);
  auto r = client.call(get("/api/v1/logs"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::body_too_large);
  EXPECT_EQ(r.error().attempts, 1);
}

// 429 whose Date is an hour behind our clock: the wait must come from reset - Date (+1 s), not from our clock.
TEST(TransportTest, RateLimited429WaitsFromDateAndTagsTheRetry) {
  const auto skewed = std::time(nullptr) - 3600;
  ScriptedServer server([skewed](ServerConnection& c) {
    int n = 0;
    while (c.read_request()) {
      if (n++ == 0) {
        c.write(raw_response(429, R"({"errorCode":"E0000047"})",
                             {{"Date", http_date(skewed)},
                              {"X-Okta-Request-Id", "req-429-abc"},
                              {"X-Rate-Limit-Limit", "600"},
                              {"X-Rate-Limit-Remaining", "0"},
                              {"X-Rate-Limit-Reset", std::to_string(skewed + 1)}}));
      } else {
        c.write(raw_response(200, "{}",
                             {{"Date", http_date(skewed + 2)},
                              {"X-Rate-Limit-Limit", "600"},
                              {"X-Rate-Limit-Remaining", "599"},
                              {"X-Rate-Limit-Reset", std::to_string(skewed + 62)}}));
      }
    }
  });
  Client client(config_for(server.port()));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.call(suspend());  // a 429 was not processed: safe to re-send even a lifecycle op
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_GE(waited, 1900ms);  // reset - Date + 1 s = 2 s
  EXPECT_LT(waited, 4s);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].header("X-Okta-Retry-For"), "req-429-abc");
  EXPECT_EQ(reqs[1].header("X-Okta-Retry-Count"), "1");
  const auto stats = client.transport().stats();
  EXPECT_EQ(stats.responses_429, 1u);
  EXPECT_EQ(stats.concurrency_429, 0u);
  const auto limits = client.transport().rate_limits();
  const auto& b = limits.buckets[static_cast<std::size_t>(okta::Bucket::user_write)];
  EXPECT_TRUE(b.known);
  EXPECT_EQ(b.limit, 600);
  EXPECT_EQ(b.remaining, 599);
}

TEST(TransportTest, FarResetIsCappedAndPersistent429sAreBounded) {
  ScriptedServer server([](ServerConnection& c) {
    int n = 0;
    while (c.read_request()) {
      const auto now = std::time(nullptr);
      c.write(raw_response(429, "{}",
                           {{"Date", http_date(now)},
                            {"X-Okta-Request-Id", "r" + std::to_string(n++)},
                            {"X-Rate-Limit-Limit", "50"},
                            {"X-Rate-Limit-Remaining", "0"},
                            {"X-Rate-Limit-Reset", std::to_string(now + 3600)}}));
    }
  });
  auto config = config_for(server.port());
  config.max_rate_limit_wait = 200ms;
  config.max_retries = 3;
  Client client(config);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.call(get("/api/v1/logs"));
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::rate_limited);
  EXPECT_EQ(r.error().attempts, 4);
  EXPECT_GE(waited, 550ms);
  EXPECT_LT(waited, 3s);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[3].header("X-Okta-Retry-For"), "r2");  // always the latest 429's id
  EXPECT_EQ(reqs[3].header("X-Okta-Retry-Count"), "3");
}

TEST(TransportTest, ConcurrencyLimit429ShrinksTheWindowInsteadOfWaitingOutTheMinute) {
  ScriptedServer server([](ServerConnection& c) {
    int n = 0;
    while (c.read_request()) {
      const auto now = std::time(nullptr);
      if (n++ == 1) {
        // Okta reports the concurrent values instead of the bucket's on a concurrency 429.
        c.write(raw_response(429, R"({"errorCode":"E0000047"})",
                             {{"Date", http_date(now)},
                              {"X-Okta-Request-Id", "conc"},
                              {"X-Rate-Limit-Limit", "75"},
                              {"X-Rate-Limit-Remaining", "0"},
                              {"X-Rate-Limit-Reset", std::to_string(now + 50)}}));
      } else {
        c.write(raw_response(200, "{}",
                             {{"Date", http_date(now)},
                              {"X-Rate-Limit-Limit", "600"},
                              {"X-Rate-Limit-Remaining", "500"},
                              {"X-Rate-Limit-Reset", std::to_string(now + 50)}}));
      }
    }
  });
  auto config = config_for(server.port());
  config.max_connections = 4;
  Client client(config);
  ASSERT_TRUE(client.call(get("/api/v1/users/00u1")));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.call(get("/api/v1/users/00u2"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(r->attempts, 2);
  const auto stats = client.transport().stats();
  EXPECT_EQ(stats.concurrency_429, 1u);
  EXPECT_LT(stats.concurrency_limit, 4u);
  EXPECT_EQ(server.requests()[2].header("X-Okta-Retry-For"), "conc");
}

TEST(TransportTest, ServerErrorsRetryOnlyWhenSafe) {
  auto gets = std::make_shared<std::atomic<int>>(0);
  ScriptedServer server([gets](ServerConnection& c) {
    while (auto req = c.read_request()) {
      const bool lookup = req->method() == http::verb::get;
      if (lookup && (*gets)++ < 2) {
        c.write(raw_response(503, "{}"));
      } else if (lookup) {
        c.write(raw_response(200, "{}"));
      } else {
        c.write(raw_response(504, "{}"));
      }
    }
  });
  Client client(config_for(server.port()));
  auto r = client.call(get("/api/v1/users/00u1"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->attempts, 3);
  auto s = client.call(suspend());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().error, TransportError::unknown_outcome);
  EXPECT_EQ(s.error().attempts, 1);
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST(TransportTest, ClientErrorsAreAnswersNotRetries) {
  ScriptedServer server([](ServerConnection& c) {
    while (auto req = c.read_request()) {
      if (req->target().starts_with("/api/v1/users/missing")) {
        c.write(raw_response(404, R"({"errorCode":"E0000007"})"));
      } else {
        c.write(raw_response(401, R"({"errorCode":"E0000011","errorSummary":"Invalid token provided"})"));
      }
    }
  });
  Client client(config_for(server.port()));
  auto r = client.call(get("/api/v1/users/missing"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404u);
  EXPECT_EQ(r->attempts, 1);
  auto a = client.call(get("/api/v1/users/00u1"));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().error, TransportError::auth_failed);  // a static token will not get better
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(TransportTest, EnforcementGoesFirstWhenSlotsAreShort) {
  ScriptedServer server([](ServerConnection& c) {
    while (c.read_request()) {
      std::this_thread::sleep_for(50ms);
      c.write(raw_response(200, "{}"));
    }
  });
  auto config = config_for(server.port());
  config.max_connections = 1;
  Client client(config);
  std::vector<std::string> order;
  int done = 0;
  for (int i = 0; i < 3; ++i) {
    client.send(get("/api/v1/users/look" + std::to_string(i)), [&, i](Result r) {
      ASSERT_TRUE(r);
      order.push_back("lookup" + std::to_string(i));
      ++done;
    });
  }
  client.send(suspend(), [&](Result r) {
    ASSERT_TRUE(r);
    order.push_back("suspend");
    ++done;
  });
  client.run_until([&] { return done == 4; });
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], "lookup0");  // already in flight when the enforcement arrived
  EXPECT_EQ(order[1], "suspend");
}

TEST(TransportTest, ShutdownFailsQueuedAndInFlightWork) {
  ScriptedServer server(read_and_hang);
  Client client(one_connection_that_waits(server.port()));
  std::vector<TransportError> errors;
  for (int i = 0; i < 3; ++i) {
    client.send(get("/api/v1/users/" + std::to_string(i)), [&](Result r) {
      ASSERT_FALSE(r);
      errors.push_back(r.error().error);
    });
  }
  client.run_until([&] { return server.requests().size() == 1; }, 5s);
  client.transport().shutdown();
  client.run_until([&] { return errors.size() == 3; }, 5s);
  ASSERT_EQ(errors.size(), 3u);
  for (auto e : errors)
    EXPECT_EQ(e, TransportError::shutting_down);
  auto late = client.call(get("/api/v1/users/late"));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().error, TransportError::shutting_down);
}

// A suspend already written when the transport shuts down may have been applied: the caller must
// learn that its outcome is unknown (and re-read the state), where queued work was never sent.
TEST(TransportTest, ShutdownReportsAWrittenNonIdempotentRequestAsUnknown) {
  ScriptedServer server(read_and_hang);
  Client client(one_connection_that_waits(server.port()));
  std::optional<TransportError> in_flight, queued;
  client.send(suspend(), [&](Result r) {
    ASSERT_FALSE(r);
    in_flight = r.error().error;
  });
  client.send(suspend("00u2"), [&](Result r) {
    ASSERT_FALSE(r);
    queued = r.error().error;
  });
  client.run_until([&] { return server.requests().size() == 1; }, 5s);
  client.transport().shutdown();
  client.run_until([&] { return in_flight && queued; }, 5s);
  ASSERT_TRUE(in_flight && queued);
  EXPECT_EQ(*in_flight, TransportError::unknown_outcome);
  EXPECT_EQ(*queued, TransportError::shutting_down);
}

class TransportTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("og_transport_tls_" + std::to_string(::getpid()));
    files_ = make_tls_files(dir_);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static inline std::filesystem::path dir_;
  static inline TlsFiles files_;
};

TEST_F(TransportTlsTest, VerifiesTheServerAgainstTheGivenCa) {
  ScriptedServer server(serve_ok, files_);
  auto config = config_for(server.port(), "https", "localhost");
  config.ca_file = files_.ca.string();
  Client client(config);
  for (int i = 0; i < 2; ++i) {
    auto r = client.call(get("/api/v1/users/00u1"));
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(TransportTlsTest, WrongHostnameOrUnknownCaFailsWithoutRetry) {
  ScriptedServer server(serve_ok, files_);
  {
    auto config = config_for(server.port(), "https", "127.0.0.1");  // the certificate names only localhost
    config.ca_file = files_.ca.string();
    Client client(config);
    auto r = client.call(get("/api/v1/users/00u1"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error, TransportError::tls_failed);
    EXPECT_EQ(r.error().attempts, 1);
  }
  {
    auto config = config_for(server.port(), "https", "localhost");  // system CAs do not know our test CA
    Client client(config);
    auto r = client.call(get("/api/v1/users/00u1"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error, TransportError::tls_failed);
  }
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(TransportTlsTest, HandshakeThatHangsTimesOut) {
  ScriptedServer server(serve_ok, files_, /*tls_handshake=*/false);
  auto config = config_for(server.port(), "https", "localhost");
  config.ca_file = files_.ca.string();
  config.tls_timeout = 200ms;
  config.max_retries = 0;
  Client client(config);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.call(suspend());  // nothing sent yet
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::timeout);
  EXPECT_THAT(r.error().detail, ::testing::HasSubstr("tls"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

TEST_F(TransportTlsTest, TruncationAfterACompleteResponseIsHarmless) {
  ScriptedServer server(
      [](ServerConnection& c) {
        if (!c.read_request()) return;
        if (c.index == 0) {
          c.write(raw_response(200, R"({"n":1})", {{"Connection", "close"}}));
        } else {
          // Body delimited by the close itself, and no close_notify.
          c.write(raw_response(200, R"({"n":2})", {{"Connection", "close"}}, /*content_length=*/false));
        }
        c.close_abruptly();
      },
      files_);
  auto config = config_for(server.port(), "https", "localhost");
  config.ca_file = files_.ca.string();
  config.max_retries = 0;
  Client client(config);
  auto a = client.call(get("/api/v1/users/00u1"));
  ASSERT_TRUE(a) << a.error().detail;
  EXPECT_EQ(a->body, R"({"n":1})");
  auto b = client.call(get("/api/v1/users/00u1"));
  ASSERT_TRUE(b) << b.error().detail;
  EXPECT_EQ(b->body, R"({"n":2})");
  EXPECT_EQ(server.connections(), 2);  // Connection: close is honoured
}

// An access token revoked before its expiry: the 401 drops it, one new token is fetched (through the same
// transport, outside the queue) and the request is retried once with it.
TEST(TransportTest, OAuth401RefreshesTheTokenOnceAndRetries) {
  auto tokens = std::make_shared<std::atomic<int>>(0);
  ScriptedServer server([tokens](ServerConnection& c) {
    while (auto req = c.read_request()) {
      if (req->target() == "/oauth2/v1/token") {
        const int n = ++*tokens;
        c.write(raw_response(200, R"({"token_type":"Bearer","expires_in":3600,"access_token":"AT-SECRET-)" +
                                      std::to_string(n) + R"("})"));
      } else if (req->at(http::field::authorization) == "Bearer AT-SECRET-2") {
        c.write(raw_response(200, "{}"));
      } else {
        c.write(raw_response(401, R"({"errorCode":"E0000011"})"));
      }
    }
  });
  const auto dir = std::filesystem::temp_directory_path() / ("og_transport_oauth_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  FILE* f = std::fopen((dir / "key.pem").c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  EVP_PKEY_free(key);
  okta::PrivateKeyJwtConfig jwt;
  jwt.org_url = "http://127.0.0.1:" + std::to_string(server.port());
  jwt.client_id = "0oaclient";
  jwt.private_key_file = dir / "key.pem";
  auto auth = okta::PrivateKeyJwtAuthenticator::create(jwt);
  ASSERT_TRUE(auth) << auth.error();
  {
    Client client(config_for(server.port()), *auth);
    auto r = client.call(get("/api/v1/users/00u1"));
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->attempts, 2);
    EXPECT_EQ((*auth)->token_requests(), 2u);
    for (const auto& line : client.logs())
      EXPECT_EQ(line.find("AT-SECRET"), std::string::npos) << line;
  }
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4u);  // token, 401, token, 200
  EXPECT_EQ(reqs[0].message.target(), "/oauth2/v1/token");
  EXPECT_TRUE(reqs[0].header("Authorization").empty());
  EXPECT_EQ(reqs[0].header("Content-Type"), "application/x-www-form-urlencoded");
  std::filesystem::remove_all(dir);
}

// Everything the client logs (debug included), returns or counts, across success and failure paths, must not
// contain the API token.
TEST(TransportTest, TheTokenNeverAppearsInLogsErrorsOrStats) {
  ScriptedServer server([](ServerConnection& c) {
    int n = 0;
    while (auto req = c.read_request()) {
      // Echo nothing of the request back: a real server would not either.
      switch (n++ % 4) {
        case 0:
          c.write(raw_response(200, "{}"));
          break;
        case 1:
          c.write(raw_response(401, R"({"errorCode":"E0000011"})"));
          break;
        case 2:
          c.write(raw_response(503, "{}"));
          break;
        default:
          c.close_abruptly();
          return;
      }
    }
  });
  auto config = config_for(server.port());
  config.max_retries = 1;
  Client client(config);
  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    auto r = i % 2 ? client.call(suspend()) : client.call(get("/api/v1/users/00u" + std::to_string(i)));
    if (r) {
      seen.push_back(r->body);
      for (auto& [k, v] : r->headers)
        seen.push_back(k + v);
    } else {
      seen.push_back(r.error().detail);
      seen.emplace_back(okta::to_string(r.error().error));
    }
  }
  // The server did receive the token (the check below is not vacuous).
  ASSERT_FALSE(server.requests().empty());
  EXPECT_THAT(server.requests()[0].header("Authorization"), ::testing::HasSubstr(kToken));
  auto logs = client.logs();
  EXPECT_FALSE(logs.empty());
  seen.insert(seen.end(), logs.begin(), logs.end());
  const auto stats = client.transport().stats();
  for (auto& l : stats.latency)
    seen.emplace_back(okta::to_string(l.bucket));
  for (const auto& s : seen) {
    EXPECT_EQ(s.find(kToken), std::string::npos) << s;
    EXPECT_EQ(s.find("DISTINCTIVE"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace og::test
