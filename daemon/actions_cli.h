#pragma once

// `oktaguard actions ...`: the operator's view of the action journal, safe beside a running daemon
// (read-only connections under WAL) and on a stopped one. revert and release queue a command row
// that a running daemon performs within a second, or the next start performs before sending
// anything. killswitch toggles the file flag the engine polls.
//
//   actions list [--user U] [--state S] [--since T] [--limit N]
//   actions show ID
//   actions revert ID
//   actions release
//   actions killswitch on|off|status [--config FILE]   (status, off: also response.kill_switch_file)
// Every form takes --state-dir DIR (default $OKTAGUARD_STATE_DIR, else /var/lib/oktaguard).

#include <ostream>
#include <span>
#include <string_view>

namespace og::daemon {

// args: what follows "actions". Returns the process exit code (0 ok, 1 failure, 2 usage).
int actions_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace og::daemon
