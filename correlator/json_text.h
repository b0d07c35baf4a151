#pragma once

#include <string>
#include <string_view>

// Writing JSON strings, for everything oktaguard emits as JSON text (diagnostics, the journal's
// parameters, the audit trail, replay output).
namespace og::correlator {

// Appends `text` as a quoted JSON string: ", \ and control characters escaped, other bytes as they are.
void append_json_string(std::string& out, std::string_view text);
// The same, as a new string.
std::string json_quote(std::string_view text);

}  // namespace og::correlator
