#include "daemon/run.h"

#include <fmt/core.h>

#include <iostream>
#include <span>
#include <string_view>
#include <vector>

#include "daemon/actions_cli.h"
#include "daemon/config_cli.h"
#include "daemon/rules_cli.h"
#include "daemon/run_command.h"

namespace og::daemon {
namespace {

constexpr std::string_view kUsage = R"(usage: oktaguard COMMAND [OPTIONS]

commands:
  run --config FILE [--once]
                     the daemon; --once replays the configured files and exits
  actions ...        the action journal: list, show ID, revert ID, release, killswitch on|off|status
  config check FILE  validate a configuration file and print every problem
  rules check PATH.. compile rule files and print every problem
  rules test PATH... run the test cases the rule files carry
  replay --rules DIR --events FILE|- [--from T] [--to T] [--format table|json]
                     backtest rules on historical events; never calls Okta
  version            print the version
  help               print this text
)";

}  // namespace

int run(int argc, char** argv) {
  std::span<char*> args(argv, static_cast<std::size_t>(argc));
  if (args.size() < 2) {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }
  std::string_view command = args[1];
  if (command == "version" || command == "--version") {
    fmt::print("oktaguard 0.1.0\n");
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    fmt::print("{}", kUsage);
    return 0;
  }
  // Subcommands get the words after their own name.
  std::vector<std::string_view> rest(args.begin() + 2, args.end());
  if (command == "run") return run_command(rest, std::cout, std::cerr);
  if (command == "config") return config_command(rest, std::cout, std::cerr);
  if (command == "actions") return actions_command(rest, std::cout, std::cerr);
  if (command == "rules") return rules_command(rest, std::cout, std::cerr);
  if (command == "replay") return replay_command(rest, std::cout, std::cerr);
  fmt::print(stderr, "oktaguard: unknown command '{}'\n{}", command, kUsage);
  return 2;
}

}  // namespace og::daemon
