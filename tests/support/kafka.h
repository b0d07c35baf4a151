#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace og::test {

// The bootstrap address of the test broker (tests/kafka/broker), read from $OG_KAFKA_STATE.
// Fails the calling test (ADD_FAILURE) and returns "" when no broker is running: integration
// tests never skip silently.
std::string kafka_bootstrap();
// The same broker's SASL_PLAINTEXT listener (mechanism PLAIN, user "oktaguard", password
// "og-test-sasl-secret"); empty, with a test failure, when there is none.
std::string kafka_sasl_bootstrap();

// A name no other test run has used, so tests never see each other's topics or groups.
std::string unique_name(std::string_view prefix);

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

// Creates a topic with the given partitions (replication 1) and waits until its metadata shows it.
void create_topic(const std::string& bootstrap, const std::string& topic, int partitions);

// Deletes a topic and waits until the broker no longer lists it (so it can be created again).
void delete_topic(const std::string& bootstrap, const std::string& topic);

// A producer with acks=all and idempotence, so a produced message is stored exactly once.
KafkaHandle make_producer(const std::string& bootstrap);

// Produces and waits for delivery; fails the test on any delivery error.
void produce(rd_kafka_t* producer, const std::string& topic, std::string_view key, std::string_view value,
             int partition = RD_KAFKA_PARTITION_UA);
void flush(rd_kafka_t* producer, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The committed offset of `group` for each partition of `topic` (-1001 when none).
std::vector<std::int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                            const std::string& topic, int partitions);

// One record read back from a topic.
struct TopicRecord {
  std::string key;
  std::string payload;
  std::map<std::string, std::string> headers;
};

// Reads `topic` from the beginning (a fresh group) until `expected` records arrived, then 2 s more so
// an extra record would be seen; at most 30 s.
std::vector<TopicRecord> read_topic(const std::string& bootstrap, const std::string& topic, std::size_t expected);

}  // namespace og::test
