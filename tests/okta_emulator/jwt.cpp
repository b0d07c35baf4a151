#include "tests/okta_emulator/jwt.h"

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace og::test::emulator {
namespace {

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

struct SigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

bool is_ec(EVP_PKEY* key) {
  return EVP_PKEY_base_id(key) == EVP_PKEY_EC;
}
bool is_rsa(EVP_PKEY* key) {
  return EVP_PKEY_base_id(key) == EVP_PKEY_RSA;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64Url[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kB64Url[(acc << (6 - bits)) & 0x3f]);
  return out;
}

bool base64url_decode(std::string_view in, std::string& out) {
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-' || c == '+')
      v = 62;
    else if (c == '_' || c == '/')
      v = 63;
    else if (c == '=')
      break;
    else
      return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

Pkey load_public_key_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return nullptr;
  Pkey key(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

Pkey load_public_key_pem_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  std::stringstream ss;
  ss << in.rdbuf();
  return load_public_key_pem(ss.str());
}

JwtResult verify_jwt(std::string_view token, EVP_PKEY* key) {
  JwtResult r;
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    r.error = "not a compact JWS";
    return r;
  }
  std::string header_raw, claims_raw, sig;
  if (!base64url_decode(token.substr(0, d1), header_raw) ||
      !base64url_decode(token.substr(d1 + 1, d2 - d1 - 1), claims_raw) ||
      !base64url_decode(token.substr(d2 + 1), sig)) {
    r.error = "bad base64url";
    return r;
  }
  auto header = Json::parse(header_raw);
  auto claims = Json::parse(claims_raw);
  if (!header || !header->is_object() || !claims || !claims->is_object()) {
    r.error = "header or claims are not JSON objects";
    return r;
  }
  std::string alg = header->get_string("alg");
  if (alg == "RS256") {
    if (!is_rsa(key)) {
      r.error = "alg RS256 does not match the registered key";
      return r;
    }
  } else if (alg == "ES256") {
    if (!is_ec(key)) {
      r.error = "alg ES256 does not match the registered key";
      return r;
    }
    if (sig.size() != 64) {
      r.error = "ES256 signature must be 64 bytes";
      return r;
    }
    // JOSE carries r||s; OpenSSL verifies DER.
    std::unique_ptr<ECDSA_SIG, SigDeleter> es(ECDSA_SIG_new());
    BIGNUM* rr = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
    BIGNUM* ss = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
    ECDSA_SIG_set0(es.get(), rr, ss);
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &der);
    if (len <= 0) {
      r.error = "cannot encode signature";
      return r;
    }
    sig.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
  } else {
    r.error = "unsupported alg '" + alg + "'";
    return r;
  }
  MdCtx ctx(EVP_MD_CTX_new());
  std::string_view signing_input = token.substr(0, d2);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    r.error = "signature verification failed";
    return r;
  }
  r.ok = true;
  r.header = std::move(*header);
  r.claims = std::move(*claims);
  return r;
}

std::string sign_jwt(const Json& claims, EVP_PKEY* private_key, std::string_view kid) {
  bool ec = is_ec(private_key);
  Json header = Json::object();
  header.set("alg", ec ? "ES256" : "RS256");
  header.set("typ", "JWT");
  if (!kid.empty()) header.set("kid", std::string(kid));
  std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, private_key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    return {};
  std::vector<unsigned char> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) !=
      1)
    return {};
  sig.resize(len);
  std::string raw(sig.begin(), sig.end());
  if (ec) {
    const unsigned char* p = sig.data();
    std::unique_ptr<ECDSA_SIG, SigDeleter> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!es) return {};
    unsigned char buf[64] = {};
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), buf, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), buf + 32, 32);
    raw.assign(reinterpret_cast<char*>(buf), 64);
  }
  return input + "." + base64url_encode(raw);
}

}  // namespace og::test::emulator
