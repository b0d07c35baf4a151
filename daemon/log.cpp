#include "daemon/log.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <type_traits>
#include <utility>

namespace og::daemon {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "info";
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn" || text == "warning") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  return std::nullopt;
}

bool is_secret_key(std::string_view name) {
  std::string lower;
  lower.reserve(name.size());
  for (char c : name)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // `token_file` names where a secret lives, not the secret; keep paths readable in logs.
  if (lower.ends_with("_file") || lower.ends_with("_path") || lower.ends_with(".location")) return false;
  static constexpr std::string_view kMarkers[] = {"password", "passwd",        "secret",       "token",      "api_key",
                                                  "apikey",   "authorization", "private_key",  "credential", "cookie",
                                                  "ssws",     "bearer",        "sasl.password"};
  return std::any_of(std::begin(kMarkers), std::end(kMarkers),
                     [&](std::string_view m) { return lower.find(m) != std::string::npos; });
}

std::string format_rfc3339_ms(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  auto frac = ms % 1000;
  if (frac < 0) {  // before 1970: floor, not truncate
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;                                      // overlong
  if (n == 3 && c == 0xE0 && b(i + 1) < 0xA0) return 0;                  // overlong
  if (n == 3 && c == 0xED && b(i + 1) >= 0xA0) return 0;                 // surrogates
  if (n == 4 && (c > 0xF4 || (c == 0xF0 && b(i + 1) < 0x90))) return 0;  // overlong / > U+10FFFF
  if (n == 4 && c == 0xF4 && b(i + 1) >= 0x90) return 0;
  return n;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\u{:04x}", c);
      ++i;
      continue;
    }
    std::size_t n = utf8_length(s, i);
    if (n == 0) {
      out += "\uFFFD";  // journald and JSON parsers reject invalid UTF-8; keep the line parseable
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
}

Logger::Logger(LoggerOptions options, LogLineSink sink, LogClock clock,
               std::function<std::chrono::steady_clock::time_point()> steady)
    : options_(options),
      level_(options.level),
      sink_(std::move(sink)),
      clock_(std::move(clock)),
      steady_(std::move(steady)) {
  if (!sink_) {
    sink_ = [](std::string_view line) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fflush(stdout);
    };
  }
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
  if (!steady_) steady_ = [] { return std::chrono::steady_clock::now(); };
  if (options_.limit_burst == 0) options_.limit_burst = 1;
}

void Logger::set_level(LogLevel level) {
  level_.store(level, std::memory_order_relaxed);
}
LogLevel Logger::level() const {
  return level_.load(std::memory_order_relaxed);
}

void Logger::add_secret(std::string value) {
  if (value.empty()) return;
  std::lock_guard lock(mu_);
  if (std::find(secrets_.begin(), secrets_.end(), value) != secrets_.end()) return;
  secrets_.push_back(std::move(value));
  // Longest first, so a secret containing another is masked whole.
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string Logger::scrub(std::string_view text) const {
  std::lock_guard lock(mu_);
  std::string out(text);
  for (const auto& secret : secrets_) {
    for (std::size_t pos = out.find(secret); pos != std::string::npos; pos = out.find(secret, pos + kMask.size()))
      out.replace(pos, secret.size(), kMask);
  }
  return out;
}

std::string Logger::format(LogLevel level, std::string_view component, std::string_view msg,
                           std::initializer_list<LogField> fields, std::uint64_t suppressed) const {
  std::string line;
  line.reserve(128);
  line += "{\"ts\":\"";
  line += format_rfc3339_ms(clock_());
  line += "\",\"level\":\"";
  line += to_string(level);
  line += "\",\"msg\":\"";
  // Scrub before escaping: a secret with quotes or backslashes would no longer match afterwards.
  append_json_escaped(line, scrub(msg));
  line += "\",\"component\":\"";
  append_json_escaped(line, scrub(component));
  line += '"';
  for (const LogField& f : fields) {
    static constexpr std::string_view kReserved[] = {"ts", "level", "msg", "component", "suppressed"};
    std::string name(f.name());
    // A field may not overwrite the envelope; prefix it so both stay visible.
    if (std::find(std::begin(kReserved), std::end(kReserved), name) != std::end(kReserved)) name = "field_" + name;
    line += ",\"";
    append_json_escaped(line, name);
    line += "\":";
    if (is_secret_key(name)) {
      line += "\"***\"";
      continue;
    }
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            line += '"';
            append_json_escaped(line, scrub(v));
            line += '"';
          } else if constexpr (std::is_same_v<T, bool>) {
            line += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
            line += "null";
          } else if constexpr (std::is_same_v<T, double>) {
            if (std::isfinite(v))
              line += fmt::format("{}", v);
            else
              line += "null";  // JSON has no NaN or infinity
          } else {
            line += fmt::format("{}", v);
          }
        },
        f.value());
  }
  if (suppressed > 0) line += fmt::format(",\"suppressed\":{}", suppressed);
  line += "}\n";
  return line;
}

void Logger::write(std::string_view line) {
  std::lock_guard lock(mu_);
  sink_(line);
}

void Logger::log(LogLevel level, std::string_view component, std::string_view msg,
                 std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  write(format(level, component, msg, fields));
}

bool Logger::log_limited(std::string_view key, LogLevel level, std::string_view component, std::string_view msg,
                         std::initializer_list<LogField> fields) {
  if (!enabled(level)) return false;
  std::uint64_t suppressed = 0;
  {
    std::lock_guard lock(mu_);
    auto now = steady_();
    auto [it, inserted] = limits_.try_emplace(std::string(key));
    Bucket& b = it->second;
    if (inserted || now - b.window_start >= options_.limit_interval) {
      b.window_start = now;
      b.used = 0;
    }
    if (b.used >= options_.limit_burst) {
      ++b.suppressed;
      return false;
    }
    ++b.used;
    suppressed = std::exchange(b.suppressed, 0);
    // Bound the map: keys are often per partition or per source, but a bug could make them per event.
    if (limits_.size() > 10000) {
      for (auto i = limits_.begin(); i != limits_.end();) {
        if (i->second.suppressed == 0 && now - i->second.window_start >= options_.limit_interval)
          i = limits_.erase(i);
        else
          ++i;
      }
    }
  }
  write(format(level, component, msg, fields, suppressed));
  return true;
}

Logger& logger() {
  static Logger instance;
  return instance;
}

}  // namespace og::daemon
