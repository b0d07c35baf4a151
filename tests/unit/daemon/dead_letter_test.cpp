// The dead-letter producer against librdkafka's in-process mock cluster: a record refused as too
// large (by the producer or the broker) is sent cut to fit, so its offset can still be stored.
#include "daemon/dead_letter.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace og::test {
namespace {

using daemon::DeadLetterProducer;
using daemon::DeadLetterRecord;

constexpr const char* kTopic = "og-dead-letters";
constexpr std::int16_t kProduceApi = 0;  // Kafka protocol ApiKey of Produce

struct Stored {
  std::string payload;
  std::optional<std::string> key;
  std::map<std::string, std::string> headers;
};

class MockCluster {
 public:
  MockCluster() {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "4", error, sizeof error);  // it only hosts the cluster
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (handle_ == nullptr) throw std::runtime_error(error);
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    if (cluster_ == nullptr) throw std::runtime_error("mock cluster");
    rd_kafka_mock_topic_create(cluster_, kTopic, 1, 1);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  rd_kafka_mock_cluster_t* get() { return cluster_; }

  // Everything in the topic's only partition.
  std::vector<Stored> read_all() {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps().c_str(), error, sizeof error);
    rd_kafka_conf_set(conf, "group.id", "dead-letter-test-reader", error, sizeof error);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", error, sizeof error);
    rd_kafka_conf_set(conf, "fetch.message.max.bytes", "4000000", error, sizeof error);
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    EXPECT_NE(consumer, nullptr) << error;
    std::vector<Stored> out;
    if (consumer == nullptr) return out;
    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, kTopic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 200);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        rd_kafka_message_destroy(m);
        break;
      }
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Stored s;
        s.payload.assign(static_cast<const char*>(m->payload), m->len);
        if (m->key != nullptr) s.key.emplace(static_cast<const char*>(m->key), m->key_len);
        rd_kafka_headers_t* headers = nullptr;
        if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name = nullptr;
          const void* value = nullptr;
          std::size_t size = 0;
          for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == 0; ++i)
            s.headers[name] = std::string(static_cast<const char*>(value), size);
        }
        out.push_back(std::move(s));
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return out;
  }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    s[i] = static_cast<char>('a' + i % 26);
  return s;
}

struct DeadLetterFixture : ::testing::Test {
  MockCluster cluster;
  daemon::IngestCounters counters;
  std::vector<std::string> lines;
  std::unique_ptr<DeadLetterProducer> producer;

  void SetUp() override {
    DeadLetterProducer::Options options;
    options.topic = kTopic;
    options.properties["bootstrap.servers"] = cluster.bootstraps();
    options.retry_backoff = std::chrono::milliseconds(50);
    auto created = DeadLetterProducer::create(
        options, [this](daemon::LogLevel, std::string_view line) { lines.emplace_back(line); });
    ASSERT_TRUE(created) << created.error();
    producer = std::move(*created);
  }

  DeadLetterRecord record(std::string payload, std::int64_t offset) {
    DeadLetterRecord r;
    r.payload = std::move(payload);
    r.key = "key-1";
    r.reason = "too_large";
    r.source = "okta";
    r.topic = "okta-logs";
    r.partition = 3;
    r.offset = offset;
    r.detail = "big";
    r.token = daemon::AckToken{{correlator::Symbol::intern("okta-logs"), 3, offset}, 1};
    r.counters = &counters;
    return r;
  }

  // Polls until `count` records are acknowledged, or a deadline passes.
  std::vector<daemon::AckToken> acknowledged(std::size_t count) {
    std::vector<daemon::AckToken> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      for (auto& t : producer->poll(std::chrono::milliseconds(50)))
        out.push_back(t);
    }
    return out;
  }
};

TEST_F(DeadLetterFixture, RecordOverTheProducerLimitIsSentCutAndAcknowledged) {
  const std::string original = pattern(1'000'001);
  producer->send(record(original, 41));
  std::vector<daemon::AckToken> acks = acknowledged(1);
  ASSERT_EQ(acks.size(), 1u) << "the record is never acknowledged: its partition's offset would be stuck";
  EXPECT_EQ(acks[0].origin.offset, 41);
  EXPECT_EQ(producer->outstanding(), 0u);
  EXPECT_EQ(counters.dead_lettered.load(), 1u);
  EXPECT_EQ(counters.dead_letter_retries.load(), 0u) << "cut at once rather than retried unchanged";

  std::vector<Stored> stored = cluster.read_all();
  ASSERT_EQ(stored.size(), 1u);
  Stored& s = stored[0];
  EXPECT_LT(s.payload.size(), 1'000'000u);
  EXPECT_GT(s.payload.size(), 900'000u) << "cut to what fits, not emptied";
  EXPECT_EQ(s.payload, original.substr(0, s.payload.size())) << "a prefix of the original";
  EXPECT_EQ(s.key, "key-1");
  EXPECT_EQ(s.headers["og-truncated"], "1000001");
  EXPECT_EQ(s.headers["og-reason"], "too_large");
  EXPECT_EQ(s.headers["og-topic"], "okta-logs");
  EXPECT_EQ(s.headers["og-partition"], "3");
  EXPECT_EQ(s.headers["og-offset"], "41");
  EXPECT_EQ(s.headers.count("og-key-truncated"), 0u);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("1000001"), std::string::npos) << lines[0];
}

TEST_F(DeadLetterFixture, RecordTheBrokerRefusesAsTooLargeIsSentCutFurther) {
  // The topic's own limit can be below the producer's: the broker refuses the record in its
  // delivery report rather than the producer up front.
  rd_kafka_mock_push_request_errors(cluster.get(), kProduceApi, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  const std::string original = pattern(10'000);
  producer->send(record(original, 7));
  std::vector<daemon::AckToken> acks = acknowledged(1);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(counters.dead_letter_retries.load(), 0u);

  std::vector<Stored> stored = cluster.read_all();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].payload, original.substr(0, 5'000));
  EXPECT_EQ(stored[0].headers["og-truncated"], "10000");
}

TEST_F(DeadLetterFixture, RecordThatFitsIsSentUnchanged) {
  const std::string original = pattern(2'000);
  producer->send(record(original, 1));
  ASSERT_EQ(acknowledged(1).size(), 1u);
  std::vector<Stored> stored = cluster.read_all();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].payload, original);
  EXPECT_EQ(stored[0].headers.count("og-truncated"), 0u);
}

}  // namespace
}  // namespace og::test
