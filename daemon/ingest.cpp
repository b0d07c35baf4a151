#include "daemon/ingest.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace og::daemon {

namespace {

// Milliseconds by which `event_ms` is ahead of `reference_ms`, 0 when it is not; exact for any
// two int64 values.
std::uint64_t ahead_by(std::int64_t event_ms, std::int64_t reference_ms) {
  if (event_ms <= reference_ms) return 0;
  return static_cast<std::uint64_t>(event_ms) - static_cast<std::uint64_t>(reference_ms);
}

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SourceStats IngestCounters::snapshot(std::string source_name) const {
  SourceStats s;
  s.source = std::move(source_name);
  s.received = received.load(std::memory_order_relaxed);
  s.events = events.load(std::memory_order_relaxed);
  s.duplicates = duplicates.load(std::memory_order_relaxed);
  s.dead_lettered = dead_lettered.load(std::memory_order_relaxed);
  s.dead_letter_retries = dead_letter_retries.load(std::memory_order_relaxed);
  s.acked = acked.load(std::memory_order_relaxed);
  s.stale_acks = stale_acks.load(std::memory_order_relaxed);
  s.backpressure_waits = backpressure_waits.load(std::memory_order_relaxed);
  s.backpressure_pauses = backpressure_pauses.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kParseErrorCount; ++i) {
    s.rejected_by_reason[i] = rejected[i].load(std::memory_order_relaxed);
    s.rejected += s.rejected_by_reason[i];
  }
  return s;
}

std::unique_ptr<Ingestor> make_ingestor(const SourceBinding& binding, const IngestFactories& factories,
                                        IngestCounters& counters, const IngestLimits& limits, LogSink log,
                                        LogRateLimiter& log_limiter) {
  if (!factories.parser) return nullptr;
  auto parser = factories.parser(binding);
  if (!parser) return nullptr;
  auto dedupe = factories.dedupe ? factories.dedupe() : nullptr;
  return std::make_unique<Ingestor>(binding, std::move(parser), std::move(dedupe), counters, limits, std::move(log),
                                    log_limiter);
}

Ingestor::Ingestor(SourceBinding binding, std::unique_ptr<correlator::EventParser> parser,
                   std::unique_ptr<DuplicateFilter> dedupe, IngestCounters& counters, IngestLimits limits, LogSink log,
                   LogRateLimiter& log_limiter)
    : binding_(std::move(binding)),
      source_(correlator::Symbol::intern(binding_.source_name)),
      parser_(std::move(parser)),
      dedupe_(std::move(dedupe)),
      counters_(counters),
      limits_(limits),
      log_(std::move(log)),
      log_limiter_(log_limiter) {}

IngestResult Ingestor::ingest(std::string_view payload, const correlator::SourceOffset& origin,
                              std::int64_t ingest_timestamp_ms) {
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  // Checked before parsing so an oversized message costs no parse (the parser checks too).
  if (payload.size() > limits_.max_message_bytes) {
    return reject({correlator::ParseError::too_large,
                   fmt::format("{} bytes, limit {}", payload.size(), limits_.max_message_bytes)},
                  payload, origin);
  }
  correlator::RecordMeta meta{source_, origin, ingest_timestamp_ms};
  auto parsed = parser_->parse(payload, meta);
  if (!parsed) return reject(parsed.error(), payload, origin);
  // Before de-duplication, whose horizon follows event time too. The host's clock also bounds it:
  // a producer's far-future Kafka timestamp becomes the event time of an event without its own.
  const std::int64_t reference_ms = std::min(ingest_timestamp_ms, wall_clock_ms());
  const std::int64_t event_ms = parsed->published.time_since_epoch().count();
  if (ahead_by(event_ms, reference_ms) > static_cast<std::uint64_t>(limits_.max_future_skew.count())) {
    return reject({correlator::ParseError::future_time,
                   fmt::format("event time {} is {} ms ahead of ingest time {}, limit {} ms", event_ms,
                               ahead_by(event_ms, reference_ms), reference_ms, limits_.max_future_skew.count())},
                  payload, origin);
  }

  IngestResult result;
  if (dedupe_ && dedupe_->seen_before(*parsed)) {
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    result.kind = IngestResult::Kind::duplicate;
    result.event = std::move(*parsed);  // its time tells a sink when the original is durable
    return result;
  }
  counters_.events.fetch_add(1, std::memory_order_relaxed);
  result.kind = IngestResult::Kind::event;
  result.event = std::move(*parsed);
  return result;
}

IngestResult Ingestor::reject(correlator::ParseFailure failure, std::string_view payload,
                              const correlator::SourceOffset& origin) {
  counters_.count_rejected(failure.error);
  std::string_view reason = correlator::to_string(failure.error);
  if (log_) {
    auto decision = log_limiter_.admit(fmt::format("{}/{}", binding_.source_name, reason));
    if (decision.log) {
      std::string suppressed =
          decision.suppressed_before > 0 ? fmt::format(" ({} similar suppressed)", decision.suppressed_before) : "";
      log_(LogLevel::warn,
           fmt::format("rejected message: source={} reason={} topic={} partition={} offset={} "
                       "bytes={} detail=\"{}\" excerpt=\"{}\"{}",
                       binding_.source_name, reason, origin.topic.view(), origin.partition, origin.offset,
                       payload.size(), failure.detail, scrubbed_excerpt(payload), suppressed));
    }
  }
  IngestResult result;
  result.kind = IngestResult::Kind::rejected;
  result.failure = std::move(failure);
  return result;
}

}  // namespace og::daemon
