#include "daemon/ops_server.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/metrics.h"
#include "daemon/reachability.h"

namespace og::test {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using og::daemon::OpsServer;
using og::daemon::OpsServerOptions;
using og::daemon::ReadinessChecks;
using og::daemon::Registry;

// The server on its own io_context thread, as on the daemon's control thread.
class OpsServerTest : public ::testing::Test {
 protected:
  void start(OpsServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    server_ = std::make_unique<OpsServer>(io_.get_executor(), registry_, checks_, std::move(o));
    auto err = server_->start();
    ASSERT_FALSE(err) << *err;
    port_ = server_->local_endpoint().port();
    ASSERT_NE(port_, 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) {
      // stop() closed everything; the io_context runs out of work by itself.
      thread_.join();
    }
    server_.reset();
  }

  tcp::socket connect() {
    tcp::socket s(client_io_);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    return s;
  }
  http::response<http::string_body> request(tcp::socket& s, http::verb verb, std::string target,
                                            bool keep_alive = true) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "localhost");
    req.keep_alive(keep_alive);
    http::write(s, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.skip(verb == http::verb::head);  // a HEAD response announces a length but has no body
    http::read(s, buf, parser);
    return parser.release();
  }
  http::response<http::string_body> get(std::string target) {
    tcp::socket s = connect();
    return request(s, http::verb::get, std::move(target), false);
  }
  // Reads until the server closes; returns the bytes received.
  static std::string read_to_close(tcp::socket& s, boost::system::error_code& ec) {
    std::string data;
    char buf[1024];
    for (;;) {
      std::size_t n = s.read_some(net::buffer(buf), ec);
      data.append(buf, n);
      if (ec) return data;
    }
  }

  net::io_context io_;
  net::io_context client_io_;
  Registry registry_;
  ReadinessChecks checks_;
  std::unique_ptr<OpsServer> server_;
  std::thread thread_;
  unsigned short port_ = 0;
};

TEST_F(OpsServerTest, MetricsServesTheRegistryInTextFormat) {
  registry_.counter("og_events_total", "Events.", {"source"}).with({"okta"}).inc(5);
  start();
  auto res = get("/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res.body(), registry_.expose());
  EXPECT_NE(res.body().find("og_events_total{source=\"okta\"} 5\n"), std::string::npos);
}

TEST_F(OpsServerTest, ReadinessListsEveryCheckAndIsReadyOnlyWhenAllPass) {
  start();
  auto empty = get("/readyz");
  EXPECT_EQ(empty.result(), http::status::service_unavailable) << "no checks yet means still starting";
  EXPECT_EQ(empty.body(), "{\"ready\":false,\"checks\":[]}\n");

  bool okta_ok = false;
  checks_.set("rules", true);
  checks_.set("kafka", false, "0 of 3 partitions assigned");
  checks_.add("okta", [&] { return og::daemon::CheckResult{okta_ok, okta_ok ? "" : "GET /api/v1/org: \"timeout\""}; });
  auto res = get("/readyz");
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res.body(),
            "{\"ready\":false,\"checks\":["
            "{\"name\":\"kafka\",\"ok\":false,\"reason\":\"0 of 3 partitions assigned\"},"
            "{\"name\":\"okta\",\"ok\":false,\"reason\":\"GET /api/v1/org: \\\"timeout\\\"\"},"
            "{\"name\":\"rules\",\"ok\":true,\"reason\":\"\"}]}\n");

  checks_.set("kafka", true);
  okta_ok = true;
  auto ready = get("/readyz");
  EXPECT_EQ(ready.result(), http::status::ok);
  EXPECT_NE(ready.body().find("{\"ready\":true,"), std::string::npos) << ready.body();
}

TEST_F(OpsServerTest, HealthzReflectsLiveness) {
  bool alive = true;
  OpsServerOptions o;
  o.liveness = [&] { return og::daemon::CheckResult{alive, alive ? "" : "control loop stalled"}; };
  start(std::move(o));
  auto ok = get("/healthz");
  EXPECT_EQ(ok.result(), http::status::ok);
  EXPECT_EQ(ok.body(), "{\"ok\":true,\"reason\":\"\"}\n");
  alive = false;
  auto bad = get("/healthz?verbose=1");
  EXPECT_EQ(bad.result(), http::status::service_unavailable);
  EXPECT_EQ(bad.body(), "{\"ok\":false,\"reason\":\"control loop stalled\"}\n");
}

TEST_F(OpsServerTest, UnknownPathsAre404AndOtherMethods405) {
  start();
  EXPECT_EQ(get("/").result(), http::status::not_found);
  EXPECT_EQ(get("/metrics/x").result(), http::status::not_found);
  tcp::socket s = connect();
  auto res = request(s, http::verb::post, "/metrics");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "GET, HEAD");
  auto del = request(s, http::verb::delete_, "/readyz", false);
  EXPECT_EQ(del.result(), http::status::method_not_allowed);
}

TEST_F(OpsServerTest, HeadAnnouncesTheLengthWithoutABody) {
  registry_.counter("og_x_total", "x");
  start();
  tcp::socket s = connect();
  auto head = request(s, http::verb::head, "/metrics");
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_EQ(head[http::field::content_length], std::to_string(registry_.expose().size()));
  EXPECT_TRUE(head.body().empty());
  // The connection is still in sync: the next response parses.
  auto next = request(s, http::verb::get, "/metrics", false);
  EXPECT_EQ(next.body(), registry_.expose());
}

TEST_F(OpsServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  OpsServerOptions o;
  o.max_requests_per_connection = 3;
  start(std::move(o));
  tcp::socket s = connect();
  for (int i = 0; i < 3; ++i) {
    auto res = request(s, http::verb::get, "/healthz");
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res.keep_alive(), i < 2) << "the last allowed request is answered with Connection: close";
  }
  boost::system::error_code ec;
  read_to_close(s, ec);
  EXPECT_EQ(ec, net::error::eof);
}

TEST_F(OpsServerTest, OversizedHeadersAndBodiesAreRefused) {
  OpsServerOptions o;
  o.max_header_bytes = 1024;
  o.max_body_bytes = 16;
  start(std::move(o));
  {
    tcp::socket s = connect();
    std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n";
    net::write(s, net::buffer(req));
    boost::system::error_code ec;
    std::string reply = read_to_close(s, ec);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 431 ")) << reply;
    EXPECT_EQ(ec, net::error::eof);
  }
  {
    tcp::socket s = connect();
    std::string req = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b');
    net::write(s, net::buffer(req));
    boost::system::error_code ec;
    std::string reply = read_to_close(s, ec);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 413 ")) << reply;
  }
  {
    tcp::socket s = connect();
    net::write(s, net::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")));
    boost::system::error_code ec;
    std::string reply = read_to_close(s, ec);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400 ")) << reply;
  }
}

TEST_F(OpsServerTest, IdleAndSlowConnectionsAreClosedAfterTheReadTimeout) {
  OpsServerOptions o;
  o.read_timeout = 300ms;
  start(std::move(o));
  tcp::socket idle = connect();
  tcp::socket slow = connect();
  net::write(slow, net::buffer(std::string("GET /metrics HTTP/1.1\r\nHo")));  // never finishes
  auto t0 = std::chrono::steady_clock::now();
  boost::system::error_code ec1, ec2;
  std::string got1 = read_to_close(idle, ec1);
  std::string got2 = read_to_close(slow, ec2);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(got1.empty());
  EXPECT_TRUE(got2.empty());
  EXPECT_TRUE(ec1 == net::error::eof || ec1 == net::error::connection_reset) << ec1.message();
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
}

TEST_F(OpsServerTest, ConnectionsBeyondTheLimitGet503) {
  OpsServerOptions o;
  o.max_connections = 1;
  start(std::move(o));
  tcp::socket first = connect();
  EXPECT_EQ(request(first, http::verb::get, "/healthz").result(), http::status::ok);  // now surely accepted
  tcp::socket second = connect();
  boost::system::error_code ec;
  std::string reply = read_to_close(second, ec);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 503 ")) << reply;
  EXPECT_EQ(request(first, http::verb::get, "/healthz", false).result(), http::status::ok);
}

TEST_F(OpsServerTest, StopClosesOpenConnectionsAndTheListener) {
  start();
  tcp::socket s = connect();
  EXPECT_EQ(request(s, http::verb::get, "/healthz").result(), http::status::ok);
  server_->stop();
  boost::system::error_code ec;
  read_to_close(s, ec);
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  thread_.join();  // nothing left to do: the io_context returns
  tcp::socket again(client_io_);
  again.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  EXPECT_EQ(ec, net::error::connection_refused);
}

// A service that did not answer at startup becomes "ready" once it answers a later probe, and one that
// stops answering becomes "not ready": probes start when readiness is asked for and are due.
TEST(Reachability, ProbesAgainWhenAskedAndDueOneAtATime) {
  using og::daemon::Reachability;
  using Clock = Reachability::Clock;
  std::vector<std::function<void(bool)>> pending;
  Reachability r([&](std::function<void(bool)> done) { pending.push_back(std::move(done)); }, "the Okta org", 10s, 60s);
  Clock::time_point t0 = Clock::now();
  auto first = r.check(t0);
  EXPECT_FALSE(first.ok);
  EXPECT_EQ(first.reason, "no answer from the Okta org yet");
  ASSERT_EQ(pending.size(), 1u);
  r.check(t0 + 30s);
  EXPECT_EQ(pending.size(), 1u) << "one probe at a time";
  pending[0](false);  // the network was not up yet
  auto down = r.check(t0 + 31s);
  EXPECT_FALSE(down.ok);
  EXPECT_EQ(down.reason, "the Okta org did not answer the last probe");
  ASSERT_EQ(pending.size(), 2u) << "a failed probe is retried once retry_after has passed";
  r.check(t0 + 35s);
  EXPECT_EQ(pending.size(), 2u);
  pending[1](true);
  EXPECT_TRUE(r.check(t0 + 36s).ok);
  EXPECT_EQ(pending.size(), 2u) << "an answer is trusted for recheck_after";
  EXPECT_TRUE(r.check(t0 + 31s + 60s).ok);
  ASSERT_EQ(pending.size(), 3u);
  pending[2](false);  // the org stopped answering
  EXPECT_FALSE(r.check(t0 + 92s).ok);
}

// The probe's answer may come after the check's owner is gone (the client fails pending requests at
// shutdown); it must not touch freed memory.
TEST(Reachability, AnAnswerAfterDestructionIsHarmless) {
  std::function<void(bool)> late;
  {
    og::daemon::Reachability r([&](std::function<void(bool)> done) { late = std::move(done); }, "the Okta org", 10s,
                               60s);
    r.check(og::daemon::Reachability::Clock::now());
  }
  ASSERT_TRUE(late);
  late(true);
}

TEST(OpsServerConfig, ListenAddressesAreIpLiteralsAndLoopbackByDefault) {
  using og::daemon::parse_listen_address;
  auto def = parse_listen_address(OpsServerOptions{}.listen);
  ASSERT_TRUE(def);
  EXPECT_TRUE(def->address().is_loopback());
  auto v6 = parse_listen_address("[::1]:9464");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->address().is_v6());
  EXPECT_EQ(v6->port(), 9464);
  std::string err;
  EXPECT_FALSE(parse_listen_address("localhost:9464", &err));
  EXPECT_NE(err.find("not an IP address"), std::string::npos);
  EXPECT_FALSE(parse_listen_address("127.0.0.1", &err));
  EXPECT_FALSE(parse_listen_address("127.0.0.1:65536", &err));
  EXPECT_FALSE(parse_listen_address("::1:9464", &err));
  EXPECT_NE(err.find("brackets"), std::string::npos);
}

TEST(OpsServerConfig, StartReportsBindFailures) {
  net::io_context io;
  Registry r;
  ReadinessChecks c;
  OpsServerOptions any_port;
  any_port.listen = "127.0.0.1:0";
  OpsServer first(io.get_executor(), r, c, any_port);
  ASSERT_FALSE(first.start());
  OpsServerOptions o;
  o.listen = "127.0.0.1:" + std::to_string(first.local_endpoint().port());
  OpsServer second(io.get_executor(), r, c, o);
  auto err = second.start();
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("cannot listen on 127.0.0.1:"), std::string::npos) << *err;
  OpsServerOptions nowhere;
  nowhere.listen = "nowhere";
  OpsServer bad(io.get_executor(), r, c, nowhere);
  ASSERT_TRUE(bad.start());
  first.stop();
  io.run();
}

}  // namespace
}  // namespace og::test
