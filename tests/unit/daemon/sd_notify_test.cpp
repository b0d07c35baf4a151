#include "daemon/sd_notify.h"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace og::test {
namespace {

using namespace std::chrono_literals;
using og::daemon::SdNotifier;

// A real AF_UNIX datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = std::string(::testing::TempDir()) + "og-notify-" + std::to_string(::getpid());
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    EXPECT_LT(path_.size(), sizeof(addr.sun_path));
    path_.copy(addr.sun_path, path_.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{0, 200000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  // Next datagram, or "" after the receive timeout.
  std::string receive() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  std::vector<std::string> drain() {
    std::vector<std::string> out;
    for (std::string m = receive(); !m.empty(); m = receive())
      out.push_back(m);
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(SdNotify, WithoutNotifySocketEverythingIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  SdNotifier n;
  EXPECT_FALSE(n.active());
  EXPECT_FALSE(n.ready());
  EXPECT_FALSE(n.watchdog());
}

TEST(SdNotify, SendsTheProtocolMessages) {
  NotifySocket sock;
  SdNotifier n;
  ASSERT_TRUE(n.active());
  EXPECT_TRUE(n.ready("consuming 3 partitions"));
  EXPECT_EQ(sock.receive(), "READY=1\nSTATUS=consuming 3 partitions");
  EXPECT_TRUE(n.status("line one\nline two"));
  EXPECT_EQ(sock.receive(), "STATUS=line one line two");
  EXPECT_TRUE(n.reloading());
  std::string reload = sock.receive();
  EXPECT_TRUE(reload.starts_with("RELOADING=1\nMONOTONIC_USEC=")) << reload;
  EXPECT_GT(std::stoull(reload.substr(reload.find('=', 12) + 1)), 0u);
  EXPECT_TRUE(n.stopping("draining"));
  EXPECT_EQ(sock.receive(), "STOPPING=1\nSTATUS=draining");
  EXPECT_TRUE(n.watchdog());
  EXPECT_EQ(sock.receive(), "WATCHDOG=1");
  EXPECT_TRUE(n.extend_timeout(5s));
  EXPECT_EQ(sock.receive(), "EXTEND_TIMEOUT_USEC=5000000");
  EXPECT_TRUE(n.active()) << "NOTIFY_SOCKET stays set for later notifications";
}

TEST(SdNotify, WatchdogIntervalOnlyForThisProcess) {
  NotifySocket sock;
  SdNotifier n;
  EXPECT_FALSE(n.watchdog_interval());
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  ASSERT_TRUE(n.watchdog_interval());
  EXPECT_EQ(*n.watchdog_interval(), 3s);
  ::setenv("WATCHDOG_PID", "1", 1);  // meant for another process
  EXPECT_FALSE(n.watchdog_interval());
}

TEST(SdNotify, WatchdogTimerPingsAtHalfTheIntervalWhileHealthy) {
  NotifySocket sock;
  ::setenv("WATCHDOG_USEC", "200000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  SdNotifier n;
  boost::asio::io_context io;
  bool healthy = true;
  og::daemon::WatchdogTimer timer(io.get_executor(), n, [&] { return healthy; });
  auto period = timer.start();
  ASSERT_TRUE(period);
  EXPECT_EQ(*period, 100ms);
  io.run_for(450ms);  // an immediate ping, then one every 100 ms
  std::vector<std::string> pings = sock.drain();
  EXPECT_GE(pings.size(), 3u);
  EXPECT_LE(pings.size(), 6u);
  for (const auto& p : pings)
    EXPECT_EQ(p, "WATCHDOG=1");
  healthy = false;
  io.run_for(300ms);
  EXPECT_TRUE(sock.drain().empty()) << "an unhealthy daemon must let the watchdog fire";
  healthy = true;
  timer.stop();
  io.run_for(300ms);
  EXPECT_TRUE(sock.drain().empty()) << "no pings after stop";
}

TEST(SdNotify, WatchdogTimerDoesNotStartWithoutWatchdog) {
  NotifySocket sock;
  SdNotifier n;
  boost::asio::io_context io;
  og::daemon::WatchdogTimer timer(io.get_executor(), n);
  EXPECT_FALSE(timer.start());
  io.run_for(50ms);
  EXPECT_TRUE(sock.drain().empty());
}

}  // namespace
}  // namespace og::test
