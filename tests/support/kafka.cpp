#include "tests/support/kafka.h"

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>

namespace og::test {
namespace {

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
    ADD_FAILURE() << "kafka config " << key << ": " << error;
  }
}

KafkaHandle make(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof error);
  if (rk == nullptr) {
    ADD_FAILURE() << "rd_kafka_new: " << error;
    rd_kafka_conf_destroy(conf);
  }
  return KafkaHandle(rk);
}

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ADD_FAILURE() << "delivery failed: " << rd_kafka_err2str(message->err);
  }
}

// "127.0.0.1:<port>" for a port the broker's state file names; "" with a test failure when absent.
std::string broker_address(std::string_view port_key) {
  const char* state = std::getenv("OG_KAFKA_STATE");
  if (state == nullptr) {
    ADD_FAILURE() << "OG_KAFKA_STATE is not set: run through ctest, which starts tests/kafka/broker";
    return {};
  }
  std::ifstream in(state);
  const std::string prefix = std::string(port_key) + "=";
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) return "127.0.0.1:" + line.substr(prefix.size());
  }
  ADD_FAILURE() << "no " << port_key << " of a running test broker (state file " << state
                << "); start it with tests/kafka/broker start";
  return {};
}

}  // namespace

void KafkaDeleter::operator()(rd_kafka_t* rk) const {
  if (rk != nullptr) rd_kafka_destroy(rk);
}

std::string kafka_bootstrap() {
  return broker_address("port");
}

std::string kafka_sasl_bootstrap() {
  return broker_address("sasl_port");
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<int> counter{0};
  std::random_device random;
  return fmt::format("{}-{}-{}-{:08x}", prefix, ::getpid(), counter++, random());
}

namespace {

KafkaHandle make_admin(const std::string& bootstrap) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  return make(RD_KAFKA_PRODUCER, conf);
}

// Sends one admin request on its own queue and checks that its one topic result is a success.
// `topics_of` reads the topic results out of the answer event (null: not the expected answer).
void one_topic_request(rd_kafka_t* admin, std::string_view what, const std::function<void(rd_kafka_queue_t*)>& send,
                       const std::function<const rd_kafka_topic_result_t**(rd_kafka_event_t*, size_t*)>& topics_of) {
  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue(rd_kafka_queue_new(admin),
                                                                       rd_kafka_queue_destroy);
  send(queue.get());
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> event(rd_kafka_queue_poll(queue.get(), 30000),
                                                                       rd_kafka_event_destroy);
  ASSERT_NE(event, nullptr) << what << " timed out";
  size_t count = 0;
  const rd_kafka_topic_result_t** topics = topics_of(event.get(), &count);
  ASSERT_NE(topics, nullptr) << what << ": " << rd_kafka_event_error_string(event.get());
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(rd_kafka_topic_result_error(topics[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << what << ": " << rd_kafka_topic_result_error_string(topics[0]);
}

}  // namespace

void create_topic(const std::string& bootstrap, const std::string& topic, int partitions) {
  KafkaHandle admin = make_admin(bootstrap);
  ASSERT_TRUE(admin);
  char error[512];
  rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, error, sizeof error);
  ASSERT_NE(new_topic, nullptr) << error;
  one_topic_request(
      admin.get(), "CreateTopics",
      [&](rd_kafka_queue_t* queue) { rd_kafka_CreateTopics(admin.get(), &new_topic, 1, nullptr, queue); },
      [](rd_kafka_event_t* event, size_t* count) -> const rd_kafka_topic_result_t** {
        const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
        return result ? rd_kafka_CreateTopics_result_topics(result, count) : nullptr;
      });
  rd_kafka_NewTopic_destroy(new_topic);

  // Wait for every partition to have a leader, so the first produce does not race creation.
  for (int attempt = 0; attempt < 100; ++attempt) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(admin.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    bool ready = false;
    if (rd_kafka_metadata(admin.get(), 0, handle, &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ready = metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
              metadata->topics[0].partition_cnt == partitions;
      for (int p = 0; ready && p < metadata->topics[0].partition_cnt; ++p) {
        ready = metadata->topics[0].partitions[p].leader >= 0;
      }
      rd_kafka_metadata_destroy(metadata);
    }
    rd_kafka_topic_destroy(handle);
    if (ready) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "topic " << topic << " did not become ready";
}

void delete_topic(const std::string& bootstrap, const std::string& topic) {
  KafkaHandle admin = make_admin(bootstrap);
  ASSERT_TRUE(admin);
  rd_kafka_DeleteTopic_t* victim = rd_kafka_DeleteTopic_new(topic.c_str());
  one_topic_request(
      admin.get(), "DeleteTopics",
      [&](rd_kafka_queue_t* queue) { rd_kafka_DeleteTopics(admin.get(), &victim, 1, nullptr, queue); },
      [](rd_kafka_event_t* event, size_t* count) -> const rd_kafka_topic_result_t** {
        const rd_kafka_DeleteTopics_result_t* result = rd_kafka_event_DeleteTopics_result(event);
        return result ? rd_kafka_DeleteTopics_result_topics(result, count) : nullptr;
      });
  rd_kafka_DeleteTopic_destroy(victim);

  for (int attempt = 0; attempt < 100; ++attempt) {
    const rd_kafka_metadata_t* metadata = nullptr;
    bool listed = true;
    if (rd_kafka_metadata(admin.get(), 1, nullptr, &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      listed = false;
      for (int t = 0; t < metadata->topic_cnt; ++t)
        listed = listed || topic == metadata->topics[t].topic;
      rd_kafka_metadata_destroy(metadata);
    }
    if (!listed) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "topic " << topic << " is still listed after its deletion";
}

KafkaHandle make_producer(const std::string& bootstrap) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "enable.idempotence", "true");
  set(conf, "linger.ms", "5");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  return make(RD_KAFKA_PRODUCER, conf);
}

void produce(rd_kafka_t* producer, const std::string& topic, std::string_view key, std::string_view value,
             int partition) {
  for (;;) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer, 50);
      continue;
    }
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    rd_kafka_poll(producer, 0);
    return;
  }
}

void flush(rd_kafka_t* producer, std::chrono::milliseconds timeout) {
  EXPECT_EQ(rd_kafka_flush(producer, static_cast<int>(timeout.count())), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(rd_kafka_outq_len(producer), 0);
}

std::vector<std::int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                            const std::string& topic, int partitions) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "group.id", group);
  KafkaHandle consumer = make(RD_KAFKA_CONSUMER, conf);
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(partitions), RD_KAFKA_OFFSET_INVALID);
  if (!consumer) return offsets;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  // The group coordinator may move or still be loading (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS):
  // ask again before calling it a failure.
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int attempt = 0; attempt < 10; ++attempt) {
    err = rd_kafka_committed(consumer.get(), list, 10000);
    if (err != RD_KAFKA_RESP_ERR_NOT_COORDINATOR && err != RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS &&
        err != RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  for (int i = 0; i < list->cnt; ++i) {
    offsets[static_cast<std::size_t>(list->elems[i].partition)] = list->elems[i].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(consumer.get());
  return offsets;
}

std::vector<TopicRecord> read_topic(const std::string& bootstrap, const std::string& topic, std::size_t expected) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof error);
  rd_kafka_conf_set(conf, "group.id", unique_name("og-topic-reader").c_str(), error, sizeof error);
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", error, sizeof error);
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error));
  EXPECT_TRUE(consumer) << error;
  std::vector<TopicRecord> result;
  if (!consumer) return result;
  rd_kafka_poll_set_consumer(consumer.get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer.get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // Read past `expected` for a moment, so an extra dead letter would be seen.
  std::optional<std::chrono::steady_clock::time_point> linger;
  while (std::chrono::steady_clock::now() < deadline && (!linger || std::chrono::steady_clock::now() < *linger)) {
    if (!linger && result.size() >= expected) linger = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      TopicRecord d;
      if (m->key) d.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) d.payload.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          d.headers[name] = value ? std::string(static_cast<const char*>(value), size) : "";
        }
      }
      result.push_back(std::move(d));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  return result;
}

}  // namespace og::test
