// okta_emulator: an Okta org for oktaguard's tests (see docs/okta-emulator.md).
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "tests/okta_emulator/api.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace og::test::emulator {
namespace {

struct Server {
  asio::io_context ioc{1};
  Api api;
  std::optional<ssl::context> tls;
  int in_flight = 0;
};

std::int64_t now_ms(const Server& s) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return now.count() + s.api.settings().clock_skew_s * 1000;
}

// One connection. Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>; everything
// runs on the single io_context thread, so the Api needs no locks.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Server& server, Stream stream) : server_(server), stream_(std::move(stream)), timer_(server.ioc) {}

  void start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      read();
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->read();
      });
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(4 * 1024 * 1024);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(300));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return close();
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    beast::error_code ep_ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ep_ec);
    if (!ep_ec) req.remote_ip = ep.address().to_string();
    req.tls = !std::is_same_v<Stream, beast::tcp_stream>;
    req.now_ms = now_ms(server_);

    if (req.target.rfind("/__emulator/", 0) == 0) return write(server_.api.handle(req));

    const auto& st = server_.api.settings();
    double roll = server_.api.uniform();
    if (roll < st.fault_reset) {
      server_.api.record(req, "reset");
      // linger 0 turns close() into a TCP RST: the client sees "connection reset by peer".
      beast::error_code ignored;
      auto& sock = beast::get_lowest_layer(stream_).socket();
      sock.set_option(asio::socket_base::linger(true, 0), ignored);
      sock.close(ignored);
      return;
    }
    if (roll < st.fault_reset + st.fault_stall) {
      server_.api.record(req, "stall");
      // Hold the connection without answering until the client gives up (or 10 minutes pass).
      beast::get_lowest_layer(stream_).expires_never();
      timer_.expires_after(std::chrono::minutes(10));
      timer_.async_wait([self = this->shared_from_this()](beast::error_code) { self->close(); });
      stall_read();
      return;
    }
    bool fault = roll < st.fault_reset + st.fault_stall + st.fault_5xx;
    unsigned fault_status = 0;
    if (fault) {
      fault_status = server_.api.pick_fault_status();
      server_.api.record(req, "5xx");
    }
    ++server_.in_flight;
    pending_ = std::move(req);
    timer_.expires_after(std::chrono::milliseconds(st.latency_ms));
    timer_.async_wait([self = this->shared_from_this(), fault, fault_status](beast::error_code) {
      auto& srv = self->server_;
      self->pending_.in_flight = srv.in_flight;
      self->pending_.now_ms = now_ms(srv);
      Response r = fault ? srv.api.fault_response(self->pending_, fault_status) : srv.api.handle(self->pending_);
      --srv.in_flight;
      self->write(std::move(r));
    });
  }

  // While stalled, notice the client closing so the session ends.
  void stall_read() {
    auto buf = std::make_shared<std::array<char, 512>>();
    beast::get_lowest_layer(stream_).socket().async_read_some(
        asio::buffer(*buf), [self = this->shared_from_this(), buf](beast::error_code ec, std::size_t) {
          if (ec) {
            self->timer_.cancel();
            return;
          }
          self->stall_read();
        });
  }

  void write(Response r) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(r.status);
    res->version(11);
    res->set(http::field::server, "okta-emulator");
    for (auto& [k, v] : r.headers)
      res->set(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !self->keep_alive_) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.socket().close(ignored);
    } else {
      beast::get_lowest_layer(stream_).socket().close(ignored);
    }
  }

  Server& server_;
  Stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  Request pending_;
};

void accept(Server& s, tcp::acceptor& acceptor) {
  acceptor.async_accept(s.ioc, [&s, &acceptor](beast::error_code ec, tcp::socket sock) {
    if (ec) return;  // acceptor closed at shutdown
    if (s.tls) {
      using Stream = beast::ssl_stream<beast::tcp_stream>;
      std::make_shared<Session<Stream>>(s, Stream(beast::tcp_stream(std::move(sock)), *s.tls))->start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(s, beast::tcp_stream(std::move(sock)))->start();
    }
    accept(s, acceptor);
  });
}

int usage(const std::string& why) {
  std::cerr << "okta_emulator: " << why << "\n"
            << "usage: okta_emulator --listen HOST:PORT [--port-file PATH] [--seed FILE.json] [--token TOKEN]\n"
               "  [--tls-cert PEM --tls-key PEM] [--oauth-client-id ID --oauth-client-key PUBKEY.pem]\n"
               "  [--oauth-token-ttl S] [--rate-limit BUCKET=N]... [--concurrency-limit N] [--latency-ms N]\n"
               "  [--fault-5xx P] [--fault-5xx-status S[,S...]] [--fault-reset P] [--fault-stall P]\n"
               "  [--clock-skew-s S]\n"
               "rate-limit buckets: users users-get users-id groups groups-id logs oauth2-token default\n";
  return 2;
}

int run(int argc, char** argv) {
  std::string listen, port_file, seed, cert, key;
  Server server;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return usage("help");
    if (arg.rfind("--", 0) != 0 || i + 1 >= argc) return usage("bad argument '" + arg + "'");
    std::string name = arg.substr(2), value = argv[++i];
    if (name == "listen")
      listen = value;
    else if (name == "port-file")
      port_file = value;
    else if (name == "seed")
      seed = value;
    else if (name == "tls-cert")
      cert = value;
    else if (name == "tls-key")
      key = value;
    else {
      std::string err;
      if (!server.api.apply_setting(name, value, &err)) return usage(err);
    }
  }
  if (listen.empty()) return usage("--listen is required");
  if (cert.empty() != key.empty()) return usage("--tls-cert and --tls-key go together");
  if (!seed.empty()) {
    std::ifstream in(seed, std::ios::binary);
    if (!in) return usage("cannot read seed file " + seed);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string err;
    auto json = Json::parse(ss.str(), &err);
    if (!json) return usage(seed + ": " + err);
    if (!server.api.seed(*json, &err)) return usage(seed + ": " + err);
  }
  if (!cert.empty()) {
    server.tls.emplace(ssl::context::tls_server);
    beast::error_code ec;
    server.tls->use_certificate_chain_file(cert, ec);
    if (!ec) server.tls->use_private_key_file(key, ssl::context::pem, ec);
    if (ec) return usage("TLS: " + ec.message());
  }
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return usage("--listen takes HOST:PORT");
  beast::error_code ec;
  auto addr = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) return usage("bad listen address: " + ec.message());
  tcp::endpoint ep(addr, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
  tcp::acceptor acceptor(server.ioc);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep, ec);
  if (ec) return usage("bind " + listen + ": " + ec.message());
  acceptor.listen();
  auto port = acceptor.local_endpoint().port();
  if (!port_file.empty()) {
    // Written then renamed, so a reader polling for the file never sees it half-written.
    std::string tmp = port_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << port << "\n";
    }
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::cout << "listening on " << addr.to_string() << ":" << port << std::endl;
  asio::signal_set signals(server.ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    beast::error_code ignored;
    acceptor.close(ignored);
    server.ioc.stop();
  });
  accept(server, acceptor);
  server.ioc.run();
  return 0;
}

}  // namespace
}  // namespace og::test::emulator

int main(int argc, char** argv) {
  try {
    return og::test::emulator::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "okta_emulator: " << e.what() << "\n";
    return 1;
  }
}
