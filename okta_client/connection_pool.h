#pragma once

// Internal to the transport: one kept-alive HTTP/1.1 connection (TLS or, for loopback, plain) with a timeout before
// every operation, and the bounded pool of idle ones. Everything here runs on the transport's io_context thread.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "okta_client/url.h"

namespace og::okta::detail {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace http = beast::http;

enum class Phase : std::uint8_t { resolve, connect, tls, write, read };
std::string_view to_string(Phase phase);

struct ConnectionTimeouts {
  std::chrono::milliseconds connect;
  std::chrono::milliseconds tls;
  std::chrono::milliseconds request;
  std::chrono::milliseconds shutdown;
};

struct ExchangeResult {
  boost::system::error_code ec;  // empty on success
  Phase phase = Phase::resolve;  // where ec happened
  bool sent = false;             // the whole request was handed to the kernel: Okta may have acted on it
  bool reused = false;           // the connection had served an earlier exchange
  std::optional<http::response<http::string_body>> response;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Handler = std::function<void(ExchangeResult)>;

  Connection(net::any_io_executor executor, net::ssl::context* tls, const OrgUrl& url, ConnectionTimeouts timeouts);
  ~Connection();

  // Connects (resolve, TCP, TLS) when needed, writes the request and reads one response with a fresh parser.
  void exchange(std::shared_ptr<http::request<http::string_body>> request, std::size_t body_limit, Handler handler);
  // Aborts what is in progress (the handler sees an error) and closes; TLS connections first try close_notify.
  void close();

  bool reusable() const { return open_ && keep_alive_ && !busy_; }
  bool used() const { return exchanges_ > 0; }
  std::chrono::steady_clock::time_point idle_since() const { return idle_since_; }

 private:
  template <class Stream>
  void run_exchange(Stream& stream);
  void connect();
  void on_connected();
  void complete(boost::system::error_code ec, Phase phase);
  beast::tcp_stream& tcp();

  net::any_io_executor executor_;
  net::ssl::context* tls_context_;
  OrgUrl url_;
  ConnectionTimeouts timeouts_;
  net::ip::tcp::resolver resolver_;
  net::steady_timer resolve_timer_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  std::optional<beast::tcp_stream> plain_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::shared_ptr<http::request<http::string_body>> request_;
  std::size_t body_limit_ = 0;
  Handler handler_;
  bool open_ = false;
  bool keep_alive_ = true;
  bool busy_ = false;
  bool sent_ = false;
  bool closing_ = false;
  std::uint64_t exchanges_ = 0;
  std::chrono::steady_clock::time_point idle_since_{};
};

// Idle connections, most recently used first. The transport bounds how many exist at once.
class ConnectionPool {
 public:
  ConnectionPool(net::any_io_executor executor, net::ssl::context* tls, OrgUrl url, ConnectionTimeouts timeouts,
                 std::chrono::milliseconds idle_timeout);

  // An idle kept-alive connection, or a new unconnected one (`fresh` tells which).
  std::shared_ptr<Connection> acquire(bool& fresh);
  void release(std::shared_ptr<Connection> connection);  // back to idle if reusable, else closed
  void discard(std::shared_ptr<Connection> connection);
  void track(std::shared_ptr<Connection> connection);  // in use; close_all() reaches it
  void untrack(const Connection* connection);
  void close_all();
  std::size_t idle() const { return idle_.size(); }

 private:
  net::any_io_executor executor_;
  net::ssl::context* tls_;
  OrgUrl url_;
  ConnectionTimeouts timeouts_;
  std::chrono::milliseconds idle_timeout_;
  std::vector<std::shared_ptr<Connection>> idle_;
  std::vector<std::weak_ptr<Connection>> busy_;
};

}  // namespace og::okta::detail
