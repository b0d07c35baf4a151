#include "daemon/ingest_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "daemon/log.h"

namespace og::daemon {
namespace {

// Appends `c` escaped; returns false (appending nothing) when it would exceed `limit`.
bool append_escaped(std::string& out, unsigned char c, std::size_t limit) {
  char buffer[8];
  std::string_view piece;
  if (c == '\n') {
    piece = "\\n";
  } else if (c == '\r') {
    piece = "\\r";
  } else if (c == '\t') {
    piece = "\\t";
  } else if (c < 0x20 || c >= 0x7f) {
    auto n = fmt::format_to_n(buffer, sizeof buffer, "\\x{:02x}", c).size;
    piece = std::string_view(buffer, n);
  } else {
    buffer[0] = static_cast<char>(c);
    piece = std::string_view(buffer, 1);
  }
  if (out.size() + piece.size() > limit) return false;
  out.append(piece);
  return true;
}

// End of the JSON string starting at `open` (the quote), one past its closing quote, or the end.
std::size_t end_of_string(std::string_view s, std::size_t open) {
  for (std::size_t i = open + 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

// End of the JSON value starting at `begin`: a string, a balanced object/array, or a scalar.
std::size_t end_of_value(std::string_view s, std::size_t begin) {
  if (begin >= s.size()) return s.size();
  if (s[begin] == '"') return end_of_string(s, begin);
  if (s[begin] == '{' || s[begin] == '[') {
    int depth = 0;
    for (std::size_t i = begin; i < s.size(); ++i) {
      if (s[i] == '"') {
        i = end_of_string(s, i) - 1;
      } else if (s[i] == '{' || s[i] == '[') {
        ++depth;
      } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
        return i + 1;
      }
    }
    return s.size();
  }
  std::size_t i = begin;
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != '\n') {
    ++i;
  }
  return i;
}

}  // namespace

std::string scrubbed_excerpt(std::string_view payload, std::size_t max_bytes) {
  std::string out;
  out.reserve(max_bytes);
  std::size_t i = 0;
  while (i < payload.size()) {
    if (payload[i] != '"') {
      if (!append_escaped(out, static_cast<unsigned char>(payload[i]), max_bytes)) return out;
      ++i;
      continue;
    }
    std::size_t end = end_of_string(payload, i);
    std::string_view token = payload.substr(i, end - i);
    for (char c : token) {
      if (!append_escaped(out, static_cast<unsigned char>(c), max_bytes)) return out;
    }
    i = end;
    // A string followed by ':' is a key; mask its value when the key looks secret.
    std::size_t colon = i;
    while (colon < payload.size() && std::isspace(static_cast<unsigned char>(payload[colon]))) {
      ++colon;
    }
    if (colon >= payload.size() || payload[colon] != ':' || token.size() < 2) continue;
    std::string_view key = token.substr(1, token.back() == '"' ? token.size() - 2 : token.size() - 1);
    if (!is_secret_key(key)) continue;
    std::size_t value = colon + 1;
    while (value < payload.size() && std::isspace(static_cast<unsigned char>(payload[value]))) {
      ++value;
    }
    constexpr std::string_view kMaskedValue = ":\"***\"";
    if (out.size() + kMaskedValue.size() > max_bytes) return out;
    out.append(kMaskedValue);
    i = end_of_value(payload, value);
  }
  return out;
}

LogRateLimiter::Decision LogRateLimiter::admit(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = windows_.try_emplace(std::string(key));
  Window& w = it->second;
  if (inserted || now - w.start >= std::chrono::seconds(1)) {
    w.start = now;
    w.logged = 0;
  }
  if (w.logged >= per_second_) {
    ++w.suppressed;
    return {};
  }
  ++w.logged;
  Decision decision{true, w.suppressed};
  w.suppressed = 0;
  return decision;
}

}  // namespace og::daemon
