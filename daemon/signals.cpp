#include "daemon/signals.h"

#include <csignal>

namespace og::daemon {

struct SignalHandler::State {
  State(boost::asio::any_io_executor ex, Callbacks cb)
      : signals(ex, SIGTERM, SIGINT, SIGHUP), callbacks(std::move(cb)) {}
  boost::asio::signal_set signals;
  Callbacks callbacks;
  int terminations = 0;
  bool stopped = false;
};

namespace {
void wait(const std::shared_ptr<SignalHandler::State>& s) {
  s->signals.async_wait([s](const boost::system::error_code& ec, int signo) {
    if (ec || s->stopped) return;
    if (signo == SIGHUP) {
      if (s->callbacks.reload) s->callbacks.reload();
    } else {
      ++s->terminations;
      if (s->callbacks.terminate) s->callbacks.terminate(signo, s->terminations);
    }
    if (!s->stopped) wait(s);
  });
}
}  // namespace

SignalHandler::SignalHandler(boost::asio::any_io_executor ex, Callbacks callbacks)
    : state_(std::make_shared<State>(std::move(ex), std::move(callbacks))) {
  wait(state_);
}

SignalHandler::~SignalHandler() {
  stop();
}

void SignalHandler::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->signals.cancel(ignored);
  state_->signals.clear(ignored);
}

}  // namespace og::daemon
