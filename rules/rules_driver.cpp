// CTest's way into `oktaguard rules check|test` without depending on the CLI dispatcher: the
// arguments are the words after "rules".
#include <iostream>
#include <string_view>
#include <vector>

#include "daemon/rules_cli.h"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return og::daemon::rules_command(args, std::cout, std::cerr);
}
