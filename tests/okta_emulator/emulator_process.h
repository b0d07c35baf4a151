#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace og::test {

struct EmulatorOptions {
  std::filesystem::path seed{};                 // empty: built-in empty org
  std::filesystem::path tls_cert{}, tls_key{};  // both set: serve HTTPS
  std::vector<std::string> extra_args{};        // e.g. {"--rate-limit", "users-id=60"}
};

// Runs tests/okta_emulator as a child process for one test (or fixture) and talks to its
// introspection endpoints. Failures to start throw std::runtime_error with the emulator's stderr.
class EmulatorProcess {
 public:
  explicit EmulatorProcess(EmulatorOptions options = {});
  ~EmulatorProcess();  // SIGTERM, wait; SIGKILL after 5 s
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  std::uint16_t port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:PORT" or "https://localhost:PORT"
  std::string token() const { return token_; }

  // Blocking plain helpers for introspection and seeding (status + body), HTTP or HTTPS (no
  // verification). A status of 0 means the request failed at the transport level.
  std::pair<unsigned, std::string> get(std::string_view target);
  std::pair<unsigned, std::string> post(std::string_view target, std::string_view json);
  std::pair<unsigned, std::string> del(std::string_view target);

  // The full form, for tests of the emulator itself: any method, headers, and the response headers.
  struct Reply {
    unsigned status = 0;  // 0: transport failure (reset, timeout)
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
    std::string error;
    std::string header(std::string_view name) const;
  };
  Reply request(std::string_view method, std::string_view target, std::string_view body = {},
                std::vector<std::pair<std::string, std::string>> headers = {}, int timeout_ms = 10000);

 private:
  EmulatorOptions options_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string token_ = "test-token";
  bool tls_ = false;
};

// One HTTP/1.1 exchange with 127.0.0.1:port (HTTPS without verification when tls), for tests that
// talk to the emulator through something else, such as the Prism proxy.
EmulatorProcess::Reply http_exchange(std::uint16_t port, bool tls, std::string_view method, std::string_view target,
                                     std::string_view body = {},
                                     std::vector<std::pair<std::string, std::string>> headers = {},
                                     int timeout_ms = 10000);

// Writes a self-signed CA and a "localhost"/127.0.0.1 server certificate signed by it into dir
// (OpenSSL API), returns {ca.pem, cert.pem, key.pem} paths; for TLS tests of the client.
struct TestPki {
  std::filesystem::path ca, cert, key;
};
TestPki make_test_pki(const std::filesystem::path& dir);

}  // namespace og::test
