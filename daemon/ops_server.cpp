#include "daemon/ops_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/core.h>

#include <charconv>
#include <set>

#include "daemon/log.h"
#include "daemon/metrics.h"

namespace og::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

void ReadinessChecks::set(std::string name, bool ok, std::string reason) {
  add(std::move(name), [r = CheckResult{ok, ok ? std::string() : std::move(reason)}] { return r; });
}

void ReadinessChecks::add(std::string name, std::function<CheckResult()> check) {
  std::lock_guard lock(mu_);
  checks_[std::move(name)] = std::move(check);
}

void ReadinessChecks::remove(std::string_view name) {
  std::lock_guard lock(mu_);
  if (auto it = checks_.find(name); it != checks_.end()) checks_.erase(it);
}

std::vector<ReadinessChecks::Item> ReadinessChecks::evaluate() const {
  std::vector<std::pair<std::string, std::function<CheckResult()>>> copy;
  {
    // Copy out so a check may itself call set() (or take its own locks) without deadlock.
    std::lock_guard lock(mu_);
    copy.assign(checks_.begin(), checks_.end());
  }
  std::vector<Item> items;
  items.reserve(copy.size());
  for (auto& [name, fn] : copy)
    items.push_back({name, fn()});
  return items;
}

bool ReadinessChecks::ready() const {
  auto items = evaluate();
  if (items.empty()) return false;
  for (const auto& i : items)
    if (!i.result.ok) return false;
  return true;
}

std::optional<tcp::endpoint> parse_listen_address(std::string_view text, std::string* error) {
  auto fail = [&](std::string msg) -> std::optional<tcp::endpoint> {
    if (error) *error = std::move(msg);
    return std::nullopt;
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail("expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail("an IPv6 address needs brackets: [::1]:9464");
  }
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p > 65535)
    return fail(fmt::format("invalid port '{}'", port));
  boost::system::error_code aec;
  auto addr = net::ip::make_address(std::string(host), aec);
  if (aec) return fail(fmt::format("'{}' is not an IP address", host));
  return tcp::endpoint(addr, static_cast<unsigned short>(p));
}

struct OpsServer::State {
  State(net::any_io_executor e, const Registry& m, const ReadinessChecks& r, OpsServerOptions o)
      : ex(std::move(e)), acceptor(ex), metrics(m), readiness(r), options(std::move(o)) {}
  net::any_io_executor ex;
  tcp::acceptor acceptor;
  const Registry& metrics;
  const ReadinessChecks& readiness;
  OpsServerOptions options;
  std::set<beast::tcp_stream*> connections;  // only touched on ex
  bool stopped = false;
};

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response make_response(http::status status, unsigned version, std::string_view content_type, std::string body) {
  Response res{status, version};
  res.set(http::field::server, "oktaguard");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string readiness_json(const std::vector<ReadinessChecks::Item>& items, bool ready) {
  std::string out = fmt::format("{{\"ready\":{},\"checks\":[", ready ? "true" : "false");
  bool first = true;
  for (const auto& i : items) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":\"";
    append_json_escaped(out, i.name);
    out += fmt::format("\",\"ok\":{},\"reason\":\"", i.result.ok ? "true" : "false");
    append_json_escaped(out, i.result.reason);
    out += "\"}";
  }
  out += "]}\n";
  return out;
}

Response handle(const OpsServer::State& s, const Request& req) {
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  unsigned v = req.version();
  bool known = target == "/metrics" || target == "/healthz" || target == "/readyz";
  if (!known) return make_response(http::status::not_found, v, "text/plain; charset=utf-8", "not found\n");
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    Response res =
        make_response(http::status::method_not_allowed, v, "text/plain; charset=utf-8", "method not allowed\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (target == "/metrics") return make_response(http::status::ok, v, kPrometheusContentType, s.metrics.expose());
  if (target == "/healthz") {
    CheckResult live = s.options.liveness ? s.options.liveness() : CheckResult{true, {}};
    std::string body = fmt::format("{{\"ok\":{},\"reason\":\"", live.ok ? "true" : "false");
    append_json_escaped(body, live.reason);
    body += "\"}\n";
    return make_response(live.ok ? http::status::ok : http::status::service_unavailable, v, "application/json",
                         std::move(body));
  }
  auto items = s.readiness.evaluate();
  bool ready = !items.empty();
  for (const auto& i : items)
    ready = ready && i.result.ok;
  return make_response(ready ? http::status::ok : http::status::service_unavailable, v, "application/json",
                       readiness_json(items, ready));
}

// Errors the client caused while sending its request, answered before closing.
std::optional<Response> error_response(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit)
    return make_response(http::status::request_header_fields_too_large, 11, "text/plain; charset=utf-8",
                         "request header too large\n");
  if (ec == http::error::body_limit)
    return make_response(http::status::payload_too_large, 11, "text/plain; charset=utf-8", "request body too large\n");
  if (ec.category() == make_error_code(http::error::bad_method).category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message)
    return make_response(http::status::bad_request, 11, "text/plain; charset=utf-8", "bad request\n");
  return std::nullopt;
}

net::awaitable<void> session(std::shared_ptr<OpsServer::State> s, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  s->connections.insert(&stream);
  beast::flat_buffer buffer;
  const auto& o = s->options;
  for (std::size_t served = 0; !s->stopped; ++served) {
    // A fresh parser per request: a parser is single-use and carries the limits.
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    parser.body_limit(o.max_body_bytes);
    stream.expires_after(o.read_timeout);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, net::as_tuple(net::use_awaitable));
    (void)rn;
    if (rec) {
      if (auto res = error_response(rec); res && !s->stopped) {
        res->keep_alive(false);
        stream.expires_after(o.write_timeout);
        co_await http::async_write(stream, *res, net::as_tuple(net::use_awaitable));
      }
      break;  // end of stream, timeout, reset, or an answered protocol error
    }
    const Request& req = parser.get();
    Response res = handle(*s, req);
    bool keep = req.keep_alive() && served + 1 < o.max_requests_per_connection && !s->stopped;
    res.keep_alive(keep);
    if (req.method() == http::verb::head) {
      auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    stream.expires_after(o.write_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, net::as_tuple(net::use_awaitable));
    (void)wn;
    if (wec || !keep) break;
  }
  s->connections.erase(&stream);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
}

net::awaitable<void> reject(std::shared_ptr<OpsServer::State> s, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  Response res =
      make_response(http::status::service_unavailable, 11, "text/plain; charset=utf-8", "too many connections\n");
  res.keep_alive(false);
  stream.expires_after(s->options.write_timeout);
  co_await http::async_write(stream, res, net::as_tuple(net::use_awaitable));
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

net::awaitable<void> accept_loop(std::shared_ptr<OpsServer::State> s) {
  while (!s->stopped) {
    auto [ec, socket] = co_await s->acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (s->stopped || ec == net::error::operation_aborted) break;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on an acceptor that keeps failing.
      logger().log_limited("ops_accept", LogLevel::warn, "ops", "accept failed", {{"error", ec.message()}});
      net::steady_timer t(s->ex, std::chrono::milliseconds(100));
      co_await t.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    if (s->connections.size() >= s->options.max_connections)
      net::co_spawn(s->ex, reject(s, std::move(socket)), net::detached);
    else
      net::co_spawn(s->ex, session(s, std::move(socket)), net::detached);
  }
}

}  // namespace

OpsServer::OpsServer(net::any_io_executor ex, const Registry& metrics, const ReadinessChecks& readiness,
                     OpsServerOptions options)
    : state_(std::make_shared<State>(std::move(ex), metrics, readiness, std::move(options))) {}

OpsServer::~OpsServer() {
  stop();
}

std::optional<std::string> OpsServer::start() {
  std::string error;
  auto endpoint = parse_listen_address(state_->options.listen, &error);
  if (!endpoint) return fmt::format("ops listen address '{}': {}", state_->options.listen, error);
  boost::system::error_code ec;
  auto& a = state_->acceptor;
  a.open(endpoint->protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(*endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (!ec) {
    state_->stopped = false;
    net::co_spawn(state_->ex, accept_loop(state_), net::detached);
    return std::nullopt;
  }
  boost::system::error_code ignored;
  a.close(ignored);
  return fmt::format("ops server cannot listen on {}: {}", state_->options.listen, ec.message());
}

tcp::endpoint OpsServer::local_endpoint() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

void OpsServer::stop() {
  net::dispatch(state_->ex, [s = state_] {
    if (s->stopped) return;
    s->stopped = true;
    boost::system::error_code ignored;
    s->acceptor.close(ignored);
    // Closing cancels the pending read or write; each session then removes itself.
    for (beast::tcp_stream* c : s->connections)
      c->socket().close(ignored);
  });
}

}  // namespace og::daemon
