#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace og::daemon {

class Registry;

struct CheckResult {
  bool ok = false;
  std::string reason;  // why not ready; empty when ok
};

// Readiness is the conjunction of named checks that other parts register: "kafka" (partitions
// assigned), "rules" (loaded), "okta" (reachable). A part either pushes its state with set() or
// registers a function the server calls per request. Thread-safe.
class ReadinessChecks {
 public:
  void set(std::string name, bool ok, std::string reason = {});
  void add(std::string name, std::function<CheckResult()> check);  // called on the ops thread; keep it cheap
  void remove(std::string_view name);

  struct Item {
    std::string name;
    CheckResult result;
  };
  // Sorted by name. No checks at all means "not ready": a daemon that registered nothing yet is
  // still starting.
  std::vector<Item> evaluate() const;
  bool ready() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::function<CheckResult()>, std::less<>> checks_;
};

struct OpsServerOptions {
  std::string listen = "127.0.0.1:9464";  // loopback: metrics and readiness are not for the network
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 1024;              // no endpoint takes a body
  std::chrono::milliseconds read_timeout{10000};  // a whole request, and the idle time between requests
  std::chrono::milliseconds write_timeout{10000};
  std::size_t max_connections = 32;
  std::size_t max_requests_per_connection = 1000;
  // /healthz: the process is alive and its control loop answers; nullptr means always healthy.
  std::function<CheckResult()> liveness;
};

// "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464"; IP literals only (no DNS before the daemon runs).
std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view text, std::string* error = nullptr);

// Beast HTTP/1.1 server for /metrics, /healthz and /readyz on the executor it is given (the control
// thread's io_context). Everything it touches after start() runs on that executor.
class OpsServer {
 public:
  OpsServer(boost::asio::any_io_executor ex, const Registry& metrics, const ReadinessChecks& readiness,
            OpsServerOptions options = {});
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  // Binds and starts accepting; an error message (bad address, address in use) on failure. Call it
  // before the executor runs or on its thread.
  std::optional<std::string> start();
  boost::asio::ip::tcp::endpoint local_endpoint() const;  // the bound port when listen used port 0
  // Stops accepting and closes every connection. Safe from any thread; the registry and checks must
  // outlive the executor's completion of the closed operations.
  void stop();

  struct State;  // shared with the coroutines, so a connection outlives nothing it uses

 private:
  std::shared_ptr<State> state_;
};

}  // namespace og::daemon
