#pragma once

#include <boost/system/result.hpp>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/dead_letter.h"
#include "daemon/ingest.h"
#include "daemon/source.h"
#include "daemon/source_offsets.h"

namespace og::daemon {

struct KafkaSourceConfig {
  std::vector<SourceBinding> bindings;  // one per topic; the consumer subscribes to all of them
  // Any librdkafka consumer property: bootstrap.servers and group.id (required), security.protocol,
  // sasl.*, ssl.*, auto.offset.reset, partition.assignment.strategy ... Defaults set here:
  // enable.auto.offset.store=false (enforced), enable.auto.commit=true, auto.offset.reset=earliest,
  // partition.assignment.strategy=range,roundrobin (eager; see docs/ingestion.md for why).
  std::map<std::string, std::string> properties;
  std::string dead_letter_topic;  // empty: rejected messages are counted, logged and acknowledged
  // Producer properties for the dead-letter topic, over those inherited from `properties`
  // (bootstrap.servers, client.id, security.protocol, sasl.*, ssl.*).
  std::map<std::string, std::string> dead_letter_properties;
  IngestLimits limits;
  IngestFactories factories;  // default_ingest_factories(limits) in the daemon
  std::chrono::milliseconds poll_timeout{100};
  // How long a full sink is waited for before the partitions are paused. Bounded, so the poll loop
  // keeps serving rebalances; long enough that a sink being drained rarely causes a pause.
  std::chrono::milliseconds room_wait{100};
  // How long a revoke or shutdown waits for in-flight events to be acknowledged before storing
  // what is contiguous; the rest is redelivered to the partition's next owner.
  std::chrono::milliseconds drain_timeout{5000};
  std::chrono::milliseconds dead_letter_retry_backoff{500};
  std::chrono::milliseconds commit_interval{1000};  // used when enable.auto.commit=false
};

// A consumer group over the bound topics. Everything librdkafka-related happens on the thread that
// calls run(): consume, the rebalance callback, offset stores, pause/resume, dead-letter
// deliveries. Offsets are stored only for acknowledged records, as the highest contiguous
// acknowledged offset + 1 per partition; bad and duplicate messages are acknowledged by the
// source itself (once dead-lettered, when a dead-letter topic is configured).
class KafkaSource final : public Source {
 public:
  static boost::system::result<std::unique_ptr<KafkaSource>, std::string> create(KafkaSourceConfig config,
                                                                                 EventSink& sink, LogSink log);
  ~KafkaSource() override;
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  void run(std::stop_token stop) override;
  void ack(const AckToken& token) override;
  std::vector<SourceStats> stats() const override;

  // "EAGER" or "COOPERATIVE" once a rebalance happened ("NONE" before).
  std::string rebalance_protocol() const;
  std::uint64_t rebalances() const { return rebalances_.load(); }
  std::size_t assigned_partitions() const { return assigned_count_.load(); }

  struct PartitionLag {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t lag = 0;  // the partition's high watermark minus this consumer's fetch position
  };
  // For every assigned partition whose high watermark librdkafka has seen in a fetch response; no
  // broker round trip, safe from any thread while the source exists.
  std::vector<PartitionLag> lag() const;

  // librdkafka's own log lines, from its threads.
  void log_librdkafka(LogLevel level, std::string message) const;

 private:
  struct Held {
    correlator::Event event;
    AckToken token;
    IngestCounters* counters;
  };
  struct Binding {
    std::unique_ptr<Ingestor> ingestor;
    IngestCounters* counters;
  };

  KafkaSource(KafkaSourceConfig config, EventSink& sink, LogSink log);
  void service();
  void apply_ack(const AckToken& token);
  void drain_ack_queue();
  void store_offsets();
  void handle(rd_kafka_message_t* message);
  void offer_held();
  bool wait_and_offer_held();
  bool holding(const TopicPartition& tp) const;
  void report_caught_up_if_pending(const TopicPartition& tp);
  // Warns when, after a rebalance, other members of the group read some of the subscribed
  // partitions: the correlator needs all of a user's events in one process.
  void check_group_share();
  void set_paused(bool paused);
  void wait_for_acks(const std::vector<TopicPartition>& partitions,
                     const std::unordered_map<TopicPartition, std::size_t, TopicPartitionHash>& dropped);
  void on_assign(rd_kafka_topic_partition_list_t* partitions, bool cooperative);
  void on_revoke(rd_kafka_topic_partition_list_t* partitions, bool cooperative);
  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);
  void log(LogLevel level, std::string message) const;
  Binding* binding_for(correlator::Symbol topic);

  KafkaSourceConfig config_;
  EventSink& sink_;
  LogSink log_;
  LogRateLimiter log_limiter_;
  rd_kafka_t* consumer_ = nullptr;
  bool manual_commit_ = false;
  std::chrono::steady_clock::time_point last_commit_{};
  // Settled a few seconds after each rebalance; max() when no check is due.
  std::chrono::steady_clock::time_point share_check_at_ = std::chrono::steady_clock::time_point::max();
  std::string share_reported_;  // the last share warned about ("" when every partition was here)
  std::string group_id_;
  std::map<std::string, std::unique_ptr<IngestCounters>> counters_;  // by source name
  std::unordered_map<correlator::Symbol, Binding> bindings_;         // by topic
  std::unique_ptr<DeadLetterProducer> dead_letter_;
  OffsetTracker tracker_;
  std::deque<Held> held_;  // parsed, refused by the full sink; offered again in order
  // Partitions whose end was reached while events of theirs were still in held_.
  std::vector<TopicPartition> eof_pending_;
  bool paused_ = false;
  bool closing_ = false;

  std::mutex ack_mutex_;
  std::vector<AckToken> ack_queue_;
  std::vector<AckToken> ack_scratch_;

  std::atomic<std::uint64_t> rebalances_{0};
  std::atomic<std::size_t> assigned_count_{0};
  std::atomic<int> protocol_{0};  // 0 none, 1 eager, 2 cooperative
};

}  // namespace og::daemon
