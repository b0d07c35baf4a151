#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/signal_set.hpp>

#include <functional>
#include <memory>

namespace og::daemon {

// TERM/INT and HUP on the control thread: an asio signal_set, so handlers run as ordinary
// completions on the control io_context (no work in async-signal context). Construct it before any
// other thread starts, so the signals are not delivered to a thread that ignores them.
class SignalHandler {
 public:
  struct Callbacks {
    std::function<void(int signo, int count)> terminate;  // SIGTERM or SIGINT; count: how many so far
    std::function<void()> reload;                         // SIGHUP
  };

  SignalHandler(boost::asio::any_io_executor ex, Callbacks callbacks);
  ~SignalHandler();
  SignalHandler(const SignalHandler&) = delete;
  SignalHandler& operator=(const SignalHandler&) = delete;

  void stop();  // stop listening (on the executor's thread)

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace og::daemon
