#include "daemon/audit_topic.h"

#include <fmt/core.h>

#include "daemon/audit.h"

namespace og::daemon {

AuditTopicProducer::AuditTopicProducer(Options options, LogSink log)
    : options_(std::move(options)), log_(std::move(log)) {}

boost::system::result<std::unique_ptr<AuditTopicProducer>, std::string> AuditTopicProducer::create(Options options,
                                                                                                   LogSink log) {
  std::unique_ptr<AuditTopicProducer> self(new AuditTopicProducer(std::move(options), std::move(log)));
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Consumer-only properties from the shared source configuration are not for a producer.
  for (const auto& [key, value] : self->options_.properties) {
    if (key == "group.id" || key.starts_with("auto.") || key.starts_with("enable.auto") ||
        key == "partition.assignment.strategy" || key == "session.timeout.ms" || key == "max.poll.interval.ms" ||
        key == "isolation.level")
      continue;
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return fmt::format("audit topic producer property {}: {}", key, error);
    }
  }
  rd_kafka_conf_set(conf, "enable.idempotence", "true", error, sizeof error);
  rd_kafka_conf_set_opaque(conf, self.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &AuditTopicProducer::on_delivery);
  // librdkafka's own lines go through the daemon's logger (JSON, secrets masked), not raw stderr.
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t* rk, int level, const char* facility, const char* message) {
    auto* owner = static_cast<AuditTopicProducer*>(rd_kafka_opaque(rk));
    if (!owner || !owner->log_) return;
    LogLevel l = level <= 3   ? LogLevel::error
                 : level <= 4 ? LogLevel::warn
                 : level <= 6 ? LogLevel::info
                              : LogLevel::debug;
    owner->log_(l, fmt::format("audit topic librdkafka {}: {}", facility, message));
  });
  self->producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!self->producer_) {
    rd_kafka_conf_destroy(conf);
    return fmt::format("audit topic producer: {}", error);
  }
  rd_kafka_t* producer = self->producer_;
  self->poller_ = std::jthread([producer](std::stop_token stop) {
    while (!stop.stop_requested())
      rd_kafka_poll(producer, 100);
  });
  return self;
}

AuditTopicProducer::~AuditTopicProducer() {
  poller_.request_stop();
  if (poller_.joinable()) poller_.join();
  if (!producer_) return;
  if (rd_kafka_flush(producer_, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    int left = rd_kafka_outq_len(producer_);
    failed_ += static_cast<std::uint64_t>(left);
    if (log_)
      log_(LogLevel::error, fmt::format("audit topic {}: {} line(s) not delivered at shutdown", options_.topic, left));
  }
  rd_kafka_destroy(producer_);
}

void AuditTopicProducer::send(std::string_view line) {
  while (!line.empty() && line.back() == '\n')
    line.remove_suffix(1);
  std::string key = audit_line_field(line, "user_id");
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()),
                          RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    // A full local queue drains as deliveries complete; anything else will not get better.
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 50) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      if (log_) log_(LogLevel::error, fmt::format("audit topic {}: {}", options_.topic, rd_kafka_err2str(err)));
      return;
    }
    rd_kafka_poll(producer_, 20);
  }
}

void AuditTopicProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<AuditTopicProducer*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  self->failed_.fetch_add(1, std::memory_order_relaxed);
  if (self->log_)
    self->log_(LogLevel::error, fmt::format("audit topic {}: delivery failed: {}", self->options_.topic,
                                            rd_kafka_err2str(message->err)));
}

}  // namespace og::daemon
