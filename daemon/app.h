#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace og::daemon {

// Outcome of one startup or teardown step, after Falco's app/run_result.h: `proceed` false stops the
// sequence; `success` false makes it a failure whose `error` the operator reads.
struct RunResult {
  bool success = true;
  std::string error;
  bool proceed = true;

  static RunResult ok() { return {}; }
  // Done, and nothing after this step should run (e.g. `--check` modes).
  static RunResult exit() { return {true, {}, false}; }
  static RunResult fatal(std::string message) { return {false, std::move(message), false}; }
  // Both outcomes: failure if either failed, errors joined by newlines, proceed only if both do.
  static RunResult merge(const RunResult& a, const RunResult& b);
};

// Ordered startup steps and their teardown. The daemon's run is a list: load config, open state dir,
// open journal, load rules, start Okta client, start shards, start Kafka, start ops server, ready.
// Teardown runs in reverse for every step whose run function was called, including a step that
// failed half-way, so teardown functions must cope with partial setup.
class App {
 public:
  using StepFn = std::function<RunResult()>;
  using ProgressFn = std::function<void(std::string_view phase, std::string_view step)>;

  void add_step(std::string name, StepFn run, StepFn teardown = {});
  // Called before each step runs ("starting"/"stopping", name): sd_notify STATUS, a log line.
  void on_progress(ProgressFn fn) { progress_ = std::move(fn); }

  // Runs steps in order until one fails or stops the sequence. A failure's error names the step:
  // "startup step 'open journal' failed: <message>". A step that throws is a failure, not a crash.
  RunResult start();
  // Reverse teardown of the steps that ran; every teardown runs even if an earlier one failed.
  RunResult stop();

  const std::vector<std::string>& started() const { return started_; }

 private:
  struct Step {
    std::string name;
    StepFn run;
    StepFn teardown;
  };
  std::vector<Step> steps_;
  std::vector<std::string> started_;
  std::size_t ran_ = 0;  // steps_[0, ran_) had their run function called
  ProgressFn progress_;
};

// Bounds the graceful shutdown: armed on SIGTERM, it ends the process with `code` if teardown has
// not finished in time (systemd would SIGKILL later anyway; exiting ourselves keeps the exit status
// meaningful and logs why).
class ShutdownDeadline {
 public:
  ShutdownDeadline() = default;
  ~ShutdownDeadline();
  ShutdownDeadline(const ShutdownDeadline&) = delete;
  ShutdownDeadline& operator=(const ShutdownDeadline&) = delete;

  void arm(std::chrono::milliseconds timeout, int code, std::function<void()> on_expire = {});
  void disarm();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

}  // namespace og::daemon
