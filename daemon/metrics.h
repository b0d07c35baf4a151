#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace og::daemon {

// A small Prometheus registry. Registration happens at startup (it locks and may throw on misuse);
// the hot path is `Counter::inc`, `Gauge::set/add` and `Histogram::observe` on a child reference the
// caller looked up once, which never lock.

namespace metrics_detail {
// Spread increments from different threads over separate cache lines so concurrent writers do not
// bounce one line between cores; the scrape sums the cells.
inline constexpr std::size_t kShards = 8;
struct alignas(64) Cell {
  std::atomic<std::uint64_t> value{0};
};
std::size_t shard_index();
}  // namespace metrics_detail

class Counter {
 public:
  void inc(std::uint64_t n = 1) { cells_[metrics_detail::shard_index()].value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const;

 private:
  std::array<metrics_detail::Cell, metrics_detail::kShards> cells_{};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void sub(double v) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds` are the finite upper bounds, strictly increasing; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

enum class MetricType { counter, gauge, histogram };

// A metric name with fixed label names; each distinct tuple of label values is one child. Children
// live as long as the registry and never move, so callers keep references to them.
template <class T>
class Family {
 public:
  // Values in the order of the label names. Locks; look children up once, not per event.
  T& with(std::initializer_list<std::string_view> values);
  T& with(std::span<const std::string> values);
  // The child of a family without labels.
  T& get() { return with(std::initializer_list<std::string_view>{}); }

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  friend class Registry;
  Family(std::string name, std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)), label_names_(std::move(label_names)), make_(std::move(make)) {}
  T& child(std::vector<std::string> values);

  std::string name_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// Values computed at scrape time (consumer lag, tracked keys, breaker state): the collector is
// called during exposition and must be cheap and thread-safe.
struct Sample {
  std::vector<std::string> label_values;
  double value = 0;
};
using Collector = std::function<std::vector<Sample>()>;

class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  // Registering the same name again with the same type and label names returns the existing family
  // (parts may start in any order); anything else that would make the exposition ambiguous throws
  // std::invalid_argument: a programming error found at startup.
  Family<Counter>& counter(std::string_view name, std::string_view help, std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string_view name, std::string_view help, std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                               std::vector<std::string> label_names = {});
  void collector(std::string_view name, std::string_view help, MetricType type, std::vector<std::string> label_names,
                 Collector collect);

  // Text exposition format 0.0.4, families sorted by name, children by label values.
  std::string expose() const;

 private:
  struct Entry;
  Entry& add(std::string_view name, std::string_view help, MetricType type, std::vector<std::string> label_names,
             const std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;
};

// Bucket helpers for histograms.
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);
std::vector<double> linear_buckets(double start, double width, std::size_t count);

// The exposition's escaping rules, exposed for tests and for other writers of the format.
std::string escape_label_value(std::string_view v);  // backslash, double quote, newline
std::string escape_help(std::string_view v);         // backslash, newline
std::string format_value(double v);                  // Go ParseFloat-compatible; +Inf, -Inf, NaN
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace og::daemon
