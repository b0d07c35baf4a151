// Rebalances against the real broker, eager and cooperative: a second consumer joins the group
// while the first is mid-stream with events in flight. Every message is processed, committed
// offsets cover every message at the end, and only what was in flight at the revoke may be
// processed twice.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/kafka_source.h"
#include "tests/integration/kafka_source_support.h"
#include "tests/support/kafka.h"

namespace og::test {
namespace {

constexpr int kPartitions = 4;
// A waited-for sink keeps the stream fast, so there each event takes longer to apply and the
// second member joins earlier: the first must still be busy when the join completes, seconds
// later. A pausing sink is slow on its own (librdkafka refetches 0.5-1 s after each resume), so
// it gets fewer messages.
struct Pace {
  int messages;
  std::chrono::microseconds per_event;
  int join_after;  // events the first member has processed when the second one starts
};
Pace pace(bool sink_waits) {
  return sink_waits ? Pace{4000, std::chrono::microseconds(5000), 500}
                    : Pace{2000, std::chrono::microseconds(300), 500};
}
constexpr std::size_t kSinkCapacity = 16;

std::string event_json(int i) {
  return fmt::format(R"({{"uuid":"r-{:05}","eventType":"user.session.start","actor":{{"id":"00u{}","type":"User"}}}})",
                     i, i % 40);
}

// One group member: its source, its bounded queue, and a pipeline thread that applies slowly so
// events are in flight when the group rebalances.
struct Member {
  QueueSink sink;
  std::unique_ptr<daemon::KafkaSource> source;
  std::jthread poller;
  std::jthread applier;
  std::mutex* mutex;
  std::map<std::string, int>* processed;

  Member(const std::string& bootstrap, const std::string& group, const std::string& topic, const std::string& assignor,
         bool sink_waits, std::mutex& m, std::map<std::string, int>& p)
      : sink(kSinkCapacity, sink_waits), mutex(&m), processed(&p) {
    daemon::KafkaSourceConfig config;
    config.bindings.push_back({topic, "okta", correlator::SourceFormat::okta_system_log, {}});
    config.properties = {{"bootstrap.servers", bootstrap},
                         {"group.id", group},
                         {"session.timeout.ms", "6000"},
                         {"auto.commit.interval.ms", "200"},
                         {"partition.assignment.strategy", assignor}};
    // No de-duplication here: every redelivery must be visible to the test.
    config.factories.parser = daemon::default_ingest_factories(config.limits).parser;
    auto created = daemon::KafkaSource::create(std::move(config), sink, {});
    EXPECT_TRUE(created) << created.error();
    if (!created) return;
    source = std::move(*created);
    poller = std::jthread([this](std::stop_token stop) { source->run(stop); });
    applier = std::jthread([this, per_event = pace(sink_waits).per_event](std::stop_token stop) {
      while (!stop.stop_requested()) {
        auto item = sink.pop(std::chrono::milliseconds(20));
        if (!item) continue;
        std::this_thread::sleep_for(per_event);
        {
          std::lock_guard lock(*mutex);
          ++(*processed)[item->first.uuid.str()];
        }
        source->ack(item->second);
      }
    });
  }

  void stop() {
    poller.request_stop();
    if (poller.joinable()) poller.join();
    applier.request_stop();
    if (applier.joinable()) applier.join();
  }
};

// `sink_waits`: the members' sinks are waited for when full, or answered with a pause at once.
void second_member_joins(const std::string& assignor, const std::string& protocol, bool sink_waits) {
  const int messages = pace(sink_waits).messages;
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-rebal");
  const std::string group = unique_name("og-rebal-group");
  create_topic(bootstrap, topic, kPartitions);
  KafkaHandle producer = make_producer(bootstrap);
  ASSERT_TRUE(producer);
  std::vector<int> per_partition(kPartitions, 0);
  for (int i = 0; i < messages; ++i) {
    ++per_partition[static_cast<std::size_t>(i % kPartitions)];
    produce(producer.get(), topic, fmt::format("k{}", i), event_json(i), i % kPartitions);
  }
  flush(producer.get());

  std::mutex mutex;
  std::map<std::string, int> processed_first;
  std::map<std::string, int> processed_second;
  auto count = [&](const std::map<std::string, int>& m) {
    std::lock_guard lock(mutex);
    return m.size();
  };

  Member first(bootstrap, group, topic, assignor, sink_waits, mutex, processed_first);
  ASSERT_TRUE(first.source);
  ASSERT_TRUE(
      wait_until([&] { return count(processed_first) >= static_cast<std::size_t>(pace(sink_waits).join_after); },
                 std::chrono::seconds(60)));
  Member second(bootstrap, group, topic, assignor, sink_waits, mutex, processed_second);
  ASSERT_TRUE(second.source);

  auto all_seen = [&] {
    std::lock_guard lock(mutex);
    std::size_t distinct = processed_first.size();
    for (const auto& [uuid, n] : processed_second)
      distinct += processed_first.contains(uuid) ? 0 : 1;
    return distinct >= static_cast<std::size_t>(messages);
  };
  // A pausing sink may take a resume cycle (0.5-1 s, more on a loaded host) per 16 events.
  bool done = wait_until(all_seen, std::chrono::seconds(240));
  const std::size_t first_owns = first.source->assigned_partitions();
  const std::size_t second_owns = second.source->assigned_partitions();
  // Let the offsets of the last acks be stored, then shut both down (close commits).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  second.stop();
  first.stop();
  ASSERT_TRUE(done) << "first " << processed_first.size() << ", second " << processed_second.size();

  EXPECT_EQ(first.source->rebalance_protocol(), protocol);
  EXPECT_EQ(second.source->rebalance_protocol(), protocol);
  // Eager: assign, revoke everything on the join, assign again. Cooperative: assign, then revoke
  // only what moves to the second member (librdkafka may follow with an empty incremental assign).
  EXPECT_GE(first.source->rebalances(), protocol == "EAGER" ? 3u : 2u);
  EXPECT_GT(processed_second.size(), 0u) << "the second member got partitions";
  EXPECT_EQ(first_owns + second_owns, static_cast<std::size_t>(kPartitions));
  EXPECT_GT(first_owns, 0u);
  EXPECT_GT(second_owns, 0u);

  int duplicates = 0;
  for (const auto& [uuid, n] : processed_first)
    duplicates += n - 1 + (processed_second.contains(uuid) ? 1 : 0);
  for (const auto& [uuid, n] : processed_second)
    duplicates += n - 1;
  // Only records in flight at the revoke (the sink plus what the drain could not finish) repeat;
  // a clean drain makes this 0.
  EXPECT_LE(duplicates, static_cast<int>(kSinkCapacity) * kPartitions) << "duplicates beyond what was in flight";
  ::testing::Test::RecordProperty("duplicates", duplicates);
  std::cout << "duplicates after rebalance: " << duplicates
            << ", first stale acks: " << first.source->stats().at(0).stale_acks << "\n";

  std::vector<std::int64_t> committed = committed_offsets(bootstrap, group, topic, kPartitions);
  for (int p = 0; p < kPartitions; ++p)
    EXPECT_EQ(committed[static_cast<std::size_t>(p)], per_partition[static_cast<std::size_t>(p)]) << "partition " << p;
}

// Eager (the default assignor) and incremental (cooperative-sticky: the first member keeps the
// partitions that do not move, and only the moved ones are drained and committed), each with a
// sink that is waited for (as the pipeline's) and one that pauses the partitions at once, so
// revokes also meet paused partitions and held events.
TEST(KafkaSourceRebalance, EagerWithAWaitedForSink) {
  second_member_joins("range,roundrobin", "EAGER", /*sink_waits=*/true);
}
TEST(KafkaSourceRebalance, EagerWithAPausingSink) {
  second_member_joins("range,roundrobin", "EAGER", /*sink_waits=*/false);
}
TEST(KafkaSourceRebalance, CooperativeWithAWaitedForSink) {
  second_member_joins("cooperative-sticky", "COOPERATIVE", /*sink_waits=*/true);
}
TEST(KafkaSourceRebalance, CooperativeWithAPausingSink) {
  second_member_joins("cooperative-sticky", "COOPERATIVE", /*sink_waits=*/false);
}

}  // namespace
}  // namespace og::test
