#include "daemon/ingest.h"

#include <fmt/format.h>

namespace og::daemon {

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
