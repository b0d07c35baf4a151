#pragma once

#include <boost/system/result.hpp>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/ingest.h"
#include "daemon/source.h"

namespace og::daemon {

// A rejected message on its way to the dead-letter topic: the original bytes and key, unchanged,
// and where it came from and why (headers og-reason, og-source, og-topic, og-partition,
// og-offset, og-detail). A record the producer or broker refuses as too large is sent again with
// its payload cut to fit, and header og-truncated giving the original payload size (and, if even
// an empty payload is refused, without its key, og-key-truncated giving the key's size).
struct DeadLetterRecord {
  std::string payload;
  std::optional<std::string> key;
  std::string reason;
  std::string source;
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string detail;
  AckToken token;                      // acknowledged once the record is stored in the topic
  IngestCounters* counters = nullptr;  // dead_lettered / dead_letter_retries of its source
};

// Writes rejected messages to the dead-letter topic without ever dropping one: a failed produce
// or delivery is retried after a backoff, and only a delivered record yields its AckToken, so the
// original offset is stored only once the dead letter is durable. Single-threaded: call send()
// and poll() from the source's thread.
class DeadLetterProducer {
 public:
  struct Options {
    std::string topic;
    // librdkafka producer properties (bootstrap.servers, security.protocol, sasl.*, ssl.* ...).
    std::map<std::string, std::string> properties;
    std::chrono::milliseconds retry_backoff{500};
  };

  static boost::system::result<std::unique_ptr<DeadLetterProducer>, std::string> create(Options options, LogSink log);
  ~DeadLetterProducer();
  DeadLetterProducer(const DeadLetterProducer&) = delete;
  DeadLetterProducer& operator=(const DeadLetterProducer&) = delete;

  void send(DeadLetterRecord record);
  // Serves delivery reports (waiting up to `timeout`) and re-sends due retries. Returns the
  // tokens of records now stored in the topic.
  std::vector<AckToken> poll(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // Records sent or waiting for a retry, not yet delivered.
  std::size_t outstanding() const { return outstanding_; }
  const std::string& topic() const { return options_.topic; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending;
  DeadLetterProducer(Options options, LogSink log);
  void produce(std::unique_ptr<Pending> pending);
  void schedule_retry(std::unique_ptr<Pending> pending, std::string_view why);
  // Cuts a record refused as too large; false when there is nothing left to cut.
  bool shrink(Pending& pending);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  Options options_;
  LogSink log_;
  rd_kafka_t* producer_ = nullptr;
  std::size_t max_message_bytes_ = 1'000'000;  // the producer's message.max.bytes
  std::size_t outstanding_ = 0;
  std::deque<std::pair<Clock::time_point, std::unique_ptr<Pending>>> retries_;
  std::vector<AckToken> delivered_;
  LogRateLimiter log_limiter_{5};
};

}  // namespace og::daemon
