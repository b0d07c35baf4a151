#include "daemon/run.h"

#include <fmt/core.h>

#include <span>
#include <string_view>

namespace og::daemon {
namespace {

constexpr std::string_view kUsage = R"(usage: oktaguard COMMAND [OPTIONS]

commands:
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
  fmt::print(stderr, "oktaguard: unknown command '{}'\n{}", command, kUsage);
  return 2;
}

}  // namespace og::daemon
