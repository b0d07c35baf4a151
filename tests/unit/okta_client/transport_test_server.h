#pragma once

// A scripted HTTP(S) server for transport tests over real loopback sockets: each accepted connection runs a
// script on its own thread, so a test can misbehave precisely (never answer, stall mid-body, drop the connection,
// hang the TLS handshake, answer 429 with a skewed Date...).

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace og::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct ReceivedRequest {
  int connection = 0;
  http::request<http::string_body> message;
  std::string header(std::string_view name) const {
    auto it = message.find(name);
    return it == message.end() ? std::string() : std::string(it->value());
  }
};

class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  // The next request, or nullopt when the client closed (or sent garbage).
  virtual std::optional<http::request<http::string_body>> read_request() = 0;
  virtual bool write(std::string_view raw) = 0;
  // Drops TCP without a TLS close_notify.
  virtual void close_abruptly() = 0;
  // Blocks until the client closes (used to "never answer").
  virtual void wait_for_close() = 0;
  int index = 0;
};

inline std::string http_date(std::time_t t) {
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

inline std::string raw_response(unsigned status, std::string_view body,
                                std::vector<std::pair<std::string, std::string>> headers = {},
                                bool content_length = true) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  for (auto& [k, v] : headers)
    out += k + ": " + v + "\r\n";
  if (content_length) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Content-Type: application/json\r\n\r\n";
  out += body;
  return out;
}

struct TlsFiles {
  std::filesystem::path ca, cert, key;
};

// CA + a server certificate for DNS:localhost only (so https://127.0.0.1 must fail hostname verification).
inline TlsFiles make_tls_files(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto d = dir.string();
  const std::string cmd =
      "cd '" + d +
      "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
      "-days 2 -subj /CN=og-test-ca 2>/dev/null && "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out srv.csr "
      "-subj /CN=localhost 2>/dev/null && printf 'subjectAltName=DNS:localhost\\n' > ext.cnf && "
      "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 "
      "-extfile ext.cnf 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl failed to make test certificates");
  return {dir / "ca.pem", dir / "cert.pem", dir / "key.pem"};
}

class ScriptedServer {
 public:
  using Script = std::function<void(ServerConnection&)>;

  explicit ScriptedServer(Script script, std::optional<TlsFiles> tls = {}, bool tls_handshake = true)
      : script_(std::move(script)),
        acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        tls_handshake_(tls_handshake) {
    if (tls) {
      tls_ctx_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
      tls_ctx_->use_certificate_chain_file(tls->cert.string());
      tls_ctx_->use_private_key_file(tls->key.string(), net::ssl::context::pem);
    }
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : fds_)
        ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_)
      t.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_.load(); }
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  void record(int connection, const http::request<http::string_body>& message) {
    std::lock_guard lock(mutex_);
    requests_.push_back({connection, message});
  }

 private:
  class Plain : public ServerConnection {
   public:
    explicit Plain(tcp::socket s, ScriptedServer& server) : socket_(std::move(s)), server_(server) {}
    std::optional<http::request<http::string_body>> read_request() override {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(socket_, buffer_, req, ec);
      if (ec) return std::nullopt;
      server_.record(index, req);
      return req;
    }
    bool write(std::string_view raw) override {
      beast::error_code ec;
      net::write(socket_, net::buffer(raw.data(), raw.size()), ec);
      return !ec;
    }
    void close_abruptly() override {
      beast::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.close(ec);
    }
    void wait_for_close() override {
      char buf[512];
      beast::error_code ec;
      while (!ec)
        socket_.read_some(net::buffer(buf), ec);
    }
    tcp::socket socket_;
    beast::flat_buffer buffer_;
    ScriptedServer& server_;
  };

  class Tls : public ServerConnection {
   public:
    Tls(tcp::socket s, net::ssl::context& ctx, ScriptedServer& server) : stream_(std::move(s), ctx), server_(server) {}
    bool handshake() {
      beast::error_code ec;
      stream_.handshake(net::ssl::stream_base::server, ec);
      return !ec;
    }
    std::optional<http::request<http::string_body>> read_request() override {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(stream_, buffer_, req, ec);
      if (ec) return std::nullopt;
      server_.record(index, req);
      return req;
    }
    bool write(std::string_view raw) override {
      beast::error_code ec;
      net::write(stream_, net::buffer(raw.data(), raw.size()), ec);
      return !ec;
    }
    void close_abruptly() override {
      beast::error_code ec;
      stream_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
      stream_.next_layer().close(ec);
    }
    void wait_for_close() override {
      char buf[512];
      beast::error_code ec;
      while (!ec)
        stream_.next_layer().read_some(net::buffer(buf), ec);
    }
    net::ssl::stream<tcp::socket> stream_;
    beast::flat_buffer buffer_;
    ScriptedServer& server_;
  };

  void accept_loop() {
    while (!stopping_) {
      beast::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      const int index = connections_++;
      {
        std::lock_guard lock(mutex_);
        fds_.push_back(socket.native_handle());
      }
      threads_.emplace_back([this, index, s = std::move(socket)]() mutable {
        if (tls_ctx_) {
          Tls conn(std::move(s), *tls_ctx_, *this);
          conn.index = index;
          if (!tls_handshake_) {
            conn.wait_for_close();
            return;
          }
          if (conn.handshake()) script_(conn);
        } else {
          Plain conn(std::move(s), *this);
          conn.index = index;
          script_(conn);
        }
      });
    }
  }

  Script script_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::unique_ptr<net::ssl::context> tls_ctx_;
  bool tls_handshake_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread accept_thread_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::vector<int> fds_;
  std::vector<ReceivedRequest> requests_;
};

}  // namespace og::test
