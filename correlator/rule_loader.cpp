#include <fmt/format.h>
#include <re2/re2.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "correlator/rule_set.h"

// The loader may use exceptions internally (yaml-cpp throws); nothing escapes load_rules().

namespace og::correlator {
namespace {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = kFnvOffset) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing (null)";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  return fmt::format("\"{}\"", n.Scalar());
}

std::string emit(const YAML::Node& n) {
  YAML::Emitter e;
  e << n;
  return e.c_str();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggestion(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_d = 3;
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", best);
}

std::string join(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::string_view s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

// Longer than any window or cooldown means; the bound also keeps every later `time + duration` in range.
constexpr std::int64_t kMaxDurationMs = 36'525LL * 86'400'000LL;

// `too_large` tells an overlong duration from a malformed one, so the message says which.
std::optional<Duration> parse_duration(std::string_view text, bool* too_large = nullptr) {
  if (too_large) *too_large = false;
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t i = 0;
  auto overflow = [&] {
    if (too_large) *too_large = true;
    return std::nullopt;
  };
  while (i < text.size()) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) return overflow();
    if (ec != std::errc{} || value < 0) return std::nullopt;
    i = static_cast<std::size_t>(end - text.data());
    std::size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
      ++i;
    std::string_view unit = text.substr(u, i - u);
    std::int64_t ms = 0;
    if (unit == "ms")
      ms = 1;
    else if (unit == "s")
      ms = 1000;
    else if (unit == "m")
      ms = 60'000;
    else if (unit == "h")
      ms = 3'600'000;
    else if (unit == "d")
      ms = 86'400'000;
    else if (unit == "w")
      ms = 7 * 86'400'000LL;
    else
      return std::nullopt;
    std::int64_t part = 0;
    if (__builtin_mul_overflow(value, ms, &part) || __builtin_add_overflow(total, part, &total)) return overflow();
  }
  if (total > kMaxDurationMs) return overflow();
  return Duration(total);
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "2026-09-30", "2026-09-30T00:00:00Z", "2026-09-30T00:00:00.123Z".
std::optional<EventTime> parse_timestamp(std::string_view s) {
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > s.size()) return std::nullopt;
    int v = 0;
    auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, v);
    if (ec != std::errc{} || end != s.data() + pos + len) return std::nullopt;
    return v;
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2);
  if (!y || !mo || !d || s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31) return std::nullopt;
  std::int64_t ms = days_from_civil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d)) * 86'400'000LL;
  if (s.size() > 10) {
    if (s[10] != 'T' && s[10] != ' ') return std::nullopt;
    auto h = num(11, 2), mi = num(14, 2), se = num(17, 2);
    if (!h || !mi || !se || s.size() < 19) return std::nullopt;
    ms += (*h * 3600LL + *mi * 60LL + *se) * 1000LL;
    std::size_t i = 19;
    if (i < s.size() && s[i] == '.') {
      ++i;
      int digits = 0;
      std::int64_t frac = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (digits < 3) frac = frac * 10 + (s[i] - '0');
        ++digits;
        ++i;
      }
      for (int k = digits; k < 3; ++k)
        frac *= 10;
      ms += frac;
    }
    if (i != s.size() && !(i + 1 == s.size() && s[i] == 'Z')) return std::nullopt;
  }
  return EventTime(std::chrono::milliseconds(ms));
}

bool valid_identifier(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

std::string to_lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool plain_scalar(const YAML::Node& n) {
  return n.IsScalar() && n.Tag() != "!";
}

std::optional<double> scalar_number(const YAML::Node& n) {
  if (!plain_scalar(n)) return std::nullopt;
  const std::string& s = n.Scalar();
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  // from_chars reads "inf" and "nan"; as risk or a threshold they poison every sum and comparison.
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> scalar_bool(const YAML::Node& n) {
  if (!plain_scalar(n)) return std::nullopt;
  const std::string& s = n.Scalar();
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

void yaml_to_json(const YAML::Node& n, std::string& out) {
  if (n.IsMap()) {
    out.push_back('{');
    bool first = true;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!first) out.push_back(',');
      first = false;
      Diagnostics unused;
      std::string key = it->first.Scalar();
      out.push_back('"');
      for (char c : key) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out += "\":";
      yaml_to_json(it->second, out);
    }
    out.push_back('}');
    return;
  }
  if (n.IsSequence()) {
    out.push_back('[');
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (i) out.push_back(',');
      yaml_to_json(n[i], out);
    }
    out.push_back(']');
    return;
  }
  if (!n.IsDefined() || n.IsNull()) {
    out += "null";
    return;
  }
  if (plain_scalar(n)) {
    if (scalar_bool(n)) {
      out += *scalar_bool(n) ? "true" : "false";
      return;
    }
    if (scalar_number(n)) {
      out += n.Scalar();
      return;
    }
  }
  out.push_back('"');
  for (unsigned char c : n.Scalar()) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

struct FileDoc {
  std::string name;
  std::filesystem::path dir;
  YAML::Node root;
};

struct Named {
  YAML::Node node;
  const FileDoc* file = nullptr;
};

struct RawDetection {
  YAML::Node node;
  const FileDoc* file = nullptr;
  std::string path;
  std::string id;
  std::vector<std::string> depends;  // evidence signals naming detections
};

class Loader {
 public:
  LoadResult run(std::vector<FileDoc> docs);

 private:
  // -- diagnostics ---------------------------------------------------------------------------
  void error(const FileDoc& f, const YAML::Node& n, const std::string& path, std::string msg) {
    std::uint32_t line = 0, col = 0;
    if (n.IsDefined() && n.Mark().line >= 0) {
      line = static_cast<std::uint32_t>(n.Mark().line + 1);
      col = static_cast<std::uint32_t>(n.Mark().column + 1);
    }
    diags_.error(f.name, line, col, path, std::move(msg));
  }
  void warning(const FileDoc& f, const YAML::Node& n, const std::string& path, std::string msg) {
    std::uint32_t line = 0, col = 0;
    if (n.IsDefined() && n.Mark().line >= 0) {
      line = static_cast<std::uint32_t>(n.Mark().line + 1);
      col = static_cast<std::uint32_t>(n.Mark().column + 1);
    }
    diags_.warning(f.name, line, col, path, std::move(msg));
  }
  SourcePos pos(const FileDoc& f, const YAML::Node& n) {
    SourcePos p{f.name, 0, 0};
    if (n.IsDefined() && n.Mark().line >= 0) {
      p.line = static_cast<std::uint32_t>(n.Mark().line + 1);
      p.column = static_cast<std::uint32_t>(n.Mark().column + 1);
    }
    return p;
  }

  // Reports unknown and duplicate keys; returns false when `n` is not a mapping.
  bool check_map(const FileDoc& f, const YAML::Node& n, const std::string& path,
                 const std::vector<std::string_view>& allowed) {
    if (!n.IsMap()) {
      error(f, n, path, fmt::format("expected a mapping, got {}", describe(n)));
      return false;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.Scalar();
      if (!seen.insert(k).second) error(f, it->first, path, fmt::format("duplicate key '{}'", k));
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        error(f, it->first, path,
              fmt::format("unknown key '{}'{}; expected one of: {}", k, suggestion(k, allowed), join(allowed)));
      }
    }
    return true;
  }

  std::optional<std::string> get_string(const FileDoc& f, const YAML::Node& n, const std::string& path) {
    if (!n.IsScalar()) {
      error(f, n, path, fmt::format("expected a string, got {}", describe(n)));
      return std::nullopt;
    }
    return n.Scalar();
  }
  std::optional<double> get_number(const FileDoc& f, const YAML::Node& n, const std::string& path) {
    auto v = n.IsScalar() ? scalar_number(n) : std::nullopt;
    if (!v) error(f, n, path, fmt::format("expected a number, got {}", describe(n)));
    return v;
  }
  std::optional<std::uint32_t> get_count(const FileDoc& f, const YAML::Node& n, const std::string& path) {
    auto v = n.IsScalar() ? scalar_number(n) : std::nullopt;
    if (!v || *v < 1 || *v != static_cast<double>(static_cast<std::uint32_t>(*v))) {
      error(f, n, path, fmt::format("expected a positive integer, got {}", describe(n)));
      return std::nullopt;
    }
    return static_cast<std::uint32_t>(*v);
  }
  std::optional<bool> get_bool(const FileDoc& f, const YAML::Node& n, const std::string& path) {
    auto v = n.IsScalar() ? scalar_bool(n) : std::nullopt;
    if (!v) error(f, n, path, fmt::format("expected a boolean (true or false), got {}", describe(n)));
    return v;
  }
  std::optional<Duration> get_duration(const FileDoc& f, const YAML::Node& n, const std::string& path) {
    bool too_large = false;
    auto v = n.IsScalar() ? parse_duration(n.Scalar(), &too_large) : std::nullopt;
    if (too_large)
      error(f, n, path, fmt::format("duration too large (at most 100 years), got {}", describe(n)));
    else if (!v)
      error(f, n, path, fmt::format("expected a duration like 10m, 12h or 1h30m, got {}", describe(n)));
    return v;
  }
  // One string of a string-or-list value, with its own node and path, so a problem with one item
  // is reported at that item rather than at the start of the list.
  struct StringItem {
    std::string text;
    YAML::Node node;
    std::string path;
  };
  // `nonempty`: where an empty list would silently change what the rule means (match everything or
  // nothing), it is an error instead.
  std::vector<StringItem> get_string_items(const FileDoc& f, const YAML::Node& n, const std::string& path,
                                           bool nonempty = false) {
    std::vector<StringItem> out;
    if (nonempty && n.IsSequence() && n.size() == 0) {
      error(f, n, path, "expected a non-empty list");
      return out;
    }
    if (n.IsScalar()) {
      out.push_back(StringItem{n.Scalar(), n, path});
    } else if (n.IsSequence()) {
      for (std::size_t i = 0; i < n.size(); ++i) {
        std::string ipath = fmt::format("{}[{}]", path, i);
        if (auto s = get_string(f, n[i], ipath)) out.push_back(StringItem{*s, n[i], std::move(ipath)});
      }
    } else {
      error(f, n, path, fmt::format("expected a string or a list of strings, got {}", describe(n)));
    }
    return out;
  }
  std::vector<std::string> get_strings(const FileDoc& f, const YAML::Node& n, const std::string& path,
                                       bool nonempty = false) {
    std::vector<std::string> out;
    for (StringItem& item : get_string_items(f, n, path, nonempty))
      out.push_back(std::move(item.text));
    return out;
  }
  bool require(const FileDoc& f, const YAML::Node& map, const std::string& path, std::string_view key) {
    if (map[std::string(key)]) return true;
    error(f, map, path, fmt::format("missing required key '{}'", key));
    return false;
  }

  // -- lists and macros ------------------------------------------------------------------------
  // A detection's fingerprint covers every macro and list its predicates reach, through nested
  // macros and `$list` includes too, so editing any of them resets the state built by the old
  // logic. Definitions are compiled once and then served from the cache, so each records what it
  // reached (`deps_`) for the later users to pick up.
  class DependencyScope {
   public:
    DependencyScope(Loader& l, std::string name) : l_(l), name_(std::move(name)), outer_(std::move(l.used_names_)) {
      l_.used_names_.clear();
    }
    ~DependencyScope() {
      l_.deps_[name_] = l_.used_names_;
      outer_.insert(l_.used_names_.begin(), l_.used_names_.end());
      l_.used_names_ = std::move(outer_);
    }
    DependencyScope(const DependencyScope&) = delete;
    DependencyScope& operator=(const DependencyScope&) = delete;

   private:
    Loader& l_;
    std::string name_;
    std::set<std::string> outer_;
  };
  void use_dependencies(const std::string& name) {
    if (auto d = deps_.find(name); d != deps_.end()) used_names_.insert(d->second.begin(), d->second.end());
  }

  std::optional<std::vector<std::string>> list_items(const FileDoc& f, const YAML::Node& at, const std::string& path,
                                                     const std::string& name) {
    auto it = lists_.find(name);
    if (it == lists_.end()) {
      std::vector<std::string_view> names;
      for (const auto& [k, v] : lists_)
        names.push_back(k);
      error(f, at, path, fmt::format("unknown list '{}'{}", name, suggestion(name, names)));
      return std::nullopt;
    }
    used_names_.insert("list:" + name);
    if (auto c = list_cache_.find(name); c != list_cache_.end()) {
      use_dependencies("list:" + name);
      return c->second;
    }
    if (!list_visiting_.insert(name).second) {
      error(f, at, path, fmt::format("list '{}' includes itself", name));
      return std::nullopt;
    }
    DependencyScope scope(*this, "list:" + name);
    const Named& def = it->second;
    std::vector<std::string> items;
    std::string lpath = "lists." + name;
    for (std::size_t i = 0; i < def.node.size(); ++i) {
      const YAML::Node& item = def.node[i];
      std::string ipath = fmt::format("{}[{}]", lpath, i);
      if (!item.IsScalar()) {
        error(*def.file, item, ipath, fmt::format("expected a scalar list item, got {}", describe(item)));
        continue;
      }
      const std::string& s = item.Scalar();
      if (plain_scalar(item) && s.size() > 1 && s[0] == '$') {
        if (auto inner = list_items(*def.file, item, ipath, s.substr(1)))
          items.insert(items.end(), inner->begin(), inner->end());
      } else {
        items.push_back(s);
      }
    }
    list_visiting_.erase(name);
    list_cache_[name] = items;
    return items;
  }

  std::optional<PredicateNode> macro_node(const FileDoc& f, const YAML::Node& at, const std::string& path,
                                          const std::string& name) {
    auto it = macros_.find(name);
    if (it == macros_.end()) {
      std::vector<std::string_view> names;
      for (const auto& [k, v] : macros_)
        names.push_back(k);
      error(f, at, path, fmt::format("unknown macro '{}'{}", name, suggestion(name, names)));
      return std::nullopt;
    }
    used_names_.insert("macro:" + name);
    if (auto c = macro_cache_.find(name); c != macro_cache_.end()) {
      use_dependencies("macro:" + name);
      return c->second;
    }
    if (std::find(macro_stack_.begin(), macro_stack_.end(), name) != macro_stack_.end()) {
      std::string cycle;
      for (const auto& m : macro_stack_)
        cycle += m + " -> ";
      error(f, at, path, fmt::format("macro cycle: {}{}", cycle, name));
      return std::nullopt;
    }
    DependencyScope scope(*this, "macro:" + name);
    macro_stack_.push_back(name);
    std::size_t errors_before = diags_.error_count();
    PredicateNode node = predicate(*it->second.file, it->second.node, "macros." + name, false);
    macro_stack_.pop_back();
    if (diags_.error_count() != errors_before) {
      macro_cache_[name] = std::nullopt;
      return std::nullopt;
    }
    macro_cache_[name] = node;
    return node;
  }

  // -- predicates ------------------------------------------------------------------------------
  std::optional<FieldRef> field_ref(const FileDoc& f, const YAML::Node& at, const std::string& path,
                                    const std::string& name) {
    if (fixed_field(name)) return set_->fields.resolve(name);
    static const std::vector<std::string> fixed_names = [] {
      std::vector<std::string> v;
      for (int i = 0; i <= static_cast<int>(FieldId::ip_chain); ++i)
        v.emplace_back(field_path(static_cast<FieldId>(i)));
      return v;
    }();
    std::vector<std::string_view> names(fixed_names.begin(), fixed_names.end());
    if (name.empty() || name.find('.') == std::string::npos || name.rfind("target.", 0) == 0 || name.front() == '.' ||
        name.back() == '.' || name.find("..") != std::string::npos) {
      error(f, at, path, fmt::format("unknown field '{}'{}", name, suggestion(name, names)));
      return std::nullopt;
    }
    return set_->fields.resolve(name);
  }

  // Builds the op for a scalar written directly as a field's value (or under `equals`).
  FieldOp scalar_equals(const YAML::Node& v, bool ignore_case) {
    FieldOp op;
    if (auto b = scalar_bool(v)) {
      op.kind = FieldOp::Kind::bool_equals;
      op.boolean = *b;
    } else if (auto n = scalar_number(v)) {
      op.kind = FieldOp::Kind::num_equals;
      op.number = *n;
    } else {
      op.kind = FieldOp::Kind::equals;
      op.ignore_case = ignore_case;
      op.strings.push_back(ignore_case ? to_lower(v.Scalar()) : v.Scalar());
    }
    return op;
  }

  void finish_strings(FieldOp& op) {
    if (op.ignore_case) {
      for (std::string& s : op.strings)
        s = to_lower(s);
    }
    std::sort(op.strings.begin(), op.strings.end());
    op.strings.erase(std::unique(op.strings.begin(), op.strings.end()), op.strings.end());
  }

  // `inherited_icase`: an enclosing mapping's ignore_case, which holds under `not` too (the inner
  // mapping may still set its own).
  std::vector<FieldOp> field_ops(const FileDoc& f, const YAML::Node& v, const std::string& path,
                                 bool inherited_icase = false) {
    std::vector<FieldOp> ops;
    if (v.IsScalar()) {
      ops.push_back(scalar_equals(v, inherited_icase));
      return ops;
    }
    if (v.IsSequence()) {
      FieldOp op;
      op.ignore_case = inherited_icase;
      op.strings = get_strings(f, v, path, true);
      if (op.strings.empty()) return ops;
      finish_strings(op);
      ops.push_back(std::move(op));
      return ops;
    }
    static const std::vector<std::string_view> kOps{"equals", "in",     "in_list",     "prefix", "suffix", "contains",
                                                    "regex",  "cidr",   "cidr_list",   "gt",     "gte",    "lt",
                                                    "lte",    "exists", "ignore_case", "not"};
    if (!check_map(f, v, path, kOps)) return ops;
    bool icase = inherited_icase;
    if (auto ic = v["ignore_case"]) icase = get_bool(f, ic, path + ".ignore_case").value_or(icase);
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string k = it->first.Scalar();
      YAML::Node a = it->second;
      std::string p = path + "." + k;
      FieldOp op;
      op.ignore_case = icase;
      if (k == "ignore_case") {
        continue;
      } else if (k == "equals") {
        if (!a.IsScalar()) {
          error(f, a, p, fmt::format("expected a scalar, got {}", describe(a)));
          continue;
        }
        op = scalar_equals(a, icase);
      } else if (k == "in") {
        if (!a.IsSequence()) {
          error(f, a, p, fmt::format("expected a list of values, got {}", describe(a)));
          continue;
        }
        op.strings = get_strings(f, a, p, true);
        if (op.strings.empty()) continue;
        finish_strings(op);
      } else if (k == "in_list") {
        auto name = get_string(f, a, p);
        if (!name) continue;
        auto items = list_items(f, a, p, *name);
        if (!items) continue;
        if (items->empty()) {
          error(f, a, p, fmt::format("list '{}' is empty; expected a non-empty list", *name));
          continue;
        }
        op.strings = *items;
        finish_strings(op);
      } else if (k == "prefix" || k == "suffix" || k == "contains") {
        op.kind = k == "prefix"   ? FieldOp::Kind::prefix
                  : k == "suffix" ? FieldOp::Kind::suffix
                                  : FieldOp::Kind::contains;
        op.strings = get_strings(f, a, p, true);
        if (op.strings.empty()) continue;
        finish_strings(op);
      } else if (k == "regex") {
        auto pattern = get_string(f, a, p);
        if (!pattern) continue;
        RE2::Options options;
        options.set_log_errors(false);
        options.set_case_sensitive(!icase);
        auto re = std::make_shared<RE2>(*pattern, options);
        if (!re->ok()) {
          error(f, a, p, fmt::format("invalid regular expression: {}", re->error()));
          continue;
        }
        op.kind = FieldOp::Kind::regex;
        op.regex = std::move(re);
      } else if (k == "cidr" || k == "cidr_list") {
        op.kind = FieldOp::Kind::cidr;
        std::vector<StringItem> items;
        if (k == "cidr") {
          items = get_string_items(f, a, p, true);
          if (items.empty()) continue;
        } else if (auto name = get_string(f, a, p)) {
          auto listed = list_items(f, a, p, *name);
          if (!listed) continue;
          if (listed->empty()) {
            error(f, a, p, fmt::format("list '{}' is empty; expected a non-empty list", *name));
            continue;
          }
          for (std::string& text : *listed)
            items.push_back(StringItem{std::move(text), a, p});
        } else {
          continue;
        }
        for (const StringItem& item : items) {
          if (auto c = parse_cidr(item.text))
            op.cidrs.push_back(*c);
          else
            error(f, item.node, item.path,
                  fmt::format("expected an IP address or CIDR like 10.0.0.0/8, got \"{}\"", item.text));
        }
      } else if (k == "gt" || k == "gte" || k == "lt" || k == "lte") {
        auto n = get_number(f, a, p);
        if (!n) continue;
        op.kind = k == "gt"    ? FieldOp::Kind::gt
                  : k == "gte" ? FieldOp::Kind::gte
                  : k == "lt"  ? FieldOp::Kind::lt
                               : FieldOp::Kind::lte;
        op.number = *n;
      } else if (k == "exists") {
        auto b = get_bool(f, a, p);
        if (!b) continue;
        op.kind = FieldOp::Kind::exists;
        op.boolean = *b;
      } else if (k == "not") {
        op.kind = FieldOp::Kind::negate;
        op.group = field_ops(f, a, p, icase);
        if (op.group.empty()) continue;
      } else {
        continue;  // reported by check_map
      }
      ops.push_back(std::move(op));
    }
    if (ops.empty() && v.IsMap() && v.size() > 0 && !(v.size() == 1 && v["ignore_case"])) return ops;
    if (ops.empty()) error(f, v, path, "expected at least one operator");
    return ops;
  }

  PredicateNode predicate(const FileDoc& f, const YAML::Node& n, const std::string& path, bool in_target) {
    PredicateNode all;
    all.kind = PredicateNode::Kind::all;
    if (!n.IsMap()) {
      error(f, n, path, fmt::format("expected a predicate (a mapping of field: condition), got {}", describe(n)));
      return all;
    }
    if (n.size() == 0) {
      error(f, n, path, "empty predicate");
      return all;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.Scalar();
      YAML::Node v = it->second;
      std::string p = path + "." + k;
      if (!seen.insert(k).second) error(f, it->first, path, fmt::format("duplicate key '{}'", k));
      if (k == "all" || k == "any") {
        PredicateNode node;
        node.kind = k == "all" ? PredicateNode::Kind::all : PredicateNode::Kind::any;
        if (!v.IsSequence() || v.size() == 0) {
          error(f, v, p, fmt::format("expected a non-empty list of predicates, got {}", describe(v)));
          continue;
        }
        for (std::size_t i = 0; i < v.size(); ++i)
          node.children.push_back(predicate(f, v[i], fmt::format("{}[{}]", p, i), in_target));
        all.children.push_back(std::move(node));
      } else if (k == "not") {
        PredicateNode node;
        node.kind = PredicateNode::Kind::negate;
        node.children.push_back(predicate(f, v, p, in_target));
        all.children.push_back(std::move(node));
      } else if (k == "macro") {
        for (const StringItem& name : get_string_items(f, v, p, true)) {
          if (auto m = macro_node(f, name.node, name.path, name.text)) all.children.push_back(std::move(*m));
        }
      } else if (k == "any_target" || k == "all_targets") {
        if (in_target) {
          error(f, it->first, p, fmt::format("'{}' cannot be nested inside any_target/all_targets", k));
          continue;
        }
        PredicateNode node;
        node.kind = k == "any_target" ? PredicateNode::Kind::any_target : PredicateNode::Kind::all_targets;
        node.children.push_back(predicate(f, v, p, true));
        all.children.push_back(std::move(node));
      } else {
        auto ref = field_ref(f, it->first, p, k);
        if (!ref) continue;
        if (in_target && !ref->per_target()) {
          // Allowed: a non-target field inside any_target reads the event's own field.
        }
        PredicateNode node;
        node.kind = PredicateNode::Kind::field;
        node.field = *ref;
        node.ops = field_ops(f, v, p);
        all.children.push_back(std::move(node));
      }
    }
    if (all.children.size() == 1) return std::move(all.children.front());
    return all;
  }

  static PredicateNode conjoin(const PredicateNode& a, const PredicateNode& b) {
    if (a.kind == PredicateNode::Kind::always) return b;
    if (b.kind == PredicateNode::Kind::always) return a;
    PredicateNode node;
    node.kind = PredicateNode::Kind::all;
    node.children = {a, b};
    return node;
  }

  // -- detections ------------------------------------------------------------------------------
  void collect_detections();
  void order_detections();
  void compile_detection(const RawDetection& raw, DetectionRule& d);
  void compile_responses();
  void compile_exceptions();
  void compile_tests();
  void compile_settings();
  void build_index();
  std::optional<ResponseCondition> condition(const FileDoc& f, const YAML::Node& n, const std::string& path);
  std::optional<ActionSpec> action(const FileDoc& f, const YAML::Node& n, const std::string& path);
  std::optional<Template> template_text(const FileDoc& f, const YAML::Node& n, const std::string& path);
  std::optional<std::uint32_t> detection_index(const FileDoc& f, const YAML::Node& at, const std::string& path,
                                               const std::string& id) {
    auto it = detection_ids_.find(id);
    if (it == detection_ids_.end()) {
      std::vector<std::string_view> names;
      for (const auto& [k, v] : detection_ids_)
        names.push_back(k);
      error(f, at, path, fmt::format("unknown detection '{}'{}", id, suggestion(id, names)));
      return std::nullopt;
    }
    return it->second;
  }

  Diagnostics diags_;
  std::shared_ptr<RuleSet> set_ = std::make_shared<RuleSet>();
  std::vector<FileDoc> docs_;
  std::map<std::string, Named> lists_;
  std::map<std::string, Named> macros_;
  std::map<std::string, std::vector<std::string>> list_cache_;
  std::set<std::string> list_visiting_;
  std::map<std::string, std::optional<PredicateNode>> macro_cache_;
  std::vector<std::string> macro_stack_;
  std::set<std::string> used_names_;
  std::map<std::string, std::set<std::string>> deps_;  // "macro:x"/"list:x" -> what it reaches
  std::vector<RawDetection> raw_;
  std::unordered_map<std::string, std::uint32_t> detection_ids_;
};

void Loader::collect_detections() {
  std::unordered_map<std::string, SourcePos> first_seen;
  for (const FileDoc& f : docs_) {
    YAML::Node list = f.root["detections"];
    if (!list) continue;
    if (!list.IsSequence()) {
      error(f, list, "detections", fmt::format("expected a list of detections, got {}", describe(list)));
      continue;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      YAML::Node n = list[i];
      std::string path = fmt::format("detections[{}]", i);
      if (!n.IsMap()) {
        error(f, n, path, fmt::format("expected a detection (a mapping), got {}", describe(n)));
        continue;
      }
      if (!n["id"]) {
        error(f, n, path, "missing required key 'id'");
        continue;
      }
      auto id = get_string(f, n["id"], path + ".id");
      if (!id) continue;
      if (!valid_identifier(*id)) {
        error(f, n["id"], path + ".id", fmt::format("invalid id \"{}\": use letters, digits, '_', '.', '-'", *id));
        continue;
      }
      if (auto prev = first_seen.find(*id); prev != first_seen.end()) {
        error(f, n["id"], path + ".id",
              fmt::format("duplicate detection id '{}' (first defined at {}:{}:{})", *id, prev->second.file,
                          prev->second.line, prev->second.column));
        continue;
      }
      first_seen[*id] = pos(f, n["id"]);
      RawDetection raw{n, &f, path, *id, {}};
      if (YAML::Node ev = n["evidence"]; ev && ev.IsMap() && ev["signals"] && ev["signals"].IsSequence()) {
        for (std::size_t s = 0; s < ev["signals"].size(); ++s) {
          YAML::Node sig = ev["signals"][s];
          if (sig.IsMap() && sig["detection"] && sig["detection"].IsScalar())
            raw.depends.push_back(sig["detection"].Scalar());
        }
      }
      raw_.push_back(std::move(raw));
    }
  }
}

// Evidence detections listen to other detections' firings; evaluate those first. Kahn's algorithm
// keeps file order among independent detections, so indexes are stable for unchanged files.
void Loader::order_detections() {
  std::unordered_map<std::string, std::size_t> by_id;
  for (std::size_t i = 0; i < raw_.size(); ++i)
    by_id[raw_[i].id] = i;
  std::vector<std::vector<std::size_t>> users(raw_.size());
  std::vector<std::size_t> pending(raw_.size(), 0);
  for (std::size_t i = 0; i < raw_.size(); ++i) {
    for (const std::string& dep : raw_[i].depends) {
      auto it = by_id.find(dep);
      if (it == by_id.end()) continue;  // reported when the signal is compiled
      users[it->second].push_back(i);
      ++pending[i];
    }
  }
  std::vector<std::size_t> order;
  std::vector<bool> done(raw_.size(), false);
  while (order.size() < raw_.size()) {
    bool progressed = false;
    for (std::size_t i = 0; i < raw_.size(); ++i) {
      if (done[i] || pending[i] != 0) continue;
      done[i] = true;
      order.push_back(i);
      for (std::size_t u : users[i])
        --pending[u];
      progressed = true;
      break;
    }
    if (!progressed) {
      for (std::size_t i = 0; i < raw_.size(); ++i) {
        if (done[i]) continue;
        std::string members;
        for (std::size_t j = 0; j < raw_.size(); ++j) {
          if (!done[j]) members += (members.empty() ? "" : ", ") + raw_[j].id;
        }
        error(*raw_[i].file, raw_[i].node["evidence"], raw_[i].path + ".evidence",
              fmt::format("evidence detections form a cycle among: {}", members));
        break;
      }
      for (std::size_t i = 0; i < raw_.size(); ++i) {
        if (!done[i]) order.push_back(i);
      }
      break;
    }
  }
  std::vector<RawDetection> sorted;
  for (std::size_t i : order)
    sorted.push_back(std::move(raw_[i]));
  raw_ = std::move(sorted);
  for (std::size_t i = 0; i < raw_.size(); ++i)
    detection_ids_[raw_[i].id] = static_cast<std::uint32_t>(i);
}

void Loader::compile_detection(const RawDetection& raw, DetectionRule& d) {
  const FileDoc& f = *raw.file;
  const YAML::Node& n = raw.node;
  const std::string& path = raw.path;
  static const std::vector<std::string_view> kKeys{
      "id",       "title",   "description",  "severity",   "source",   "where", "key",     "threshold", "distinct",
      "sequence", "absence", "geo_velocity", "first_seen", "evidence", "risk",  "risk_to", "cooldown",  "enabled"};
  check_map(f, n, path, kKeys);
  used_names_.clear();
  d.id = raw.id;
  d.pos = pos(f, n);
  if (auto v = n["title"]) d.title = get_string(f, v, path + ".title").value_or("");
  if (auto v = n["description"]) d.description = get_string(f, v, path + ".description").value_or("");
  if (auto v = n["severity"]) {
    static const std::vector<std::string_view> kSev{"info", "low", "medium", "high", "critical"};
    auto s = get_string(f, v, path + ".severity");
    auto it = s ? std::find(kSev.begin(), kSev.end(), *s) : kSev.end();
    if (s && it == kSev.end())
      error(f, v, path + ".severity", fmt::format("expected one of: {}; got \"{}\"", join(kSev), *s));
    if (it != kSev.end()) d.severity = static_cast<DetectionSeverity>(it - kSev.begin());
  }
  if (auto v = n["source"]) {
    for (const std::string& s : get_strings(f, v, path + ".source", true))
      d.sources.push_back(Symbol::intern(s));
  }
  if (auto v = n["where"]) d.where = Predicate(predicate(f, v, path + ".where", false));
  std::vector<StringItem> keys{StringItem{"actor.id", n, path + ".key"}};
  if (auto v = n["key"]) keys = get_string_items(f, v, path + ".key");
  if (keys.empty()) error(f, n["key"], path + ".key", "expected at least one key field");
  for (const StringItem& k : keys) {
    if (auto ref = field_ref(f, k.node, k.path, k.text)) d.key.push_back(*ref);
    d.key_text += (d.key_text.empty() ? "" : "+") + k.text;
  }
  if (auto v = n["risk"]) {
    auto r = get_number(f, v, path + ".risk");
    if (r && *r < 0) error(f, v, path + ".risk", "expected a number >= 0");
    d.risk = r.value_or(0);
  }
  if (auto v = n["risk_to"]) {
    static const std::vector<std::string_view> kTo{"actor", "targets", "key", "key_users"};
    auto s = get_string(f, v, path + ".risk_to");
    auto it = s ? std::find(kTo.begin(), kTo.end(), *s) : kTo.end();
    if (s && it == kTo.end())
      error(f, v, path + ".risk_to", fmt::format("expected one of: {}; got \"{}\"", join(kTo), *s));
    if (it != kTo.end()) d.risk_to = static_cast<RiskTo>(it - kTo.begin());
  }
  if (auto v = n["cooldown"]) d.cooldown = get_duration(f, v, path + ".cooldown").value_or(Duration{0});
  if (auto v = n["enabled"]) d.enabled = get_bool(f, v, path + ".enabled").value_or(true);

  static const std::vector<std::string_view> kConstructs{"threshold",    "distinct",   "sequence", "absence",
                                                         "geo_velocity", "first_seen", "evidence"};
  std::vector<std::string_view> present;
  for (std::string_view c : kConstructs) {
    if (n[std::string(c)]) present.push_back(c);
  }
  if (present.size() > 1) {
    error(f, n[std::string(present[1])], path,
          fmt::format("a detection has at most one correlation construct; found {}", join(present)));
    return;
  }
  std::vector<std::string> types = d.where.required_event_types();
  bool any_type = types.empty();
  bool no_events = false;
  if (present.empty()) {
    d.kind = ConstructKind::single;
  } else {
    std::string c(present[0]);
    YAML::Node v = n[c];
    std::string p = path + "." + c;
    if (c == "threshold") {
      d.kind = ConstructKind::threshold;
      if (check_map(f, v, p, {"count", "within"}) && require(f, v, p, "count") && require(f, v, p, "within")) {
        d.count = get_count(f, v["count"], p + ".count").value_or(1);
        d.within = get_duration(f, v["within"], p + ".within").value_or(Duration{0});
      }
    } else if (c == "distinct") {
      d.kind = ConstructKind::distinct;
      if (check_map(f, v, p, {"field", "count", "within"}) && require(f, v, p, "field") && require(f, v, p, "count") &&
          require(f, v, p, "within")) {
        if (auto name = get_string(f, v["field"], p + ".field")) {
          if (auto ref = field_ref(f, v["field"], p + ".field", *name)) d.field = *ref;
        }
        d.count = get_count(f, v["count"], p + ".count").value_or(1);
        d.within = get_duration(f, v["within"], p + ".within").value_or(Duration{0});
      }
    } else if (c == "sequence") {
      d.kind = ConstructKind::sequence;
      if (check_map(f, v, p, {"within", "steps"}) && require(f, v, p, "within") && require(f, v, p, "steps")) {
        d.within = get_duration(f, v["within"], p + ".within").value_or(Duration{0});
        YAML::Node steps = v["steps"];
        if (!steps.IsSequence() || steps.size() == 0) {
          error(f, steps, p + ".steps", fmt::format("expected a non-empty list of steps, got {}", describe(steps)));
        } else {
          types.clear();
          any_type = false;
          for (std::size_t i = 0; i < steps.size(); ++i) {
            std::string sp = fmt::format("{}.steps[{}]", p, i);
            YAML::Node s = steps[i];
            if (!check_map(f, s, sp, {"where", "count"}) || !require(f, s, sp, "where")) continue;
            SequenceStep step;
            step.where = Predicate(conjoin(d.where.root(), predicate(f, s["where"], sp + ".where", false)));
            if (auto cnt = s["count"]) {
              std::string text = cnt.IsScalar() ? cnt.Scalar() : std::string();
              if (text.rfind(">=", 0) == 0) {
                text.erase(0, 2);
                text.erase(0, text.find_first_not_of(' '));
                YAML::Node tmp(text);
                auto num = scalar_number(tmp);
                if (num && *num >= 1 && *num == static_cast<double>(static_cast<std::uint32_t>(*num)))
                  step.count = static_cast<std::uint32_t>(*num);
                else
                  error(f, cnt, sp + ".count",
                        fmt::format("expected a positive integer or \">= N\", got {}", describe(cnt)));
              } else {
                step.count = get_count(f, cnt, sp + ".count").value_or(1);
              }
            }
            auto st = step.where.required_event_types();
            if (st.empty()) any_type = true;
            types.insert(types.end(), st.begin(), st.end());
            d.steps.push_back(std::move(step));
          }
        }
      }
    } else if (c == "absence") {
      d.kind = ConstructKind::absence;
      if (check_map(f, v, p, {"first", "not_followed_by", "within"}) && require(f, v, p, "first") &&
          require(f, v, p, "not_followed_by") && require(f, v, p, "within")) {
        d.absence_first = Predicate(conjoin(d.where.root(), predicate(f, v["first"], p + ".first", false)));
        d.absence_then =
            Predicate(conjoin(d.where.root(), predicate(f, v["not_followed_by"], p + ".not_followed_by", false)));
        d.within = get_duration(f, v["within"], p + ".within").value_or(Duration{0});
        auto a = d.absence_first.required_event_types();
        auto b = d.absence_then.required_event_types();
        any_type = a.empty() || b.empty();
        types = a;
        types.insert(types.end(), b.begin(), b.end());
      }
    } else if (c == "geo_velocity") {
      d.kind = ConstructKind::geo_velocity;
      d.forget_after = std::chrono::hours(24 * 30);
      if (check_map(f, v, p, {"max_kmh", "min_km", "forget_after"}) && require(f, v, p, "max_kmh")) {
        d.max_kmh = get_number(f, v["max_kmh"], p + ".max_kmh").value_or(0);
        if (auto m = v["min_km"]) d.min_km = get_number(f, m, p + ".min_km").value_or(0);
        if (auto m = v["forget_after"])
          d.forget_after = get_duration(f, m, p + ".forget_after").value_or(d.forget_after);
        if (d.max_kmh <= 0) error(f, v["max_kmh"], p + ".max_kmh", "expected a speed > 0");
      }
    } else if (c == "first_seen") {
      d.kind = ConstructKind::first_seen;
      d.forget_after = std::chrono::hours(24 * 90);
      if (check_map(f, v, p, {"field", "learning", "forget_after", "max_values"}) && require(f, v, p, "field")) {
        if (auto name = get_string(f, v["field"], p + ".field")) {
          if (auto ref = field_ref(f, v["field"], p + ".field", *name)) d.field = *ref;
        }
        if (auto m = v["learning"]) d.learning = get_duration(f, m, p + ".learning").value_or(Duration{0});
        if (auto m = v["forget_after"])
          d.forget_after = get_duration(f, m, p + ".forget_after").value_or(d.forget_after);
        if (auto m = v["max_values"]) {
          d.max_values = get_count(f, m, p + ".max_values").value_or(16);
          if (d.max_values > 255) error(f, m, p + ".max_values", "expected at most 255 values per key");
        }
      }
    } else if (c == "evidence") {
      d.kind = ConstructKind::evidence;
      if (check_map(f, v, p, {"within", "min_points", "signals"}) && require(f, v, p, "within") &&
          require(f, v, p, "min_points") && require(f, v, p, "signals")) {
        d.within = get_duration(f, v["within"], p + ".within").value_or(Duration{0});
        d.min_points = get_number(f, v["min_points"], p + ".min_points").value_or(0);
        YAML::Node sigs = v["signals"];
        types.clear();
        any_type = false;
        no_events = true;
        if (!sigs.IsSequence() || sigs.size() == 0 || sigs.size() > 64) {
          error(f, sigs, p + ".signals", fmt::format("expected a list of 1 to 64 signals, got {}", describe(sigs)));
        } else {
          for (std::size_t i = 0; i < sigs.size(); ++i) {
            std::string sp = fmt::format("{}.signals[{}]", p, i);
            YAML::Node s = sigs[i];
            if (!check_map(f, s, sp, {"detection", "where", "points"}) || !require(f, s, sp, "points")) continue;
            EvidenceSignal sig;
            sig.points = get_number(f, s["points"], sp + ".points").value_or(0);
            if (s["detection"] && s["where"]) {
              error(f, s, sp, "a signal has either 'detection' or 'where', not both");
              continue;
            }
            if (auto det = s["detection"]) {
              auto id = get_string(f, det, sp + ".detection");
              if (!id) continue;
              auto idx = detection_index(f, det, sp + ".detection", *id);
              if (!idx) continue;
              if (*idx >= set_->detections.size()) {
                error(f, det, sp + ".detection", fmt::format("detection '{}' cannot be a signal of itself", *id));
                continue;
              }
              const DetectionRule& other = set_->detections[*idx];
              if (other.key_text != d.key_text) {
                error(
                    f, det, sp + ".detection",
                    fmt::format("detection '{}' is keyed by {}, but this detection by {}; evidence needs the same key",
                                *id, other.key_text, d.key_text));
                continue;
              }
              sig.detection = *idx;
            } else if (auto w = s["where"]) {
              sig.where = Predicate(conjoin(d.where.root(), predicate(f, w, sp + ".where", false)));
              no_events = false;
              auto st = sig.where.required_event_types();
              if (st.empty()) any_type = true;
              types.insert(types.end(), st.begin(), st.end());
            } else {
              error(f, s, sp, "a signal needs 'detection' or 'where'");
              continue;
            }
            d.signals.push_back(std::move(sig));
          }
        }
      }
    }
    if (d.kind != ConstructKind::geo_velocity && d.kind != ConstructKind::first_seen && d.within.count() <= 0 &&
        d.kind != ConstructKind::single && v.IsMap() && v["within"] && v["within"].IsScalar() &&
        parse_duration(v["within"].Scalar())) {
      error(f, v["within"], p + ".within", "expected a window longer than 0");
    }
  }
  if (!no_events && !any_type) {
    std::sort(types.begin(), types.end());
    types.erase(std::unique(types.begin(), types.end()), types.end());
    for (const std::string& t : types)
      d.event_types.push_back(Symbol::intern(t));
  }
  if (no_events) d.event_types.clear();
  std::uint64_t h = fnv1a(emit(n));
  for (const std::string& name : used_names_) {
    auto colon = name.find(':');
    std::string kind = name.substr(0, colon), ident = name.substr(colon + 1);
    const auto& table = kind == "list" ? lists_ : macros_;
    if (auto it = table.find(ident); it != table.end()) h = fnv1a(name + emit(it->second.node), h);
  }
  d.fingerprint = h;
  // Whether the detection receives events at all, for the index (evidence with only detection signals does not).
  if (no_events) d.event_types = {Symbol::intern("\x01<no events>")};
}

std::optional<ResponseCondition> Loader::condition(const FileDoc& f, const YAML::Node& n, const std::string& path) {
  if (!check_map(f, n, path, {"risk_at_least", "detection", "severity_at_least", "any", "all", "not"}))
    return std::nullopt;
  ResponseCondition all;
  all.kind = ResponseCondition::Kind::all;
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string k = it->first.Scalar();
    YAML::Node v = it->second;
    std::string p = path + "." + k;
    ResponseCondition c;
    if (k == "risk_at_least") {
      c.kind = ResponseCondition::Kind::risk_at_least;
      c.risk = get_number(f, v, p).value_or(0);
    } else if (k == "detection") {
      c.kind = ResponseCondition::Kind::detection;
      for (const StringItem& id : get_string_items(f, v, p, true)) {
        if (auto idx = detection_index(f, id.node, id.path, id.text)) c.detections.push_back(*idx);
      }
    } else if (k == "severity_at_least") {
      static const std::vector<std::string_view> kSev{"info", "low", "medium", "high", "critical"};
      auto s = get_string(f, v, p);
      auto sit = s ? std::find(kSev.begin(), kSev.end(), *s) : kSev.end();
      if (s && sit == kSev.end()) error(f, v, p, fmt::format("expected one of: {}; got \"{}\"", join(kSev), *s));
      c.kind = ResponseCondition::Kind::severity_at_least;
      if (sit != kSev.end()) c.severity = static_cast<DetectionSeverity>(sit - kSev.begin());
    } else if (k == "any" || k == "all") {
      c.kind = k == "any" ? ResponseCondition::Kind::any : ResponseCondition::Kind::all;
      if (!v.IsSequence() || v.size() == 0) {
        error(f, v, p, fmt::format("expected a non-empty list of conditions, got {}", describe(v)));
        continue;
      }
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (auto inner = condition(f, v[i], fmt::format("{}[{}]", p, i))) c.children.push_back(std::move(*inner));
      }
    } else if (k == "not") {
      c.kind = ResponseCondition::Kind::negate;
      if (auto inner = condition(f, v, p))
        c.children.push_back(std::move(*inner));
      else
        continue;
    } else {
      continue;
    }
    all.children.push_back(std::move(c));
  }
  if (all.children.empty()) {
    error(f, n, path, "expected at least one condition");
    return std::nullopt;
  }
  if (all.children.size() == 1) return std::move(all.children.front());
  return all;
}

class TemplateParser {
 public:
  TemplateParser(std::string_view text) : s_(text) {}
  std::optional<TemplateExpr> parse(std::string& error) {
    auto e = expr(error);
    skip();
    if (e && i_ != s_.size()) {
      error = fmt::format("unexpected '{}' in template expression", s_.substr(i_));
      return std::nullopt;
    }
    return e;
  }

 private:
  void skip() {
    while (i_ < s_.size() && s_[i_] == ' ')
      ++i_;
  }
  std::optional<TemplateExpr> expr(std::string& error) {
    auto left = term(error);
    while (left) {
      skip();
      if (i_ >= s_.size() || (s_[i_] != '+' && s_[i_] != '-')) break;
      char op = s_[i_++];
      auto right = term(error);
      if (!right) return std::nullopt;
      TemplateExpr e;
      e.kind = op == '+' ? TemplateExpr::Kind::add : TemplateExpr::Kind::sub;
      e.operands = {std::move(*left), std::move(*right)};
      left = std::move(e);
    }
    return left;
  }
  std::optional<TemplateExpr> term(std::string& error) {
    auto left = factor(error);
    while (left) {
      skip();
      if (i_ >= s_.size() || (s_[i_] != '*' && s_[i_] != '/')) break;
      char op = s_[i_++];
      auto right = factor(error);
      if (!right) return std::nullopt;
      TemplateExpr e;
      e.kind = op == '*' ? TemplateExpr::Kind::mul : TemplateExpr::Kind::div;
      e.operands = {std::move(*left), std::move(*right)};
      left = std::move(e);
    }
    return left;
  }
  std::optional<TemplateExpr> factor(std::string& error) {
    skip();
    if (i_ >= s_.size()) {
      error = "template expression ends too early";
      return std::nullopt;
    }
    if (s_[i_] == '(') {
      ++i_;
      auto e = expr(error);
      skip();
      if (!e || i_ >= s_.size() || s_[i_] != ')') {
        if (error.empty()) error = "missing ')' in template expression";
        return std::nullopt;
      }
      ++i_;
      return e;
    }
    if (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.') {
      TemplateExpr e;
      auto [end, ec] = std::from_chars(s_.data() + i_, s_.data() + s_.size(), e.number);
      if (ec != std::errc{}) {
        error = "bad number in template expression";
        return std::nullopt;
      }
      i_ = static_cast<std::size_t>(end - s_.data());
      return e;
    }
    std::size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_'))
      ++i_;
    std::string name(s_.substr(start, i_ - start));
    static const std::vector<std::string_view> kVars{"risk", "detection", "detection_title", "user", "key", "severity"};
    if (std::find(kVars.begin(), kVars.end(), name) == kVars.end()) {
      error = name.empty() ? fmt::format("unexpected '{}' in template expression", s_.substr(start))
                           : fmt::format("unknown template variable '{}'{}; expected one of: {}", name,
                                         suggestion(name, kVars), join(kVars));
      return std::nullopt;
    }
    TemplateExpr e;
    e.kind = TemplateExpr::Kind::variable;
    e.variable = name;
    return e;
  }
  std::string_view s_;
  std::size_t i_ = 0;
};

bool numeric_only(const TemplateExpr& e) {
  if (e.kind == TemplateExpr::Kind::variable) return e.variable == "risk";
  return std::all_of(e.operands.begin(), e.operands.end(), numeric_only);
}

std::optional<Template> Loader::template_text(const FileDoc& f, const YAML::Node& n, const std::string& path) {
  auto text = get_string(f, n, path);
  if (!text) return std::nullopt;
  Template t;
  t.source = *text;
  std::string_view s = *text;
  while (!s.empty()) {
    auto open = s.find("{{");
    Template::Part part;
    if (open == std::string_view::npos) {
      part.literal = std::string(s);
      t.parts.push_back(std::move(part));
      break;
    }
    part.literal = std::string(s.substr(0, open));
    auto close = s.find("}}", open);
    if (close == std::string_view::npos) {
      error(f, n, path, "template has '{{' without '}}'");
      return std::nullopt;
    }
    std::string err;
    auto e = TemplateParser(s.substr(open + 2, close - open - 2)).parse(err);
    if (!e) {
      error(f, n, path, err);
      return std::nullopt;
    }
    if (e->kind != TemplateExpr::Kind::variable && !numeric_only(*e)) {
      error(f, n, path, "template arithmetic works on numbers only (numbers and risk)");
      return std::nullopt;
    }
    part.expr = std::move(*e);
    t.parts.push_back(std::move(part));
    s.remove_prefix(close + 2);
  }
  return t;
}

std::optional<ActionSpec> Loader::action(const FileDoc& f, const YAML::Node& n, const std::string& path) {
  std::string name;
  YAML::Node params;
  if (n.IsScalar()) {
    name = n.Scalar();
  } else if (n.IsMap() && n.size() == 1) {
    name = n.begin()->first.Scalar();
    params = n.begin()->second;
  } else {
    error(f, n, path,
          fmt::format("expected an action (a name, or a mapping with one action name), got {}", describe(n)));
    return std::nullopt;
  }
  auto kind = action_kind_from(name);
  if (!kind) {
    static const std::vector<std::string_view> kNames{
        "suspend",     "unsuspend",    "clear_sessions",    "expire_password", "reset_password",
        "set_profile", "add_to_group", "remove_from_group", "set_user_risk",   "notify"};
    error(f, n, path,
          fmt::format("unknown action '{}'{}; expected one of: {}", name, suggestion(name, kNames), join(kNames)));
    return std::nullopt;
  }
  ActionSpec a;
  a.kind = *kind;
  std::string p = path + "." + name;
  bool has_params = params.IsDefined() && !params.IsNull();
  auto map_ok = [&](const std::vector<std::string_view>& keys) {
    if (!has_params) return false;
    return check_map(f, params, p, keys);
  };
  switch (a.kind) {
    case ActionKind::suspend:
      if (map_ok({"ttl"}) && params["ttl"]) a.ttl = get_duration(f, params["ttl"], p + ".ttl");
      break;
    case ActionKind::unsuspend:
      if (has_params) map_ok({});
      break;
    case ActionKind::clear_sessions:
      if (map_ok({"oauth_tokens", "forget_devices"})) {
        if (params["oauth_tokens"])
          a.oauth_tokens = get_bool(f, params["oauth_tokens"], p + ".oauth_tokens").value_or(false);
        if (params["forget_devices"])
          a.forget_devices = get_bool(f, params["forget_devices"], p + ".forget_devices").value_or(false);
      }
      break;
    case ActionKind::expire_password:
      if (map_ok({"temp_password", "revoke_sessions"})) {
        if (params["temp_password"])
          a.temp_password = get_bool(f, params["temp_password"], p + ".temp_password").value_or(false);
        if (params["revoke_sessions"])
          a.revoke_sessions = get_bool(f, params["revoke_sessions"], p + ".revoke_sessions").value_or(false);
      }
      break;
    case ActionKind::reset_password:
      if (map_ok({"send_email", "revoke_sessions"})) {
        if (params["send_email"]) a.send_email = get_bool(f, params["send_email"], p + ".send_email").value_or(true);
        if (params["revoke_sessions"])
          a.revoke_sessions = get_bool(f, params["revoke_sessions"], p + ".revoke_sessions").value_or(false);
      }
      break;
    case ActionKind::set_profile:
      if (!params.IsMap() || params.size() == 0) {
        error(f, has_params ? params : n, p,
              fmt::format("expected a mapping of attribute: template, got {}", describe(params)));
        return std::nullopt;
      }
      for (auto it = params.begin(); it != params.end(); ++it) {
        std::string attr = it->first.Scalar();
        if (auto t = template_text(f, it->second, p + "." + attr)) a.profile.emplace_back(attr, std::move(*t));
      }
      break;
    case ActionKind::add_to_group:
    case ActionKind::remove_from_group:
      if (!has_params) {
        error(f, n, p, "missing required key 'group' (or 'group_id')");
        return std::nullopt;
      }
      if (map_ok({"group", "group_id", "ttl"})) {
        if (params["group"] && params["group_id"]) {
          error(f, params, p, "give either 'group' or 'group_id', not both");
        } else if (params["group"]) {
          a.group = get_string(f, params["group"], p + ".group").value_or("");
        } else if (params["group_id"]) {
          a.group = get_string(f, params["group_id"], p + ".group_id").value_or("");
          a.group_is_id = true;
        } else {
          error(f, params, p, "missing required key 'group' (or 'group_id')");
        }
        if (params["ttl"]) a.ttl = get_duration(f, params["ttl"], p + ".ttl");
      }
      break;
    case ActionKind::set_user_risk:
      if (!has_params || !map_ok({"level"}) || !params["level"]) {
        error(f, has_params ? params : n, p, "missing required key 'level' (LOW, MEDIUM or HIGH)");
        return std::nullopt;
      }
      a.level = get_string(f, params["level"], p + ".level").value_or("");
      if (a.level != "LOW" && a.level != "MEDIUM" && a.level != "HIGH")
        error(f, params["level"], p + ".level", fmt::format("expected LOW, MEDIUM or HIGH, got \"{}\"", a.level));
      break;
    case ActionKind::notify:
      if (map_ok({"message"}) && params["message"]) {
        if (auto t = template_text(f, params["message"], p + ".message")) a.message = std::move(*t);
      }
      break;
  }
  return a;
}

void Loader::compile_responses() {
  std::unordered_map<std::string, SourcePos> ids;
  for (const FileDoc& f : docs_) {
    YAML::Node list = f.root["responses"];
    if (!list) continue;
    if (!list.IsSequence()) {
      error(f, list, "responses", fmt::format("expected a list of responses, got {}", describe(list)));
      continue;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      YAML::Node n = list[i];
      std::string path = fmt::format("responses[{}]", i);
      if (!check_map(f, n, path, {"id", "when", "cooldown", "escalation_horizon", "do", "tiers"})) continue;
      ResponseRule r;
      r.pos = pos(f, n);
      if (!require(f, n, path, "id") || !require(f, n, path, "when")) continue;
      r.id = get_string(f, n["id"], path + ".id").value_or("");
      if (!valid_identifier(r.id)) error(f, n["id"], path + ".id", fmt::format("invalid id \"{}\"", r.id));
      if (auto prev = ids.find(r.id); prev != ids.end()) {
        error(f, n["id"], path + ".id",
              fmt::format("duplicate response id '{}' (first defined at {}:{}:{})", r.id, prev->second.file,
                          prev->second.line, prev->second.column));
      }
      ids[r.id] = pos(f, n["id"]);
      if (auto c = condition(f, n["when"], path + ".when")) r.when = std::move(*c);
      if (auto v = n["cooldown"]) r.cooldown = get_duration(f, v, path + ".cooldown").value_or(r.cooldown);
      if (auto v = n["escalation_horizon"])
        r.escalation_horizon = get_duration(f, v, path + ".escalation_horizon").value_or(r.escalation_horizon);
      auto actions = [&](const YAML::Node& list_node, const std::string& p) {
        std::vector<ActionSpec> out;
        if (!list_node.IsSequence() || list_node.size() == 0) {
          error(f, list_node, p, fmt::format("expected a non-empty list of actions, got {}", describe(list_node)));
          return out;
        }
        for (std::size_t a = 0; a < list_node.size(); ++a) {
          if (auto spec = action(f, list_node[a], fmt::format("{}[{}]", p, a))) out.push_back(std::move(*spec));
        }
        return out;
      };
      if (n["do"] && n["tiers"]) {
        error(f, n["tiers"], path, "give either 'do' or 'tiers', not both");
      } else if (n["do"]) {
        r.tiers.push_back(actions(n["do"], path + ".do"));
      } else if (YAML::Node tiers = n["tiers"]) {
        if (!tiers.IsSequence() || tiers.size() == 0) {
          error(f, tiers, path + ".tiers", fmt::format("expected a non-empty list of tiers, got {}", describe(tiers)));
        } else {
          for (std::size_t t = 0; t < tiers.size(); ++t) {
            std::string tp = fmt::format("{}.tiers[{}]", path, t);
            if (check_map(f, tiers[t], tp, {"do"}) && require(f, tiers[t], tp, "do"))
              r.tiers.push_back(actions(tiers[t]["do"], tp + ".do"));
          }
        }
      } else {
        error(f, n, path, "missing required key 'do' (or 'tiers')");
      }
      r.fingerprint = fnv1a(emit(n));
      set_->responses.push_back(std::move(r));
    }
  }
}

void Loader::compile_exceptions() {
  for (const FileDoc& f : docs_) {
    YAML::Node list = f.root["exceptions"];
    if (!list) continue;
    if (!list.IsSequence()) {
      error(f, list, "exceptions", fmt::format("expected a list of exceptions, got {}", describe(list)));
      continue;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      YAML::Node n = list[i];
      std::string path = fmt::format("exceptions[{}]", i);
      if (!check_map(f, n, path,
                     {"id", "detections", "responses", "users", "groups", "ips", "where", "expires", "reason"}))
        continue;
      ExceptionRule e;
      e.pos = pos(f, n);
      if (require(f, n, path, "id")) e.id = get_string(f, n["id"], path + ".id").value_or("");
      if (auto v = n["detections"]) {
        // An empty list would read as "no list": the exception would cover every detection.
        for (const StringItem& id : get_string_items(f, v, path + ".detections", true)) {
          if (auto idx = detection_index(f, id.node, id.path, id.text)) e.detections.push_back(*idx);
        }
      }
      if (auto v = n["responses"]) {
        for (const StringItem& id : get_string_items(f, v, path + ".responses", true)) {
          if (auto idx = set_->find_response(id.text))
            e.responses.push_back(*idx);
          else
            error(f, id.node, id.path, fmt::format("unknown response '{}'", id.text));
        }
      }
      if (auto v = n["users"]) e.users = get_strings(f, v, path + ".users", true);
      if (auto v = n["groups"]) {
        e.groups = get_strings(f, v, path + ".groups", true);
        warning(f, v, path + ".groups", "group criteria need the engine's group lookup; without one they never match");
      }
      if (auto v = n["ips"]) {
        for (const StringItem& s : get_string_items(f, v, path + ".ips", true)) {
          if (auto c = parse_cidr(s.text))
            e.ips.push_back(*c);
          else
            error(f, s.node, s.path, fmt::format("expected an IP address or CIDR, got \"{}\"", s.text));
        }
      }
      if (auto v = n["where"]) {
        e.where = Predicate(predicate(f, v, path + ".where", false));
        e.has_where = true;
      }
      if (auto v = n["expires"]) {
        auto t = v.IsScalar() ? parse_timestamp(v.Scalar()) : std::nullopt;
        if (!t)
          error(f, v, path + ".expires",
                fmt::format("expected a timestamp like 2026-09-30T00:00:00Z, got {}", describe(v)));
        e.expires = t;
      }
      if (auto v = n["reason"]) e.reason = get_string(f, v, path + ".reason").value_or("");
      if (e.users.empty() && e.groups.empty() && e.ips.empty() && !e.has_where)
        error(f, n, path, "an exception needs at least one of: users, groups, ips, where");
      set_->exceptions.push_back(std::move(e));
    }
  }
}

void Loader::compile_tests() {
  for (const FileDoc& f : docs_) {
    YAML::Node list = f.root["tests"];
    if (!list) continue;
    if (!list.IsSequence()) {
      error(f, list, "tests", fmt::format("expected a list of tests, got {}", describe(list)));
      continue;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      YAML::Node n = list[i];
      std::string path = fmt::format("tests[{}]", i);
      if (!check_map(f, n, path, {"name", "events", "mappings", "expect"})) continue;
      RuleTest t;
      t.file = f.name;
      t.pos = pos(f, n);
      if (require(f, n, path, "name")) t.name = get_string(f, n["name"], path + ".name").value_or("");
      if (require(f, n, path, "events")) {
        YAML::Node ev = n["events"];
        if (ev.IsScalar()) {
          t.events_file = f.dir / ev.Scalar();
          std::error_code ec;
          if (!std::filesystem::is_regular_file(t.events_file, ec))
            error(f, ev, path + ".events", fmt::format("events file not found: {}", t.events_file.string()));
        } else if (ev.IsSequence()) {
          for (std::size_t e = 0; e < ev.size(); ++e) {
            if (!ev[e].IsMap()) {
              error(f, ev[e], fmt::format("{}.events[{}]", path, e),
                    fmt::format("expected an event (a mapping), got {}", describe(ev[e])));
              continue;
            }
            std::string json;
            yaml_to_json(ev[e], json);
            t.events_json.push_back(std::move(json));
          }
        } else {
          error(f, ev, path + ".events",
                fmt::format("expected an NDJSON path or a list of events, got {}", describe(ev)));
        }
      }
      if (YAML::Node m = n["mappings"]) {
        // A path or a list of paths, relative to the rule file like `events`, so a pack that ships its
        // alert mappings runs its own tests without flags.
        for (const StringItem& item : get_string_items(f, m, path + ".mappings")) {
          std::filesystem::path mp = f.dir / item.text;
          std::error_code ec;
          if (std::filesystem::exists(mp, ec))
            t.alert_mappings.push_back(std::move(mp));
          else
            error(f, item.node, item.path, fmt::format("alert mappings not found: {}", mp.string()));
        }
      }
      if (require(f, n, path, "expect")) {
        YAML::Node ex = n["expect"];
        std::string ep = path + ".expect";
        if (check_map(f, ex, ep, {"detections", "not_detections", "risk", "actions"})) {
          for (const char* k : {"detections", "not_detections"}) {
            YAML::Node v = ex[k];
            if (!v) continue;
            auto& out = std::string_view(k) == "detections" ? t.expect_detections : t.expect_not_detections;
            if (std::string_view(k) == "detections") t.expect_detections_given = true;
            if (!v.IsSequence()) {
              error(f, v, ep + "." + k, fmt::format("expected a list of detection ids, got {}", describe(v)));
              continue;
            }
            for (const StringItem& id : get_string_items(f, v, ep + "." + k)) {
              if (detection_index(f, id.node, id.path, id.text)) out.push_back(id.text);
            }
          }
          if (YAML::Node v = ex["risk"]) {
            if (!v.IsMap()) {
              error(f, v, ep + ".risk", fmt::format("expected a mapping of user: comparison, got {}", describe(v)));
            } else {
              for (auto it = v.begin(); it != v.end(); ++it) {
                RiskExpectation r;
                r.user = it->first.Scalar();
                std::string text = it->second.IsScalar() ? it->second.Scalar() : std::string();
                for (const char* op : {">=", "<=", "==", ">", "<"}) {
                  if (text.rfind(op, 0) == 0) {
                    r.op = op;
                    text.erase(0, r.op.size());
                    break;
                  }
                }
                if (r.op.empty()) r.op = "==";
                text.erase(0, text.find_first_not_of(' '));
                double value = 0;
                auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
                if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
                  error(f, it->second, ep + ".risk." + r.user,
                        fmt::format("expected a comparison like \">= 50\", got {}", describe(it->second)));
                  continue;
                }
                r.value = value;
                t.expect_risk.push_back(std::move(r));
              }
            }
          }
          if (YAML::Node v = ex["actions"]) {
            t.expect_actions_given = true;
            if (!v.IsSequence()) {
              error(f, v, ep + ".actions", fmt::format("expected a list of action names, got {}", describe(v)));
            } else {
              for (const StringItem& a : get_string_items(f, v, ep + ".actions")) {
                if (auto k = action_kind_from(a.text))
                  t.expect_actions.push_back(*k);
                else
                  error(f, a.node, a.path, fmt::format("unknown action '{}'", a.text));
              }
            }
          }
        }
      }
      set_->tests.push_back(std::move(t));
    }
  }
}

void Loader::compile_settings() {
  const FileDoc* owner = nullptr;
  for (const FileDoc& f : docs_) {
    YAML::Node s = f.root["settings"];
    if (!s) continue;
    if (owner) {
      error(f, s, "settings",
            fmt::format("settings are already given in {}; at most one file may have them", owner->name));
      continue;
    }
    owner = &f;
    if (!check_map(f, s, "settings", {"risk_half_life", "lateness", "max_tracked_keys"})) continue;
    if (auto v = s["risk_half_life"]) {
      set_->settings.risk_half_life =
          get_duration(f, v, "settings.risk_half_life").value_or(set_->settings.risk_half_life);
      if (set_->settings.risk_half_life.count() <= 0) error(f, v, "settings.risk_half_life", "expected a duration > 0");
    }
    if (auto v = s["lateness"])
      set_->settings.lateness = get_duration(f, v, "settings.lateness").value_or(set_->settings.lateness);
    if (auto v = s["max_tracked_keys"])
      set_->settings.max_tracked_keys = get_count(f, v, "settings.max_tracked_keys").value_or(1'000'000);
  }
}

void Loader::build_index() {
  const Symbol no_events = Symbol::intern("\x01<no events>");
  std::map<std::string, std::uint16_t> slots;
  for (DetectionRule& d : set_->detections) {
    auto [it, inserted] = slots.try_emplace(d.key_text, static_cast<std::uint16_t>(slots.size()));
    d.key_slot = it->second;
  }
  set_->key_slots = static_cast<std::uint16_t>(slots.size());
  for (std::uint32_t i = 0; i < set_->detections.size(); ++i) {
    DetectionRule& d = set_->detections[i];
    if (!d.enabled) continue;
    if (d.event_types.size() == 1 && d.event_types[0] == no_events) {
      d.event_types.clear();
      continue;
    }
    if (d.event_types.empty()) {
      set_->any_event_type.push_back(i);
    } else {
      for (Symbol t : d.event_types)
        set_->by_event_type[t].push_back(i);
    }
  }
  for (std::uint32_t i = 0; i < set_->detections.size(); ++i) {
    for (const EvidenceSignal& s : set_->detections[i].signals) {
      if (s.detection) set_->detections[*s.detection].listeners.push_back(i);
    }
  }
  std::vector<PredicateNode*> roots;
  for (DetectionRule& d : set_->detections) {
    roots.push_back(&d.where.mutable_root());
    for (SequenceStep& step : d.steps)
      roots.push_back(&step.where.mutable_root());
    roots.push_back(&d.absence_first.mutable_root());
    roots.push_back(&d.absence_then.mutable_root());
    for (EvidenceSignal& s : d.signals)
      roots.push_back(&s.where.mutable_root());
  }
  for (ExceptionRule& ex : set_->exceptions)
    roots.push_back(&ex.where.mutable_root());
  set_->predicate_memo_slots = prepare_predicates(roots);
  set_->detection_exceptions.resize(set_->detections.size());
  set_->response_exceptions.resize(set_->responses.size());
  for (std::uint32_t e = 0; e < set_->exceptions.size(); ++e) {
    const ExceptionRule& ex = set_->exceptions[e];
    for (std::uint32_t d = 0; d < set_->detections.size(); ++d) {
      if (ex.applies_to_detection(d)) set_->detection_exceptions[d].push_back(e);
    }
    for (std::uint32_t r = 0; r < set_->responses.size(); ++r) {
      if (ex.applies_to_response(r)) set_->response_exceptions[r].push_back(e);
    }
  }
}

LoadResult Loader::run(std::vector<FileDoc> docs) {
  docs_ = std::move(docs);
  static const std::vector<std::string_view> kTop{"lists",      "macros", "detections", "responses",
                                                  "exceptions", "tests",  "settings"};
  for (const FileDoc& f : docs_) {
    if (!f.root.IsDefined() || f.root.IsNull()) continue;
    if (!check_map(f, f.root, "", kTop)) continue;
    for (const char* section : {"lists", "macros"}) {
      YAML::Node s = f.root[section];
      if (!s) continue;
      if (!s.IsMap()) {
        error(f, s, section, fmt::format("expected a mapping of name: definition, got {}", describe(s)));
        continue;
      }
      auto& table = std::string_view(section) == "lists" ? lists_ : macros_;
      for (auto it = s.begin(); it != s.end(); ++it) {
        std::string name = it->first.Scalar();
        std::string p = std::string(section) + "." + name;
        if (!valid_identifier(name)) {
          error(f, it->first, p, fmt::format("invalid name \"{}\"", name));
          continue;
        }
        if (auto prev = table.find(name); prev != table.end()) {
          error(f, it->first, p,
                fmt::format("duplicate {} '{}' (first defined in {})",
                            std::string_view(section) == "lists" ? "list" : "macro", name, prev->second.file->name));
          continue;
        }
        if (std::string_view(section) == "lists" && !it->second.IsSequence()) {
          error(f, it->second, p, fmt::format("expected a list of values, got {}", describe(it->second)));
          continue;
        }
        table[name] = Named{it->second, &f};
      }
    }
  }
  // Compile every list and macro even if unused, so their errors are reported too.
  for (const auto& [name, def] : lists_)
    list_items(*def.file, def.node, "lists." + name, name);
  for (const auto& [name, def] : macros_)
    macro_node(*def.file, def.node, "macros." + name, name);

  collect_detections();
  order_detections();
  set_->detections.resize(raw_.size());
  for (std::size_t i = 0; i < raw_.size(); ++i) {
    // Evidence signals may name only detections compiled before (detections.size() is the bound).
    std::vector<DetectionRule> tmp;
    compile_detection(raw_[i], set_->detections[i]);
  }
  compile_responses();
  compile_exceptions();
  compile_tests();
  compile_settings();
  build_index();

  LoadResult result;
  result.diagnostics = std::move(diags_);
  if (!result.diagnostics.has_errors()) result.rules = std::move(set_);
  return result;
}

// YAML aliases make a document a graph: yaml-cpp registers an anchor before its children, so
// `&w { all: [ *w ] }` is a node that contains itself, and every walk of it (compiling, emitting for
// the fingerprint) recurses forever. Nested aliases also multiply: six levels of ten expand to a
// million nodes from a few lines. Both are found from the parser's events, before any tree walk:
// an alias to a node still open is a cycle, and sizes (aliases counted in full each time) add up as
// the events arrive, so a bomb is rejected without being expanded.
class AliasCheck final : public YAML::EventHandler {
 public:
  static constexpr std::uint64_t kMaxNodes = 100'000;

  // The first problem, as (mark, message); empty when the document is fine.
  std::optional<std::pair<YAML::Mark, std::string>> problem;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_name_ = name; }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string&) override {
    leaf(mark, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (problem) return;
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) return;  // yaml-cpp rejects unknown anchors itself
    if (it->second.open) {
      fail(mark, fmt::format("alias '*{}' refers to a node that contains it (a cycle)", it->second.name));
      return;
    }
    add(mark, it->second.size);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Anchor {
    std::string name;
    bool open = true;
    std::uint64_t size = 0;
  };
  struct Open {
    YAML::anchor_t anchor = 0;
    std::uint64_t size = 1;
  };

  void fail(const YAML::Mark& mark, std::string message) {
    if (!problem) problem.emplace(mark, std::move(message));
  }
  // Saturating, so sizes of a deep bomb cannot wrap around.
  static std::uint64_t sum(std::uint64_t a, std::uint64_t b) { return std::min(a + b, kMaxNodes + 1); }
  void add(const YAML::Mark& mark, std::uint64_t size) {
    if (problem) return;
    total_ = sum(total_, size);
    if (!stack_.empty()) stack_.back().size = sum(stack_.back().size, size);
    if (total_ > kMaxNodes)
      fail(mark, fmt::format("the document expands to more than {} nodes through aliases", kMaxNodes));
  }
  void name_anchor(YAML::anchor_t anchor, bool is_open, std::uint64_t size) {
    if (anchor == 0) return;
    anchors_[anchor] = Anchor{std::exchange(pending_name_, {}), is_open, size};
  }
  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor) {
    name_anchor(anchor, false, 1);
    add(mark, 1);
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    name_anchor(anchor, true, 0);
    if (problem) return;
    total_ = sum(total_, 1);
    if (total_ > kMaxNodes)
      fail(mark, fmt::format("the document expands to more than {} nodes through aliases", kMaxNodes));
    stack_.push_back(Open{anchor, 1});
  }
  void close() {
    if (stack_.empty()) return;
    Open done = stack_.back();
    stack_.pop_back();
    if (done.anchor != 0) {
      Anchor& a = anchors_[done.anchor];
      a.open = false;
      a.size = done.size;
    }
    if (!stack_.empty()) stack_.back().size = sum(stack_.back().size, done.size);
  }

  std::unordered_map<YAML::anchor_t, Anchor> anchors_;
  std::vector<Open> stack_;
  std::string pending_name_;
  std::uint64_t total_ = 0;
};

bool is_rule_file(const std::filesystem::path& p) {
  return p.extension() == ".yml" || p.extension() == ".yaml";
}

}  // namespace

std::string_view to_string(DetectionSeverity s) {
  static constexpr std::string_view kNames[]{"info", "low", "medium", "high", "critical"};
  return kNames[static_cast<int>(s)];
}

std::string_view to_string(ConstructKind k) {
  static constexpr std::string_view kNames[]{"single",  "threshold",    "distinct",   "sequence",
                                             "absence", "geo_velocity", "first_seen", "evidence"};
  return kNames[static_cast<int>(k)];
}

std::string_view to_string(ActionKind k) {
  static constexpr std::string_view kNames[]{"suspend",        "unsuspend",   "clear_sessions", "expire_password",
                                             "reset_password", "set_profile", "add_to_group",   "remove_from_group",
                                             "set_user_risk",  "notify"};
  return kNames[static_cast<int>(k)];
}

std::optional<ActionKind> action_kind_from(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(ActionKind::notify); ++i) {
    if (to_string(static_cast<ActionKind>(i)) == name) return static_cast<ActionKind>(i);
  }
  return std::nullopt;
}

bool ExceptionRule::applies_to_detection(std::uint32_t d) const {
  if (detections.empty() && responses.empty()) return true;
  return std::find(detections.begin(), detections.end(), d) != detections.end();
}

bool ExceptionRule::applies_to_response(std::uint32_t r) const {
  if (detections.empty() && responses.empty()) return true;
  return std::find(responses.begin(), responses.end(), r) != responses.end();
}

std::optional<std::uint32_t> RuleSet::find_detection(std::string_view id) const {
  for (std::uint32_t i = 0; i < detections.size(); ++i) {
    if (detections[i].id == id) return i;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> RuleSet::find_response(std::string_view id) const {
  for (std::uint32_t i = 0; i < responses.size(); ++i) {
    if (responses[i].id == id) return i;
  }
  return std::nullopt;
}

LoadResult load_rules_from_sources(const std::vector<RuleSource>& sources) {
  std::vector<FileDoc> docs;
  Diagnostics parse_errors;
  for (const RuleSource& s : sources) {
    FileDoc doc;
    doc.name = s.name;
    doc.dir = std::filesystem::path(s.name).parent_path();
    try {
      std::istringstream in(s.text);
      YAML::Parser parser(in);
      AliasCheck check;
      parser.HandleNextDocument(check);
      if (check.problem) {
        const YAML::Mark& m = check.problem->first;
        parse_errors.error(s.name, static_cast<std::uint32_t>(m.line + 1), static_cast<std::uint32_t>(m.column + 1), "",
                           std::move(check.problem->second));
        continue;
      }
      doc.root = YAML::Load(s.text);
    } catch (const YAML::Exception& e) {
      parse_errors.error(s.name, static_cast<std::uint32_t>(e.mark.line + 1),
                         static_cast<std::uint32_t>(e.mark.column + 1), "",
                         fmt::format("YAML syntax error: {}", e.msg));
      continue;
    }
    docs.push_back(std::move(doc));
  }
  LoadResult result;
  try {
    result = Loader().run(std::move(docs));
  } catch (const std::exception& e) {
    result.rules.reset();
    result.diagnostics.error("", 0, 0, "", fmt::format("internal error while loading rules: {}", e.what()));
  }
  if (!parse_errors.empty()) {
    Diagnostics all = parse_errors;
    all.append(result.diagnostics);
    result.diagnostics = std::move(all);
    result.rules.reset();
  }
  return result;
}

LoadResult load_rules(const std::vector<std::filesystem::path>& paths) {
  std::vector<RuleSource> sources;
  Diagnostics io_errors;
  auto read = [&](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      io_errors.error(p.string(), 0, 0, "", "cannot read file");
      return;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    sources.push_back(RuleSource{p.string(), ss.str()});
  };
  for (const std::filesystem::path& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(p, ec)) {
        if (entry.is_regular_file() && is_rule_file(entry.path())) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files)
        read(file);
    } else {
      read(p);
    }
  }
  LoadResult result = load_rules_from_sources(sources);
  if (!io_errors.empty()) {
    Diagnostics all = io_errors;
    all.append(result.diagnostics);
    result.diagnostics = std::move(all);
    result.rules.reset();
  }
  return result;
}

}  // namespace og::correlator
