#include "daemon/metrics.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace og::daemon {

namespace metrics_detail {
std::size_t shard_index() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}
}  // namespace metrics_detail

std::uint64_t Counter::value() const {
  std::uint64_t total = 0;
  for (const auto& c : cells_)
    total += c.value.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && !(bounds_[i - 1] < bounds_[i])))
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
  }
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // Prometheus buckets are inclusive upper bounds: v lands in the first bucket with v <= bound.
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  auto index = static_cast<std::size_t>(it - bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // Count derives from the buckets so `_count` always equals the +Inf bucket in one scrape.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

template <class T>
T& Family<T>::child(std::vector<std::string> values) {
  if (values.size() != label_names_.size())
    throw std::invalid_argument(fmt::format("metric {}: {} label values given, {} label names registered", name_,
                                            values.size(), label_names_.size()));
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(std::move(values), make_()).first;
  return *it->second;
}

template <class T>
T& Family<T>::with(std::initializer_list<std::string_view> values) {
  return child(std::vector<std::string>(values.begin(), values.end()));
}

template <class T>
T& Family<T>::with(std::span<const std::string> values) {
  return child(std::vector<std::string>(values.begin(), values.end()));
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::Entry {
  std::string name;
  std::string help;
  MetricType type = MetricType::counter;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;
  Collector collect;
};

Registry::Registry() = default;
Registry::~Registry() = default;

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;  // reserved for Prometheus itself
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

namespace {

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Integral values print without exponent or fraction (what people and promtool expect for
  // counters); others use the shortest representation that round-trips.
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{}", v);
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  if (!(start > 0) || !(factor > 1)) throw std::invalid_argument("exponential_buckets: start > 0 and factor > 1");
  std::vector<double> b;
  for (std::size_t i = 0; i < count; ++i, start *= factor)
    b.push_back(start);
  return b;
}

std::vector<double> linear_buckets(double start, double width, std::size_t count) {
  if (!(width > 0)) throw std::invalid_argument("linear_buckets: width > 0");
  std::vector<double> b;
  for (std::size_t i = 0; i < count; ++i)
    b.push_back(start + width * static_cast<double>(i));
  return b;
}

Registry::Entry& Registry::add(std::string_view name, std::string_view help, MetricType type,
                               std::vector<std::string> label_names, const std::vector<double>* bounds) {
  if (!valid_metric_name(name)) throw std::invalid_argument(fmt::format("invalid metric name '{}'", name));
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const auto& l = label_names[i];
    if (!valid_label_name(l)) throw std::invalid_argument(fmt::format("metric {}: invalid label name '{}'", name, l));
    if (type == MetricType::histogram && l == "le")
      throw std::invalid_argument(fmt::format("metric {}: histograms reserve the label 'le'", name));
    if (std::find(label_names.begin(), label_names.begin() + static_cast<std::ptrdiff_t>(i), l) !=
        label_names.begin() + static_cast<std::ptrdiff_t>(i))
      throw std::invalid_argument(fmt::format("metric {}: label '{}' repeated", name, l));
  }
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(name); it != entries_.end()) {
    Entry& e = *it->second;
    bool same = e.type == type && e.label_names == label_names && !e.collect && (!bounds || e.bounds == *bounds);
    if (!same) throw std::invalid_argument(fmt::format("metric {} registered twice with a different shape", name));
    return e;
  }
  // A histogram `x` exposes x_bucket, x_sum and x_count; refuse families that would clash with them.
  auto clash = [&](std::string_view n) { return entries_.find(n) != entries_.end(); };
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (type == MetricType::histogram && clash(std::string(name) + std::string(suffix)))
      throw std::invalid_argument(fmt::format("metric {}{} already registered", name, suffix));
    if (name.ends_with(suffix)) {
      std::string base(name.substr(0, name.size() - suffix.size()));
      auto it = entries_.find(base);
      if (it != entries_.end() && it->second->type == MetricType::histogram)
        throw std::invalid_argument(fmt::format("metric {} clashes with histogram {}", name, base));
    }
  }
  auto e = std::make_unique<Entry>();
  e->name = std::string(name);
  e->help = std::string(help);
  e->type = type;
  e->label_names = std::move(label_names);
  if (bounds) e->bounds = *bounds;
  Entry& ref = *e;
  entries_.emplace(ref.name, std::move(e));
  return ref;
}

Family<Counter>& Registry::counter(std::string_view name, std::string_view help, std::vector<std::string> label_names) {
  Entry& e = add(name, help, MetricType::counter, std::move(label_names), nullptr);
  std::lock_guard lock(mu_);
  if (!e.counters) {
    e.counters.reset(new Family<Counter>(e.name, e.label_names, [] { return std::make_unique<Counter>(); }));
    // A family without labels has exactly one child; create it so it is exposed as 0 from the start.
    if (e.label_names.empty()) e.counters->get();
  }
  return *e.counters;
}

Family<Gauge>& Registry::gauge(std::string_view name, std::string_view help, std::vector<std::string> label_names) {
  Entry& e = add(name, help, MetricType::gauge, std::move(label_names), nullptr);
  std::lock_guard lock(mu_);
  if (!e.gauges) {
    e.gauges.reset(new Family<Gauge>(e.name, e.label_names, [] { return std::make_unique<Gauge>(); }));
    if (e.label_names.empty()) e.gauges->get();
  }
  return *e.gauges;
}

Family<Histogram>& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                                       std::vector<std::string> label_names) {
  Histogram probe(bounds);  // validates the bounds before anything is registered
  Entry& e = add(name, help, MetricType::histogram, std::move(label_names), &bounds);
  std::lock_guard lock(mu_);
  if (!e.histograms) {
    e.histograms.reset(
        new Family<Histogram>(e.name, e.label_names, [b = e.bounds] { return std::make_unique<Histogram>(b); }));
    if (e.label_names.empty()) e.histograms->get();
  }
  return *e.histograms;
}

void Registry::collector(std::string_view name, std::string_view help, MetricType type,
                         std::vector<std::string> label_names, Collector collect) {
  if (type == MetricType::histogram) throw std::invalid_argument("collectors expose counters or gauges only");
  if (!collect) throw std::invalid_argument("collector without a function");
  Entry& e = add(name, help, type, std::move(label_names), nullptr);
  std::lock_guard lock(mu_);
  if (e.counters || e.gauges || e.collect)
    throw std::invalid_argument(fmt::format("metric {} registered twice with a different shape", name));
  e.collect = std::move(collect);
}

std::string Registry::expose() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, entry] : entries_) {
    const Entry& e = *entry;
    out += "# HELP ";
    out += e.name;
    out += ' ';
    out += escape_help(e.help);
    out += "\n# TYPE ";
    out += e.name;
    out += ' ';
    out += type_name(e.type);
    out += '\n';
    if (e.counters) {
      std::lock_guard child_lock(e.counters->mu_);
      for (const auto& [values, c] : e.counters->children_) {
        out += e.name;
        append_labels(out, e.label_names, values);
        out += ' ';
        out += fmt::format("{}", c->value());
        out += '\n';
      }
    } else if (e.gauges) {
      std::lock_guard child_lock(e.gauges->mu_);
      for (const auto& [values, g] : e.gauges->children_) {
        out += e.name;
        append_labels(out, e.label_names, values);
        out += ' ';
        out += format_value(g->value());
        out += '\n';
      }
    } else if (e.histograms) {
      std::lock_guard child_lock(e.histograms->mu_);
      for (const auto& [values, h] : e.histograms->children_) {
        Histogram::Snapshot s = h->snapshot();
        for (std::size_t i = 0; i <= e.bounds.size(); ++i) {
          out += e.name;
          out += "_bucket";
          append_labels(out, e.label_names, values, "le", i < e.bounds.size() ? format_value(e.bounds[i]) : "+Inf");
          out += ' ';
          out += fmt::format("{}", s.cumulative[i]);
          out += '\n';
        }
        out += e.name;
        out += "_sum";
        append_labels(out, e.label_names, values);
        out += ' ';
        out += format_value(s.sum);
        out += '\n';
        out += e.name;
        out += "_count";
        append_labels(out, e.label_names, values);
        out += ' ';
        out += fmt::format("{}", s.count);
        out += '\n';
      }
    } else if (e.collect) {
      std::vector<Sample> samples = e.collect();
      std::sort(samples.begin(), samples.end(),
                [](const Sample& a, const Sample& b) { return a.label_values < b.label_values; });
      for (const auto& s : samples) {
        // A collector returning the wrong arity would produce an unparsable line; drop the sample.
        if (s.label_values.size() != e.label_names.size()) continue;
        out += e.name;
        append_labels(out, e.label_names, s.label_values);
        out += ' ';
        out += format_value(s.value);
        out += '\n';
      }
    }
  }
  return out;
}

}  // namespace og::daemon
