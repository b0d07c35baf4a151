// bench/correlate: correlation throughput on pre-parsed events, and memory per idle tracked user.
//
// Input: a pool of synthetic Okta events over U distinct users (default 100,000): successful and
// failed sign-ins with geolocation, country and browser, MFA push denials and approvals, MFA factor
// changes, password resets, and events no rule looks at. The pool is replayed with shifted event
// times until E events (default 4,000,000) have been applied. Rules: the shipped pack rules/ (what
// the daemon runs; OG_BENCH_RULES=<dir> to measure another, e.g. tests/data/rules/pack).
//
// Reports, in the same run:
//   baseline     a loop that reads each event's type and actor (the floor of any per-event work)
//   copy         a loop that copies each event into a shared one and frees it: what push and the
//                engine rows include and the daemon does not (it moves the parser's event)
// Times are CPU time (the machine is shared).
//   apply        Shard::apply, input already in event-time order, one core
//   push         Shard::push through the reorder buffer (2 min lateness), one core
//   engine/1,2   Engine with 1 and 2 shard threads (push copies each event: the copy is included;
//                the shard threads hand each event back to the routing thread, which frees it)
//   idle memory  live heap bytes per tracked user once every window has expired: glibc's count of
//                bytes in use (mallinfo2), chunk headers included, taken while only this thread runs.
//                A counting operator new would be exact too, but its bookkeeping on every allocation
//                slowed the timed runs by several percent.
// Memory pages: as the daemon's systemd unit, malloc gets huge pages (GLIBC_TUNABLES=
// glibc.malloc.hugetlb=1; the bench starts itself again with it). OG_BENCH_SMALL_PAGES=1 measures
// without (4 KiB pages unless transparent huge pages are "always"); an explicit GLIBC_TUNABLES is kept
// as given, and so is the environment under valgrind.
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "correlator/engine.h"
#include "correlator/rule_set.h"

namespace {

// Heap bytes in use, arena and mmapped chunks (valid while no other thread allocates).
std::int64_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<std::int64_t>(mi.uordblks + mi.hblkhd);
}

using namespace og::correlator;
using Clock = std::chrono::steady_clock;

struct Pool {
  std::vector<Event> events;
  Duration span{0};
};

Pool make_pool(std::size_t users, std::size_t n) {
  std::mt19937_64 rng(42);
  struct Place {
    const char* country;
    double lat, lon;
  };
  const Place places[] = {{"United States", 40.71, -74.0},
                          {"Brazil", -23.55, -46.63},
                          {"Japan", 35.68, 139.69},
                          {"Germany", 52.52, 13.40},
                          {"India", 19.07, 72.87}};
  const char* browsers[] = {"CHROME", "FIREFOX", "SAFARI", "EDGE"};
  Symbol okta = Symbol::intern("okta");
  Symbol user_type = Symbol::intern("User");
  Symbol start = Symbol::intern("user.session.start"), deny = Symbol::intern("user.mfa.okta_verify.deny_push"),
         mfa = Symbol::intern("user.authentication.auth_via_mfa"), deact = Symbol::intern("user.mfa.factor.deactivate"),
         act = Symbol::intern("user.mfa.factor.activate"), reset = Symbol::intern("user.account.reset_password"),
         noise1 = Symbol::intern("policy.evaluate_sign_on"),
         noise2 = Symbol::intern("app.oauth2.token.grant.access_token");
  Symbol success = Symbol::intern("SUCCESS"), failure = Symbol::intern("FAILURE");
  Pool pool;
  pool.events.reserve(n);
  const auto t0 = EventTime(std::chrono::milliseconds(1'704'067'200'000LL));
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t u = rng() % users;
    Event e;
    e.uuid = "bench-" + std::to_string(i);
    e.published = t0 + std::chrono::milliseconds(i * 2);
    e.time_from_payload = true;
    e.source = okta;
    e.actor.id = "00u" + std::to_string(1'000'000 + u);
    e.actor.type = user_type;
    e.actor.alternate_id = "user" + std::to_string(u) + "@example.com";
    // Each user has a home place and browser; a few events come from elsewhere.
    const Place& home = places[u % 5];
    const Place& p = (rng() % 50 == 0) ? places[rng() % 5] : home;
    e.geo.country = Symbol::intern(p.country);
    e.geo.lat = p.lat;
    e.geo.lon = p.lon;
    e.user_agent_browser = Symbol::intern(browsers[(rng() % 20 == 0) ? rng() % 4 : u % 4]);
    e.client_ip = "198.51." + std::to_string((u >> 8) % 256) + "." + std::to_string(u % 256);
    unsigned k = static_cast<unsigned>(rng() % 100);
    if (k < 45) {
      e.event_type = start;
      e.outcome_result = success;
    } else if (k < 60) {
      e.event_type = start;
      e.outcome_result = failure;
      if (rng() % 10 == 0) e.client_ip = "203.0.113." + std::to_string(rng() % 8);  // sprayers
    } else if (k < 65) {
      e.event_type = deny;
    } else if (k < 70) {
      e.event_type = mfa;
      e.outcome_result = success;
    } else if (k < 72) {
      e.event_type = rng() % 2 ? deact : act;
    } else if (k < 74) {
      e.event_type = reset;
    } else {
      e.event_type = rng() % 2 ? noise1 : noise2;
    }
    pool.events.push_back(std::move(e));
  }
  pool.span = std::chrono::milliseconds(n * 2);
  return pool;
}

// CPU time of the calling thread (or of the process): the machine is shared, wall time is not ours.
double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Result {
  double seconds = 0;
  std::size_t events = 0;
  double rate() const { return static_cast<double>(events) / seconds; }
};

template <typename F>
Result replay(Pool& pool, std::size_t total, F&& f) {
  Result r;
  double start = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  for (std::size_t round = 0; r.events < total; ++round) {
    Duration shift = pool.span * static_cast<long>(round);
    for (Event& e : pool.events) {
      if (r.events == total) break;
      EventTime original = e.published;
      e.published += shift;
      f(e);
      e.published = original;
      ++r.events;
    }
  }
  r.seconds = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - start;
  return r;
}

}  // namespace

// Transparent huge pages backing this process's heap, in MB (0 when the kernel gives none).
double anon_huge_mb() {
  std::FILE* f = std::fopen("/proc/self/smaps_rollup", "r");
  if (!f) return 0;
  char line[256];
  double kb = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "AnonHugePages: %lf kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb / 1024;
}

int main(int argc, char** argv) {
  // GLIBC_TUNABLES is read when the process starts: set it, then start again. Not under valgrind,
  // where /proc/self/exe is the tool and a child would run unprofiled.
  const char* preload = std::getenv("LD_PRELOAD");
  bool under_valgrind = preload && std::strstr(preload, "vgpreload");
  if (!std::getenv("GLIBC_TUNABLES") && !under_valgrind) {
    setenv("GLIBC_TUNABLES", std::getenv("OG_BENCH_SMALL_PAGES") ? "glibc.malloc.hugetlb=0" : "glibc.malloc.hugetlb=1",
           1);
    execv("/proc/self/exe", argv);
    std::perror("bench/correlate: execv /proc/self/exe (measuring as started)");
  }
  std::size_t users = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100'000;
  std::size_t total = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 4'000'000;
  std::size_t pool_size = std::min<std::size_t>(total, 1'000'000);
  const char* rules_dir = std::getenv("OG_BENCH_RULES");
  LoadResult loaded =
      load_rules({rules_dir ? std::filesystem::path(rules_dir) : std::filesystem::path(OG_SOURCE_DIR) / "rules"});
  if (!loaded.ok()) {
    std::fputs(render_text(loaded.diagnostics).c_str(), stderr);
    return 1;
  }
  auto rules = loaded.rules;
  std::printf("rules: %zu detections, %zu responses; users %zu; events %zu (pool %zu); GLIBC_TUNABLES=%s\n",
              rules->detections.size(), rules->responses.size(), users, total, pool_size,
              std::getenv("GLIBC_TUNABLES") ? std::getenv("GLIBC_TUNABLES") : "");
  Pool pool = make_pool(users, pool_size);

  std::uint64_t sink = 0;
  Result base = replay(pool, total, [&](const Event& e) { sink += e.event_type.hash() ^ e.actor.id.size(); });
  std::printf("baseline     %8.2f M events/s  (%.3f s)\n", base.rate() / 1e6, base.seconds);
  // What push and the engine rows pay to copy the pool's event into a shared one, as Engine::push
  // does: the daemon moves the parser's event instead, so this is the replay's cost, not the daemon's.
  Result copy = replay(pool, total, [&](const Event& e) {
    auto shared = std::make_shared<const Event>(e);
    sink += shared->uuid.size();
  });
  std::printf("copy         %8.2f M events/s  (%.3f s)  each event copied into a shared one, then freed\n",
              copy.rate() / 1e6, copy.seconds);

  std::int64_t before = heap_in_use();
  std::size_t detections = 0, decisions = 0;
  {
    Shard shard(rules);
    Result r = replay(pool, total, [&](const Event& e) {
      shard.apply(e);
      if (shard.detections().size() > 4096) detections += shard.take_detections().size();
      if (shard.decisions().size() > 4096) decisions += shard.take_decisions().size();
    });
    detections += shard.take_detections().size();
    decisions += shard.take_decisions().size();
    ShardMetrics m = shard.metrics();
    std::printf("apply        %8.2f M events/s  (%.3f s)  detections %zu decisions %zu  candidates/event %.2f\n",
                r.rate() / 1e6, r.seconds, detections, decisions,
                static_cast<double>(m.candidate_evaluations) / static_cast<double>(m.events));
    std::int64_t busy = heap_in_use() - before;
    std::printf("             live state after the run: %zu keys, %zu users with risk, %.1f MB; huge pages %.0f MB\n",
                m.tracked_keys, m.tracked_users, static_cast<double>(busy) / 1e6, anon_huge_mb());
    // Idle: two days later every window, absence and cooldown has expired; what remains per user is
    // the geo-velocity location, the first-seen sets and any residual risk.
    Event tick = pool.events.back();
    tick.event_type = Symbol::intern("bench.tick");
    tick.published += pool.span * static_cast<long>(total / pool_size + 1) + std::chrono::hours(48);
    shard.apply(tick);
    tick.published += std::chrono::minutes(2);
    shard.apply(tick);
    m = shard.metrics();
    std::int64_t idle = heap_in_use() - before;
    std::size_t tracked_users = std::min(users, total);
    std::printf(
        "idle +2d     %8.1f bytes per tracked user (%zu users, %zu keys, %zu users with residual risk, %.1f MB)\n",
        static_cast<double>(idle) / static_cast<double>(tracked_users), tracked_users, m.tracked_keys, m.tracked_users,
        static_cast<double>(idle) / 1e6);
    // Ten days on, residual risk has decayed away too (under 0.5 points): what is left is what an
    // idle user costs for as long as it is remembered (geo-velocity 30 d, first-seen 90 d).
    tick.published += std::chrono::hours(24 * 8);
    shard.apply(tick);
    tick.published += std::chrono::minutes(2);
    shard.apply(tick);
    m = shard.metrics();
    idle = heap_in_use() - before;
    std::printf(
        "idle +10d    %8.1f bytes per tracked user (%zu users, %zu keys, %zu users with residual risk, %.1f MB)\n",
        static_cast<double>(idle) / static_cast<double>(tracked_users), tracked_users, m.tracked_keys, m.tracked_users,
        static_cast<double>(idle) / 1e6);
  }
  // OG_BENCH_ONLY_APPLY=1 stops here (for profiling the shard alone).
  if (std::getenv("OG_BENCH_ONLY_APPLY")) return sink == 42 ? 1 : 0;
  {
    Shard shard(rules);
    std::size_t d = 0;
    Result r = replay(pool, total, [&](const Event& e) {
      shard.push(e, 0);
      if (shard.detections().size() > 4096) d += shard.take_detections().size();
      if (shard.decisions().size() > 4096) shard.take_decisions();
    });
    shard.flush();
    d += shard.take_detections().size();
    std::printf("push         %8.2f M events/s  (%.3f s)  detections %zu (reorder buffer, copy per event)\n",
                r.rate() / 1e6, r.seconds, d);
  }
  for (std::uint32_t n : {1u, 2u}) {
    EngineOptions options;
    options.shards = n;
    Engine engine(rules, options);
    // Process CPU time over the run (router + shard threads), and wall time, which on an idle
    // machine shows the scaling; on a loaded one it shows the load.
    double cpu0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    double router0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    auto t0 = Clock::now();
    Result r = replay(pool, total, [&](const Event& e) { engine.push(e, 0); });
    engine.flush();  // the work is done only when every shard has applied everything
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    double router = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - router0;
    r.seconds = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    std::printf("engine/%u     wall %.3f s: %.2f M events/s; routing thread %.3f CPU s, shard threads %.3f\n", n, wall,
                static_cast<double>(r.events) / wall / 1e6, router, r.seconds - router);
    std::size_t d = engine.take_detections().size();
    engine.take_decisions();
    std::printf("engine/%u     %8.2f M events/s per CPU-second (%.3f CPU s)  detections %zu\n", n, r.rate() / 1e6,
                r.seconds, d);
  }
  return sink == 42 ? 1 : 0;
}
