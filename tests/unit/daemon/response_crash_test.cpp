// Crash safety of the response engine: the driver is SIGKILLed at random points 20 times, restarted
// each time, then run to completion. Every decision must end done or already-in-state exactly once in
// the journal, no state-changing request may be applied twice at the effect level, none may be lost,
// and every due revert must have run.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "daemon/journal.h"

namespace og::test {
namespace {

using namespace og::daemon;

constexpr int kDecisions = 250;

pid_t spawn(const std::string& dir, const std::string& effects) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string n = std::to_string(kDecisions);
    ::execl(OG_CRASH_DRIVER, OG_CRASH_DRIVER, dir.c_str(), effects.c_str(), n.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

TEST(ResponseCrash, SigkillAtRandomPointsTwentyTimesExactlyOnceEffects) {
  auto dir = std::filesystem::temp_directory_path() / ("og-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto state = (dir / "state").string();
  auto effects = (dir / "effects.log").string();
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(50, 900);
  int killed = 0;
  for (int run = 0; run < 20; ++run) {
    pid_t pid = spawn(state, effects);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
      ++killed;
    } else {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "run " << run;
    }
  }
  pid_t pid = spawn(state, effects);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto j = Journal::open(state, Journal::Mode::reader);
  ASSERT_TRUE(j) << j.error();
  ListFilter f;
  f.limit = 100000;
  auto rows = (*j)->list(f);
  std::map<std::string, ActionRecord> by_key;
  int originals = 0, reverts = 0, resumed = 0;
  for (const auto& r : rows) {
    by_key[r.idem_key] = r;
    for (const auto& t : (*j)->transitions(r.id)) {
      if (t.note.starts_with("resumed after restart")) ++resumed;
    }
    if (r.revert_of) {
      ++reverts;
      bool superseded = r.state == ActionState::skipped && r.reason.starts_with("revert superseded");
      EXPECT_TRUE(is_effective(r.state) || superseded) << "revert #" << r.id << " " << to_string(r.state);
      continue;
    }
    ++originals;
    // Done, already in state, or (with a ttl) reverted after being done.
    EXPECT_TRUE(is_effective(r.state) || r.state == ActionState::reverted) << "#" << r.id << " " << to_string(r.state);
    if (r.action.ttl.count() > 0) {
      bool reverted = r.state == ActionState::reverted && r.revert_state == RevertState::done;
      bool superseded = r.revert_state == RevertState::superseded;
      // The fake org starts clean: every "already in state" is ours, so every one is reverted.
      EXPECT_TRUE(reverted || superseded) << "#" << r.id << " revert " << to_string(r.revert_state);
    }
  }
  EXPECT_EQ(originals, kDecisions);  // none lost; the unique key makes a duplicate impossible

  // Effect level.
  std::ifstream in(effects);
  std::map<std::string, int> applied, requests;
  std::set<std::string> suspended, grouped;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string user, kind, group, key, result;
    ls >> user >> kind >> group >> key >> result;
    ++requests[key];
    if (result == "applied") ++applied[key];
    if (kind == "suspend") suspended.insert(user);
    if (kind == "unsuspend") suspended.erase(user);
    if (kind == "add_to_group") grouped.insert(user);
    if (kind == "remove_from_group") grouped.erase(user);
  }
  int duplicates_harmless = 0;
  for (const auto& [key, r] : by_key) {
    EXPECT_GE(requests[key], 1) << "never reached Okta: #" << r.id;
    auto kind = r.action.kind;
    bool state_changing = kind == ActionKind::suspend || kind == ActionKind::unsuspend ||
                          kind == ActionKind::add_to_group || kind == ActionKind::remove_from_group;
    if (state_changing) {
      EXPECT_LE(applied[key], 1) << "applied twice: #" << r.id;
      if (r.state == ActionState::done) {
        EXPECT_EQ(applied[key], 1) << "#" << r.id;
      }
    } else if (applied[key] > 1) {
      ++duplicates_harmless;  // clearing sessions / same profile value twice: no different effect
    }
  }
  for (const auto& [key, n] : requests)
    EXPECT_TRUE(by_key.contains(key)) << "request without a journal row";
  EXPECT_TRUE(suspended.empty()) << suspended.size() << " users left suspended";
  EXPECT_TRUE(grouped.empty()) << grouped.size() << " users left in the step-up group";
  std::printf(
      "crash test: %d of 20 runs killed; %d actions + %d reverts; %d resumed after a kill; "
      "%d idempotent actions repeated at Okta after a kill\n",
      killed, originals, reverts, resumed, duplicates_harmless);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace og::test
