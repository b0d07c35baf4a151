// Store-after-processing against a real broker: a consumer that stops halfway and a successor in
// the same group together see every message, and the successor repeats only what was in flight.
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "tests/support/kafka.h"

namespace og::test {
namespace {

constexpr int kPartitions = 3;
constexpr int kMessages = 10'000;
constexpr int kStopAfter = kMessages / 2;
constexpr int kInFlight = 100;  // fetched by the first consumer but never "processed"

KafkaHandle make_consumer(const std::string& bootstrap, const std::string& group, const std::string& topic) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  auto set = [&](const char* key, const char* value) {
    ASSERT_EQ(rd_kafka_conf_set(conf, key, value, error, sizeof error), RD_KAFKA_CONF_OK) << key << ": " << error;
  };
  set("bootstrap.servers", bootstrap.c_str());
  set("group.id", group.c_str());
  set("enable.auto.offset.store", "false");
  set("enable.auto.commit", "true");
  set("auto.commit.interval.ms", "200");
  set("auto.offset.reset", "earliest");
  set("partition.assignment.strategy", "range");
  set("session.timeout.ms", "6000");
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  EXPECT_NE(rk, nullptr) << error;
  KafkaHandle consumer(rk);
  if (!consumer) return consumer;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  EXPECT_EQ(rd_kafka_subscribe(rk, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);
  return consumer;
}

void store_offset(rd_kafka_t* consumer, const rd_kafka_message_t* message) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, rd_kafka_topic_name(message->rkt), message->partition)->offset =
      message->offset + 1;
  ASSERT_EQ(rd_kafka_offsets_store(consumer, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
}

std::string value_of(const rd_kafka_message_t* message) {
  return std::string(static_cast<const char*>(message->payload), message->len);
}

TEST(KafkaOffsets, SecondConsumerResumesFromStoredOffsetsWithoutLoss) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-resume");
  const std::string group = unique_name("og-resume-group");
  create_topic(bootstrap, topic, kPartitions);

  KafkaHandle producer = make_producer(bootstrap);
  ASSERT_TRUE(producer);
  for (int i = 0; i < kMessages; ++i) {
    produce(producer.get(), topic, fmt::format("user-{}", i % 97), fmt::format("message-{:05}", i));
  }
  flush(producer.get());

  std::set<std::string> processed_first;
  std::set<std::string> in_flight;
  {
    KafkaHandle consumer = make_consumer(bootstrap, group, topic);
    ASSERT_TRUE(consumer);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (processed_first.size() + in_flight.size() < kStopAfter + kInFlight) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "first consumer stalled at " << processed_first.size();
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 500);
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (processed_first.size() < kStopAfter) {
          processed_first.insert(value_of(message));
          store_offset(consumer.get(), message);
        } else {
          in_flight.insert(value_of(message));  // fetched, never acknowledged
        }
      } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ADD_FAILURE() << "consume error: " << rd_kafka_message_errstr(message);
      }
      rd_kafka_message_destroy(message);
    }
    // close() commits the stored offsets and leaves the group.
    ASSERT_EQ(rd_kafka_consumer_close(consumer.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  std::vector<std::int64_t> committed = committed_offsets(bootstrap, group, topic, kPartitions);
  std::int64_t committed_total = 0;
  for (std::int64_t offset : committed)
    committed_total += offset > 0 ? offset : 0;
  EXPECT_EQ(committed_total, kStopAfter) << "only processed messages may be committed";

  std::set<std::string> seen_second;
  int redelivered = 0;
  {
    KafkaHandle consumer = make_consumer(bootstrap, group, topic);
    ASSERT_TRUE(consumer);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (processed_first.size() + seen_second.size() - static_cast<std::size_t>(redelivered) < kMessages) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "second consumer stalled at " << seen_second.size();
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 500);
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::string value = value_of(message);
        if (processed_first.contains(value)) ++redelivered;
        seen_second.insert(std::move(value));
        store_offset(consumer.get(), message);
      }
      rd_kafka_message_destroy(message);
    }
    ASSERT_EQ(rd_kafka_consumer_close(consumer.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  std::set<std::string> all = processed_first;
  all.insert(seen_second.begin(), seen_second.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kMessages)) << "a message was lost";
  EXPECT_LE(redelivered, kInFlight) << "more duplicates than messages in flight";
  EXPECT_EQ(redelivered, 0) << "stored offsets were committed on close, so nothing processed repeats";
  for (const std::string& value : in_flight) {
    EXPECT_TRUE(seen_second.contains(value)) << value << " was in flight and must be redelivered";
  }

  committed = committed_offsets(bootstrap, group, topic, kPartitions);
  committed_total = 0;
  for (std::int64_t offset : committed)
    committed_total += offset;
  EXPECT_EQ(committed_total, kMessages);
}

}  // namespace
}  // namespace og::test
