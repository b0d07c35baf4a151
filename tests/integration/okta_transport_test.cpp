// The transport against the Okta emulator (a separate process, real sockets): TLS with a test CA, connection
// reuse, 429s with a skewed Date, retries and their bounds, the concurrency limit, and private_key_jwt.

#include <boost/asio/executor_work_guard.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <filesystem>

#include "okta_client/auth.h"
#include "okta_client/transport.h"
#include "tests/okta_emulator/emulator_process.h"

namespace og::test {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using okta::Request;
using okta::Response;
using okta::Transport;
using okta::TransportConfig;
using okta::TransportError;
using okta::TransportFailure;
using Result = boost::system::result<Response, TransportFailure>;

constexpr std::string_view kToken = "00EMU-TOKEN-5bq2-DISTINCTIVE";
constexpr std::string_view kSeed = R"({"users":[{"id":"00uactive1","profile":{"login":"ada@example.com"}},)"
                                   R"({"id":"00uactive2","profile":{"login":"bob@example.com"}}]})";

std::filesystem::path temp_dir(std::string_view tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("og_okta_transport_" + std::string(tag) + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

class Client {
 public:
  Client(TransportConfig config, std::shared_ptr<okta::Authenticator> auth) : guard_(net::make_work_guard(io_)) {
    config.log = [this](okta::LogLevel, std::string_view line) { logs_.emplace_back(line); };
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
  std::vector<Result> call_all(std::vector<Request> requests, std::chrono::milliseconds deadline = 60s) {
    std::vector<std::optional<Result>> out(requests.size());
    std::size_t done = 0;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      transport_->send(std::move(requests[i]), [&, i](Result r) {
        out[i] = std::move(r);
        ++done;
      });
    }
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (done < out.size() && std::chrono::steady_clock::now() < end)
      io_.run_one_for(50ms);
    std::vector<Result> results;
    for (auto& r : out)
      results.push_back(r ? std::move(*r) : Result(TransportFailure{TransportError::timeout, "test", 0}));
    return results;
  }
  Result call(Request request) { return call_all({std::move(request)}).front(); }
  Transport& transport() { return *transport_; }
  const std::vector<std::string>& logs() const { return logs_; }
  void idle(std::chrono::milliseconds d) { io_.run_for(d); }

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  std::unique_ptr<Transport> transport_;
  std::vector<std::string> logs_;
};

TransportConfig config_for(const EmulatorProcess& emulator) {
  TransportConfig c;
  c.org_url = emulator.base_url();
  c.connect_timeout = 2s;
  c.tls_timeout = 2s;
  c.request_timeout = 3s;
  c.backoff_base = 20ms;
  c.backoff_cap = 200ms;
  c.max_retries = 2;
  return c;
}

std::shared_ptr<okta::Authenticator> ssws(const EmulatorProcess& emulator) {
  return std::make_shared<okta::SswsAuthenticator>(emulator.token());
}

Request list_users() {
  Request r;
  r.target = "/api/v1/users?limit=1";
  return r;
}

Request suspend(std::string id) {
  Request r;
  r.method = okta::http::verb::post;
  r.target = "/api/v1/users/" + id + "/lifecycle/suspend";
  r.priority = okta::Priority::enforcement;
  r.idempotent = false;
  return r;
}

// The emulator's request log as (method target, header) pairs we care about.
std::string requests_json(EmulatorProcess& emulator) {
  auto [status, body] = emulator.get("/__emulator/requests");
  EXPECT_EQ(status, 200u);
  return body;
}

std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos; pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

TEST(OktaTransportTest, TlsVerifiedAgainstTestCaAndConnectionsReused) {
  const auto dir = temp_dir("tls");
  const auto pki = make_test_pki(dir);
  EmulatorProcess emulator(
      {.seed = {}, .tls_cert = pki.cert, .tls_key = pki.key, .extra_args = {"--token", std::string(kToken)}});
  ASSERT_THAT(emulator.base_url(), ::testing::StartsWith("https://"));
  {
    auto config = config_for(emulator);
    config.ca_file = pki.ca.string();
    config.max_connections = 3;
    Client client(config, ssws(emulator));
    std::vector<Request> batch(24, list_users());
    for (auto& r : client.call_all(batch)) {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(r->status, 200u);
    }
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(client.call(list_users()));
    const auto stats = client.transport().stats();
    EXPECT_EQ(stats.succeeded, 34u);
    // At most one connection per slot, kept alive across all 34 requests.
    EXPECT_LE(stats.connections_opened, 3u);
    EXPECT_GE(stats.connections_opened, 1u);
    EXPECT_EQ(count(requests_json(emulator), "\"limit=1\""), 34u);
  }
  {
    // Verification is really on: a CA that did not sign the emulator's certificate is refused.
    const auto other = make_test_pki(temp_dir("tls_other"));
    auto config = config_for(emulator);
    config.ca_file = other.ca.string();
    Client client(config, ssws(emulator));
    auto r = client.call(list_users());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error, TransportError::tls_failed);
    EXPECT_EQ(r.error().attempts, 1);
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(temp_dir("tls_other"));
}

// The emulator's clock is an hour behind ours. Okta's SDK arithmetic (reset - Date + 1 s) is on the server's
// clock, so the wait is the real one; computed against our clock it would be zero and the client would hammer.
TEST(OktaTransportTest, Rate429WithSkewedDateWaitsOnOktasClock) {
  EmulatorProcess emulator(
      {.seed = {},
       .tls_cert = {},
       .tls_key = {},
       .extra_args = {"--token", std::string(kToken), "--rate-limit", "users=2", "--clock-skew-s", "-3600"}});
  // Another integration spends the window first.
  for (int i = 0; i < 2; ++i) {
    auto reply = emulator.request("GET", "/api/v1/users?limit=1", {}, {{"Authorization", "SSWS " + emulator.token()}});
    ASSERT_EQ(reply.status, 200u);
  }
  auto config = config_for(emulator);
  config.max_rate_limit_wait = 3s;  // the real reset is up to a minute away: capped
  config.max_retries = 1;
  Client client(config, ssws(emulator));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.call(list_users());
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::rate_limited);
  EXPECT_EQ(r.error().attempts, 2);
  EXPECT_GE(waited, 2900ms);
  EXPECT_LT(waited, 10s);
  const auto log = requests_json(emulator);
  EXPECT_EQ(count(log, "x-okta-retry-for"), 1u);
  EXPECT_THAT(log, ::testing::ContainsRegex(R"("x-okta-retry-count": *"1")"));
  const auto stats = client.transport().stats();
  EXPECT_EQ(stats.responses_429, 2u);
  EXPECT_EQ(stats.concurrency_429, 0u);
  const auto users = client.transport().rate_limits().buckets[static_cast<std::size_t>(okta::Bucket::users_list)];
  EXPECT_TRUE(users.known);
  EXPECT_EQ(users.limit, 2);
  EXPECT_EQ(users.remaining, 0);
}

TEST(OktaTransportTest, ResetsAreRetriedForLookupsOnlyAndServerErrorsAreAnswers) {
  EmulatorProcess emulator({.seed = {},
                            .tls_cert = {},
                            .tls_key = {},
                            .extra_args = {"--token", std::string(kToken), "--fault-reset", "1"}});
  ASSERT_EQ(emulator.post("/__emulator/seed", kSeed).first, 200u);
  auto config = config_for(emulator);
  Client client(config, ssws(emulator));
  auto lookup = client.call(list_users());
  ASSERT_FALSE(lookup);
  EXPECT_EQ(lookup.error().error, TransportError::unknown_outcome);  // sent every time, never answered
  EXPECT_EQ(lookup.error().attempts, 3);
  auto action = client.call(suspend("00uactive1"));
  ASSERT_FALSE(action);
  EXPECT_EQ(action.error().error, TransportError::unknown_outcome);
  EXPECT_EQ(action.error().attempts, 1);  // never re-sent blindly
  auto log = requests_json(emulator);
  EXPECT_EQ(count(log, "/lifecycle/suspend"), 1u);
  EXPECT_EQ(count(log, "\"limit=1\""), 3u);

  // 500 is an answer (Okta's SDKs retry 429, 503 and 504 only).
  ASSERT_EQ(emulator.post("/__emulator/config", R"({"fault-reset":0,"fault-5xx":1})").first, 200u);
  auto r = client.call(list_users());
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->status, 500u);
  EXPECT_EQ(r->attempts, 1);

  ASSERT_EQ(emulator.post("/__emulator/config", R"({"fault-5xx":0})").first, 200u);
  auto ok = client.call(suspend("00uactive1"));
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(ok->status, 200u);
}

TEST(OktaTransportTest, StalledRequestsTimeOutWithinTheirBound) {
  EmulatorProcess emulator({.seed = {},
                            .tls_cert = {},
                            .tls_key = {},
                            .extra_args = {"--token", std::string(kToken), "--fault-stall", "1"}});
  auto config = config_for(emulator);
  config.request_timeout = 300ms;
  config.max_retries = 1;
  Client client(config, ssws(emulator));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.call(list_users());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::timeout);
  EXPECT_EQ(r.error().attempts, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(OktaTransportTest, ConcurrencyLimitShrinksRequestsInFlight) {
  EmulatorProcess emulator(
      {.seed = {},
       .tls_cert = {},
       .tls_key = {},
       .extra_args = {"--token", std::string(kToken), "--concurrency-limit", "2", "--latency-ms", "100"}});
  auto config = config_for(emulator);
  config.max_connections = 6;
  config.max_retries = 6;
  Client client(config, ssws(emulator));
  ASSERT_TRUE(client.call(list_users()));  // learn the bucket
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Request> batch(30, list_users());
  for (auto& r : client.call_all(batch)) {
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->status, 200u);
  }
  const auto stats = client.transport().stats();
  EXPECT_GE(stats.concurrency_429, 1u);
  EXPECT_LE(stats.concurrency_limit, 3u);
  // Without waiting out a window: 30 x 100 ms over ~2 slots is ~1.5 s.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

struct KeyFiles {
  std::filesystem::path private_pem, public_pem;
};

KeyFiles make_key(const std::filesystem::path& dir, bool ec) {
  EVP_PKEY* key =
      ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256") : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", 2048);
  KeyFiles files{dir / "client.key", dir / "client.pub"};
  FILE* f = std::fopen(files.private_pem.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(files.public_pem.c_str(), "w");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  EVP_PKEY_free(key);
  return files;
}

class OktaTransportJwtTest : public ::testing::TestWithParam<bool> {};

TEST_P(OktaTransportJwtTest, PrivateKeyJwtTokenIsFetchedOnceAndRefreshed) {
  const bool ec = GetParam();
  const auto dir = temp_dir(ec ? "es256" : "rs256");
  const auto key = make_key(dir, ec);
  EmulatorProcess emulator({.seed = {},
                            .tls_cert = {},
                            .tls_key = {},
                            .extra_args = {"--oauth-client-id", "0oaoktaguard", "--oauth-client-key",
                                           key.public_pem.string(), "--oauth-token-ttl", "3"}});
  okta::PrivateKeyJwtConfig jwt;
  jwt.org_url = emulator.base_url();
  jwt.client_id = "0oaoktaguard";
  jwt.private_key_file = key.private_pem;
  jwt.refresh_before_expiry = 1s;
  auto auth = okta::PrivateKeyJwtAuthenticator::create(jwt);
  ASSERT_TRUE(auth) << auth.error();
  Client client(config_for(emulator), *auth);
  std::vector<Request> batch(5, list_users());
  for (auto& r : client.call_all(batch)) {
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_EQ((*auth)->token_requests(), 1u);  // five concurrent callers, one token
  auto log = requests_json(emulator);
  EXPECT_EQ(count(log, "/oauth2/v1/token"), 1u);
  EXPECT_EQ(count(log, "\"Bearer\""), 5u);  // the emulator records the scheme only

  client.idle(2200ms);  // 3 s token, refreshed 1 s before expiry
  auto again = client.call(list_users());
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ(again->status, 200u);
  EXPECT_EQ((*auth)->token_requests(), 2u);
  for (const auto& line : client.logs()) {
    EXPECT_EQ(line.find("Bearer "), std::string::npos) << line;
    EXPECT_EQ(line.find("client_assertion="), std::string::npos) << line;
  }
  std::filesystem::remove_all(dir);
}

TEST(OktaTransportJwtTest, WrongKeyIsAnAuthFailureWithoutSecrets) {
  const auto dir = temp_dir("wrongkey");
  std::filesystem::create_directories(dir / "a");
  std::filesystem::create_directories(dir / "b");
  const auto registered = make_key(dir / "a", true);
  const auto other = make_key(dir / "b", true);
  EmulatorProcess emulator(
      {.seed = {},
       .tls_cert = {},
       .tls_key = {},
       .extra_args = {"--oauth-client-id", "0oaoktaguard", "--oauth-client-key", registered.public_pem.string()}});
  okta::PrivateKeyJwtConfig jwt;
  jwt.org_url = emulator.base_url();
  jwt.client_id = "0oaoktaguard";
  jwt.private_key_file = other.private_pem;
  auto auth = okta::PrivateKeyJwtAuthenticator::create(jwt);
  ASSERT_TRUE(auth);
  Client client(config_for(emulator), *auth);
  auto r = client.call(list_users());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, TransportError::auth_failed);
  EXPECT_THAT(r.error().detail, ::testing::HasSubstr("invalid_client"));
  EXPECT_EQ(r.error().detail.find("eyJ"), std::string::npos) << r.error().detail;  // no JWT in the error
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, OktaTransportJwtTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "ES256" : "RS256"; });

}  // namespace
}  // namespace og::test
