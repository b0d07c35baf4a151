#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "correlator/event.h"
#include "correlator/parse.h"
#include "daemon/ingest_log.h"
#include "daemon/source.h"

namespace og::daemon {

struct IngestLimits {
  std::size_t max_message_bytes = 1 << 20;  // larger messages are rejected as too_large unparsed
  std::size_t max_depth = 64;
  std::chrono::milliseconds dedupe_horizon = std::chrono::hours(1);
  std::size_t dedupe_max_entries = 1'000'000;
  // An event whose time is further than this ahead of its ingest time (or of this host's clock,
  // whichever is earlier) is rejected as future_time: accepted, it would move the de-duplication
  // horizon, the correlator's watermark and its timers past every event still to come.
  std::chrono::milliseconds max_future_skew = std::chrono::minutes(5);
  std::uint32_t log_lines_per_second = 10;  // per source and reason
};

// Counters of one source name, shared by its bindings; read from any thread.
class IngestCounters {
 public:
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> dead_lettered{0};
  std::atomic<std::uint64_t> dead_letter_retries{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> stale_acks{0};
  std::atomic<std::uint64_t> backpressure_waits{0};
  std::atomic<std::uint64_t> backpressure_pauses{0};
  std::array<std::atomic<std::uint64_t>, kParseErrorCount> rejected{};

  void count_rejected(correlator::ParseError reason) {
    rejected[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  SourceStats snapshot(std::string source_name) const;
};

// Drops redelivered events. An interface so sources can be tested without the correlator's one.
class DuplicateFilter {
 public:
  virtual ~DuplicateFilter() = default;
  virtual bool seen_before(const correlator::Event& event) = 0;
};

// The correlator's uuid Deduplicator behind DuplicateFilter.
std::unique_ptr<DuplicateFilter> make_uuid_deduplicator(std::chrono::milliseconds horizon, std::size_t max_entries);

// The correlator's Okta or alert parser for a binding's format. `extras` names the fields outside
// the fixed model that loaded rules need (may be null); it must outlive the parser.
std::unique_ptr<correlator::EventParser> make_default_parser(const SourceBinding& binding, const IngestLimits& limits,
                                                             const correlator::FieldRegistry* extras = nullptr);

using DuplicateFilterFactory = std::function<std::unique_ptr<DuplicateFilter>()>;

// How a source builds the per-binding pieces. `parser` is required; an empty `dedupe` means no
// de-duplication. The daemon passes default_ingest_factories(); tests may substitute fakes.
struct IngestFactories {
  ParserFactory parser;
  DuplicateFilterFactory dedupe;
};

// The correlator's parsers and uuid Deduplicator, configured from `limits`.
IngestFactories default_ingest_factories(const IngestLimits& limits, const correlator::FieldRegistry* extras = nullptr);

class Ingestor;
// Null when `factories.parser` is empty or yields no parser.
std::unique_ptr<Ingestor> make_ingestor(const SourceBinding& binding, const IngestFactories& factories,
                                        IngestCounters& counters, const IngestLimits& limits, LogSink log,
                                        LogRateLimiter& log_limiter);

struct IngestResult {
  enum class Kind : std::uint8_t { event, duplicate, rejected };
  Kind kind = Kind::rejected;
  correlator::Event event;           // when kind == event
  correlator::ParseFailure failure;  // when kind == rejected
};

// The per-message step shared by every source: size check, parse, event-time check, de-duplicate,
// count, and log a rejected message (rate-limited, with a scrubbed excerpt). Pure apart from the counters, the
// duplicate filter and the log; one per binding and thread (the parser is not thread-safe).
class Ingestor {
 public:
  Ingestor(SourceBinding binding, std::unique_ptr<correlator::EventParser> parser,
           std::unique_ptr<DuplicateFilter> dedupe, IngestCounters& counters, IngestLimits limits, LogSink log,
           LogRateLimiter& log_limiter);

  IngestResult ingest(std::string_view payload, const correlator::SourceOffset& origin,
                      std::int64_t ingest_timestamp_ms);

  const SourceBinding& binding() const { return binding_; }
  correlator::Symbol source_symbol() const { return source_; }
  IngestCounters& counters() { return counters_; }

 private:
  IngestResult reject(correlator::ParseFailure failure, std::string_view payload,
                      const correlator::SourceOffset& origin);

  SourceBinding binding_;
  correlator::Symbol source_;
  std::unique_ptr<correlator::EventParser> parser_;
  std::unique_ptr<DuplicateFilter> dedupe_;
  IngestCounters& counters_;
  IngestLimits limits_;
  LogSink log_;
  LogRateLimiter& log_limiter_;
};

}  // namespace og::daemon
