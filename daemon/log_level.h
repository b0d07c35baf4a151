#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace og::daemon {

// Shared by the JSON logger and the sources' log callbacks, so any component can hand its lines to
// the logger unchanged.
enum class LogLevel : std::uint8_t { debug, info, warn, error };

std::string_view to_string(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view text);  // debug, info, warn|warning, error

}  // namespace og::daemon
