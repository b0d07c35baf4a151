#include "okta_client/auth.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "correlator/json_text.h"

namespace og::okta {

namespace {

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

bool plausible_token(std::string_view token) {
  // A header value must not smuggle CR/LF or spaces into the request.
  for (unsigned char c : token) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return !token.empty();
}

std::string form_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned>(c));
    }
  }
  return out;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

}  // namespace

std::string base64url(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  const auto rest = bytes.size() - i;
  if (rest == 1) {
    const auto n = static_cast<unsigned char>(bytes[i]) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
  } else if (rest == 2) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
  }
  return out;
}

// ---- SSWS ----

SswsAuthenticator::SswsAuthenticator(std::string token) : header_("SSWS " + std::move(token)) {}

boost::system::result<std::shared_ptr<SswsAuthenticator>, std::string> SswsAuthenticator::from_file(
    const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fmt::format("cannot read the API token file {}", path.string());
  std::ostringstream content;
  content << in.rdbuf();
  auto token = trim(content.str());
  if (!plausible_token(token)) {
    return fmt::format("the API token file {} is empty or holds more than one token", path.string());
  }
  return std::make_shared<SswsAuthenticator>(std::move(token));
}

boost::system::result<std::shared_ptr<SswsAuthenticator>, std::string> SswsAuthenticator::from_env(
    const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr) return fmt::format("environment variable {} is not set", variable);
  auto token = trim(value);
  if (!plausible_token(token)) return fmt::format("environment variable {} does not hold a usable token", variable);
  return std::make_shared<SswsAuthenticator>(std::move(token));
}

boost::system::result<std::shared_ptr<SswsAuthenticator>, std::string> SswsAuthenticator::from_token(
    std::string_view token, std::string_view source) {
  auto trimmed = trim(std::string(token));
  if (!plausible_token(trimmed)) return fmt::format("{} is empty or holds more than one token", source);
  return std::make_shared<SswsAuthenticator>(std::move(trimmed));
}

void SswsAuthenticator::authorization(HeaderHandler handler) {
  handler(header_);
}

bool SswsAuthenticator::invalidate(std::string_view) {
  return false;  // a static token rejected once will be rejected again
}

// ---- private_key_jwt ----

struct PrivateKeyJwtAuthenticator::Key {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey;
  JwtAlgorithm algorithm;
};

PrivateKeyJwtAuthenticator::PrivateKeyJwtAuthenticator(PrivateKeyJwtConfig config, std::unique_ptr<Key> key)
    : config_(std::move(config)), key_(std::move(key)) {}

PrivateKeyJwtAuthenticator::~PrivateKeyJwtAuthenticator() = default;

boost::system::result<std::shared_ptr<PrivateKeyJwtAuthenticator>, std::string> PrivateKeyJwtAuthenticator::create(
    PrivateKeyJwtConfig config) {
  if (config.client_id.empty()) return std::string("client_id is empty");
  while (!config.org_url.empty() && config.org_url.back() == '/')
    config.org_url.pop_back();
  if (config.org_url.empty()) return std::string("org_url is empty");
  const auto file = config.private_key_file.string();
  BIO* bio = BIO_new_file(file.c_str(), "r");
  if (bio == nullptr) return fmt::format("cannot read the private key file {}", file);
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (raw == nullptr) return fmt::format("{} does not hold a PEM private key (encrypted keys are not supported)", file);
  auto key = std::make_unique<Key>();
  key->pkey.reset(raw);
  const int type = EVP_PKEY_get_base_id(raw);
  if (type == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(raw) < 2048) return fmt::format("the RSA key in {} is shorter than 2048 bits", file);
    key->algorithm = JwtAlgorithm::rs256;
  } else if (type == EVP_PKEY_EC) {
    char group[64] = {};
    std::size_t len = 0;
    if (!EVP_PKEY_get_group_name(raw, group, sizeof group, &len) || std::string_view(group) != "prime256v1") {
      return fmt::format("the EC key in {} is not on P-256 (ES256 needs P-256)", file);
    }
    key->algorithm = JwtAlgorithm::es256;
  } else {
    return fmt::format("the key in {} is neither RSA nor EC P-256", file);
  }
  return std::shared_ptr<PrivateKeyJwtAuthenticator>(new PrivateKeyJwtAuthenticator(std::move(config), std::move(key)));
}

JwtAlgorithm PrivateKeyJwtAuthenticator::algorithm() const {
  return key_->algorithm;
}

boost::system::result<std::string, TransportFailure> PrivateKeyJwtAuthenticator::make_client_assertion(
    std::chrono::system_clock::time_point now) {
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1)
    return TransportFailure{TransportError::auth_failed, "no randomness for the JWT id", 0};
  std::string jti;
  for (unsigned char b : nonce)
    jti += fmt::format("{:02x}", static_cast<unsigned>(b));
  const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const bool es = key_->algorithm == JwtAlgorithm::es256;
  std::string header = fmt::format(R"({{"alg":"{}","typ":"JWT")", es ? "ES256" : "RS256");
  if (!config_.key_id.empty()) header += fmt::format(R"(,"kid":{})", correlator::json_quote(config_.key_id));
  header += "}";
  const auto client_id = correlator::json_quote(config_.client_id);
  const auto payload =
      fmt::format(R"({{"iss":{},"sub":{},"aud":{},"iat":{},"exp":{},"jti":"{}"}})", client_id, client_id,
                  correlator::json_quote(config_.org_url + "/oauth2/v1/token"), iat, iat + 300, jti);
  const auto signing_input = base64url(header) + "." + base64url(payload);

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return TransportFailure{TransportError::auth_failed, "out of memory", 0};
  std::size_t length = 0;
  std::string signature;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(signing_input.data()),
                           signing_input.size()) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                        reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
    signature.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) return TransportFailure{TransportError::auth_failed, "signing the client assertion failed", 0};
  if (es) {
    // OpenSSL yields a DER ECDSA-Sig-Value; JWS (RFC 7518 §3.4) wants r and s as two 32-byte big-endian halves.
    const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
    if (sig == nullptr) return TransportFailure{TransportError::auth_failed, "malformed ECDSA signature", 0};
    std::string raw(64, '\0');
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig, &r, &s);
    ok = BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32) == 32 &&
         BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    if (!ok) return TransportFailure{TransportError::auth_failed, "malformed ECDSA signature", 0};
    signature = std::move(raw);
  }
  return std::string(signing_input + "." + base64url(signature));
}

void PrivateKeyJwtAuthenticator::attach(RawSender sender, LogSink log) {
  sender_ = std::move(sender);
  log_ = std::move(log);
}

void PrivateKeyJwtAuthenticator::authorization(HeaderHandler handler) {
  if (shut_down_) {
    handler(TransportFailure{TransportError::shutting_down, "authenticator is shut down", 0});
    return;
  }
  if (!header_.empty() && std::chrono::steady_clock::now() < refresh_at_) {
    handler(header_);
    return;
  }
  waiters_.push_back(std::move(handler));
  if (!fetching_) fetch_token();
}

bool PrivateKeyJwtAuthenticator::invalidate(std::string_view rejected) {
  // Only drop the token the 401 was about; a newer one fetched meanwhile is still good.
  if (!header_.empty() && header_ == rejected) header_.clear();
  return true;
}

void PrivateKeyJwtAuthenticator::shutdown() {
  shut_down_ = true;
  finish(TransportFailure{TransportError::shutting_down, "authenticator is shut down", 0});
}

void PrivateKeyJwtAuthenticator::fetch_token() {
  if (!sender_) {
    finish(TransportFailure{TransportError::auth_failed, "authenticator is not attached to a transport", 0});
    return;
  }
  auto assertion = make_client_assertion(std::chrono::system_clock::now());
  if (!assertion) {
    finish(assertion.error());
    return;
  }
  std::string scopes;
  for (const auto& scope : config_.scopes) {
    if (!scopes.empty()) scopes += ' ';
    scopes += scope;
  }
  Request request;
  request.method = http::verb::post;
  request.target = "/oauth2/v1/token";
  request.priority = Priority::enforcement;
  request.idempotent = true;  // a second token request just yields a second token
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.body = "grant_type=client_credentials&scope=" + form_encode(scopes) +
                 "&client_assertion_type=" + form_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
                 "&client_assertion=" + *assertion;
  fetching_ = true;
  ++token_requests_;
  const auto asked_at = std::chrono::steady_clock::now();
  std::weak_ptr<bool> alive = alive_;
  sender_(std::move(request), [this, alive, asked_at](boost::system::result<Response, TransportFailure> result) {
    if (alive.expired()) return;
    fetching_ = false;
    if (!result) {
      finish(TransportFailure{result.error().error == TransportError::shutting_down ? TransportError::shutting_down
                                                                                    : TransportError::auth_failed,
                              "token request failed: " + result.error().detail, result.error().attempts});
      return;
    }
    simdjson::ondemand::parser parser;
    simdjson::padded_string json(result->body);
    auto doc = parser.iterate(json);
    if (result->status != 200) {
      // The OAuth error code and description are Okta's words about our request, not secrets.
      std::string_view code = "?";
      std::string_view description;
      simdjson::ondemand::object obj;
      if (!doc.get_object().get(obj)) {
        for (auto field : obj) {
          std::string_view key;
          if (field.unescaped_key().get(key)) break;
          std::string_view value;
          if (key == "error" && !field.value().get_string().get(value)) code = value;
          if (key == "error_description" && !field.value().get_string().get(value)) description = value;
        }
      }
      finish(TransportFailure{TransportError::auth_failed,
                              fmt::format("token endpoint answered {}: {} {}", result->status, code, description),
                              result->attempts});
      return;
    }
    std::string token;
    std::string token_type;
    std::int64_t expires_in = 0;
    simdjson::ondemand::object obj;
    bool ok = !doc.get_object().get(obj);
    if (ok) {
      for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) {
          ok = false;
          break;
        }
        std::string_view value;
        if (key == "access_token" && !field.value().get_string().get(value)) token = value;
        if (key == "token_type" && !field.value().get_string().get(value)) token_type = value;
        if (key == "expires_in") {
          std::int64_t n = 0;
          if (!field.value().get_int64().get(n)) expires_in = n;
        }
      }
    }
    if (!ok || !plausible_token(token) || expires_in <= 0) {
      finish(TransportFailure{TransportError::auth_failed, "token endpoint answered 200 without a usable token",
                              result->attempts});
      return;
    }
    if (!token_type.empty() && token_type != "Bearer") {
      // Okta answers DPoP-bound tokens when the service app requires DPoP; that proof-of-possession is not built.
      finish(TransportFailure{TransportError::auth_failed,
                              fmt::format("token type {} is not supported (DPoP?)", token_type), result->attempts});
      return;
    }
    const auto lifetime = std::chrono::seconds(expires_in);
    const auto margin = std::min<std::chrono::seconds>(config_.refresh_before_expiry, lifetime / 2);
    refresh_at_ = asked_at + lifetime - margin;
    if (log_) log_(LogLevel::info, fmt::format("obtained an Okta access token valid for {} s", expires_in));
    finish(std::string("Bearer ") + token);
  });
}

void PrivateKeyJwtAuthenticator::finish(boost::system::result<std::string, TransportFailure> header) {
  if (header) header_ = *header;
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& waiter : waiters)
    waiter(header);
}

}  // namespace og::okta
