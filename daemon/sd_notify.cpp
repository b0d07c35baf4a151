#include "daemon/sd_notify.h"

#include <fmt/core.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <ctime>

namespace og::daemon {

std::string sd_status_line(std::string_view key, std::string_view value) {
  std::string line(key);
  line += '=';
  for (char c : value)
    line += (c == '\n' || c == '\r') ? ' ' : c;
  return line;
}

bool SdNotifier::active() const {
  const char* s = std::getenv("NOTIFY_SOCKET");
  return s != nullptr && *s != '\0';
}

bool SdNotifier::send(std::string_view state) {
  if (!active()) return false;
  std::string text(state);
  // unset_environment=0: the watchdog timer and later notifications need NOTIFY_SOCKET again.
  return sd_notify(0, text.c_str()) > 0;
}

bool SdNotifier::ready(std::string_view status) {
  std::string msg = "READY=1";
  if (!status.empty()) msg += "\n" + sd_status_line("STATUS", status);
  return send(msg);
}

bool SdNotifier::status(std::string_view text) {
  return send(sd_status_line("STATUS", text));
}

bool SdNotifier::reloading(std::string_view status) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  auto usec =
      static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL + static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  std::string msg = fmt::format("RELOADING=1\nMONOTONIC_USEC={}", usec);
  if (!status.empty()) msg += "\n" + sd_status_line("STATUS", status);
  return send(msg);
}

bool SdNotifier::stopping(std::string_view status) {
  std::string msg = "STOPPING=1";
  if (!status.empty()) msg += "\n" + sd_status_line("STATUS", status);
  return send(msg);
}

bool SdNotifier::watchdog() {
  return send("WATCHDOG=1");
}

bool SdNotifier::extend_timeout(std::chrono::microseconds by) {
  return send(fmt::format("EXTEND_TIMEOUT_USEC={}", by.count()));
}

std::optional<std::chrono::microseconds> SdNotifier::watchdog_interval() const {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

struct WatchdogTimer::State {
  State(boost::asio::any_io_executor ex, SdNotifier& n, std::function<bool()> h)
      : timer(std::move(ex)), notifier(n), healthy(std::move(h)) {}
  boost::asio::steady_timer timer;
  SdNotifier& notifier;
  std::function<bool()> healthy;
  std::chrono::microseconds period{0};
  bool stopped = false;
};

namespace {
void arm(const std::shared_ptr<WatchdogTimer::State>& s);
}

WatchdogTimer::WatchdogTimer(boost::asio::any_io_executor ex, SdNotifier& notifier, std::function<bool()> healthy)
    : state_(std::make_shared<State>(std::move(ex), notifier, std::move(healthy))) {}

WatchdogTimer::~WatchdogTimer() {
  stop();
}

std::optional<std::chrono::microseconds> WatchdogTimer::start() {
  auto interval = state_->notifier.watchdog_interval();
  if (!interval) return std::nullopt;
  state_->period = *interval / 2;
  state_->stopped = false;
  state_->notifier.watchdog();  // the first ping right away: startup may have used much of the interval
  arm(state_);
  return state_->period;
}

void WatchdogTimer::stop() {
  state_->stopped = true;
  state_->timer.cancel();
}

namespace {
void arm(const std::shared_ptr<WatchdogTimer::State>& s) {
  s->timer.expires_after(s->period);
  s->timer.async_wait([s](const boost::system::error_code& ec) {
    if (ec || s->stopped) return;
    if (!s->healthy || s->healthy()) s->notifier.watchdog();
    arm(s);
  });
}
}  // namespace

}  // namespace og::daemon
