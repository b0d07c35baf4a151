#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "daemon/ops_server.h"

namespace og::daemon {

// Whether a remote service answers, for a readiness check, kept current: it is probed again when the
// state is asked for and the last probe is older than `retry_after` (no answer) or `recheck_after`
// (answered). Probes run one at a time and only when someone asks, so a daemon nobody polls sends
// none beyond the first. A single probe at startup would leave a daemon that started before the
// network "not ready" for good, and one that lost the service later "ready" for good.
class Reachability {
 public:
  using Clock = std::chrono::steady_clock;
  // Starts a request; calls `done(answered)` once, from any thread (also after this object is gone).
  using Probe = std::function<void(std::function<void(bool answered)>)>;

  Reachability(Probe probe, std::string service, Clock::duration retry_after, Clock::duration recheck_after);

  // The latest answer, starting a probe when one is due.
  CheckResult check(Clock::time_point now);

 private:
  struct State {
    std::mutex mu;
    bool probed = false;  // a probe has answered
    bool reachable = false;
    bool in_flight = false;
    Clock::time_point started{};  // of the last probe
  };
  Probe probe_;
  std::string service_;
  Clock::duration retry_after_;
  Clock::duration recheck_after_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace og::daemon
