#include "tests/integration/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/okta_emulator/emulator_process.h"

extern char** environ;

namespace og::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

DaemonProcess::DaemonProcess(const std::filesystem::path& config, std::filesystem::path output)
    : output_(std::move(output)) {
  std::error_code ec;
  output_start_ = std::filesystem::exists(output_, ec) ? std::filesystem::file_size(output_, ec) : 0;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::string bin = OG_OKTAGUARD_BIN;
  std::string config_path = config.string();
  std::vector<char*> argv{bin.data(), const_cast<char*>("run"), const_cast<char*>("--config"), config_path.data(),
                          nullptr};
  int rc = posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn oktaguard: ") + std::strerror(rc));
}

DaemonProcess::~DaemonProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(milliseconds(10000));
  }
}

bool DaemonProcess::running() {
  if (status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

void DaemonProcess::signal(int signo) {
  if (running()) ::kill(pid_, signo);
}

std::optional<int> DaemonProcess::wait_exit(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return status_;
}

std::string DaemonProcess::output() const {
  return read_all(output_);
}

bool DaemonProcess::wait_output(std::string_view needle, milliseconds timeout, std::size_t from) const {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    std::string text = output();
    if (text.size() > from && text.find(needle, from) != std::string::npos) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

bool DaemonProcess::wait_ready(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  constexpr std::string_view kNeedle = R"("address":"127.0.0.1:)";
  while (port_ == 0) {
    std::string text = output();
    auto at = text.find(R"("msg":"ops listening")", output_start_);
    if (at != std::string::npos && (at = text.find(kNeedle, at)) != std::string::npos)
      port_ = static_cast<std::uint16_t>(std::atoi(text.c_str() + at + kNeedle.size()));
    else if (!running() || Clock::now() >= deadline)
      return false;
    else
      std::this_thread::sleep_for(milliseconds(50));
  }
  for (;;) {
    if (get("/readyz").first == 200) return true;
    if (!running() || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

std::pair<unsigned, std::string> DaemonProcess::get(std::string_view target) const {
  if (port_ == 0) return {0, {}};
  EmulatorProcess::Reply r = http_exchange(port_, false, "GET", target, {}, {}, 5000);
  return {r.status, r.body};
}

std::optional<double> metric_value(std::string_view text, std::string_view series) {
  std::size_t at = 0;
  while ((at = text.find(series, at)) != std::string_view::npos) {
    bool line_start = at == 0 || text[at - 1] == '\n';
    std::size_t end = at + series.size();
    if (line_start && end < text.size() && text[end] == ' ') {
      std::string value(text.substr(end + 1, text.find('\n', end) - end - 1));
      return std::strtod(value.c_str(), nullptr);
    }
    at = end;
  }
  return std::nullopt;
}

}  // namespace og::test
