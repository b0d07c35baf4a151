// The pipeline's own queue under a Kafka backlog, against the real broker: with a queue of 8 the
// Kafka source finds it full again and again. It waits for room (the worker takes the whole inbox
// and wakes it) instead of pausing its partitions, and no wait runs out its 100 ms: a backlog of
// 4,000 events takes a few hundred milliseconds, where a wait that only ended on its timeout would
// take 4000 / 8 * 100 ms = 50 s and a pause per full queue (0.5-1 s each) far longer.
#include <fmt/chrono.h>
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "correlator/rule_set.h"
#include "daemon/metrics.h"
#include "daemon/ops_server.h"
#include "daemon/pipeline.h"
#include "daemon/response_testing.h"
#include "tests/integration/kafka_source_support.h"
#include "tests/support/kafka.h"

namespace og::test {
namespace {

namespace fs = std::filesystem;

constexpr int kEvents = 4000;
constexpr int kPartitions = 2;

// A metric sample's value from the text exposition (0 when absent).
double sample(const std::string& exposition, const std::string& series) {
  std::size_t at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(exposition.substr(at + series.size() + 2));
}

// `count` successful sign-ins of 100 users, a second apart from `from_second` past a base two hours
// ago (the ingest step rejects event times ahead of the clock), spread over `partitions`.
void produce_sign_ins(const std::string& bootstrap, const std::string& topic, std::string_view prefix, int count,
                      int from_second = 0, int partitions = 1) {
  KafkaHandle producer = make_producer(bootstrap);
  ASSERT_TRUE(producer);
  static const auto base =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) - std::chrono::hours(2);
  for (int i = 0; i < count; ++i)
    produce(producer.get(), topic, fmt::format("k{}", i),
            fmt::format(R"({{"uuid":"{}-{:05}","published":"{:%Y-%m-%dT%H:%M:%S}.000Z",)"
                        R"("eventType":"user.session.start","actor":{{"id":"00u{:04}","type":"User"}},)"
                        R"("outcome":{{"result":"SUCCESS"}}}})",
                        prefix, i, base + std::chrono::seconds(from_second + i), i % 100),
            i % partitions);
  flush(producer.get());
}

// One Okta topic into the shipped rules, without snapshots: an applied event is acknowledged at once.
daemon::PipelineOptions kafka_options(const std::string& bootstrap, const std::string& topic, const fs::path& state_dir,
                                      std::shared_ptr<const correlator::RuleSet> rules) {
  daemon::PipelineOptions options;
  options.kafka = daemon::PipelineKafka{
      .topics = {{topic, "okta", correlator::SourceFormat::okta_system_log, {}}},
      .properties = {{"bootstrap.servers", bootstrap}, {"group.id", unique_name(topic + "-group")}},
      .dead_letter_topic = {},
      .audit_topic = {}};
  options.rules = std::move(rules);
  options.state_dir = state_dir;
  options.audit_file = state_dir / "audit.jsonl";
  options.snapshots = false;
  return options;
}

// A pipeline with its metrics, readiness and a fake Okta.
struct PipelineRun {
  daemon::Registry metrics;
  daemon::ReadinessChecks readiness;
  daemon::testing::FakeOkta okta;
  daemon::Pipeline pipeline;
  explicit PipelineRun(const daemon::PipelineOptions& options)
      : pipeline(
            options, [](daemon::LogLevel, std::string_view, std::string_view) {}, metrics, readiness, nullptr, okta,
            daemon::default_decision_adapter()) {}
};

TEST(PipelineKafka, ABacklogThroughATinyQueueIsWaitedForNotPaused) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-pipe-room");
  create_topic(bootstrap, topic, kPartitions);
  produce_sign_ins(bootstrap, topic, "room", kEvents, 0, kPartitions);

  std::string tmpl = (fs::temp_directory_path() / "og-pipe-room-XXXXXX").string();
  const fs::path state_dir = ::mkdtemp(tmpl.data());
  correlator::LoadResult rules = correlator::load_rules({fs::path(OG_SOURCE_DIR) / "rules"});
  ASSERT_TRUE(rules.ok());

  daemon::PipelineOptions options = kafka_options(bootstrap, topic, state_dir, rules.rules);
  options.queue_capacity = 8;
  PipelineRun run(options);
  daemon::Pipeline& pipeline = run.pipeline;
  daemon::Registry& metrics = run.metrics;
  ASSERT_EQ(pipeline.start(), std::nullopt);

  // Timed from the first event applied, so the group join does not count.
  ASSERT_TRUE(wait_until([&] { return pipeline.stats().events > 0; }, std::chrono::seconds(60)));
  const auto first = std::chrono::steady_clock::now();
  const bool applied_all = wait_until(
      [&] { return pipeline.stats().events + 8 >= static_cast<std::uint64_t>(kEvents); }, std::chrono::seconds(120));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
  const std::string exposition = metrics.expose();
  pipeline.stop();
  fs::remove_all(state_dir);
  ASSERT_TRUE(applied_all) << pipeline.stats().events << " of " << kEvents;

  const double waits = sample(exposition, R"(oktaguard_backpressure_total{source="okta",action="wait"})");
  const double pauses = sample(exposition, R"(oktaguard_backpressure_total{source="okta",action="pause"})");
  std::cout << "waits " << waits << ", pauses " << pauses << ", " << seconds << " s\n";
  EXPECT_GE(waits, 50) << "the queue of 8 was full again and again";
  // A pause needs the worker to leave a full queue untaken for 100 ms, which a loaded machine can
  // still cause now and then.
  EXPECT_LE(pauses * 20, waits);
  // Each wait ends when the worker takes the inbox. The bound is 10x what a loaded ASan build needs;
  // waits ended by their timeout alone would take 50 s.
  EXPECT_LT(seconds, 25.0);
}

// A file source beside Kafka holds the watermark while it is read; one that ends without a single
// event (empty, or every line rejected) must stop holding it then. Otherwise, with idle release far
// off (or never reached under steady traffic), no Kafka event is ever applied.
TEST(PipelineKafka, AnEmptyFileBesideKafkaDoesNotHoldItsEventsBack) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-pipe-file");
  create_topic(bootstrap, topic, 1);
  // Ten minutes of events, a second apart: all but the last two minutes (the lateness) are past
  // the Kafka partition's watermark.
  constexpr int kSpan = 600;
  produce_sign_ins(bootstrap, topic, "file", kSpan);

  std::string tmpl = (fs::temp_directory_path() / "og-pipe-file-XXXXXX").string();
  const fs::path state_dir = ::mkdtemp(tmpl.data());
  { std::ofstream empty(state_dir / "empty.ndjson"); }
  correlator::LoadResult rules = correlator::load_rules({fs::path(OG_SOURCE_DIR) / "rules"});
  ASSERT_TRUE(rules.ok());

  daemon::PipelineOptions options = kafka_options(bootstrap, topic, state_dir, rules.rules);
  options.files = {{(state_dir / "empty.ndjson").string(), "okta", correlator::SourceFormat::okta_system_log, {}}};
  options.idle_release = std::chrono::hours(1);
  PipelineRun run(options);
  daemon::Pipeline& pipeline = run.pipeline;
  ASSERT_EQ(pipeline.start(), std::nullopt);
  ASSERT_TRUE(wait_until([&] { return pipeline.stats().events == static_cast<std::uint64_t>(kSpan); },
                         std::chrono::seconds(120)))
      << pipeline.stats().events << " of " << kSpan << " read";
  const bool applied = wait_until([&] { return pipeline.stats().acked >= 400; }, std::chrono::seconds(30));
  const std::uint64_t acked = pipeline.stats().acked;
  pipeline.stop();
  fs::remove_all(state_dir);
  EXPECT_TRUE(applied) << acked << " of the " << kSpan - 120 << " events past the watermark applied";
}

// The snapshot lists the Kafka offsets whose events its state holds, so that a restart skips their
// redelivery. A topic deleted and created again numbers its events from 0 again: those must be
// applied, not skipped by the offsets of the topic that was.
TEST(PipelineKafka, ATopicCreatedAgainHasItsEventsAppliedNotSkippedByTheOldOffsets) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-pipe-again");
  create_topic(bootstrap, topic, 1);
  produce_sign_ins(bootstrap, topic, "old", 100);

  std::string tmpl = (fs::temp_directory_path() / "og-pipe-again-XXXXXX").string();
  const fs::path state_dir = ::mkdtemp(tmpl.data());
  correlator::LoadResult rules = correlator::load_rules({fs::path(OG_SOURCE_DIR) / "rules"});
  ASSERT_TRUE(rules.ok());
  daemon::PipelineOptions options = kafka_options(bootstrap, topic, state_dir, rules.rules);
  options.snapshots = true;
  {
    PipelineRun first(options);
    ASSERT_EQ(first.pipeline.start(), std::nullopt);
    ASSERT_TRUE(wait_until([&] { return first.pipeline.stats().events == 100; }, std::chrono::seconds(120)))
        << first.pipeline.stats().events;
    first.pipeline.stop();  // applies everything and writes the snapshot with offsets 0-99
    ASSERT_GE(first.pipeline.stats().snapshots, 1u);
  }

  delete_topic(bootstrap, topic);
  create_topic(bootstrap, topic, 1);
  produce_sign_ins(bootstrap, topic, "new", 20, 1000);
  PipelineRun second(options);
  ASSERT_EQ(second.pipeline.start(), std::nullopt);
  const bool applied = wait_until([&] { return second.pipeline.stats().events == 20; }, std::chrono::seconds(60));
  const std::uint64_t events = second.pipeline.stats().events;
  second.pipeline.stop();
  fs::remove_all(state_dir);
  EXPECT_TRUE(applied) << events << " of the new topic's 20 events applied";
}

// The unacknowledged-events gauge counts what waits for the watermark or for a snapshot: once the
// applied events of an input gone quiet are in a snapshot, it drops to what the watermark holds.
TEST(PipelineKafka, TheUnacknowledgedEventsGaugeFollowsASnapshotOfAQuietInput) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-pipe-gauge");
  create_topic(bootstrap, topic, 1);
  constexpr int kSpan = 600;  // the last 121 (two minutes of lateness, and the one at it) stay behind
  produce_sign_ins(bootstrap, topic, "gauge", kSpan);
  std::string tmpl = (fs::temp_directory_path() / "og-pipe-gauge-XXXXXX").string();
  const fs::path state_dir = ::mkdtemp(tmpl.data());
  correlator::LoadResult rules = correlator::load_rules({fs::path(OG_SOURCE_DIR) / "rules"});
  ASSERT_TRUE(rules.ok());
  daemon::PipelineOptions options = kafka_options(bootstrap, topic, state_dir, rules.rules);
  options.snapshots = true;
  // Later than the events take to arrive, so the snapshot is taken once the input is quiet.
  options.snapshot_interval = std::chrono::seconds(3);
  options.idle_release = std::chrono::hours(1);
  PipelineRun run(options);
  ASSERT_EQ(run.pipeline.start(), std::nullopt);
  const auto gauge = [&] { return sample(run.metrics.expose(), "oktaguard_unacknowledged_events"); };
  ASSERT_TRUE(wait_until([&] { return run.pipeline.stats().acked >= kSpan - 121; }, std::chrono::seconds(60)))
      << run.pipeline.stats().acked;
  const bool dropped = wait_until([&] { return gauge() <= 121; }, std::chrono::seconds(5));
  const double value = gauge();
  run.pipeline.stop();
  fs::remove_all(state_dir);
  EXPECT_TRUE(dropped) << value << " unacknowledged after the snapshot, 121 wait for the watermark";
}

// Joins `group` as a second member until the group hands it a partition, then leaves: the pipeline's
// partitions are revoked and assigned again, twice.
void join_and_leave(const std::string& bootstrap, const std::string& group, const std::string& topic) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (auto [key, value] : {std::pair{"bootstrap.servers", bootstrap}, std::pair{"group.id", group},
                            std::pair{"enable.auto.commit", std::string("false")}})
    ASSERT_EQ(rd_kafka_conf_set(conf, key, value.c_str(), error, sizeof error), RD_KAFKA_CONF_OK) << error;
  rd_kafka_t* member = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  ASSERT_NE(member, nullptr) << error;
  rd_kafka_poll_set_consumer(member);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(member, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  bool assigned = false;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !assigned && std::chrono::steady_clock::now() < until;) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(member, 100)) rd_kafka_message_destroy(m);
    rd_kafka_topic_partition_list_t* now = nullptr;
    if (rd_kafka_assignment(member, &now) == RD_KAFKA_RESP_ERR_NO_ERROR && now) {
      assigned = now->cnt > 0;
      rd_kafka_topic_partition_list_destroy(now);
    }
  }
  rd_kafka_consumer_close(member);
  rd_kafka_destroy(member);
  ASSERT_TRUE(assigned) << "the second member never got a partition";
}

// A partition revoked and assigned again is read again from its last commit, which lags what the
// process took (offsets are committed at snapshots). Alerts mapped without a uuid escape the
// de-duplication: the pipeline must recognise them by their offsets and not apply them twice.
TEST(PipelineKafka, ARebalanceDoesNotApplyAlertsWithoutAUuidTwice) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-pipe-rebalance");
  create_topic(bootstrap, topic, 2);
  constexpr int kAlerts = 40;
  {
    KafkaHandle producer = make_producer(bootstrap);
    ASSERT_TRUE(producer);
    const auto base =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) - std::chrono::hours(2);
    for (int i = 0; i < kAlerts; ++i)
      produce(producer.get(), topic, fmt::format("k{}", i),
              fmt::format(R"({{"time":"{:%Y-%m-%dT%H:%M:%S}.000Z","user":"user{}@example.com","type":"malware"}})",
                          base + std::chrono::seconds(i), i % 5),
              i % 2);
    flush(producer.get());
  }
  std::string tmpl = (fs::temp_directory_path() / "og-pipe-rebalance-XXXXXX").string();
  const fs::path state_dir = ::mkdtemp(tmpl.data());
  correlator::LoadResult rules = correlator::load_rules({fs::path(OG_SOURCE_DIR) / "rules"});
  ASSERT_TRUE(rules.ok());
  daemon::PipelineOptions options = kafka_options(bootstrap, topic, state_dir, rules.rules);
  correlator::AlertMapping mapping;
  mapping.time_pointer = "/time";
  mapping.user_pointer = "/user";
  mapping.alert_type_pointer = "/type";
  mapping.alert_type_prefix = "edr.";
  options.kafka->topics = {{topic, "edr", correlator::SourceFormat::alert, mapping}};
  options.snapshots = true;  // nothing is committed before the first snapshot, an hour away
  options.snapshot_interval = std::chrono::hours(1);
  PipelineRun run(options);
  ASSERT_EQ(run.pipeline.start(), std::nullopt);
  ASSERT_TRUE(wait_until([&] { return run.pipeline.stats().events == kAlerts; }, std::chrono::seconds(60)))
      << run.pipeline.stats().events;

  join_and_leave(bootstrap, options.kafka->properties.at("group.id"), topic);
  // Both partitions are read again from offset 0.
  const auto skipped = [&] { return sample(run.metrics.expose(), "oktaguard_replayed_events_skipped_total"); };
  const bool redelivered = wait_until([&] { return skipped() >= kAlerts; }, std::chrono::seconds(60));
  const double seen = skipped();
  const std::uint64_t events = run.pipeline.stats().events;
  run.pipeline.stop();
  fs::remove_all(state_dir);
  EXPECT_TRUE(redelivered) << seen << " redelivered alerts recognised";
  EXPECT_EQ(events, static_cast<std::uint64_t>(kAlerts)) << "alerts applied a second time";
}

}  // namespace
}  // namespace og::test
