// 10,000 identity resolutions with a 90% cache-hit mix: 1,000 distinct logins, each asked for ten
// times in shuffled order. Okta is simulated by a SendFn that answers after a fixed delay on the
// io_context (no sockets), so the figures measure the resolver: requests sent, and latency p50/p99
// from resolve() to the callback for hits and misses.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "okta_client/identity.h"

int main() {
  using Clock = std::chrono::steady_clock;
  constexpr int kNames = 1000;
  constexpr int kRepeats = 10;
  constexpr auto kOktaLatency = std::chrono::milliseconds(2);

  boost::asio::io_context io;
  std::uint64_t sent = 0;
  auto send = [&](og::okta::Request req, og::okta::ResponseHandler h) {
    ++sent;
    auto timer = std::make_shared<boost::asio::steady_timer>(io, kOktaLatency);
    const auto login = req.target.substr(req.target.rfind('/') + 1);
    timer->async_wait([timer, h = std::move(h), login](boost::system::error_code) {
      og::okta::Response r;
      r.status = 200;
      r.body = fmt::format(R"({{"id":"00u{:017}","status":"ACTIVE","profile":{{"login":"{}"}}}})",
                           std::hash<std::string>{}(login) % 100000000000000000ull,
                           login.substr(0, login.find('%')) + "@example.com");
      h(std::move(r));
    });
  };
  og::okta::IdentityOptions options;
  og::okta::IdentityResolver resolver(io, send, options);

  std::vector<int> order;
  for (int i = 0; i < kNames * kRepeats; ++i)
    order.push_back(i % kNames);
  std::mt19937 rng(42);
  std::shuffle(order.begin(), order.end(), rng);

  std::vector<double> hit_us, miss_us;
  std::size_t failures = 0;
  const auto start = Clock::now();
  // Events arrive in bursts of 100; the resolver never blocks the caller, so a burst is submitted
  // at once and the io_context then answers what needed Okta.
  for (std::size_t i = 0; i < order.size(); i += 100) {
    for (std::size_t j = i; j < std::min(order.size(), i + 100); ++j) {
      const auto t0 = Clock::now();
      bool immediate = true;
      bool* flag = &immediate;
      resolver.resolve(fmt::format("user{}@example.com", order[j]), [&, t0, flag](auto r) {
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        if (!r) ++failures;
        (flag && *flag ? hit_us : miss_us).push_back(us);
      });
      immediate = false;
      flag = nullptr;
    }
    io.restart();
    io.run();
  }
  const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();

  auto pct = [](std::vector<double> v, double p) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
  };
  const auto st = resolver.stats();
  fmt::print("okta_lookup: {} resolutions of {} names, simulated Okta latency {} ms\n", order.size(), kNames,
             kOktaLatency.count());
  fmt::print("  requests sent      {}  (baseline without cache/coalescing: {})\n", sent, order.size());
  fmt::print("  answered in memory {}  p50 {:.2f} us  p99 {:.2f} us\n", hit_us.size(), pct(hit_us, 0.5),
             pct(hit_us, 0.99));
  fmt::print("  answered by lookup {}  p50 {:.0f} us  p99 {:.0f} us  (coalesced {})\n", miss_us.size(),
             pct(miss_us, 0.5), pct(miss_us, 0.99), st.coalesced);
  fmt::print("  failures {}  total {:.1f} ms\n", failures, total_ms);
  return failures == 0 && sent == kNames ? 0 : 1;
}
