// The Kafka source against the real broker with the real Okta parser: good, bad and duplicate
// messages; every bad one lands unchanged in the dead-letter topic with its reason; committed
// offsets cover every message.
#include <fmt/chrono.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ingest.h"
#include "daemon/kafka_source.h"
#include "tests/integration/kafka_source_support.h"
#include "tests/support/kafka.h"

namespace og::test {
namespace {

using correlator::ParseError;

constexpr int kPartitions = 3;
constexpr int kGood = 300;
constexpr int kDuplicates = 30;
constexpr std::size_t kMaxBytes = 2048;

// Event times near now: the de-duplication horizon is in event time, and one event that falls back
// to the Kafka timestamp (now) must not push the others out of it. Within the last ten minutes:
// the ingest step rejects times ahead of the clock (max_future_skew).
std::string good_event(int i, bool with_published = true) {
  static const auto base =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) - std::chrono::minutes(10);
  std::string published =
      with_published ? fmt::format(R"("published":"{:%Y-%m-%dT%H:%M:%S}.123Z",)", base + std::chrono::seconds(i % 600))
                     : "";
  return fmt::format(R"({{"uuid":"uuid-{:05}",{}"eventType":"user.session.start",)"
                     R"("actor":{{"id":"00u{:04}","type":"User","alternateId":"user{}@example.com"}},)"
                     R"("outcome":{{"result":"SUCCESS"}},"severity":"INFO"}})",
                     i, published, i % 50, i % 50);
}

struct Bad {
  std::string payload;
  ParseError reason;
};

std::vector<Bad> bad_messages() {
  std::string deep;
  for (int i = 0; i < 200; ++i)
    deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 200; ++i)
    deep += "}";
  std::string large = good_event(99999);
  large.insert(1, fmt::format(R"("padding":"{}",)", std::string(kMaxBytes, 'p')));
  return {
      {"this is not json", ParseError::invalid_json},
      {R"({"uuid":"t-1","eventType":"user.session.start","actor":{"id":)", ParseError::invalid_json},
      {good_event(70000) + " trailing", ParseError::trailing_content},
      {R"({"uuid":"w-1","eventType":"user.session.start","actor":"not an object"})", ParseError::wrong_type},
      {R"({"uuid":"m-1","published":"2024-05-01T10:00:00.000Z"})", ParseError::missing_field},
      {large, ParseError::too_large},
      {"{\"uuid\":\"u-1\",\"eventType\":\"user.session.start\",\"displayMessage\":\"bad \xff\xfe utf8\"}",
       ParseError::invalid_utf8},
      {deep, ParseError::too_deep},
      {"", ParseError::empty},
      {R"([1,2,3])", ParseError::not_an_object},
      {R"({"eventType":"x","password":"hunter2","token":"abc"} garbage)", ParseError::trailing_content},
  };
}

TEST(KafkaSourceIngest, GoodBadAndDuplicateMessagesAreCountedDeadLetteredAndCommitted) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-src");
  const std::string dlq = unique_name("og-src-dlq");
  const std::string group = unique_name("og-src-group");
  create_topic(bootstrap, topic, kPartitions);
  create_topic(bootstrap, dlq, 1);

  std::vector<Bad> bad = bad_messages();
  std::vector<int> per_partition(kPartitions, 0);
  KafkaHandle producer = make_producer(bootstrap);
  ASSERT_TRUE(producer);
  int sent = 0;
  auto send = [&](const std::string& key, const std::string& value) {
    int partition = sent++ % kPartitions;
    ++per_partition[static_cast<std::size_t>(partition)];
    produce(producer.get(), topic, key, value, partition);
  };
  for (int i = 0; i < kGood; ++i) {
    send(fmt::format("user-{}", i % 50), good_event(i));
    if (i % 30 == 0) send(fmt::format("bad-{}", i / 30), bad[static_cast<std::size_t>(i / 30) % bad.size()].payload);
  }
  for (std::size_t b = 10; b < bad.size(); ++b)
    send(fmt::format("bad-{}", b), bad[b].payload);
  for (int i = 0; i < kDuplicates; ++i)
    send("dup", good_event(i * 7));  // redelivered copies of events already sent
  send("no-time", good_event(kGood, false));
  flush(producer.get());
  const int total = sent;
  const int good_total = kGood + 1;

  QueueSink sink(8);  // small, so the source has to pause partitions
  daemon::KafkaSourceConfig config;
  config.bindings.push_back({topic, "okta", correlator::SourceFormat::okta_system_log, {}});
  config.properties = {{"bootstrap.servers", bootstrap}, {"group.id", group}, {"session.timeout.ms", "6000"}};
  config.dead_letter_topic = dlq;
  config.limits.max_message_bytes = kMaxBytes;
  config.factories = daemon::default_ingest_factories(config.limits);
  std::mutex log_mutex;
  std::vector<std::string> log_lines;
  auto created = daemon::KafkaSource::create(std::move(config), sink, [&](daemon::LogLevel, std::string_view line) {
    std::lock_guard lock(log_mutex);
    log_lines.emplace_back(line);
  });
  ASSERT_TRUE(created) << created.error();
  std::unique_ptr<daemon::KafkaSource> source = std::move(*created);

  // The pipeline: applies events out of order (acks a batch in reverse) from another thread.
  std::multiset<std::string> applied;
  std::optional<correlator::Event> untimed;
  correlator::Event sample;
  std::atomic<bool> applying{true};
  std::thread applier([&] {
    std::vector<daemon::AckToken> batch;
    while (applying) {
      auto item = sink.pop(std::chrono::milliseconds(20));
      if (item) {
        if (item->first.uuid == fmt::format("uuid-{:05}", kGood)) untimed = item->first;
        if (item->first.uuid == "uuid-00061") sample = item->first;
        applied.insert(item->first.uuid.str());
        batch.push_back(item->second);
      }
      if (batch.size() >= 5 || (!item && !batch.empty())) {
        for (auto it = batch.rbegin(); it != batch.rend(); ++it)
          source->ack(*it);
        batch.clear();
      }
    }
  });
  std::jthread poller([&](std::stop_token stop) { source->run(stop); });

  auto stats = [&] { return source->stats().at(0); };
  bool done = wait_until([&] { return stats().acked >= static_cast<std::uint64_t>(total); }, std::chrono::seconds(90));
  poller.request_stop();
  poller.join();
  applying = false;
  applier.join();
  daemon::SourceStats s = stats();
  ASSERT_TRUE(done) << "acked " << s.acked << " of " << total << " (received " << s.received << ")";

  EXPECT_EQ(s.received, static_cast<std::uint64_t>(total));
  EXPECT_EQ(s.events, static_cast<std::uint64_t>(good_total));
  EXPECT_EQ(s.duplicates, static_cast<std::uint64_t>(kDuplicates));
  EXPECT_EQ(s.rejected, static_cast<std::uint64_t>(total - good_total - kDuplicates));
  EXPECT_EQ(s.rejected + s.events + s.duplicates, s.received);
  EXPECT_EQ(s.dead_lettered, s.rejected);
  EXPECT_EQ(s.acked, static_cast<std::uint64_t>(total));
  EXPECT_EQ(s.stale_acks, 0u);
  EXPECT_GT(s.backpressure_pauses, 0u) << "a sink of 8 must have pushed back";
  EXPECT_GT(sink.refused(), 0u);

  std::map<ParseError, std::uint64_t> expected_by_reason;
  std::map<std::string, Bad> bad_by_key;
  for (int k = 0; k * 30 < kGood; ++k) {
    const Bad& b = bad[static_cast<std::size_t>(k) % bad.size()];
    ++expected_by_reason[b.reason];
    bad_by_key[fmt::format("bad-{}", k)] = b;
  }
  for (std::size_t b = 10; b < bad.size(); ++b) {
    ++expected_by_reason[bad[b].reason];
    bad_by_key[fmt::format("bad-{}", b)] = bad[b];
  }
  for (std::size_t r = 0; r < daemon::kParseErrorCount; ++r) {
    auto reason = static_cast<ParseError>(r);
    EXPECT_EQ(s.rejected_for(reason), expected_by_reason[reason]) << correlator::to_string(reason);
  }

  // Every good event applied exactly once; no duplicate and no bad message reached the pipeline.
  EXPECT_EQ(applied.size(), static_cast<std::size_t>(good_total));
  for (int i = 0; i <= kGood; ++i)
    EXPECT_EQ(applied.count(fmt::format("uuid-{:05}", i)), 1u) << i;
  EXPECT_TRUE(sample.time_from_payload);
  EXPECT_EQ(sample.published.time_since_epoch().count() % 1000, 123);
  EXPECT_EQ(sample.source.view(), "okta");
  EXPECT_EQ(sample.origin.topic.view(), topic);
  ASSERT_TRUE(untimed);
  EXPECT_FALSE(untimed->time_from_payload) << "no `published`: the Kafka timestamp is the event time";
  EXPECT_EQ(untimed->published.time_since_epoch().count(), untimed->ingest_timestamp_ms);
  EXPECT_NEAR(static_cast<double>(untimed->ingest_timestamp_ms),
              static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()),
              120'000.0);

  // Committed offsets cover every message of every partition.
  std::vector<std::int64_t> committed = committed_offsets(bootstrap, group, topic, kPartitions);
  for (int p = 0; p < kPartitions; ++p)
    EXPECT_EQ(committed[static_cast<std::size_t>(p)], per_partition[static_cast<std::size_t>(p)]) << "partition " << p;

  // The dead-letter topic holds each bad message unchanged, with its reason and origin.
  std::vector<TopicRecord> letters = read_topic(bootstrap, dlq, bad_by_key.size());
  ASSERT_EQ(letters.size(), bad_by_key.size());
  std::set<std::string> keys;
  for (const TopicRecord& d : letters) {
    ASSERT_TRUE(bad_by_key.contains(d.key)) << d.key;
    keys.insert(d.key);
    const Bad& b = bad_by_key[d.key];
    EXPECT_EQ(d.payload, b.payload) << d.key;
    EXPECT_EQ(d.headers.at("og-reason"), correlator::to_string(b.reason)) << d.key;
    EXPECT_EQ(d.headers.at("og-source"), "okta");
    EXPECT_EQ(d.headers.at("og-topic"), topic);
    EXPECT_TRUE(d.headers.contains("og-detail"));
    int partition = std::stoi(d.headers.at("og-partition"));
    EXPECT_GE(partition, 0);
    EXPECT_LT(partition, kPartitions);
    EXPECT_GE(std::stoll(d.headers.at("og-offset")), 0);
  }
  EXPECT_EQ(keys.size(), bad_by_key.size()) << "each bad message dead-lettered once";

  // Rejections were logged with their location, and secrets never reached the log.
  std::lock_guard lock(log_mutex);
  bool saw_location = false;
  for (const std::string& line : log_lines) {
    EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
    if (line.find("rejected message") != std::string::npos && line.find("topic=" + topic) != std::string::npos)
      saw_location = true;
  }
  EXPECT_TRUE(saw_location);
}

// A full sink that is being drained is waited for (EventSink::wait_for_room), not answered with a
// pause: after a resume, librdkafka fetches again only 0.5-1 s later, which made a backlog's
// catch-up crawl. The sink here is as small as above and fills all the time, yet the partitions
// are (nearly) never paused, and every event arrives once and in order per partition.
TEST(KafkaSourceIngest, AFullSinkBeingDrainedIsWaitedForInsteadOfPausing) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-room");
  const std::string group = unique_name("og-room-group");
  constexpr int kMessages = 3000;
  create_topic(bootstrap, topic, kPartitions);
  KafkaHandle producer = make_producer(bootstrap);
  ASSERT_TRUE(producer);
  for (int i = 0; i < kMessages; ++i)
    produce(producer.get(), topic, fmt::format("k{}", i), good_event(i), i % kPartitions);
  flush(producer.get());

  QueueSink sink(8, /*waits=*/true);
  daemon::KafkaSourceConfig config;
  config.bindings.push_back({topic, "okta", correlator::SourceFormat::okta_system_log, {}});
  config.properties = {{"bootstrap.servers", bootstrap}, {"group.id", group}, {"session.timeout.ms", "6000"}};
  config.factories = daemon::default_ingest_factories(config.limits);
  auto created = daemon::KafkaSource::create(std::move(config), sink, {});
  ASSERT_TRUE(created) << created.error();
  std::unique_ptr<daemon::KafkaSource> source = std::move(*created);

  std::map<std::int32_t, std::vector<std::int64_t>> offsets_by_partition;
  std::atomic<bool> applying{true};
  std::thread applier([&] {
    while (applying) {
      auto item = sink.pop(std::chrono::milliseconds(20));
      if (!item) continue;
      std::this_thread::sleep_for(std::chrono::microseconds(50));  // slower than the source
      offsets_by_partition[item->second.origin.partition].push_back(item->second.origin.offset);
      source->ack(item->second);
    }
  });
  std::jthread poller([&](std::stop_token stop) { source->run(stop); });
  auto stats = [&] { return source->stats().at(0); };
  bool done =
      wait_until([&] { return stats().acked >= static_cast<std::uint64_t>(kMessages); }, std::chrono::seconds(90));
  poller.request_stop();
  poller.join();
  applying = false;
  applier.join();
  daemon::SourceStats s = stats();
  ASSERT_TRUE(done) << "acked " << s.acked << " of " << kMessages << ", pauses " << s.backpressure_pauses;

  EXPECT_EQ(s.events, static_cast<std::uint64_t>(kMessages));
  std::size_t delivered = 0;
  for (const auto& [partition, offsets] : offsets_by_partition) {
    for (std::size_t i = 0; i < offsets.size(); ++i)
      EXPECT_EQ(offsets[i], static_cast<std::int64_t>(i)) << "partition " << partition;
    delivered += offsets.size();
  }
  EXPECT_EQ(delivered, static_cast<std::size_t>(kMessages));
  // The sink was full again and again; a pause is left for a sink stalled past room_wait (100 ms),
  // which a loaded machine can still cause now and then.
  EXPECT_GE(sink.refused(), 100u);
  EXPECT_LE(s.backpressure_pauses * 20, sink.refused()) << "refused " << sink.refused();
  std::cout << "refused " << sink.refused() << ", pauses " << s.backpressure_pauses << "\n";
}

}  // namespace
}  // namespace og::test
