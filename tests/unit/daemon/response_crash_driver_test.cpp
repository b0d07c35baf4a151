// Crash-test driver (not a gtest): runs the ResponseEngine over a fixed replay of decisions against
// an "Okta" whose effects persist in an append-only effect log, and is SIGKILLed at random points by
// response_crash_test. Each start replays from the last stored "Kafka offset" minus an overlap, as a
// consumer group would redeliver, and exits 0 once every decision is journaled, every action has
// finished and every scheduled revert has run.
//
//   response_crash_driver STATE_DIR EFFECT_LOG DECISIONS

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "daemon/response.h"

namespace {

using namespace og::daemon;
using namespace std::chrono_literals;

// The effect log holds one line per request that reached "Okta": user kind group key applied|noop.
class EffectLogOkta final : public ActionExecutor {
 public:
  explicit EffectLogOkta(const std::string& path) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      std::istringstream ls(line);
      std::string user, kind, group, key, result;
      ls >> user >> kind >> group >> key >> result;
      apply(user, kind, group);
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    worker_ = std::jthread([this](std::stop_token st) { loop(st); });
  }
  ~EffectLogOkta() override {
    worker_.request_stop();
    cv_.notify_all();
    worker_.join();
    ::close(fd_);
  }

  void execute(const PlannedAction& action, const Attempt& attempt,
               std::function<void(ExecutionResult)> done) override {
    {
      std::lock_guard lock(mu_);
      queue_.push_back({action, attempt, std::move(done)});
    }
    cv_.notify_one();
  }

 private:
  struct Job {
    PlannedAction action;
    Attempt attempt;
    std::function<void(ExecutionResult)> done;
  };

  // true when the request changed the user's state.
  bool apply(const std::string& user, const std::string& kind, const std::string& group) {
    if (kind == "suspend") return suspended_.insert(user).second;
    if (kind == "unsuspend") return suspended_.erase(user) > 0;
    if (kind == "add_to_group") return groups_.insert(user + "/" + group).second;
    if (kind == "remove_from_group") return groups_.erase(user + "/" + group) > 0;
    return true;  // clear_sessions, set_profile, set_user_risk: always "applied"
  }

  void loop(std::stop_token st) {
    while (!st.stop_requested()) {
      Job job;
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, 50ms, [&] { return !queue_.empty() || st.stop_requested(); });
        if (queue_.empty()) continue;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200 + job.attempt.action_id % 7 * 300));
      std::string kind(to_string(job.action.kind));
      std::string group = job.action.params.contains("group") ? job.action.params.at("group") : "-";
      bool changed = apply(job.action.user_id, kind, group);
      std::string line = job.action.user_id + " " + kind + " " + group + " " + job.attempt.idempotency_key + " " +
                         (changed ? "applied" : "noop") + "\n";
      // Okta has applied it once this line is on disk; a kill after it is the "may have been sent" case.
      if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::abort();
      ::fdatasync(fd_);
      ExecutionResult r;
      r.outcome = changed ? Outcome::success : Outcome::already_in_state;
      r.http_status = 200;
      r.request = "POST /api/v1/users/" + job.action.user_id + "/" + kind;
      job.done(std::move(r));
    }
  }

  int fd_ = -1;
  std::set<std::string> suspended_;
  std::set<std::string> groups_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::jthread worker_;
};

PlannedAction decision(int i) {
  PlannedAction a;
  a.user_id = "00u" + std::to_string(i % 200);  // 50 users receive two decisions of the same kind
  a.login = a.user_id + "@example.com";
  a.incident_id = "incident-" + std::to_string(i);
  a.detection_ids = {"crash.test"};
  a.contributing_uuids = {"evt-" + std::to_string(i)};
  a.risk = 80;
  switch (i % 5) {
    case 0:
      a.kind = ActionKind::suspend;
      a.ttl = std::chrono::seconds(2 + i % 8);  // reverts spread over seconds: kills land among them
      break;
    case 1:
      a.kind = ActionKind::add_to_group;
      a.params = {{"group", "00gSTEPUP"}};
      a.ttl = std::chrono::seconds(2 + i % 8);
      break;
    case 2:
      a.kind = ActionKind::clear_sessions;
      break;
    case 3:
      a.kind = ActionKind::set_profile;
      a.params = {{"uebaHealth", std::to_string(i)}};
      break;
    default:
      a.kind = ActionKind::set_user_risk;
      a.params = {{"level", "HIGH"}};
      break;
  }
  return a;
}

int read_offset(const std::string& path) {
  std::ifstream in(path);
  int v = 0;
  in >> v;
  return v;
}

void store_offset(const std::string& path, int offset) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << offset << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s STATE_DIR EFFECT_LOG DECISIONS\n", argv[0]);
    return 2;
  }
  std::filesystem::path dir = argv[1];
  std::string effects = argv[2];
  const int total = std::stoi(argv[3]);
  std::string offset_file = (dir / "kafka-offset").string();

  EffectLogOkta okta(effects);
  SystemWallClock clock;
  ResponseConfig config;
  config.state_dir = dir;
  config.guard.default_cooldown = std::chrono::seconds(0);
  config.breaker.max_actions = 100000;
  config.poll_interval = 50ms;
  config.retry_base = 100ms;
  config.log = [](std::string_view, std::string_view) {};
  auto opened = ResponseEngine::open(config, okta, clock);
  if (!opened) {
    std::fprintf(stderr, "driver: %s\n", opened.error().c_str());
    return 1;
  }
  auto& engine = **opened;
  engine.start();

  // Redeliver a few already-stored offsets too: a consumer may see them again after a rebalance.
  int committed = read_offset(offset_file);
  int start = std::max(0, committed - 5);
  std::mutex mu;
  std::map<int, bool> acked;
  int next_store = committed;
  for (int i = start; i < total; ++i) {
    engine.submit(Response{{decision(i)}, false}, [&, i](const SubmitResult& r) {
      if (!r.ok) std::abort();
      std::lock_guard lock(mu);
      acked[i] = true;
      while (acked.count(next_store))
        ++next_store;
      store_offset(offset_file, next_store);
    });
    if (i % 10 == 0) std::this_thread::sleep_for(20ms);
  }
  // Wait until everything is journaled, finished, and every revert has run.
  for (int round = 0; round < 600; ++round) {
    std::this_thread::sleep_for(50ms);
    {
      std::lock_guard lock(mu);
      if (next_store < total) continue;
    }
    auto j = Journal::open(dir, Journal::Mode::reader);
    if (!j) continue;
    bool busy = false;
    ListFilter f;
    f.limit = 100000;
    for (const auto& r : (*j)->list(f)) {
      if (!is_terminal(r.state) || r.revert_state == RevertState::scheduled || r.revert_state == RevertState::started) {
        busy = true;
        break;
      }
    }
    if (!busy) {
      engine.stop();
      return 0;
    }
  }
  std::fprintf(stderr, "driver: not finished after 30s\n");
  return 3;
}
