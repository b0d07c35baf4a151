#include "correlator/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

#include "correlator/json_text.h"

namespace og::correlator {

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::note:
      return "note";
  }
  return "error";
}

void Diagnostics::error(std::string file, std::uint32_t line, std::uint32_t column, std::string path,
                        std::string message) {
  items_.push_back(Diagnostic{Severity::error, std::move(file), line, column, std::move(path), std::move(message)});
}

void Diagnostics::warning(std::string file, std::uint32_t line, std::uint32_t column, std::string path,
                          std::string message) {
  items_.push_back(Diagnostic{Severity::warning, std::move(file), line, column, std::move(path), std::move(message)});
}

bool Diagnostics::has_errors() const {
  return error_count() > 0;
}

std::size_t Diagnostics::error_count() const {
  return static_cast<std::size_t>(
      std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) { return d.severity == Severity::error; }));
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

std::string render_text(const Diagnostic& d) {
  std::string out = d.file.empty() ? std::string("<input>") : d.file;
  if (d.line > 0) {
    out += fmt::format(":{}", d.line);
    if (d.column > 0) out += fmt::format(":{}", d.column);
  }
  out += fmt::format(": {}: {}", to_string(d.severity), d.message);
  if (!d.path.empty()) out += fmt::format(" [{}]", d.path);
  return out;
}

std::string render_text(const Diagnostics& ds) {
  std::string out;
  for (const Diagnostic& d : ds.items()) {
    out += render_text(d);
    out.push_back('\n');
  }
  return out;
}

std::string render_json(const Diagnostics& ds) {
  std::string out = "[";
  bool first = true;
  for (const Diagnostic& d : ds.items()) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"severity\":";
    append_json_string(out, to_string(d.severity));
    out += ",\"file\":";
    append_json_string(out, d.file);
    out += fmt::format(",\"line\":{},\"column\":{},\"path\":", d.line, d.column);
    append_json_string(out, d.path);
    out += ",\"message\":";
    append_json_string(out, d.message);
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

}  // namespace og::correlator
