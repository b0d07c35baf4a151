#pragma once

// Runs the `oktaguard` binary as a child process for end-to-end tests: stdout and stderr go to a
// file, the ops address is read from the "ops listening" log line, and the ops endpoints are
// fetched over plain HTTP.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace og::test {

class DaemonProcess {
 public:
  // Spawns `oktaguard run --config CONFIG`; the output goes to `output` (appended).
  DaemonProcess(const std::filesystem::path& config, std::filesystem::path output);
  ~DaemonProcess();  // SIGKILL and reap when still running
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits for the ops address in the log and for /readyz to answer 200. False on timeout or exit.
  bool wait_ready(std::chrono::milliseconds timeout);
  std::uint16_t ops_port() const { return port_; }

  void signal(int signo);
  // The exit status (or 128 + signal number) once the process ended; nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();

  // GET on the ops server: {status, body}; status 0 when the request failed.
  std::pair<unsigned, std::string> get(std::string_view target) const;
  std::string metrics() const { return get("/metrics").second; }

  // Everything the process wrote so far (this run and any earlier run with the same output file).
  std::string output() const;
  // Polls the output for `needle` after byte `from` until `timeout`.
  bool wait_output(std::string_view needle, std::chrono::milliseconds timeout, std::size_t from = 0) const;

 private:
  std::filesystem::path output_;
  std::size_t output_start_ = 0;  // where this run's output begins
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::uint16_t port_ = 0;
};

// The value of one Prometheus series in a text exposition, e.g.
// metric_value(text, R"(oktaguard_events_total{source="okta",result="event"})"); nullopt if absent.
std::optional<double> metric_value(std::string_view text, std::string_view series);

}  // namespace og::test
