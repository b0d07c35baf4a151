// bench/okta_rate: how much of an Okta bucket's per-minute budget the transport turns into completed actions,
// and how many 429s it provokes doing so. The emulator limits the lifecycle bucket to R requests a minute (fixed
// windows, as Okta does); a backlog of suspend actions is kept queued for the whole run. Successes are counted per
// window (by the X-Rate-Limit-Reset they carry) over complete windows only: a fixed window lets any client burst
// at its edges, so a wall-clock count across a window boundary would flatter the figure.
//
// Usage: okta_rate [R per minute = 600] [windows = 1] [max_connections = 4]

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>

#include "okta_client/auth.h"
#include "okta_client/transport.h"
#include "tests/okta_emulator/emulator_process.h"

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int rate = argc > 1 ? std::atoi(argv[1]) : 600;
  const int windows = argc > 2 ? std::atoi(argv[2]) : 1;
  const int connections = argc > 3 ? std::atoi(argv[3]) : 4;
  const int users = rate * (windows + 1) + 100;  // enough to never suspend the same user twice

  std::string seed = R"({"users":[)";
  for (int i = 0; i < users; ++i) {
    seed += fmt::format(R"({}{{"id":"00ubench{:06}","profile":{{"login":"u{}@example.com"}}}})", i ? "," : "", i, i);
  }
  seed += "]}";
  og::test::EmulatorProcess emulator({.seed = {},
                                      .tls_cert = {},
                                      .tls_key = {},
                                      .extra_args = {"--rate-limit", fmt::format("users-lifecycle={}", rate)}});
  if (auto [status, body] = emulator.post("/__emulator/seed", seed); status != 200) {
    fmt::print(stderr, "seeding failed: {} {}\n", status, body);
    return 1;
  }

  net::io_context io;
  auto guard = net::make_work_guard(io);
  og::okta::TransportConfig config;
  config.org_url = emulator.base_url();
  config.max_connections = static_cast<std::size_t>(connections);
  auto transport =
      og::okta::Transport::create(io, config, std::make_shared<og::okta::SswsAuthenticator>(emulator.token()));
  if (!transport) {
    fmt::print(stderr, "{}\n", transport.error());
    return 1;
  }

  int next_user = 0;
  int outstanding = 0;
  bool done = false;
  std::uint64_t failed = 0, shut_down = 0;
  std::map<unsigned, std::uint64_t> statuses;
  std::map<std::string, std::uint64_t> ok_per_window;  // X-Rate-Limit-Reset -> 200s
  const int backlog = 64;
  const auto started = Clock::now();

  std::function<void()> top_up = [&] {
    while (outstanding < backlog && !done && next_user < users) {
      og::okta::Request r;
      r.method = og::okta::http::verb::post;
      r.target = fmt::format("/api/v1/users/00ubench{:06}/lifecycle/suspend", next_user++);
      r.priority = og::okta::Priority::enforcement;
      r.idempotent = false;
      ++outstanding;
      (*transport)->send(std::move(r), [&](boost::system::result<og::okta::Response, og::okta::TransportFailure> res) {
        --outstanding;
        if (res) {
          ++statuses[res->status];
          if (res->status == 200) {
            ++ok_per_window[std::string(res->header("x-rate-limit-reset").value_or("?"))];
            // Stop once the window after the last complete one has begun.
            if (ok_per_window.size() > static_cast<std::size_t>(windows)) done = true;
          }
        } else if (res.error().error == og::okta::TransportError::shutting_down) {
          ++shut_down;
        } else {
          ++failed;
          fmt::print(stderr, "failure: {} {}\n", og::okta::to_string(res.error().error), res.error().detail);
        }
        top_up();
      });
    }
  };
  top_up();
  const auto deadline = started + std::chrono::seconds(60 * windows + 30);
  while (!done && Clock::now() < deadline)
    io.run_for(std::chrono::milliseconds(100));
  const auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  const auto stats = (*transport)->stats();
  (*transport)->shutdown();
  io.run_for(std::chrono::milliseconds(500));

  std::uint64_t complete = 0;
  int counted = 0;
  fmt::print("per window (reset epoch: 200s):");
  for (const auto& [reset, n] : ok_per_window) {
    fmt::print(" {}:{}", reset, n);
    if (counted < windows) {
      complete += n;
      ++counted;
    }
  }
  fmt::print("   run {:.1f} s\n", elapsed);
  const double achieved = counted == windows ? static_cast<double>(complete) / windows : 0.0;
  fmt::print("okta_rate: R = {} requests/min (emulator users-lifecycle bucket), {} window(s) of 60 s, {} connections\n",
             rate, windows, connections);
  fmt::print("  achieved   {:.0f} suspends/min = {:.1f}% of R\n", achieved, 100.0 * achieved / rate);
  fmt::print(
      "  429s       {} of {} attempts = {:.2f}% (concurrency 429s {})\n", stats.responses_429, stats.attempts,
      stats.attempts ? 100.0 * static_cast<double>(stats.responses_429) / static_cast<double>(stats.attempts) : 0.0,
      stats.concurrency_429);
  fmt::print("  failures   {} (+{} queued at shutdown)   statuses:", failed, shut_down);
  for (auto& [s, n] : statuses)
    fmt::print(" {}x{}", n, s);
  fmt::print("\n");
  for (const auto& l : stats.latency) {
    fmt::print("  latency    {}: n={} mean={:.1f} ms max={:.1f} ms (waits for the budget included)\n",
               og::okta::to_string(l.bucket), l.count,
               l.count ? static_cast<double>(l.total.count()) / static_cast<double>(l.count) / 1000.0 : 0.0,
               static_cast<double>(l.max.count()) / 1000.0);
  }
  const bool pass = achieved >= 0.95 * rate && stats.responses_429 * 100 < stats.attempts;
  fmt::print("  target     >= 95% of R and < 1% 429s: {}\n", pass ? "met" : "NOT met");
  return pass ? 0 : 2;
}
