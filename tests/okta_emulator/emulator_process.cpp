#include "tests/okta_emulator/emulator_process.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace og::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, tcp::endpoint ep, http::request<http::string_body>& req,
                               EmulatorProcess::Reply& out) {
  co_await beast::get_lowest_layer(stream).socket().async_connect(ep, asio::use_awaitable);
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
  }
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  auto res = parser.release();
  out.status = res.result_int();
  out.body = std::move(res.body());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
}

}  // namespace

std::string EmulatorProcess::Reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

EmulatorProcess::EmulatorProcess(EmulatorOptions options) : options_(std::move(options)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "og-okta-emulator-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  tls_ = !options_.tls_cert.empty() && !options_.tls_key.empty();
  std::vector<std::string> args{OG_OKTA_EMULATOR_BIN, "--listen", "127.0.0.1:0", "--port-file",
                                (dir_ / "port").string()};
  if (!options_.seed.empty()) args.insert(args.end(), {"--seed", options_.seed.string()});
  if (tls_) args.insert(args.end(), {"--tls-cert", options_.tls_cert.string(), "--tls-key", options_.tls_key.string()});
  for (std::size_t i = 0; i < options_.extra_args.size(); ++i) {
    if (options_.extra_args[i] == "--token" && i + 1 < options_.extra_args.size()) token_ = options_.extra_args[i + 1];
    args.push_back(options_.extra_args[i]);
  }
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string out_path = (dir_ / "stdout").string(), err_path = (dir_ / "stderr").string();
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("cannot spawn ") + OG_OKTA_EMULATOR_BIN);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("okta_emulator exited at start: " + slurp(dir_ / "stderr"));
    }
    std::ifstream in(dir_ / "port");
    unsigned p = 0;
    if (in >> p && p > 0) {
      port_ = static_cast<std::uint16_t>(p);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("okta_emulator did not report its port within 20 s: " + slurp(dir_ / "stderr"));
}

EmulatorProcess::~EmulatorProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    bool reaped = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reaped) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string EmulatorProcess::base_url() const {
  return (tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port_);
}

EmulatorProcess::Reply EmulatorProcess::request(std::string_view method, std::string_view target, std::string_view body,
                                                std::vector<std::pair<std::string, std::string>> headers,
                                                int timeout_ms) {
  return http_exchange(port_, tls_, method, target, body, std::move(headers), timeout_ms);
}

EmulatorProcess::Reply http_exchange(std::uint16_t port, bool tls, std::string_view method, std::string_view target,
                                     std::string_view body, std::vector<std::pair<std::string, std::string>> headers,
                                     int timeout_ms) {
  using Reply = EmulatorProcess::Reply;
  Reply out;
  http::request<http::string_body> req;
  req.method(http::string_to_verb(method));
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, (tls ? "localhost:" : "127.0.0.1:") + std::to_string(port));
  req.set(http::field::user_agent, "og-emulator-process");
  bool has_ct = false;
  for (auto& [k, v] : headers) {
    if (beast::iequals(k, "content-type")) has_ct = true;
    req.set(k, v);
  }
  if (!body.empty() && !has_ct) req.set(http::field::content_type, "application/json");
  req.body() = std::string(body);
  req.keep_alive(false);
  req.prepare_payload();

  asio::io_context ioc;
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  bool done = false, timed_out = false;
  auto on_done = [&](std::exception_ptr e) {
    done = true;
    if (e && !timed_out) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        out.status = 0;
        out.error = ex.what();
      }
    }
  };
  auto finish = [&](auto& stream) {
    ioc.run_for(std::chrono::milliseconds(timeout_ms));
    if (!done) {
      timed_out = true;
      out.status = 0;
      out.error = "timeout";
      beast::error_code ignored;
      beast::get_lowest_layer(stream).socket().close(ignored);
      ioc.restart();
      ioc.run();
    }
  };
  if (tls) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_verify_mode(ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
    asio::co_spawn(ioc, exchange(stream, ep, req, out), on_done);
    finish(stream);
  } else {
    beast::tcp_stream stream(ioc);
    asio::co_spawn(ioc, exchange(stream, ep, req, out), on_done);
    finish(stream);
  }
  return out;
}

std::pair<unsigned, std::string> EmulatorProcess::get(std::string_view target) {
  auto r = request("GET", target);
  return {r.status, std::move(r.body)};
}

std::pair<unsigned, std::string> EmulatorProcess::post(std::string_view target, std::string_view json) {
  auto r = request("POST", target, json, {{"Content-Type", "application/json"}});
  return {r.status, std::move(r.body)};
}

std::pair<unsigned, std::string> EmulatorProcess::del(std::string_view target) {
  auto r = request("DELETE", target);
  return {r.status, std::move(r.body)};
}

namespace {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error("X509V3_EXT_conf_nid failed");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509Ptr make_cert(EVP_PKEY* key, EVP_PKEY* issuer_key, X509* issuer, const char* cn, bool ca, long serial) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 60L * 60 * 24 * 365 * 5);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("oktaguard tests"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer ? issuer : x.get();
  if (ca) {
    add_ext(x.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(x.get(), iss, NID_subject_key_identifier, "hash");
  } else {
    add_ext(x.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(x.get(), iss, NID_ext_key_usage, "serverAuth");
    add_ext(x.get(), iss, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_ext(x.get(), iss, NID_authority_key_identifier, "keyid:always");
  }
  if (X509_sign(x.get(), issuer_key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  return x;
}

void write_pem(const std::filesystem::path& p, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(p.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + p.string());
  int ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  if (!ok) throw std::runtime_error("PEM write failed for " + p.string());
}

}  // namespace

TestPki make_test_pki(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  KeyPtr ca_key(EVP_EC_gen("P-256"));
  KeyPtr server_key(EVP_EC_gen("P-256"));
  if (!ca_key || !server_key) throw std::runtime_error("EC key generation failed");
  auto ca = make_cert(ca_key.get(), ca_key.get(), nullptr, "oktaguard test CA", true, 1);
  auto cert = make_cert(server_key.get(), ca_key.get(), ca.get(), "localhost", false, 2);
  TestPki pki{dir / "ca.pem", dir / "cert.pem", dir / "key.pem"};
  write_pem(pki.ca, ca.get(), nullptr);
  write_pem(pki.cert, cert.get(), nullptr);
  write_pem(pki.key, nullptr, server_key.get());
  return pki;
}

}  // namespace og::test
