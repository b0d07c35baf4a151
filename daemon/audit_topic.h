#pragma once

#include <boost/system/result.hpp>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "daemon/source.h"

namespace og::daemon {

// Copies every audit line (daemon/audit.h) to a Kafka topic for the SIEM, keyed by the Okta user id
// so one user's history stays in order in one partition. The file audit.jsonl stays the record of
// truth: a line Kafka cannot take after librdkafka's own retries is counted and logged, never
// allowed to stall the response engine. Thread-safe.
class AuditTopicProducer {
 public:
  struct Options {
    std::string topic;
    std::map<std::string, std::string> properties;  // librdkafka producer properties
  };

  static boost::system::result<std::unique_ptr<AuditTopicProducer>, std::string> create(Options options, LogSink log);
  ~AuditTopicProducer();  // waits up to 2 s for outstanding deliveries (inside the 10 s stop budget)
  AuditTopicProducer(const AuditTopicProducer&) = delete;
  AuditTopicProducer& operator=(const AuditTopicProducer&) = delete;

  void send(std::string_view line);

  std::uint64_t delivered() const { return delivered_.load(); }
  std::uint64_t failed() const { return failed_.load(); }

 private:
  AuditTopicProducer(Options options, LogSink log);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  Options options_;
  LogSink log_;
  rd_kafka_t* producer_ = nullptr;
  std::atomic<std::uint64_t> delivered_{0}, failed_{0};
  std::jthread poller_;
};

}  // namespace og::daemon
