#include "daemon/dead_letter.h"

#include <fmt/format.h>

namespace og::daemon {

struct DeadLetterProducer::Pending {
  DeadLetterRecord record;
};

boost::system::result<std::unique_ptr<DeadLetterProducer>, std::string> DeadLetterProducer::create(Options options,
                                                                                                   LogSink log) {
  if (options.topic.empty()) return std::string("dead-letter topic is empty");
  std::unique_ptr<DeadLetterProducer> self(new DeadLetterProducer(std::move(options), std::move(log)));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  // Durable, unduplicated by producer retries; a delivery that still fails is retried by us.
  std::map<std::string, std::string> properties = {
      {"acks", "all"}, {"enable.idempotence", "true"}, {"linger.ms", "20"}, {"message.timeout.ms", "30000"}};
  for (const auto& [key, value] : self->options_.properties)
    properties[key] = value;
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return fmt::format("dead-letter producer property {}: {}", key, error);
    }
  }
  rd_kafka_conf_set_opaque(conf, self.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &DeadLetterProducer::on_delivery);
  self->producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (self->producer_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return fmt::format("dead-letter producer: {}", error);
  }
  return self;
}

DeadLetterProducer::DeadLetterProducer(Options options, LogSink log)
    : options_(std::move(options)), log_(std::move(log)) {}

DeadLetterProducer::~DeadLetterProducer() {
  if (producer_ == nullptr) return;
  // Bounded: the offsets of anything still undelivered were never stored, so those messages are
  // consumed again after a restart rather than lost.
  rd_kafka_flush(producer_, 5000);
  rd_kafka_destroy(producer_);
}

void DeadLetterProducer::send(DeadLetterRecord record) {
  ++outstanding_;
  produce(std::make_unique<Pending>(Pending{std::move(record)}));
}

void DeadLetterProducer::produce(std::unique_ptr<Pending> pending) {
  const DeadLetterRecord& r = pending->record;
  rd_kafka_headers_t* headers = rd_kafka_headers_new(6);
  std::string partition = std::to_string(r.partition);
  std::string offset = std::to_string(r.offset);
  rd_kafka_header_add(headers, "og-reason", -1, r.reason.data(), static_cast<ssize_t>(r.reason.size()));
  rd_kafka_header_add(headers, "og-source", -1, r.source.data(), static_cast<ssize_t>(r.source.size()));
  rd_kafka_header_add(headers, "og-topic", -1, r.topic.data(), static_cast<ssize_t>(r.topic.size()));
  rd_kafka_header_add(headers, "og-partition", -1, partition.data(), static_cast<ssize_t>(partition.size()));
  rd_kafka_header_add(headers, "og-offset", -1, offset.data(), static_cast<ssize_t>(offset.size()));
  rd_kafka_header_add(headers, "og-detail", -1, r.detail.data(), static_cast<ssize_t>(r.detail.size()));
  void* key = r.key ? const_cast<char*>(r.key->data()) : nullptr;
  std::size_t key_size = r.key ? r.key->size() : 0;
  Pending* raw = pending.get();
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_, RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_KEY(key, key_size),
      RD_KAFKA_V_VALUE(const_cast<char*>(r.payload.data()), r.payload.size()), RD_KAFKA_V_HEADERS(headers),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(raw), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(headers);  // ownership passes to librdkafka only on success
    schedule_retry(std::move(pending), rd_kafka_err2str(err));
    return;
  }
  (void)pending.release();  // reclaimed in on_delivery
}

void DeadLetterProducer::schedule_retry(std::unique_ptr<Pending> pending, std::string_view why) {
  if (pending->record.counters != nullptr) {
    pending->record.counters->dead_letter_retries.fetch_add(1, std::memory_order_relaxed);
  }
  if (log_ && log_limiter_.admit("dead-letter").log) {
    log_(LogLevel::error, fmt::format("dead-letter write to {} failed, retrying: {} (source={} topic={} "
                                      "partition={} offset={})",
                                      options_.topic, why, pending->record.source, pending->record.topic,
                                      pending->record.partition, pending->record.offset));
  }
  retries_.emplace_back(Clock::now() + options_.retry_backoff, std::move(pending));
}

void DeadLetterProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<DeadLetterProducer*>(opaque);
  std::unique_ptr<Pending> pending(static_cast<Pending*>(message->_private));
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->schedule_retry(std::move(pending), rd_kafka_err2str(message->err));
    return;
  }
  --self->outstanding_;
  if (pending->record.counters != nullptr) {
    pending->record.counters->dead_lettered.fetch_add(1, std::memory_order_relaxed);
  }
  self->delivered_.push_back(pending->record.token);
}

std::vector<AckToken> DeadLetterProducer::poll(std::chrono::milliseconds timeout) {
  rd_kafka_poll(producer_, static_cast<int>(timeout.count()));
  auto now = Clock::now();
  while (!retries_.empty() && retries_.front().first <= now) {
    auto pending = std::move(retries_.front().second);
    retries_.pop_front();
    produce(std::move(pending));
  }
  return std::exchange(delivered_, {});
}

}  // namespace og::daemon
