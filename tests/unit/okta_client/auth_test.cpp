#include "okta_client/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <simdjson.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace og::test {
namespace {

using namespace std::chrono_literals;
using okta::Authenticator;
using okta::PrivateKeyJwtAuthenticator;
using okta::PrivateKeyJwtConfig;
using okta::Request;
using okta::Response;
using okta::ResponseHandler;
using okta::SswsAuthenticator;
using okta::TransportError;
using okta::TransportFailure;
using HeaderResult = boost::system::result<std::string, TransportFailure>;

PrivateKeyJwtConfig jwt_config(std::string org, std::string client, std::filesystem::path key) {
  PrivateKeyJwtConfig c;
  c.org_url = std::move(org);
  c.client_id = std::move(client);
  c.private_key_file = std::move(key);
  return c;
}

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("og_auth_test_" + std::to_string(::getpid()) + "_" +
                                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  return dir;
}

std::string base64url_decode(std::string_view in) {
  std::string b64(in);
  for (char& c : b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (b64.size() % 4)
    b64 += '=';
  std::string out(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  EXPECT_GE(n, 0);
  out.resize(static_cast<std::size_t>(n));
  std::size_t pad = 0;
  for (auto it = b64.rbegin(); it != b64.rend() && *it == '='; ++it)
    ++pad;
  out.resize(out.size() - pad);
  return out;
}

struct KeyPair {
  std::filesystem::path private_pem;
  EVP_PKEY* key = nullptr;
  ~KeyPair() { EVP_PKEY_free(key); }
};

void generate(KeyPair& pair, const std::filesystem::path& dir, bool ec) {
  pair.key = ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256") : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", 2048);
  ASSERT_NE(pair.key, nullptr);
  pair.private_pem = dir / (ec ? "ec.pem" : "rsa.pem");
  FILE* f = std::fopen(pair.private_pem.c_str(), "w");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(PEM_write_PrivateKey(f, pair.key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(f);
}

// Verifies a compact JWS with the public half of `key`; returns the decoded payload.
std::string verify_jws(const std::string& jwt, EVP_PKEY* key, bool ec) {
  auto dot1 = jwt.find('.');
  auto dot2 = jwt.find('.', dot1 + 1);
  EXPECT_NE(dot2, std::string::npos);
  const auto signing_input = jwt.substr(0, dot2);
  auto signature = base64url_decode(jwt.substr(dot2 + 1));
  if (ec) {
    // JWS ES256 is r||s, 32 bytes each; OpenSSL verifies DER.
    EXPECT_EQ(signature.size(), 64u);
    ECDSA_SIG* sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr),
                   BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr));
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(sig, &der);
    signature.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
  } else {
    EXPECT_EQ(signature.size(), 256u);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  const int ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                  reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
  EVP_MD_CTX_free(ctx);
  EXPECT_EQ(ok, 1) << "signature does not verify";
  EXPECT_EQ(base64url_decode(jwt.substr(0, dot1)),
            ec ? R"({"alg":"ES256","typ":"JWT","kid":"k1"})" : R"({"alg":"RS256","typ":"JWT","kid":"k1"})");
  return base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
}

TEST(AuthTest, Base64UrlHasNoPaddingAndUrlAlphabet) {
  EXPECT_EQ(okta::base64url(""), "");
  EXPECT_EQ(okta::base64url("f"), "Zg");
  EXPECT_EQ(okta::base64url("fo"), "Zm8");
  EXPECT_EQ(okta::base64url("foo"), "Zm9v");
  EXPECT_EQ(okta::base64url("\xfb\xff\xbf"), "-_-_");
}

TEST(AuthTest, SswsFromFileAndEnv) {
  const auto dir = temp_dir();
  { std::ofstream(dir / "token") << "00abcDEF-token_xyz\n"; }
  auto from_file = SswsAuthenticator::from_file(dir / "token");
  ASSERT_TRUE(from_file) << from_file.error();
  std::string header;
  (*from_file)->authorization([&](HeaderResult r) { header = r.value(); });
  EXPECT_EQ(header, "SSWS 00abcDEF-token_xyz");
  EXPECT_FALSE((*from_file)->invalidate(header));

  { std::ofstream(dir / "two") << "a b\n"; }
  auto bad = SswsAuthenticator::from_file(dir / "two");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error(), ::testing::Not(::testing::HasSubstr("a b")));
  EXPECT_FALSE(SswsAuthenticator::from_file(dir / "missing"));

  ::setenv("OG_AUTH_TEST_TOKEN", " envtoken123 ", 1);
  auto from_env = SswsAuthenticator::from_env("OG_AUTH_TEST_TOKEN");
  ASSERT_TRUE(from_env);
  (*from_env)->authorization([&](HeaderResult r) { header = r.value(); });
  EXPECT_EQ(header, "SSWS envtoken123");
  ::unsetenv("OG_AUTH_TEST_TOKEN");
  EXPECT_FALSE(SswsAuthenticator::from_env("OG_AUTH_TEST_TOKEN"));
  std::filesystem::remove_all(dir);
}

TEST(AuthTest, SswsFromTokenTrimsAndRefusesWhatWouldBreakTheHeader) {
  EXPECT_FALSE(
      SswsAuthenticator::from_token("\xef\xbb\xbf"
                                    "00abcDEF",
                                    "secret 'okta_token'"))
      << "a byte-order mark is not part of a token";
  auto trimmed = SswsAuthenticator::from_token("  00abcDEF\r\n", "secret 'okta_token'");
  ASSERT_TRUE(trimmed) << trimmed.error();
  std::string header;
  (*trimmed)->authorization([&](HeaderResult r) { header = r.value(); });
  EXPECT_EQ(header, "SSWS 00abcDEF");
  for (std::string_view bad : {"", "   \n", "aaaa\r\nbbbb", "aaaa bbbb", "aaaa\tbbbb"}) {
    auto refused = SswsAuthenticator::from_token(bad, "secret 'okta_token'");
    ASSERT_FALSE(refused) << "accepted '" << bad << "'";
    EXPECT_THAT(refused.error(), ::testing::HasSubstr("secret 'okta_token'"));
    EXPECT_THAT(refused.error(), ::testing::Not(::testing::HasSubstr("bbbb")));
  }
}

class JwtTest : public ::testing::TestWithParam<bool> {};

TEST_P(JwtTest, ClientAssertionIsSignedWithTheRightClaims) {
  const bool ec = GetParam();
  const auto dir = temp_dir();
  KeyPair pair;
  generate(pair, dir, ec);
  auto config = jwt_config("https://acme.okta.com/", "0oa\"client", pair.private_pem);
  config.key_id = "k1";
  auto auth = PrivateKeyJwtAuthenticator::create(config);
  ASSERT_TRUE(auth) << auth.error();
  EXPECT_EQ((*auth)->algorithm(), ec ? okta::JwtAlgorithm::es256 : okta::JwtAlgorithm::rs256);
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'760'000'000));
  auto jwt = (*auth)->make_client_assertion(now);
  ASSERT_TRUE(jwt);
  auto payload = verify_jws(*jwt, pair.key, ec);
  simdjson::ondemand::parser parser;
  simdjson::padded_string json(payload);
  auto doc = parser.iterate(json);
  EXPECT_EQ(std::string_view(doc["iss"]), "0oa\"client");
  EXPECT_EQ(std::string_view(doc["sub"]), "0oa\"client");
  EXPECT_EQ(std::string_view(doc["aud"]), "https://acme.okta.com/oauth2/v1/token");
  EXPECT_EQ(std::int64_t(doc["iat"]), 1'760'000'000);
  EXPECT_EQ(std::int64_t(doc["exp"]), 1'760'000'300);
  const auto jti = std::string(std::string_view(doc["jti"]));
  EXPECT_EQ(jti.size(), 32u);
  auto again = (*auth)->make_client_assertion(now);
  EXPECT_EQ(again->find(jti), std::string::npos);  // jti is fresh each time (Okta rejects replays)
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, JwtTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "ES256" : "RS256"; });

TEST(AuthTest, RejectsUnusableKeys) {
  const auto dir = temp_dir();
  EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  FILE* f = std::fopen((dir / "p384.pem").c_str(), "w");
  PEM_write_PrivateKey(f, small, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  EVP_PKEY_free(small);
  EXPECT_FALSE(PrivateKeyJwtAuthenticator::create(jwt_config("https://a.okta.com", "c", dir / "p384.pem")));
  { std::ofstream(dir / "junk.pem") << "not a key"; }
  EXPECT_FALSE(PrivateKeyJwtAuthenticator::create(jwt_config("https://a.okta.com", "c", dir / "junk.pem")));
  std::filesystem::remove_all(dir);
}

// The token endpoint scripted in-process: records requests, answers when told to.
struct FakeTokenEndpoint {
  std::vector<Request> requests;
  std::vector<ResponseHandler> handlers;
  Authenticator::RawSender sender() {
    return [this](Request r, ResponseHandler h) {
      requests.push_back(std::move(r));
      handlers.push_back(std::move(h));
    };
  }
  void answer(std::size_t i, unsigned status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    handlers.at(i)(std::move(response));
  }
};

TEST(AuthTest, SingleFlightTokenFetchCachesAndRefreshes) {
  const auto dir = temp_dir();
  KeyPair pair;
  generate(pair, dir, true);
  auto created = PrivateKeyJwtAuthenticator::create(jwt_config("https://acme.okta.com", "0oaclient", pair.private_pem));
  ASSERT_TRUE(created);
  auto auth = *created;
  FakeTokenEndpoint endpoint;
  std::vector<std::string> logs;
  auth->attach(endpoint.sender(), [&](okta::LogLevel, std::string_view line) { logs.emplace_back(line); });

  std::vector<HeaderResult> got;
  for (int i = 0; i < 5; ++i)
    auth->authorization([&](HeaderResult r) { got.push_back(std::move(r)); });
  ASSERT_EQ(endpoint.requests.size(), 1u);  // five waiters, one token request
  const auto& req = endpoint.requests[0];
  EXPECT_EQ(req.method, okta::http::verb::post);
  EXPECT_EQ(req.target, "/oauth2/v1/token");
  EXPECT_THAT(req.body, ::testing::HasSubstr("grant_type=client_credentials"));
  EXPECT_THAT(req.body, ::testing::HasSubstr("scope=okta.users.manage%20okta.groups.manage%20okta.users.read"));
  EXPECT_THAT(req.body, ::testing::HasSubstr(
                            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"));
  EXPECT_THAT(req.body, ::testing::HasSubstr("&client_assertion=ey"));
  EXPECT_TRUE(got.empty());

  endpoint.answer(0, 200, R"({"token_type":"Bearer","expires_in":3600,"access_token":"SECRET-AT-1","scope":"x"})");
  ASSERT_EQ(got.size(), 5u);
  for (auto& r : got)
    EXPECT_EQ(r.value(), "Bearer SECRET-AT-1");

  got.clear();
  auth->authorization([&](HeaderResult r) { got.push_back(std::move(r)); });
  EXPECT_EQ(endpoint.requests.size(), 1u);  // cached
  ASSERT_EQ(got.size(), 1u);

  // A 401 with that token drops it; the next caller triggers one new fetch.
  EXPECT_TRUE(auth->invalidate("Bearer SECRET-AT-1"));
  got.clear();
  auth->authorization([&](HeaderResult r) { got.push_back(std::move(r)); });
  auth->authorization([&](HeaderResult r) { got.push_back(std::move(r)); });
  ASSERT_EQ(endpoint.requests.size(), 2u);
  endpoint.answer(1, 200, R"({"token_type":"Bearer","expires_in":2,"access_token":"SECRET-AT-2"})");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].value(), "Bearer SECRET-AT-2");

  // Short-lived token: refreshed once half of its life has passed (margin is capped at half the lifetime).
  std::this_thread::sleep_for(1100ms);
  got.clear();
  auth->authorization([&](HeaderResult r) { got.push_back(std::move(r)); });
  EXPECT_EQ(endpoint.requests.size(), 3u);

  // An OAuth error: every waiter fails with auth_failed, no secret in the detail.
  endpoint.answer(2, 401,
                  R"({"error":"invalid_client","error_description":"The client_assertion signature is invalid."})");
  ASSERT_EQ(got.size(), 1u);
  ASSERT_FALSE(got[0]);
  EXPECT_EQ(got[0].error().error, TransportError::auth_failed);
  EXPECT_THAT(got[0].error().detail, ::testing::HasSubstr("invalid_client"));

  for (const auto& line : logs) {
    EXPECT_EQ(line.find("SECRET-AT"), std::string::npos) << line;
    EXPECT_EQ(line.find("eyJ"), std::string::npos) << line;  // no JWT either
  }
  EXPECT_EQ(got[0].error().detail.find("SECRET-AT"), std::string::npos);

  // Shutdown fails waiters instead of leaving them hanging.
  got.clear();
  auth->authorization([&](HeaderResult r) { got.push_back(std::move(r)); });
  auth->shutdown();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].error().error, TransportError::shutting_down);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace og::test
