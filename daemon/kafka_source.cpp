#include "daemon/kafka_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace og::daemon {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct PartitionList {
  rd_kafka_topic_partition_list_t* list;
  explicit PartitionList(int size) : list(rd_kafka_topic_partition_list_new(size)) {}
  ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
};

TopicPartition to_tp(const rd_kafka_topic_partition_t& p) {
  return TopicPartition{correlator::Symbol::intern(p.topic), p.partition};
}

bool inherited_by_dead_letter(const std::string& key) {
  return key == "bootstrap.servers" || key == "client.id" || key == "security.protocol" || key.starts_with("sasl.") ||
         key.starts_with("ssl.");
}

LogLevel level_of_syslog(int level) {
  if (level <= 3) return LogLevel::error;
  if (level == 4) return LogLevel::warn;
  if (level <= 6) return LogLevel::info;
  return LogLevel::debug;
}

// Runs on librdkafka's internal threads: the LogSink must be thread-safe (it is called from the
// poll thread too).
void librdkafka_log_cb(const rd_kafka_t* rk, int level, const char* facility, const char* buf) {
  const auto* source = static_cast<const KafkaSource*>(rd_kafka_opaque(rk));
  if (source != nullptr)
    source->log_librdkafka(level_of_syslog(level), fmt::format("librdkafka {}: {}", facility, buf));
}

}  // namespace

boost::system::result<std::unique_ptr<KafkaSource>, std::string> KafkaSource::create(KafkaSourceConfig config,
                                                                                     EventSink& sink, LogSink log) {
  if (config.bindings.empty()) return std::string("kafka source: no topics bound");
  for (const char* required : {"bootstrap.servers", "group.id"}) {
    if (!config.properties.contains(required)) return fmt::format("kafka source: property {} is required", required);
  }
  if (auto it = config.properties.find("enable.auto.offset.store");
      it != config.properties.end() && it->second != "false") {
    return std::string(
        "kafka source: enable.auto.offset.store must be false (offsets are stored after acknowledgement)");
  }
  std::unique_ptr<KafkaSource> self(new KafkaSource(std::move(config), sink, std::move(log)));
  KafkaSourceConfig& c = self->config_;

  for (const SourceBinding& binding : c.bindings) {
    auto topic = correlator::Symbol::intern(binding.topic);
    if (self->bindings_.contains(topic)) return fmt::format("kafka source: topic {} bound twice", binding.topic);
    auto& counters = self->counters_[binding.source_name];
    if (!counters) counters = std::make_unique<IngestCounters>();
    auto ingestor = make_ingestor(binding, c.factories, *counters, c.limits, self->log_, self->log_limiter_);
    if (!ingestor) return fmt::format("kafka source: no parser for topic {}", binding.topic);
    self->bindings_.emplace(topic, Binding{std::move(ingestor), counters.get()});
  }

  std::map<std::string, std::string> properties = {{"enable.auto.commit", "true"},
                                                   {"auto.offset.reset", "earliest"},
                                                   {"partition.assignment.strategy", "range,roundrobin"}};
  for (const auto& [key, value] : c.properties)
    properties[key] = value;
  properties["enable.auto.offset.store"] = "false";
  self->group_id_ = properties["group.id"];
  // The sink learns from a partition's end that it has nothing to read (partition_caught_up).
  properties["enable.partition.eof"] = "true";
  self->manual_commit_ = properties["enable.auto.commit"] == "false";
  if (properties["partition.assignment.strategy"].find("cooperative") != std::string::npos) {
    self->log(LogLevel::warn,
              "kafka source: cooperative-sticky with librdkafka 2.0.2 has known commit and assignment bugs "
              "(fixed in later releases); an eager assignor (range, roundrobin) is recommended");
  }

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return fmt::format("kafka source: property {}: {}", key, error);
    }
  }
  rd_kafka_conf_set_opaque(conf, self.get());
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::rebalance_cb);
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* source = static_cast<KafkaSource*>(opaque);
    if (source->log_limiter_.admit("kafka-error").log) {
      source->log(LogLevel::error,
                  fmt::format("kafka: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason));
    }
  });
  rd_kafka_conf_set_log_cb(conf, librdkafka_log_cb);
  self->consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (self->consumer_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return fmt::format("kafka source: {}", error);
  }
  rd_kafka_poll_set_consumer(self->consumer_);

  if (!c.dead_letter_topic.empty()) {
    DeadLetterProducer::Options options;
    options.topic = c.dead_letter_topic;
    options.retry_backoff = c.dead_letter_retry_backoff;
    for (const auto& [key, value] : c.properties) {
      if (inherited_by_dead_letter(key)) options.properties[key] = value;
    }
    for (const auto& [key, value] : c.dead_letter_properties)
      options.properties[key] = value;
    auto producer = DeadLetterProducer::create(std::move(options), self->log_);
    if (!producer) return producer.error();
    self->dead_letter_ = std::move(*producer);
  }

  PartitionList topics(static_cast<int>(c.bindings.size()));
  for (const SourceBinding& binding : c.bindings)
    rd_kafka_topic_partition_list_add(topics.list, binding.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(self->consumer_, topics.list); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fmt::format("kafka source: subscribe: {}", rd_kafka_err2str(err));
  }
  return self;
}

KafkaSource::KafkaSource(KafkaSourceConfig config, EventSink& sink, LogSink log)
    : config_(std::move(config)),
      sink_(sink),
      log_(std::move(log)),
      log_limiter_(config_.limits.log_lines_per_second) {}

KafkaSource::~KafkaSource() {
  if (consumer_ == nullptr) return;
  if (!closing_) {
    // run() never ran to completion: leave the group without storing anything unacknowledged.
    closing_ = true;
    rd_kafka_consumer_close(consumer_);
  }
  rd_kafka_destroy(consumer_);
}

void KafkaSource::log(LogLevel level, std::string message) const {
  if (log_) log_(level, message);
}

void KafkaSource::log_librdkafka(LogLevel level, std::string message) const {
  log(level, std::move(message));
}

KafkaSource::Binding* KafkaSource::binding_for(correlator::Symbol topic) {
  auto it = bindings_.find(topic);
  return it == bindings_.end() ? nullptr : &it->second;
}

std::vector<KafkaSource::PartitionLag> KafkaSource::lag() const {
  std::vector<PartitionLag> out;
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (!consumer_ || rd_kafka_assignment(consumer_, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || !assigned) return out;
  rd_kafka_position(consumer_, assigned);
  for (int i = 0; i < assigned->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = assigned->elems[i];
    std::int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_, p.topic, p.partition, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0)
      continue;
    // No position until a message was returned here (just assigned, or idle): the lag is unknown,
    // and high - low would report the whole retained partition.
    if (p.offset < 0) continue;
    (void)low;
    out.push_back(PartitionLag{p.topic, p.partition, std::max<std::int64_t>(0, high - p.offset)});
  }
  rd_kafka_topic_partition_list_destroy(assigned);
  return out;
}

void KafkaSource::ack(const AckToken& token) {
  std::lock_guard lock(ack_mutex_);
  ack_queue_.push_back(token);
}

void KafkaSource::drain_ack_queue() {
  {
    std::lock_guard lock(ack_mutex_);
    ack_scratch_.swap(ack_queue_);
  }
  for (const AckToken& token : ack_scratch_)
    apply_ack(token);
  ack_scratch_.clear();
}

void KafkaSource::apply_ack(const AckToken& token) {
  Binding* binding = binding_for(token.origin.topic);
  bool applied = tracker_.ack(token);
  if (binding == nullptr) return;
  (applied ? binding->counters->acked : binding->counters->stale_acks).fetch_add(1, std::memory_order_relaxed);
}

void KafkaSource::store_offsets() {
  std::vector<OffsetToStore> stores = tracker_.take_stores();
  if (stores.empty()) return;
  PartitionList list(static_cast<int>(stores.size()));
  for (const OffsetToStore& s : stores) {
    rd_kafka_topic_partition_list_add(list.list, s.partition.topic.str().c_str(), s.partition.partition)->offset =
        s.offset;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer_, list.list); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log(LogLevel::warn, fmt::format("kafka source: offsets_store: {}", rd_kafka_err2str(err)));
  }
}

void KafkaSource::offer_held() {
  while (!held_.empty()) {
    Held& front = held_.front();
    if (!sink_.offer(std::move(front.event), front.token)) return;
    TopicPartition tp{front.token.origin.topic, front.token.origin.partition};
    held_.pop_front();
    report_caught_up_if_pending(tp);
  }
}

// A full sink is usually being drained and has room again within milliseconds, while a pause is
// dear: librdkafka (2.0.2) drops what it prefetched for a paused partition and, after the resume,
// fetches again only at its broker thread's next wake-up, 0.5-1 s later. Pausing at every full
// queue held a backlog's catch-up to a small fraction of what the pipeline applies (measured with
// a queue of 8192: 42k events/s, against 153k/s that the test's consumer took without pauses).
bool KafkaSource::wait_and_offer_held() {
  const auto deadline = Clock::now() + config_.room_wait;
  while (!held_.empty()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !sink_.wait_for_room(left)) return false;
    offer_held();
  }
  return true;
}

bool KafkaSource::holding(const TopicPartition& tp) const {
  return std::any_of(held_.begin(), held_.end(), [&](const Held& h) {
    return h.token.origin.topic == tp.topic && h.token.origin.partition == tp.partition;
  });
}

void KafkaSource::report_caught_up_if_pending(const TopicPartition& tp) {
  auto pending = std::find(eof_pending_.begin(), eof_pending_.end(), tp);
  if (pending == eof_pending_.end() || holding(tp)) return;
  eof_pending_.erase(pending);
  if (tracker_.owns(tp)) sink_.partition_caught_up(tp.topic, tp.partition);
}

void KafkaSource::set_paused(bool paused) {
  if (paused == paused_) return;
  paused_ = paused;
  std::vector<TopicPartition> owned = tracker_.owned();
  if (owned.empty()) return;
  PartitionList list(static_cast<int>(owned.size()));
  for (const TopicPartition& tp : owned)
    rd_kafka_topic_partition_list_add(list.list, tp.topic.str().c_str(), tp.partition);
  rd_kafka_resp_err_t err =
      paused ? rd_kafka_pause_partitions(consumer_, list.list) : rd_kafka_resume_partitions(consumer_, list.list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log(LogLevel::warn, fmt::format("kafka source: {}: {}", paused ? "pause" : "resume", rd_kafka_err2str(err)));
  }
}

void KafkaSource::service() {
  if (dead_letter_) {
    for (const AckToken& token : dead_letter_->poll())
      apply_ack(token);
  }
  drain_ack_queue();
  offer_held();
  if (paused_ && held_.empty()) set_paused(false);
  store_offsets();
  if (Clock::now() >= share_check_at_) check_group_share();
  if (manual_commit_ && Clock::now() - last_commit_ >= config_.commit_interval) {
    last_commit_ = Clock::now();
    // Async: commits the stored offsets; _NO_OFFSET just means nothing new was stored.
    rd_kafka_commit(consumer_, nullptr, 1);
  }
}

void KafkaSource::handle(rd_kafka_message_t* message) {
  if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (message->rkt == nullptr) return;
    TopicPartition tp{correlator::Symbol::intern(rd_kafka_topic_name(message->rkt)), message->partition};
    if (!tracker_.owns(tp)) return;  // from before a revoke
    // Events of the partition still held back by backpressure have not reached the sink: it hears
    // of the end once they have.
    if (std::find(eof_pending_.begin(), eof_pending_.end(), tp) == eof_pending_.end()) eof_pending_.push_back(tp);
    report_caught_up_if_pending(tp);
    return;
  }
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (log_limiter_.admit("consume-error").log) {
      log(LogLevel::warn, fmt::format("kafka source: consume: {}", rd_kafka_message_errstr(message)));
    }
    return;
  }
  TopicPartition tp{correlator::Symbol::intern(rd_kafka_topic_name(message->rkt)), message->partition};
  // Not owned (a message fetched before a revoke) or already received (refetched after resume):
  // its owner, or the earlier copy, accounts for it.
  std::optional<AckToken> token = tracker_.receive(tp, message->offset);
  if (!token) return;
  Binding* binding = binding_for(tp.topic);
  if (binding == nullptr) {
    apply_ack(*token);  // subscribed only to bound topics; defensive
    return;
  }
  rd_kafka_timestamp_type_t timestamp_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  std::int64_t timestamp = rd_kafka_message_timestamp(message, &timestamp_type);
  if (timestamp < 0) timestamp = now_ms();
  std::string_view payload = message->payload == nullptr
                                 ? std::string_view{}
                                 : std::string_view(static_cast<const char*>(message->payload), message->len);
  IngestResult result = binding->ingestor->ingest(payload, token->origin, timestamp);
  switch (result.kind) {
    case IngestResult::Kind::event:
      if (held_.empty() && sink_.offer(std::move(result.event), *token)) return;
      held_.push_back(Held{std::move(result.event), *token, binding->counters});
      if (!paused_) {
        binding->counters->backpressure_waits.fetch_add(1, std::memory_order_relaxed);
        if (!wait_and_offer_held()) {
          binding->counters->backpressure_pauses.fetch_add(1, std::memory_order_relaxed);
          set_paused(true);
        }
      }
      return;
    case IngestResult::Kind::duplicate:
      if (!sink_.take_duplicate(std::move(result.event), *token)) apply_ack(*token);
      return;
    case IngestResult::Kind::rejected:
      if (!dead_letter_) {
        apply_ack(*token);
        return;
      }
      DeadLetterRecord record;
      record.payload.assign(payload);
      if (message->key != nullptr) record.key.emplace(static_cast<const char*>(message->key), message->key_len);
      record.reason = correlator::to_string(result.failure.error);
      record.source = binding->ingestor->binding().source_name;
      record.topic = tp.topic.str();
      record.partition = tp.partition;
      record.offset = message->offset;
      record.detail = std::move(result.failure.detail);
      record.token = *token;
      record.counters = binding->counters;
      dead_letter_->send(std::move(record));
      return;
  }
}

void KafkaSource::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    service();
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_, static_cast<int>(config_.poll_timeout.count()));
    if (message != nullptr) {
      handle(message);
      rd_kafka_message_destroy(message);
    }
  }
  // Shutdown: give in-flight events and dead letters a bounded time to be acknowledged, store what
  // is contiguous, then close() (which revokes, commits and leaves the group).
  std::unordered_map<TopicPartition, std::size_t, TopicPartitionHash> held_counts;
  for (const Held& h : held_)
    ++held_counts[TopicPartition{h.token.origin.topic, h.token.origin.partition}];
  wait_for_acks(tracker_.owned(), held_counts);
  store_offsets();
  closing_ = true;
  if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log(LogLevel::warn, fmt::format("kafka source: close: {}", rd_kafka_err2str(err)));
  }
  held_.clear();
}

void KafkaSource::wait_for_acks(const std::vector<TopicPartition>& partitions,
                                const std::unordered_map<TopicPartition, std::size_t, TopicPartitionHash>& dropped) {
  auto deadline = Clock::now() + config_.drain_timeout;
  auto drained = [&] {
    for (const TopicPartition& tp : partitions) {
      auto it = dropped.find(tp);
      // Held events were never handed downstream, so they will never be acknowledged.
      if (tracker_.in_flight(tp) > (it == dropped.end() ? 0 : it->second)) return false;
    }
    return true;
  };
  while (!drained() && Clock::now() < deadline) {
    if (dead_letter_) {
      for (const AckToken& token : dead_letter_->poll(std::chrono::milliseconds(5)))
        apply_ack(token);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    drain_ack_queue();
  }
  if (!drained()) {
    log(LogLevel::warn, fmt::format("kafka source: drain timed out after {} ms; unacknowledged records will be "
                                    "redelivered",
                                    config_.drain_timeout.count()));
  }
}

void KafkaSource::check_group_share() {
  share_check_at_ = Clock::time_point::max();
  std::vector<TopicPartition> owned = tracker_.owned();
  std::string share;
  for (const auto& [topic, binding] : bindings_) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer_, topic.str().c_str(), nullptr);
    if (handle == nullptr) continue;
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_metadata(consumer_, 0, handle, &metadata, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int t = 0; t < metadata->topic_cnt; ++t) {
        const rd_kafka_metadata_topic_t& md = metadata->topics[t];
        if (md.err != RD_KAFKA_RESP_ERR_NO_ERROR || md.partition_cnt <= 0) continue;
        const correlator::Symbol bound = topic;  // clang before 16 cannot capture a structured binding
        auto mine =
            std::count_if(owned.begin(), owned.end(), [&](const TopicPartition& tp) { return tp.topic == bound; });
        if (mine < md.partition_cnt)
          share +=
              fmt::format("{}{} of {} partitions of {}", share.empty() ? "" : ", ", mine, md.partition_cnt, md.topic);
      }
      rd_kafka_metadata_destroy(metadata);
    }
    rd_kafka_topic_destroy(handle);
  }
  if (share == share_reported_) return;
  share_reported_ = share;
  if (share.empty()) {
    log(LogLevel::info, fmt::format("kafka source: this member reads every partition of its topics again"));
    return;
  }
  log(LogLevel::warn,
      fmt::format("kafka source: this member reads {}; other members of group {} read the rest. Correlation needs all "
                  "of a user's events in one process: run one oktaguard per group.id",
                  share, group_id_));
}

void KafkaSource::on_assign(rd_kafka_topic_partition_list_t* partitions, bool cooperative) {
  // Checked once the group has settled, not in the middle of a rebalance.
  share_check_at_ = Clock::now() + std::chrono::seconds(3);
  // Each partition's end, so the sink can tell offsets it recorded for an earlier incarnation of the
  // partition (a topic deleted and created again, another cluster) from this one's. Asked of the
  // broker within one budget for the whole assignment: the group waits for this callback.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  int unchecked = 0;
  for (int i = 0; i < partitions->cnt; ++i) {
    TopicPartition tp = to_tp(partitions->elems[i]);
    tracker_.assign(tp);
    std::int64_t low = -1, high = -1;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 ||
        rd_kafka_query_watermark_offsets(consumer_, partitions->elems[i].topic, partitions->elems[i].partition, &low,
                                         &high, static_cast<int>(left)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      high = -1;
      ++unchecked;
    }
    sink_.partition_assigned(tp.topic, tp.partition, high);
  }
  if (unchecked > 0)
    log(LogLevel::warn, fmt::format("kafka source: the end of {} of {} assigned partition(s) could not be asked of the "
                                    "broker: offsets a snapshot lists for them are trusted unchecked",
                                    unchecked, partitions->cnt));
  if (cooperative) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(consumer_, partitions)) {
      log(LogLevel::error, fmt::format("kafka source: incremental_assign: {}", rd_kafka_error_string(error)));
      rd_kafka_error_destroy(error);
    }
  } else if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, partitions); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log(LogLevel::error, fmt::format("kafka source: assign: {}", rd_kafka_err2str(err)));
  }
  // New partitions join the current backpressure state.
  if (paused_ && partitions->cnt > 0) rd_kafka_pause_partitions(consumer_, partitions);
  log(LogLevel::info, fmt::format("kafka source: assigned {} partition(s) ({})", partitions->cnt,
                                  cooperative ? "cooperative" : "eager"));
}

void KafkaSource::on_revoke(rd_kafka_topic_partition_list_t* partitions, bool cooperative) {
  share_check_at_ = Clock::now() + std::chrono::seconds(3);
  bool lost = rd_kafka_assignment_lost(consumer_) != 0;
  std::vector<TopicPartition> revoked;
  for (int i = 0; i < partitions->cnt; ++i)
    revoked.push_back(to_tp(partitions->elems[i]));
  auto is_revoked = [&](const AckToken& token) {
    for (const TopicPartition& tp : revoked) {
      if (tp.topic == token.origin.topic && tp.partition == token.origin.partition) return true;
    }
    return false;
  };
  // Held events of revoked partitions were never handed downstream: drop them, their next owner
  // reads them again.
  std::unordered_map<TopicPartition, std::size_t, TopicPartitionHash> dropped;
  std::erase_if(held_, [&](const Held& h) {
    if (!is_revoked(h.token)) return false;
    ++dropped[TopicPartition{h.token.origin.topic, h.token.origin.partition}];
    return true;
  });

  if (!lost && !closing_) wait_for_acks(revoked, dropped);
  drain_ack_queue();

  PartitionList commit(partitions->cnt);
  for (const TopicPartition& tp : revoked) {
    if (auto offset = tracker_.store_position(tp)) {
      rd_kafka_topic_partition_list_add(commit.list, tp.topic.str().c_str(), tp.partition)->offset = *offset;
    }
    tracker_.revoke(tp);  // from here on, late acks of this ownership are fenced
    std::erase(eof_pending_, tp);
    sink_.partition_revoked(tp.topic, tp.partition);
  }
  if (!lost && commit.list->cnt > 0) {
    rd_kafka_offsets_store(consumer_, commit.list);
    // Synchronous, so the next owner starts exactly after what this one applied.
    if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, commit.list, 0);
        err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      log(LogLevel::warn, fmt::format("kafka source: commit on revoke: {}", rd_kafka_err2str(err)));
    }
  }

  if (cooperative) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(consumer_, partitions)) {
      log(LogLevel::error, fmt::format("kafka source: incremental_unassign: {}", rd_kafka_error_string(error)));
      rd_kafka_error_destroy(error);
    }
  } else {
    rd_kafka_assign(consumer_, nullptr);
  }
  log(LogLevel::info, fmt::format("kafka source: revoked {} partition(s){}", partitions->cnt, lost ? " (lost)" : ""));
}

void KafkaSource::rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                               void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  self->protocol_ = cooperative ? 2 : 1;
  self->rebalances_.fetch_add(1);
  switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
      self->on_assign(partitions, cooperative);
      break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
      self->on_revoke(partitions, cooperative);
      break;
    default:
      self->log(LogLevel::error, fmt::format("kafka source: rebalance failed: {}", rd_kafka_err2str(err)));
      self->on_revoke(partitions, cooperative);
      break;
  }
  self->assigned_count_ = self->tracker_.owned().size();
}

std::vector<SourceStats> KafkaSource::stats() const {
  std::vector<SourceStats> result;
  for (const auto& [name, counters] : counters_)
    result.push_back(counters->snapshot(name));
  return result;
}

std::string KafkaSource::rebalance_protocol() const {
  switch (protocol_.load()) {
    case 1:
      return "EAGER";
    case 2:
      return "COOPERATIVE";
    default:
      return "NONE";
  }
}

}  // namespace og::daemon
