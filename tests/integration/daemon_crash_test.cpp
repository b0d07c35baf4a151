// Crash safety of the whole daemon against the Okta emulator over real sockets: `oktaguard run`
// consumes a scripted attack on 40 users from the real Kafka broker (over 200 actions, suspensions
// reverted after a few seconds) and is SIGKILLed at random points 20 times, restarted each time, then
// left to finish. The outcome must equal a run that was never interrupted: the same actions done
// exactly once in the journal, nothing left unfinished, every due revert performed, and the same end
// state in the org.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/journal.h"
#include "tests/okta_emulator/emulator_process.h"
#include "tests/okta_emulator/json.h"
#include "tests/support/kafka.h"

extern char** environ;

namespace og::test {
namespace {

namespace fs = std::filesystem;
using emulator::Json;
using Clock = std::chrono::steady_clock;

const fs::path kRepo = OG_SOURCE_DIR;
constexpr int kUsers = 40;
// One partition: the order events reach the correlator is then the same in every run, so the
// uninterrupted run is an exact oracle (across partitions, arrival interleaving may legitimately
// change which events count as late).
constexpr int kPartitions = 1;
constexpr int kCrashes = 20;

std::string user_id(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "00uCrashUser%08d", i);
  return buf;
}
std::string login(int i) {
  return "crash.user" + std::to_string(i) + "@example.com";
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    if (std::getenv("OG_KEEP_TEST_DIRS") == nullptr) fs::remove_all(path);
  }
};

void write(const fs::path& p, std::string_view text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The demo org's schema and step-up group, with the test's users.
std::string seed() {
  Json users = Json::array();
  for (int i = 0; i < kUsers; ++i) {
    Json profile = Json::object();
    profile.set("login", login(i));
    profile.set("email", login(i));
    profile.set("firstName", "Crash");
    profile.set("lastName", "User" + std::to_string(i));
    Json u = Json::object();
    u.set("id", user_id(i));
    u.set("status", "ACTIVE");
    u.set("profile", std::move(profile));
    u.set("sessions", 2);
    users.push_back(std::move(u));
  }
  Json group_profile = Json::object();
  group_profile.set("name", "oktaguard-step-up-mfa");
  group_profile.set("description", "Users oktaguard asks for step-up MFA");
  Json group = Json::object();
  group.set("id", "00gOktaguardStepUp01");
  group.set("type", "OKTA_GROUP");
  group.set("profile", std::move(group_profile));
  Json groups = Json::array();
  groups.push_back(std::move(group));
  Json schema = Json::object();
  schema.set("oktaguardRisk", "number");
  schema.set("oktaguardLastDetection", "string");
  Json s = Json::object();
  s.set("profileSchema", std::move(schema));
  s.set("users", std::move(users));
  s.set("groups", std::move(groups));
  return s.dump();
}

// examples/demo/events/takeover_then_admin_grant.ndjson (real sample shapes: a brute force that ends
// in a success, then the account grants a privilege) replayed once per user: fresh uuids, the user as
// actor, the next user as target, its own source address, and times shifted two minutes per user;
// the whole stream in time order.
std::vector<std::pair<std::string, std::string>> attack_events() {
  std::ifstream in(kRepo / "examples/demo/events/takeover_then_admin_grant.ndjson");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  EXPECT_EQ(lines.size(), 11u);
  std::vector<std::pair<std::string, std::string>> out;  // key, value
  for (int i = 0; i < kUsers; ++i) {
    for (std::size_t n = 0; n < lines.size(); ++n) {
      std::optional<Json> e = Json::parse(lines[n]);
      EXPECT_TRUE(e) << lines[n];
      if (!e) continue;
      char uuid[64];
      std::snprintf(uuid, sizeof uuid, "c0000000-0000-4000-8000-%06d%06zu", i, n);
      e->set("uuid", uuid);
      Json* actor = e->find("actor");
      actor->set("id", user_id(i));
      actor->set("alternateId", login(i));
      actor->set("displayName", "Crash User " + std::to_string(i));
      if (Json* targets = e->find("target"); targets && targets->is_array())
        for (Json& t : targets->as_array()) {
          t.set("id", user_id((i + 1) % kUsers));
          t.set("alternateId", login((i + 1) % kUsers));
        }
      if (Json* client = e->find("client")) {
        std::string ip = client->get_string("ipAddress");
        // One address per user and per original address, so the address-keyed rules see each attack alone.
        client->set("ipAddress", "10." + std::to_string(i) + ".0." + std::to_string(ip.size() + n));
      }
      // Shift `published` by i * 2 minutes: 2021-06-25T21:MM... / 2021-06-26T21:MM...
      std::string published = e->get_string("published");
      std::tm tm{};
      std::istringstream ts(published.substr(0, 19));
      ts >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
      std::time_t t = ::timegm(&tm) + i * 120;
      char buf[40];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
      e->set("published", std::string(buf) + ".490Z");
      out.emplace_back(user_id(i), e->dump());
    }
  }
  // In event-time order, as Okta's System Log is: the correlator sees no event later than its lateness.
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return Json::parse(a.second)->get_string("published") < Json::parse(b.second)->get_string("published");
  });
  return out;
}

class Daemon {
 public:
  Daemon(const fs::path& config, const fs::path& log) : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::string bin = OG_OKTAGUARD_BIN, cfg = config.string();
    std::vector<char*> argv{bin.data(), const_cast<char*>("run"), const_cast<char*>("--config"), cfg.data(), nullptr};
    offset_ = fs::exists(log) ? fs::file_size(log) : 0;
    int rc = ::posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0);
  }
  ~Daemon() {
    if (pid_ > 0) kill(SIGKILL);
  }

  // The ops port of this run, from its "ops listening" log line; 0 when it did not come up in time.
  std::uint16_t ops_port(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    static const std::regex re(R"re("msg":"ops listening".*"address":"127\.0\.0\.1:(\d+)")re");
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      std::string text = slurp(log_).substr(offset_);
      std::smatch m;
      if (std::regex_search(text, m, re)) return static_cast<std::uint16_t>(std::stoi(m[1]));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  // Sends `signo` and waits for the exit; the exit status, or -1 on timeout.
  int kill(int signo, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signo);
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  fs::path log_;
  std::uintmax_t offset_ = 0;
  pid_t pid_ = -1;
};

double metric(const std::string& exposition, const std::string& name) {
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

// One org, one topic, one state directory: a daemon's whole world.
struct World {
  TempDir dir{"og-crash"};
  TestPki pki = make_test_pki(dir.path);
  std::unique_ptr<EmulatorProcess> org;
  std::string bootstrap = kafka_bootstrap();
  std::string topic = unique_name("og-crash-okta");
  std::string group = unique_name("og-crash-group");
  fs::path state = dir.path / "state";
  fs::path config = dir.path / "oktaguard.yaml";
  fs::path log = dir.path / "daemon.log";
  std::vector<std::pair<std::string, std::string>> events;  // key, value
  std::size_t produced = 0;

  World() {
    write(dir.path / "seed.json", seed());
    org = std::make_unique<EmulatorProcess>(
        // Okta answers after 40 ms: the actions take seconds, so the kills land while they are sent.
        EmulatorOptions{.seed = dir.path / "seed.json",
                        .tls_cert = pki.cert,
                        .tls_key = pki.key,
                        .extra_args = {"--latency-ms", "40"}});
    fs::create_directories(state);
    write(dir.path / "okta-token", org->token());
    fs::permissions(dir.path / "okta-token", fs::perms::owner_read | fs::perms::owner_write);
    // The shipped rules, with suspensions reverted after 3 s instead of 4 h.
    fs::copy(kRepo / "rules", dir.path / "rules", fs::copy_options::recursive);
    std::string responses = slurp(dir.path / "rules/90-responses.yml");
    auto at = responses.find("suspend: { ttl: 4h }");
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) responses.replace(at, 20, "suspend: { ttl: 3s }");
    write(dir.path / "rules/90-responses.yml", responses);

    std::string c = "sources:\n  kafka:\n    brokers: [" + bootstrap + "]\n    group_id: " + group + "\n";
    // Static membership: a restarted daemon takes its partitions back without waiting for a rebalance.
    c += "    properties: { group.instance.id: oktaguard-crash-test, session.timeout.ms: '6000' }\n";
    c += "    topics:\n      - { topic: " + topic + ", source: okta, format: okta_system_log }\n";
    c += "okta:\n  org_url: " + org->base_url() + "\n  ca_file: " + pki.ca.string() +
         "\n  auth:\n    ssws:\n      token_file: " + (dir.path / "okta-token").string() + "\n";
    // One shard: risk a detection adds to a user another shard owns arrives at batch boundaries, and
    // batches differ between an interrupted and an uninterrupted run (docs/rules.md, "Shards").
    c += "rules:\n  paths: [" + (dir.path / "rules").string() + "]\n  shards: 1\n  allowed_lateness: 1s\n";
    c += "response:\n  dry_run: false\n  breaker: { max_actions: 10000, window: 5m }\n";
    c += "state_dir: " + state.string() + "\nops:\n  listen: 127.0.0.1:0\nlog:\n  level: info\n";
    write(config, c);

    create_topic(bootstrap, topic, kPartitions);
    events = attack_events();
  }

  // Produces events [produced, produced + count) (all that are left when count is larger).
  void produce_next(std::size_t count) {
    KafkaHandle producer = make_producer(bootstrap);
    for (std::size_t end = std::min(events.size(), produced + count); produced < end; ++produced)
      produce(producer.get(), topic, events[produced].first, events[produced].second);
    flush(producer.get());
  }

  std::int64_t committed() {
    std::int64_t sum = 0;
    for (std::int64_t o : committed_offsets(bootstrap, group, topic, kPartitions))
      sum += o > 0 ? o : 0;
    return sum;
  }

  // Every message committed, nothing unacknowledged, no action pending or in flight, and every
  // suspension reverted (the reverts are due 3 s after each suspension).
  bool settled(std::uint16_t port) {
    auto reply = http_exchange(port, false, "GET", "/metrics");
    if (reply.status != 200) return false;
    if (metric(reply.body, "oktaguard_unacknowledged_events") != 0 ||
        metric(reply.body, "oktaguard_journal_backlog") != 0 || metric(reply.body, "oktaguard_actions_in_flight") != 0)
      return false;
    if (produced != events.size() || committed() != static_cast<std::int64_t>(produced)) return false;
    std::optional<Json> org_state = Json::parse(org->get("/__emulator/state").second);
    if (!org_state) return false;
    for (const Json& u : org_state->find("users")->as_array())
      if (u.get_string("status") != "ACTIVE") return false;
    return true;
  }

  // Runs a daemon until settled(), then stops it with SIGTERM.
  void run_to_completion() {
    Daemon d(config, log);
    std::uint16_t port = d.ops_port();
    ASSERT_NE(port, 0) << slurp(log);
    auto deadline = Clock::now() + std::chrono::seconds(90);
    int calm = 0;
    while (Clock::now() < deadline && calm < 2) {
      calm = settled(port) ? calm + 1 : 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    EXPECT_EQ(calm, 2) << "the daemon did not settle; committed " << committed() << " of " << produced;
    EXPECT_EQ(d.kill(SIGTERM), 0) << "SIGTERM must end the daemon cleanly within 15 s";
  }

  struct Outcome {
    std::multiset<std::string> actions;      // "kind user params" of every row
    std::map<std::string, std::string> org;  // user id -> status, groups and oktaguard attributes
  };

  Outcome outcome() {
    Outcome o;
    auto journal = daemon::Journal::open(state, daemon::Journal::Mode::reader);
    EXPECT_TRUE(journal) << journal.error();
    if (journal) {
      daemon::ListFilter all;
      all.limit = 100000;
      for (const daemon::ActionRecord& r : (*journal)->list(all)) {
        std::string what = std::string(daemon::to_string(r.action.kind)) + " " + r.action.user_id + " " +
                           r.action.canonical_params() + (r.revert_of ? " (revert)" : "") + " -> " +
                           std::string(daemon::to_string(r.state));
        // Finished: sent and answered, reverted after its ttl, or skipped by a guard (the per-user cooldown).
        EXPECT_TRUE(r.state == daemon::ActionState::done || r.state == daemon::ActionState::already_in_state ||
                    r.state == daemon::ActionState::reverted || r.state == daemon::ActionState::skipped)
            << what << ": " << r.reason;
        o.actions.insert(what);
      }
    }
    std::optional<Json> org_state = Json::parse(org->get("/__emulator/state").second);
    EXPECT_TRUE(org_state);
    if (org_state)
      for (const Json& u : org_state->find("users")->as_array()) {
        const Json* groups = u.find("groups");
        const Json* profile = u.find("profile");
        std::string risk = profile && profile->find("oktaguardRisk") ? profile->find("oktaguardRisk")->dump() : "-";
        o.org[u.get_string("id")] = u.get_string("status") + " groups=" + (groups ? groups->dump() : "") +
                                    " risk=" + risk +
                                    " last=" + (profile ? profile->get_string("oktaguardLastDetection") : "") +
                                    " sessions=" + (u.find("sessions") ? u.find("sessions")->dump() : "");
      }
    return o;
  }
};

TEST(DaemonCrash, TwentySigkillsThenCompletionMatchAnUninterruptedRun) {
  ASSERT_FALSE(kafka_bootstrap().empty());

  World reference;
  reference.produce_next(reference.events.size());
  reference.run_to_completion();
  World::Outcome expected = reference.outcome();
  ASSERT_GE(expected.actions.size(), 200u) << "the scenario must produce at least 200 actions";
  std::size_t reverts = 0, suspends = 0;
  for (const std::string& a : expected.actions) {
    reverts += a.find("(revert) -> done") != std::string::npos && a.rfind("unsuspend", 0) == 0;
    suspends += a.rfind("suspend ", 0) == 0 && a.find("-> skipped") == std::string::npos;
  }
  EXPECT_GE(suspends, static_cast<std::size_t>(kUsers / 2)) << "most takeovers end in a suspension";
  EXPECT_EQ(reverts, suspends) << "every suspension is reverted after its ttl";

  World crashed;
  std::vector<std::string> killed_with;  // journal rows / of which unfinished, after each kill
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int> after_ms(0, 1500);
  // The attack arrives in pieces, one before each run, so every run has new work when it is killed.
  const std::size_t piece = crashed.events.size() / (kCrashes + 1) + 1;
  for (int run = 0; run < kCrashes; ++run) {
    crashed.produce_next(piece);
    Daemon d(crashed.config, crashed.log);
    ASSERT_NE(d.ops_port(), 0u) << "run " << run << " did not start:\n" << slurp(crashed.log);
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms(rng)));
    EXPECT_EQ(d.kill(SIGKILL), 128 + SIGKILL);
    if (auto journal = daemon::Journal::open(crashed.state, daemon::Journal::Mode::reader)) {
      daemon::ListFilter all;
      all.limit = 100000;
      std::size_t rows = 0, unfinished = 0;
      for (const daemon::ActionRecord& r : (*journal)->list(all)) {
        ++rows;
        unfinished += r.state == daemon::ActionState::decided || r.state == daemon::ActionState::sending;
      }
      killed_with.push_back(std::to_string(rows) + "/" + std::to_string(unfinished));
    }
  }
  crashed.produce_next(crashed.events.size());
  crashed.run_to_completion();
  World::Outcome got = crashed.outcome();

  std::vector<std::string> missing, extra;
  std::set_difference(expected.actions.begin(), expected.actions.end(), got.actions.begin(), got.actions.end(),
                      std::back_inserter(missing));
  std::set_difference(got.actions.begin(), got.actions.end(), expected.actions.begin(), expected.actions.end(),
                      std::back_inserter(extra));
  EXPECT_TRUE(missing.empty() && extra.empty()) << "the journal must hold the same actions, each exactly once\n"
                                                << [&] {
                                                     std::string s;
                                                     for (const auto& m : missing)
                                                       s += "  missing: " + m + "\n";
                                                     for (const auto& e : extra)
                                                       s += "  extra:   " + e + "\n";
                                                     return s;
                                                   }();
  ASSERT_EQ(got.org.size(), expected.org.size());
  for (const auto& [user, state] : expected.org) {
    auto it = got.org.find(user);
    ASSERT_NE(it, got.org.end()) << user;
    EXPECT_EQ(it->second, state) << user;
  }
  std::string kills;
  for (const std::string& k : killed_with)
    kills += " " + k;
  std::cout << "reference: " << expected.actions.size() << " actions; crashed " << kCrashes
            << " times (journal rows/unfinished at each kill:" << kills << "), then completed with the same "
            << got.actions.size() << " actions\n";
}

}  // namespace
}  // namespace og::test
