#include "daemon/app.h"

#include <fmt/core.h>

#include <cstdlib>
#include <exception>

namespace og::daemon {

RunResult RunResult::merge(const RunResult& a, const RunResult& b) {
  RunResult r;
  r.success = a.success && b.success;
  r.proceed = a.proceed && b.proceed;
  r.error = a.error;
  if (!b.error.empty()) {
    if (!r.error.empty()) r.error += '\n';
    r.error += b.error;
  }
  return r;
}

void App::add_step(std::string name, StepFn run, StepFn teardown) {
  steps_.push_back({std::move(name), std::move(run), std::move(teardown)});
}

namespace {
RunResult call(const App::StepFn& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return RunResult::fatal(e.what());
  } catch (...) {
    return RunResult::fatal("unknown exception");
  }
}
}  // namespace

RunResult App::start() {
  for (; ran_ < steps_.size();) {
    const Step& step = steps_[ran_];
    if (progress_) progress_("starting", step.name);
    ++ran_;
    RunResult r = step.run ? call(step.run) : RunResult::ok();
    if (!r.success) {
      return RunResult::fatal(fmt::format("startup step '{}' failed: {}", step.name,
                                          r.error.empty() ? std::string("no reason given") : r.error));
    }
    started_.push_back(step.name);
    if (!r.proceed) return r;
  }
  return RunResult::ok();
}

RunResult App::stop() {
  RunResult all = RunResult::ok();
  while (ran_ > 0) {
    const Step& step = steps_[--ran_];
    if (!step.teardown) continue;
    if (progress_) progress_("stopping", step.name);
    RunResult r = call(step.teardown);
    if (!r.success) {
      r.error = fmt::format("teardown step '{}' failed: {}", step.name, r.error);
      all = RunResult::merge(all, r);
    }
  }
  all.proceed = false;
  started_.clear();
  return all;
}

ShutdownDeadline::~ShutdownDeadline() {
  disarm();
}

void ShutdownDeadline::arm(std::chrono::milliseconds timeout, int code, std::function<void()> on_expire) {
  disarm();
  {
    std::lock_guard lock(mu_);
    disarmed_ = false;
  }
  thread_ = std::thread([this, timeout, code, on_expire = std::move(on_expire)] {
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, timeout, [this] { return disarmed_; })) return;
    if (on_expire) on_expire();
    // Teardown is stuck; destructors of the stuck parts must not run now, so no exit().
    std::_Exit(code);
  });
}

void ShutdownDeadline::disarm() {
  {
    std::lock_guard lock(mu_);
    disarmed_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace og::daemon
