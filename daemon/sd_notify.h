#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace og::daemon {

// The service manager protocol over libsystemd. Outside systemd (no NOTIFY_SOCKET) every call is a
// cheap no-op that returns false, so the daemon runs the same under a shell or a test.
class SdNotifier {
 public:
  SdNotifier() = default;

  bool active() const;  // NOTIFY_SOCKET is set
  bool ready(std::string_view status = {});
  bool status(std::string_view text);
  // systemd 253+ (Type=notify-reload) needs MONOTONIC_USEC with RELOADING=1; older ones ignore it.
  bool reloading(std::string_view status = {});
  bool stopping(std::string_view status = {});
  bool watchdog();
  // Ask for more time during a slow start or stop (EXTEND_TIMEOUT_USEC).
  bool extend_timeout(std::chrono::microseconds by);
  // WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID matches or is unset).
  std::optional<std::chrono::microseconds> watchdog_interval() const;

  // The raw assignment lines, e.g. "READY=1\nSTATUS=running"; newlines inside values are replaced.
  bool send(std::string_view state);
};

// Pings WATCHDOG=1 at half the interval systemd asked for, from the control thread's executor. The
// `healthy` predicate lets the daemon stop pinging when it is wedged (a shard stopped draining),
// so systemd restarts it instead of believing a timer that still fires.
class WatchdogTimer {
 public:
  WatchdogTimer(boost::asio::any_io_executor ex, SdNotifier& notifier, std::function<bool()> healthy = {});
  ~WatchdogTimer();
  WatchdogTimer(const WatchdogTimer&) = delete;
  WatchdogTimer& operator=(const WatchdogTimer&) = delete;

  // Starts when the watchdog is enabled for this process; returns the ping period, or nullopt.
  std::optional<std::chrono::microseconds> start();
  void stop();  // call on the executor's thread (or when it is not running)

  struct State;  // shared with the pending wait, so a late completion never touches a dead timer

 private:
  std::shared_ptr<State> state_;
};

// "STATUS=a b" from "a\nb": the protocol is newline-separated, so a value must stay on one line.
std::string sd_status_line(std::string_view key, std::string_view value);

}  // namespace og::daemon
