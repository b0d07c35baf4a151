#pragma once

#include <string>
#include <string_view>

// Writing JSON strings, for everything oktaguard emits as JSON text: diagnostics, the journal's
// parameters, the audit trail, replay output, Okta request bodies and the emulator's answers.
// Header-only, so the Okta client and the emulator share it without linking the correlator.
namespace og::correlator {

// Appends `text` as a quoted JSON string: ", \ and control characters escaped, other bytes as they are.
inline void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// The same, as a new string.
inline std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  append_json_string(out, text);
  return out;
}

}  // namespace og::correlator
