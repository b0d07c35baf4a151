#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace og::correlator {

enum class Severity : std::uint8_t { error, warning, note };

std::string_view to_string(Severity severity);

// One problem found in a control-plane file (rules, daemon config). Positions are 1-based; 0 means
// unknown. `path` is the location inside the document ("detections[2].threshold.count").
struct Diagnostic {
  Severity severity = Severity::error;
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string path;
  std::string message;
};

// Collects every problem instead of stopping at the first, so one run shows the author all of them.
class Diagnostics {
 public:
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void error(std::string file, std::uint32_t line, std::uint32_t column, std::string path, std::string message);
  void warning(std::string file, std::uint32_t line, std::uint32_t column, std::string path, std::string message);

  bool has_errors() const;
  std::size_t error_count() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  void append(const Diagnostics& other);

 private:
  std::vector<Diagnostic> items_;
};

// `file:line:col: error: message [path]`, the form compilers use, so editors can jump to it.
std::string render_text(const Diagnostic& d);
std::string render_text(const Diagnostics& ds);  // one per line
// A JSON array of {severity, file, line, column, path, message}.
std::string render_json(const Diagnostics& ds);

}  // namespace og::correlator
