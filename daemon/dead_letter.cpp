#include "daemon/dead_letter.h"

#include <fmt/format.h>

#include <cstdlib>

namespace og::daemon {

namespace {

// Room left for the record batch framing and the per-record varints librdkafka adds to key,
// value and headers when it checks message.max.bytes.
constexpr std::size_t kFramingAllowance = 512;
// Below this a payload is dropped rather than halved once more: another round trip for a few
// bytes is not worth it.
constexpr std::size_t kSmallestCut = 1024;

}  // namespace

struct DeadLetterProducer::Pending {
  DeadLetterRecord record;
  // Set once the record was refused as too large: the payload (and key) sizes before cutting.
  std::optional<std::size_t> original_payload_size;
  std::optional<std::size_t> original_key_size;
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
  char max_bytes[32];
  std::size_t max_bytes_size = sizeof max_bytes;
  if (rd_kafka_conf_get(conf, "message.max.bytes", max_bytes, &max_bytes_size) == RD_KAFKA_CONF_OK)
    self->max_message_bytes_ = std::strtoull(max_bytes, nullptr, 10);
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
  auto pending = std::make_unique<Pending>();
  pending->record = std::move(record);
  produce(std::move(pending));
}

void DeadLetterProducer::produce(std::unique_ptr<Pending> pending) {
  const DeadLetterRecord& r = pending->record;
  rd_kafka_headers_t* headers = rd_kafka_headers_new(8);
  std::string partition = std::to_string(r.partition);
  std::string offset = std::to_string(r.offset);
  rd_kafka_header_add(headers, "og-reason", -1, r.reason.data(), static_cast<ssize_t>(r.reason.size()));
  rd_kafka_header_add(headers, "og-source", -1, r.source.data(), static_cast<ssize_t>(r.source.size()));
  rd_kafka_header_add(headers, "og-topic", -1, r.topic.data(), static_cast<ssize_t>(r.topic.size()));
  rd_kafka_header_add(headers, "og-partition", -1, partition.data(), static_cast<ssize_t>(partition.size()));
  rd_kafka_header_add(headers, "og-offset", -1, offset.data(), static_cast<ssize_t>(offset.size()));
  rd_kafka_header_add(headers, "og-detail", -1, r.detail.data(), static_cast<ssize_t>(r.detail.size()));
  if (pending->original_payload_size) {
    std::string size = std::to_string(*pending->original_payload_size);
    rd_kafka_header_add(headers, "og-truncated", -1, size.data(), static_cast<ssize_t>(size.size()));
  }
  if (pending->original_key_size) {
    std::string size = std::to_string(*pending->original_key_size);
    rd_kafka_header_add(headers, "og-key-truncated", -1, size.data(), static_cast<ssize_t>(size.size()));
  }
  void* key = r.key ? const_cast<char*>(r.key->data()) : nullptr;
  std::size_t key_size = r.key ? r.key->size() : 0;
  Pending* raw = pending.get();
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_, RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_KEY(key, key_size),
      RD_KAFKA_V_VALUE(const_cast<char*>(r.payload.data()), r.payload.size()), RD_KAFKA_V_HEADERS(headers),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(raw), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(headers);  // ownership passes to librdkafka only on success
    // Retrying the same bytes would be refused forever, and the offset behind it never stored.
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && shrink(*pending)) {
      produce(std::move(pending));
      return;
    }
    schedule_retry(std::move(pending), rd_kafka_err2str(err));
    return;
  }
  (void)pending.release();  // reclaimed in on_delivery
}

bool DeadLetterProducer::shrink(Pending& pending) {
  DeadLetterRecord& r = pending.record;
  // The broker (a topic's max.message.bytes) may allow less than the producer's limit, which
  // the first cut assumes: after that, halve until it fits.
  std::size_t keep = r.payload.size() / 2;
  if (!pending.original_payload_size) {
    pending.original_payload_size = r.payload.size();
    // 128: our header names and the numbers among their values.
    std::size_t headers = 128 + r.reason.size() + r.source.size() + r.topic.size() + r.detail.size();
    std::size_t key = r.key ? r.key->size() : 0;
    std::size_t room = headers + key + kFramingAllowance;
    std::size_t fits = max_message_bytes_ > room ? max_message_bytes_ - room : 0;
    if (fits < r.payload.size()) keep = fits;
  }
  if (keep < kSmallestCut) keep = 0;
  if (!r.payload.empty()) {
    r.payload.resize(keep);
    r.payload.shrink_to_fit();
  } else if (r.key) {
    pending.original_key_size = r.key->size();
    r.key.reset();
  } else {
    return false;  // only our headers are left; nothing more to cut
  }
  if (log_ && log_limiter_.admit("dead-letter-truncated").log) {
    log_(LogLevel::warn,
         fmt::format("dead-letter record too large for {}, sending it cut to {} of {} bytes{} "
                     "(source={} topic={} partition={} offset={})",
                     options_.topic, r.payload.size(), *pending.original_payload_size,
                     pending.original_key_size ? " without its key" : "", r.source, r.topic, r.partition, r.offset));
  }
  return true;
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
  if (message->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && self->shrink(*pending)) {
    self->produce(std::move(pending));  // librdkafka allows producing from its delivery callback
    return;
  }
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
