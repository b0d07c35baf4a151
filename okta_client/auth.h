#pragma once

// Credentials for the Okta Management API. The transport asks its Authenticator for the Authorization header
// value before every attempt; all calls happen on the transport's io_context thread.
//
// Secrets (API token, private key, access token) never leave this module except as the header value handed to
// the transport: they are not logged, not put in error details, not in stats.

#include <boost/system/result.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "okta_client/transport.h"

namespace og::okta {

class Authenticator {
 public:
  using HeaderHandler = std::function<void(boost::system::result<std::string, TransportFailure>)>;
  // Sends a request without an Authorization header (used to fetch an access token). Provided by the transport.
  using RawSender = std::function<void(Request, ResponseHandler)>;

  virtual ~Authenticator() = default;

  // Yields the Authorization header value, e.g. "SSWS ..." or "Bearer ...".
  virtual void authorization(HeaderHandler handler) = 0;
  // Okta answered 401 to a request sent with `rejected`: forget it. Returns true when a fresh value may work
  // (an expired or revoked access token), false when retrying cannot help (a static API token).
  virtual bool invalidate(std::string_view rejected) = 0;
  // Called by the transport once, before any authorization() call.
  virtual void attach(RawSender sender, LogSink log) {
    (void)sender;
    (void)log;
  }
  // Fails pending waiters with shutting_down.
  virtual void shutdown() {}
};

// API token ("SSWS <token>"). Read from a file (trailing whitespace trimmed) or an environment variable, never from
// the main configuration in clear.
class SswsAuthenticator final : public Authenticator {
 public:
  static boost::system::result<std::shared_ptr<SswsAuthenticator>, std::string> from_file(
      const std::filesystem::path& path);
  static boost::system::result<std::shared_ptr<SswsAuthenticator>, std::string> from_env(const char* variable);
  // A token read elsewhere (a secret file the daemon also hands its log scrubber): trimmed, and refused
  // when empty or holding blanks or control characters (a CR/LF would smuggle a header line).
  // `source` names where it came from in the error, which never contains the token.
  static boost::system::result<std::shared_ptr<SswsAuthenticator>, std::string> from_token(std::string_view token,
                                                                                           std::string_view source);

  void authorization(HeaderHandler handler) override;
  bool invalidate(std::string_view rejected) override;

  explicit SswsAuthenticator(std::string token);

 private:
  std::string header_;
};

enum class JwtAlgorithm : std::uint8_t { rs256, es256 };

struct PrivateKeyJwtConfig {
  std::string org_url;                     // the audience is <org_url>/oauth2/v1/token
  std::string client_id;                   // iss = sub = client_id
  std::filesystem::path private_key_file;  // PEM, RSA (RS256) or EC P-256 (ES256); the algorithm follows the key
  std::string key_id;                      // "kid" of the JWT header; empty: omitted
  std::vector<std::string> scopes{"okta.users.manage", "okta.groups.manage", "okta.users.read"};
  std::chrono::seconds refresh_before_expiry{60};  // the cached token is replaced this long before it expires
};

// OAuth 2.0 client credentials with private_key_jwt client authentication (Okta service apps).
class PrivateKeyJwtAuthenticator final : public Authenticator {
 public:
  static boost::system::result<std::shared_ptr<PrivateKeyJwtAuthenticator>, std::string> create(
      PrivateKeyJwtConfig config);
  ~PrivateKeyJwtAuthenticator() override;

  void authorization(HeaderHandler handler) override;
  bool invalidate(std::string_view rejected) override;
  void attach(RawSender sender, LogSink log) override;
  void shutdown() override;

  JwtAlgorithm algorithm() const;
  // A signed client assertion for `now` (exposed for tests: verified against the public key there).
  boost::system::result<std::string, TransportFailure> make_client_assertion(std::chrono::system_clock::time_point now);
  std::uint64_t token_requests() const { return token_requests_; }

  struct Key;

 private:
  PrivateKeyJwtAuthenticator(PrivateKeyJwtConfig config, std::unique_ptr<Key> key);
  void fetch_token();
  void finish(boost::system::result<std::string, TransportFailure> header);

  PrivateKeyJwtConfig config_;
  std::unique_ptr<Key> key_;
  RawSender sender_;
  LogSink log_;
  std::string header_;  // "Bearer ..." or empty
  std::chrono::steady_clock::time_point refresh_at_{};
  std::vector<HeaderHandler> waiters_;  // single flight: one token request serves every waiter
  bool fetching_ = false;
  bool shut_down_ = false;
  std::uint64_t token_requests_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Base64url without padding (RFC 7515 §2).
std::string base64url(std::string_view bytes);

}  // namespace og::okta
