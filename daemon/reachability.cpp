#include "daemon/reachability.h"

#include <fmt/format.h>

namespace og::daemon {

Reachability::Reachability(Probe probe, std::string service, Clock::duration retry_after, Clock::duration recheck_after)
    : probe_(std::move(probe)),
      service_(std::move(service)),
      retry_after_(retry_after),
      recheck_after_(recheck_after) {}

CheckResult Reachability::check(Clock::time_point now) {
  CheckResult result;
  bool start = false;
  {
    std::lock_guard lock(state_->mu);
    State& s = *state_;
    const bool due = s.started == Clock::time_point{} ||
                     now - s.started >= (s.probed && s.reachable ? recheck_after_ : retry_after_);
    if (!s.in_flight && due) {
      s.in_flight = true;
      s.started = now;
      start = true;
    }
    result.ok = s.probed && s.reachable;
    if (!result.ok)
      result.reason = s.probed ? fmt::format("{} did not answer the last probe", service_)
                               : fmt::format("no answer from {} yet", service_);
  }
  if (start) {
    probe_([state = state_](bool answered) {
      std::lock_guard lock(state->mu);
      state->in_flight = false;
      state->probed = true;
      state->reachable = answered;
    });
  }
  return result;
}

}  // namespace og::daemon
