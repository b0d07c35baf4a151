#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/event.h"
#include "correlator/parse.h"
#include "daemon/log_level.h"

namespace og::daemon {

// One input stream bound to a named source: a Kafka topic, a file, or stdin. Several topics may
// share a source name; each binding gets its own parser.
struct SourceBinding {
  std::string topic;        // Kafka topic; for file/stdin the path ("-" for stdin)
  std::string source_name;  // "okta", "edr", ... (Event::source, metric labels, og-source header)
  correlator::SourceFormat format = correlator::SourceFormat::okta_system_log;
  correlator::AlertMapping mapping;  // used when format == alert
};

// Identifies one delivered record for its acknowledgement. `generation` fences acknowledgements
// that arrive after the partition was revoked: a reassigned partition gets a new generation, so an
// ack from the previous ownership can never move the new ownership's offsets.
struct AckToken {
  correlator::SourceOffset origin;
  std::uint64_t generation = 0;
  friend bool operator==(const AckToken&, const AckToken&) = default;
};

// Where a source hands its events. Called only from the source's own thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Takes the event and returns true, or returns false (leaving `event` untouched) when the
  // downstream queue is full; the source then applies backpressure and offers it again later.
  // The event must be acknowledged with `token` once fully applied downstream.
  virtual bool offer(correlator::Event&& event, const AckToken& token) = 0;
  // Blocks for up to `timeout` until offer() may succeed again: true when there is room, false
  // when the time passed or the sink cannot tell (the default, which returns at once).
  virtual bool wait_for_room(std::chrono::milliseconds timeout) {
    (void)timeout;
    return false;
  }
  // A redelivered duplicate (not to be applied). A sink whose acknowledgements wait for durability
  // takes it and acknowledges it no sooner than the original it repeats, so the source's offset
  // never passes an original that is not yet durable; false: the source acknowledges it at once.
  virtual bool take_duplicate(correlator::Event&& event, const AckToken& token) {
    (void)event;
    (void)token;
    return false;
  }
  // A partition's life in this source, for sinks that order events across partitions by event
  // time: assigned comes before any of its events, caught_up when the consumer reached the
  // partition's end (nothing more to read for now), revoked when this member no longer reads it.
  // `end_offset`: the partition's end (high watermark) at the assignment, -1 when unknown.
  virtual void partition_assigned(correlator::Symbol topic, std::int32_t partition, std::int64_t end_offset) {
    (void)topic;
    (void)partition;
    (void)end_offset;
  }
  virtual void partition_caught_up(correlator::Symbol topic, std::int32_t partition) {
    (void)topic;
    (void)partition;
  }
  virtual void partition_revoked(correlator::Symbol topic, std::int32_t partition) {
    (void)topic;
    (void)partition;
  }
};

// Receives acknowledgements. Thread-safe: the pipeline acks from any thread.
class Acknowledger {
 public:
  virtual ~Acknowledger() = default;
  virtual void ack(const AckToken& token) = 0;
};

// Minimal so the daemon can route it anywhere (JSON lines, journald). Called from source threads.
using LogSink = std::function<void(LogLevel, std::string_view message)>;

inline constexpr std::size_t kParseErrorCount = static_cast<std::size_t>(correlator::ParseError::future_time) + 1;

// A snapshot of one source name's counters.
struct SourceStats {
  std::string source;
  std::uint64_t received = 0;       // messages/lines read
  std::uint64_t events = 0;         // parsed into an Event and handed downstream
  std::uint64_t duplicates = 0;     // dropped as redelivered (same uuid within the horizon)
  std::uint64_t rejected = 0;       // sum of `rejected_by_reason`
  std::uint64_t dead_lettered = 0;  // rejected messages confirmed written to the dead-letter topic
  std::uint64_t dead_letter_retries = 0;
  std::uint64_t acked = 0;                // acknowledgements applied (events, duplicates and rejected messages)
  std::uint64_t stale_acks = 0;           // fenced: for a revoked partition or an unknown offset
  std::uint64_t backpressure_waits = 0;   // a full sink waited for (Kafka: up to room_wait)
  std::uint64_t backpressure_pauses = 0;  // input paused: the sink stayed full
  std::array<std::uint64_t, kParseErrorCount> rejected_by_reason{};

  std::uint64_t rejected_for(correlator::ParseError reason) const {
    return rejected_by_reason[static_cast<std::size_t>(reason)];
  }
};

// Builds the parser for a binding. The default (make_default_parser) uses the correlator's Okta
// and alert parsers; tests may substitute their own.
using ParserFactory = std::function<std::unique_ptr<correlator::EventParser>(const SourceBinding&)>;

// A running input. run() is the source's thread body: it returns when `stop` is requested or the
// input ends (file, stdin). ack() may be called from any thread, also after run() returned.
class Source : public Acknowledger {
 public:
  virtual void run(std::stop_token stop) = 0;
  virtual std::vector<SourceStats> stats() const = 0;
};

}  // namespace og::daemon
