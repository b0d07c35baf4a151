#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "tests/okta_emulator/json.h"

namespace og::test::emulator {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::string base64url_encode(std::string_view bytes);
// Empty optional-like: returns false when `in` is not base64url.
bool base64url_decode(std::string_view in, std::string& out);

// A PEM public key (SubjectPublicKeyInfo) from a file or text; null on failure.
Pkey load_public_key_pem_file(const std::string& path);
Pkey load_public_key_pem(std::string_view pem);

struct JwtResult {
  bool ok = false;
  std::string error;
  Json header;
  Json claims;
};

// Checks a compact JWS signed with RS256 or ES256 (raw r||s, as RFC 7518 says) against key.
// Only the signature and the algorithm's match with the key type are checked here; claims are the
// caller's business.
JwtResult verify_jwt(std::string_view token, EVP_PKEY* key);

// Signs claims with RS256 (RSA key) or ES256 (P-256 key); for tests that play the OAuth client.
std::string sign_jwt(const Json& claims, EVP_PKEY* private_key, std::string_view kid = {});

}  // namespace og::test::emulator
