// The Kafka source tells its sink about each partition's life against the real broker: assigned
// before any of its events, caught up at its end (at once for an empty partition), revoked at close.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/ingest.h"
#include "daemon/kafka_source.h"
#include "tests/integration/kafka_source_support.h"
#include "tests/support/kafka.h"

namespace og::test {
namespace {

// Records what the source hands it, in order, as "assigned 0", "event 0", "caught_up 1", ...
class RecordingSink final : public daemon::EventSink {
 public:
  bool offer(correlator::Event&&, const daemon::AckToken& token) override {
    record("event", token.origin.partition);
    std::lock_guard lock(mutex_);
    tokens_.push_back(token);
    return true;
  }
  void partition_assigned(correlator::Symbol, std::int32_t partition, std::int64_t) override {
    record("assigned", partition);
  }
  void partition_caught_up(correlator::Symbol, std::int32_t partition) override { record("caught_up", partition); }
  void partition_revoked(correlator::Symbol, std::int32_t partition) override { record("revoked", partition); }

  std::vector<std::string> log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  std::vector<daemon::AckToken> take_tokens() {
    std::lock_guard lock(mutex_);
    return std::exchange(tokens_, {});
  }

 private:
  void record(const char* what, std::int32_t partition) {
    std::lock_guard lock(mutex_);
    log_.push_back(fmt::format("{} {}", what, partition));
  }
  mutable std::mutex mutex_;
  std::vector<std::string> log_;
  std::vector<daemon::AckToken> tokens_;
};

std::ptrdiff_t position(const std::vector<std::string>& log, const std::string& line) {
  auto it = std::find(log.begin(), log.end(), line);
  return it == log.end() ? -1 : it - log.begin();
}

std::ptrdiff_t last_position(const std::vector<std::string>& log, const std::string& line) {
  auto it = std::find(log.rbegin(), log.rend(), line);
  return it == log.rend() ? -1 : log.rend() - it - 1;
}

TEST(KafkaSourcePartitions, TheSinkHearsOfAssignmentCatchingUpAndRevocationInOrderWithTheEvents) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-parts");
  const std::string group = unique_name("og-parts-group");
  create_topic(bootstrap, topic, 2);
  KafkaHandle producer = make_producer(bootstrap);
  constexpr int kEvents = 3;
  for (int i = 0; i < kEvents; ++i)
    produce(producer.get(), topic, "",
            fmt::format(R"({{"uuid":"p-{}","published":"2024-05-01T10:00:0{}.000Z","eventType":"user.session.start"}})",
                        i, i),
            0);  // partition 1 stays empty
  flush(producer.get());

  RecordingSink sink;
  daemon::KafkaSourceConfig config;
  config.bindings.push_back({topic, "okta", correlator::SourceFormat::okta_system_log, {}});
  // Switched off here, on again in the source: the sink needs partition ends.
  config.properties = {{"bootstrap.servers", bootstrap},
                       {"group.id", group},
                       {"session.timeout.ms", "6000"},
                       {"enable.partition.eof", "false"}};
  config.factories = daemon::default_ingest_factories(config.limits);
  auto created = daemon::KafkaSource::create(std::move(config), sink, [](daemon::LogLevel, std::string_view) {});
  ASSERT_TRUE(created) << created.error();
  std::unique_ptr<daemon::KafkaSource> source = std::move(*created);
  std::jthread poller([&](std::stop_token stop) { source->run(stop); });

  bool caught_up = wait_until(
      [&] {
        for (const daemon::AckToken& token : sink.take_tokens())
          source->ack(token);
        auto log = sink.log();
        return position(log, "caught_up 0") >= 0 && position(log, "caught_up 1") >= 0;
      },
      std::chrono::seconds(60));
  poller.request_stop();
  poller.join();
  source.reset();
  std::vector<std::string> log = sink.log();
  std::string text;
  for (const std::string& line : log)
    text += line + "\n";
  ASSERT_TRUE(caught_up) << text;

  const std::ptrdiff_t first_event = position(log, "event 0");
  const std::ptrdiff_t last_event = last_position(log, "event 0");
  ASSERT_GE(first_event, 0) << text;
  EXPECT_EQ(std::count(log.begin(), log.end(), "event 0"), kEvents) << text;
  EXPECT_EQ(std::count(log.begin(), log.end(), "event 1"), 0) << text;
  // Both partitions are announced before any event, whichever delivers first.
  EXPECT_GE(position(log, "assigned 0"), 0) << text;
  EXPECT_LT(position(log, "assigned 0"), first_event) << text;
  EXPECT_GE(position(log, "assigned 1"), 0) << text;
  EXPECT_LT(position(log, "assigned 1"), first_event) << text;
  // The full partition is caught up only after its last event; the empty one without any.
  EXPECT_GT(position(log, "caught_up 0"), last_event) << text;
  EXPECT_GT(position(log, "caught_up 1"), position(log, "assigned 1")) << text;
  // Closing the consumer revokes both, after everything else.
  EXPECT_GT(position(log, "revoked 0"), last_position(log, "caught_up 0")) << text;
  EXPECT_GT(position(log, "revoked 1"), last_position(log, "caught_up 1")) << text;
}

// A second member of the group takes some partitions: each member warns that it no longer reads
// them all (correlation needs every event of a user in one process).
TEST(KafkaSourcePartitions, AMemberSharingTheGroupIsWarnedAbout) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-share");
  const std::string group = unique_name("og-share-group");
  create_topic(bootstrap, topic, 2);

  struct Member {
    RecordingSink sink;
    std::mutex mutex;
    std::vector<std::string> lines;
    std::unique_ptr<daemon::KafkaSource> source;
    std::jthread poller;
    bool warned() {
      std::lock_guard lock(mutex);
      return std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
        return l.find("of 2 partitions of") != std::string::npos &&
               l.find("run one oktaguard per group.id") != std::string::npos;
      });
    }
  };
  auto start = [&](Member& m) {
    daemon::KafkaSourceConfig config;
    config.bindings.push_back({topic, "okta", correlator::SourceFormat::okta_system_log, {}});
    config.properties = {{"bootstrap.servers", bootstrap}, {"group.id", group}, {"session.timeout.ms", "6000"}};
    config.factories = daemon::default_ingest_factories(config.limits);
    auto created =
        daemon::KafkaSource::create(std::move(config), m.sink, [&m](daemon::LogLevel, std::string_view line) {
          std::lock_guard lock(m.mutex);
          m.lines.emplace_back(line);
        });
    ASSERT_TRUE(created) << created.error();
    m.source = std::move(*created);
    m.poller = std::jthread([&m](std::stop_token stop) { m.source->run(stop); });
  };
  Member first, second;
  start(first);
  ASSERT_TRUE(wait_until([&] { return position(first.sink.log(), "assigned 1") >= 0; }, std::chrono::seconds(30)));
  // Alone, it reads both partitions: no warning.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_FALSE(first.warned());
  start(second);
  EXPECT_TRUE(wait_until([&] { return first.warned() && second.warned(); }, std::chrono::seconds(45)));
  second.poller.request_stop();
  first.poller.request_stop();
}

}  // namespace
}  // namespace og::test
