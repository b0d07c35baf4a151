#include "okta_client/connection_pool.h"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>

#include <algorithm>

namespace og::okta::detail {

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::resolve:
      return "resolve";
    case Phase::connect:
      return "connect";
    case Phase::tls:
      return "tls handshake";
    case Phase::write:
      return "write";
    case Phase::read:
      return "read";
  }
  return "?";
}

Connection::Connection(net::any_io_executor executor, net::ssl::context* tls, const OrgUrl& url,
                       ConnectionTimeouts timeouts)
    : executor_(executor),
      tls_context_(tls),
      url_(url),
      timeouts_(timeouts),
      resolver_(executor),
      resolve_timer_(executor) {}

Connection::~Connection() = default;

beast::tcp_stream& Connection::tcp() {
  return tls_ ? beast::get_lowest_layer(*tls_) : *plain_;
}

void Connection::exchange(std::shared_ptr<http::request<http::string_body>> request, std::size_t body_limit,
                          Handler handler) {
  request_ = std::move(request);
  body_limit_ = body_limit;
  handler_ = std::move(handler);
  busy_ = true;
  sent_ = false;
  if (closing_) {
    complete(net::error::operation_aborted, Phase::connect);
  } else if (!open_) {
    connect();
  } else if (tls_) {
    run_exchange(*tls_);
  } else {
    run_exchange(*plain_);
  }
}

void Connection::connect() {
  if (tls_context_) {
    tls_.emplace(executor_, *tls_context_);
  } else {
    plain_.emplace(executor_);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeouts_.connect;
  // The resolver has no deadline of its own; the timer cancels it so a hung DNS lookup obeys connect_timeout.
  auto timed_out = std::make_shared<bool>(false);
  resolve_timer_.expires_at(deadline);
  resolve_timer_.async_wait([self = shared_from_this(), timed_out](boost::system::error_code ec) {
    if (!ec) {
      *timed_out = true;
      self->resolver_.cancel();
    }
  });
  resolver_.async_resolve(url_.host, std::to_string(url_.port),
                          [self = shared_from_this(), deadline, timed_out](
                              boost::system::error_code ec, net::ip::tcp::resolver::results_type results) {
                            self->resolve_timer_.cancel();
                            if (ec || self->closing_) {
                              if (*timed_out) ec = beast::error::timeout;
                              if (!ec) ec = net::error::operation_aborted;
                              self->complete(ec, Phase::resolve);
                              return;
                            }
                            self->tcp().expires_at(deadline);
                            self->tcp().async_connect(
                                results, [self](boost::system::error_code ec2, const net::ip::tcp::endpoint&) {
                                  if (ec2) {
                                    self->complete(ec2, Phase::connect);
                                  } else {
                                    self->on_connected();
                                  }
                                });
                          });
}

void Connection::on_connected() {
  if (!tls_) {
    open_ = true;
    run_exchange(*plain_);
    return;
  }
  boost::system::error_code ec;
  net::ip::make_address(url_.host, ec);
  const bool is_ip = !ec;
  // SNI carries host names only (RFC 6066 §3); IP literals are matched against the certificate's IP SANs.
  if (!is_ip && !SSL_set_tlsext_host_name(tls_->native_handle(), url_.host.c_str())) {
    complete(boost::system::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category()),
             Phase::tls);
    return;
  }
  if (SSL_get_verify_mode(tls_->native_handle()) & SSL_VERIFY_PEER) {
    tls_->set_verify_callback(net::ssl::host_name_verification(url_.host));
  }
  tcp().expires_after(timeouts_.tls);
  tls_->async_handshake(net::ssl::stream_base::client, [self = shared_from_this()](boost::system::error_code ec2) {
    if (ec2) {
      self->complete(ec2, Phase::tls);
      return;
    }
    self->open_ = true;
    self->run_exchange(*self->tls_);
  });
}

template <class Stream>
void Connection::run_exchange(Stream& stream) {
  tcp().expires_after(timeouts_.request);
  http::async_write(stream, *request_, [self = shared_from_this(), &stream](boost::system::error_code ec, std::size_t) {
    if (ec) {
      self->complete(ec, Phase::write);
      return;
    }
    self->sent_ = true;
    // A fresh parser per response: a parser is single-use and carries the previous message's state.
    self->parser_.emplace();
    self->parser_->body_limit(self->body_limit_);
    self->tcp().expires_after(self->timeouts_.request);
    http::async_read(stream, self->buffer_, *self->parser_, [self](boost::system::error_code ec2, std::size_t) {
      if (ec2 == net::ssl::error::stream_truncated && self->parser_->is_header_done()) {
        // The peer closed TCP without close_notify. Harmless once the message is complete (or is delimited by
        // the close itself); the connection just cannot be reused.
        self->keep_alive_ = false;
        if (self->parser_->is_done()) {
          ec2 = {};
        } else if (!self->parser_->chunked() && !self->parser_->content_length()) {
          boost::system::error_code eof_ec;
          self->parser_->put_eof(eof_ec);
          if (!eof_ec) ec2 = {};
        }
      }
      self->complete(ec2, Phase::read);
    });
  });
}

void Connection::complete(boost::system::error_code ec, Phase phase) {
  ExchangeResult result;
  result.ec = ec;
  result.phase = phase;
  result.sent = sent_;
  result.reused = exchanges_ > 0;
  busy_ = false;
  if (!ec) {
    const bool keep = keep_alive_;
    result.response = parser_->release();
    keep_alive_ = keep && result.response->keep_alive();
    ++exchanges_;
    idle_since_ = std::chrono::steady_clock::now();
  } else {
    // After a failed exchange the stream state is unknown (half-written request, unread bytes): never reuse it.
    keep_alive_ = false;
    open_ = false;
    if (tls_ || plain_) {
      boost::system::error_code ignored;
      tcp().socket().close(ignored);
    }
  }
  parser_.reset();
  request_.reset();
  auto handler = std::move(handler_);
  handler_ = nullptr;
  if (handler) handler(std::move(result));
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  resolver_.cancel();
  resolve_timer_.cancel();
  if (!tls_ && !plain_) return;
  if (tls_ && open_ && !busy_) {
    open_ = false;
    tcp().expires_after(timeouts_.shutdown);
    tls_->async_shutdown([self = shared_from_this()](boost::system::error_code) {
      // eof, stream_truncated or timeout: the peer's side of close_notify is a courtesy; close regardless.
      boost::system::error_code ignored;
      self->tcp().socket().close(ignored);
    });
    return;
  }
  open_ = false;
  boost::system::error_code ignored;
  tcp().socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  tcp().socket().close(ignored);
}

ConnectionPool::ConnectionPool(net::any_io_executor executor, net::ssl::context* tls, OrgUrl url,
                               ConnectionTimeouts timeouts, std::chrono::milliseconds idle_timeout)
    : executor_(executor), tls_(tls), url_(std::move(url)), timeouts_(timeouts), idle_timeout_(idle_timeout) {}

std::shared_ptr<Connection> ConnectionPool::acquire(bool& fresh) {
  const auto now = std::chrono::steady_clock::now();
  // Retire every stale idle connection, not only the ones popped: their sockets would linger half-closed.
  std::erase_if(idle_, [&](const std::shared_ptr<Connection>& c) {
    const bool stale = !c->reusable() || now - c->idle_since() >= idle_timeout_;
    if (stale) c->close();
    return stale;
  });
  while (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    // Servers drop idle keep-alive connections; a request written to a dropped one would have an unknown fate.
    if (connection->reusable() && now - connection->idle_since() < idle_timeout_) {
      fresh = false;
      track(connection);
      return connection;
    }
    connection->close();
  }
  fresh = true;
  auto connection = std::make_shared<Connection>(executor_, tls_, url_, timeouts_);
  track(connection);
  return connection;
}

void ConnectionPool::track(std::shared_ptr<Connection> connection) {
  std::erase_if(busy_, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
  busy_.push_back(connection);
}

void ConnectionPool::untrack(const Connection* connection) {
  std::erase_if(busy_, [connection](const std::weak_ptr<Connection>& w) {
    auto p = w.lock();
    return !p || p.get() == connection;
  });
}

void ConnectionPool::release(std::shared_ptr<Connection> connection) {
  untrack(connection.get());
  if (connection->reusable()) {
    idle_.push_back(std::move(connection));
  } else {
    connection->close();
  }
}

void ConnectionPool::discard(std::shared_ptr<Connection> connection) {
  untrack(connection.get());
  connection->close();
}

void ConnectionPool::close_all() {
  for (auto& connection : idle_)
    connection->close();
  idle_.clear();
  for (auto& weak : busy_) {
    if (auto connection = weak.lock()) connection->close();
  }
  busy_.clear();
}

}  // namespace og::okta::detail
