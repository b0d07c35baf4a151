#pragma once

#include <ostream>
#include <span>
#include <string_view>

namespace og::daemon {

// `oktaguard config check FILE [--format text|json] [--no-file-checks]`: loads the configuration as
// `run` does and prints every diagnostic (text: `file:line:col: error: message [path]`). `args` are
// the words after "config". Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage.
int config_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace og::daemon
