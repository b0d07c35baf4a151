// The emulator as a process: the command-line contract, TLS, fault injection, OAuth, clock skew.
#include "tests/okta_emulator/emulator_process.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <fstream>

#include "tests/okta_emulator/json.h"
#include "tests/okta_emulator/jwt.h"

namespace og::test {
namespace {

using emulator::Json;

const std::filesystem::path kDemoSeed = std::filesystem::path(OG_SOURCE_DIR) / "tests/okta_emulator/seed-demo.json";

Json parse(const std::string& s) {
  auto j = Json::parse(s);
  EXPECT_TRUE(j) << s;
  return j ? *j : Json();
}

std::vector<std::pair<std::string, std::string>> ssws(const EmulatorProcess& emu) {
  return {{"Authorization", "SSWS " + emu.token()}};
}

TEST(EmulatorProcess, ServesTheDemoOrgAndRecordsRequests) {
  EmulatorProcess emu({.seed = kDemoSeed});
  EXPECT_EQ(emu.base_url(), "http://127.0.0.1:" + std::to_string(emu.port()));
  auto r = emu.request("GET", "/api/v1/users/homer.simpson%40duff.com", {}, ssws(emu));
  ASSERT_EQ(r.status, 200u) << r.error << r.body;
  EXPECT_EQ(parse(r.body).get_string("id"), "00uHomerSimpsonDuff1");
  EXPECT_FALSE(r.header("date").empty());
  EXPECT_FALSE(r.header("x-rate-limit-reset").empty());
  r = emu.request("POST", "/api/v1/users/00uHomerSimpsonDuff1/lifecycle/suspend", {}, ssws(emu));
  EXPECT_EQ(r.status, 200u);
  auto [st, state] = emu.get("/__emulator/state");
  ASSERT_EQ(st, 200u);
  auto s = parse(state);
  bool found = false;
  for (const auto& u : s.find("users")->as_array())
    if (u.get_string("id") == "00uHomerSimpsonDuff1") {
      found = true;
      EXPECT_EQ(u.get_string("status"), "SUSPENDED");
    }
  EXPECT_TRUE(found);
  auto [rs, requests] = emu.get("/__emulator/requests");
  auto list = parse(requests);
  ASSERT_EQ(list.as_array().size(), 2u);
  EXPECT_EQ(list.as_array()[1].get_string("method"), "POST");
  EXPECT_EQ(list.as_array()[1].path("headers.authorization")->as_string(), "SSWS");
  EXPECT_EQ(emu.del("/__emulator/requests").first, 204u);
  EXPECT_EQ(parse(emu.get("/__emulator/requests").second).as_array().size(), 0u);
}

TEST(EmulatorProcess, CustomTokenAndRuntimeConfig) {
  EmulatorProcess emu({.extra_args = {"--token", "s3cret", "--rate-limit", "users-get=2"}});
  EXPECT_EQ(emu.token(), "s3cret");
  ASSERT_EQ(
      emu.post("/__emulator/seed", R"({"users":[{"id":"00u00000000000000001","profile":{"login":"a@b.example"}}]})")
          .first,
      200u);
  EXPECT_EQ(emu.request("GET", "/api/v1/users/00u00000000000000001", {}, {{"Authorization", "SSWS test-token"}}).status,
            401u);
  EXPECT_EQ(emu.request("GET", "/api/v1/users/00u00000000000000001", {}, ssws(emu)).status, 200u);
  auto r = emu.request("GET", "/api/v1/users/00u00000000000000001", {}, ssws(emu));
  EXPECT_EQ(r.status, 429u);  // the 3rd single-user GET (the 401 counted too)
  EXPECT_EQ(r.header("x-rate-limit-limit"), "2");
  EXPECT_EQ(parse(r.body).get_string("errorCode"), "E0000047");
  ASSERT_EQ(emu.post("/__emulator/config", R"({"rate-limit":{"users-get":100},"clock-skew-s":-3600})").first, 200u);
  r = emu.request("GET", "/api/v1/users/00u00000000000000001", {}, ssws(emu));
  ASSERT_EQ(r.status, 200u);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  auto reset = std::stoll(r.header("x-rate-limit-reset"));
  // The org's clock (Date and Reset) runs an hour behind this machine's.
  EXPECT_NEAR(static_cast<double>(reset), static_cast<double>(now.count() - 3600 + 60), 5.0);
  EXPECT_EQ(emu.post("/__emulator/config", R"({"fault-5xx":2})").first, 400u);
}

TEST(EmulatorProcess, FaultInjection) {
  EmulatorProcess emu({.seed = kDemoSeed});
  ASSERT_EQ(emu.post("/__emulator/config", R"({"fault-5xx":1})").first, 200u);
  auto r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, ssws(emu));
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(parse(r.body).get_string("errorCode"), "E0000009");
  EXPECT_EQ(parse(r.body).get_string("errorSummary"), "Internal Server Error");
  // 503: a transient error Okta's SDKs retry.
  ASSERT_EQ(emu.post("/__emulator/config", R"({"fault-5xx-status":503})").first, 200u);
  r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, ssws(emu));
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(parse(r.body).get_string("errorCode"), "E0000009");
  EXPECT_FALSE(r.header("x-rate-limit-limit").empty());
  ASSERT_EQ(emu.post("/__emulator/config", R"({"fault-5xx-status":"502,504"})").first, 200u);
  for (int i = 0; i < 6; ++i) {
    r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, ssws(emu));
    EXPECT_TRUE(r.status == 502u || r.status == 504u) << r.status;
  }
  EXPECT_EQ(emu.post("/__emulator/config", R"({"fault-5xx-status":404})").first, 400u);
  ASSERT_EQ(emu.post("/__emulator/config", R"({"fault-5xx":0,"fault-reset":1})").first, 200u);
  r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, ssws(emu));
  EXPECT_EQ(r.status, 0u);
  EXPECT_FALSE(r.error.empty());
  ASSERT_EQ(emu.post("/__emulator/config", R"({"fault-reset":0,"fault-stall":1})").first, 200u);
  auto t0 = std::chrono::steady_clock::now();
  r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, ssws(emu), 500);
  EXPECT_EQ(r.status, 0u);
  EXPECT_EQ(r.error, "timeout");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(450));
  ASSERT_EQ(emu.post("/__emulator/config", R"({"fault-stall":0,"latency-ms":300})").first, 200u);
  t0 = std::chrono::steady_clock::now();
  r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, ssws(emu));
  EXPECT_EQ(r.status, 200u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(290));
  // Every request is in the log, faulted or not; faulted ones say how.
  auto list = parse(emu.get("/__emulator/requests").second);
  ASSERT_EQ(list.as_array().size(), 11u);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(list.as_array()[i].get_string("fault"), "5xx");
  EXPECT_EQ(list.as_array()[8].get_string("fault"), "reset");
  EXPECT_EQ(list.as_array()[9].get_string("fault"), "stall");
  EXPECT_EQ(list.as_array()[10].find("fault"), nullptr);
}

TEST(EmulatorProcess, ServesHttpsWithTheTestPki) {
  auto dir = std::filesystem::temp_directory_path() / ("og-emu-pki-" + std::to_string(::getpid()));
  auto pki = make_test_pki(dir);
  ASSERT_TRUE(std::filesystem::exists(pki.ca));
  {
    EmulatorProcess emu({.seed = kDemoSeed, .tls_cert = pki.cert, .tls_key = pki.key});
    EXPECT_EQ(emu.base_url(), "https://localhost:" + std::to_string(emu.port()));
    auto r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, ssws(emu));
    ASSERT_EQ(r.status, 200u) << r.error;
    EXPECT_EQ(parse(r.body).path("_links.self.href")->as_string(),
              emu.base_url() + "/api/v1/users/00uHomerSimpsonDuff1");
    // Plain HTTP to the TLS port gets no HTTP answer.
    EXPECT_EQ(http_exchange(emu.port(), false, "GET", "/__emulator/state", {}, {}, 2000).status, 0u);
  }
  std::filesystem::remove_all(dir);
}

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

TEST(EmulatorProcess, OAuthPrivateKeyJwtClientCredentials) {
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
  auto dir = std::filesystem::temp_directory_path() / ("og-emu-oauth-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto pub = dir / "client.pub.pem";
  {
    FILE* f = std::fopen(pub.c_str(), "w");
    ASSERT_TRUE(f);
    PEM_write_PUBKEY(f, key.get());
    std::fclose(f);
  }
  EmulatorProcess emu({.seed = kDemoSeed,
                       .extra_args = {"--oauth-client-id", "0oaOktaguardClient1", "--oauth-client-key", pub.string(),
                                      "--oauth-token-ttl", "120"}});
  auto assertion = [&](std::string aud, std::int64_t exp_offset, std::string iss = "0oaOktaguardClient1") {
    Json c = Json::object();
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    c.set("iss", iss);
    c.set("sub", iss);
    c.set("aud", std::move(aud));
    c.set("iat", static_cast<std::int64_t>(now.count()));
    c.set("exp", static_cast<std::int64_t>(now.count() + exp_offset));
    c.set("jti", "jti-" + std::to_string(exp_offset));
    return emulator::sign_jwt(c, key.get());
  };
  auto token_request = [&](const std::string& jwt) {
    std::string form =
        "grant_type=client_credentials&scope=okta.users.manage+okta.groups.manage&client_assertion_type="
        "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" +
        jwt;
    return emu.request("POST", "/oauth2/v1/token", form, {{"Content-Type", "application/x-www-form-urlencoded"}});
  };
  std::string aud = emu.base_url() + "/oauth2/v1/token";
  auto r = token_request(assertion(aud, 300));
  ASSERT_EQ(r.status, 200u) << r.body;
  auto body = parse(r.body);
  EXPECT_EQ(body.get_string("token_type"), "Bearer");
  EXPECT_EQ(body.find("expires_in")->as_int(), 120);
  EXPECT_EQ(body.get_string("scope"), "okta.users.manage okta.groups.manage");
  auto access = body.get_string("access_token");
  r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, {{"Authorization", "Bearer " + access}});
  EXPECT_EQ(r.status, 200u);
  r = emu.request("GET", "/api/v1/users/00uHomerSimpsonDuff1", {}, {{"Authorization", "Bearer x" + access}});
  EXPECT_EQ(r.status, 401u);
  // Wrong audience, expired, wrong issuer, a tampered signature: all invalid_client.
  for (const auto& jwt : {assertion("https://elsewhere/oauth2/v1/token", 300), assertion(aud, -10),
                          assertion(aud, 300, "0oaSomeoneElse"), assertion(aud, 300) + "x"}) {
    r = token_request(jwt);
    EXPECT_EQ(r.status, 401u) << r.body;
    EXPECT_EQ(parse(r.body).get_string("error"), "invalid_client");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace og::test
