// File and stdin replay with the real Okta parser: NDJSON and JSON-array files, line numbers as
// offsets, bad and over-long lines counted, backpressure, and stop on a silent pipe.
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/file_source.h"
#include "daemon/stdin_source.h"

namespace og::test {
namespace {

using correlator::ParseError;

std::string event_json(int i) {
  return fmt::format(R"({{"uuid":"f-{}","published":"2024-05-01T10:00:{:02}.000Z","eventType":"user.session.start"}})",
                     i, i % 60);
}

// Accepts up to `capacity` unacknowledged events; the test acks them.
class RecordingSink final : public daemon::EventSink {
 public:
  explicit RecordingSink(std::size_t capacity = 1'000'000) : capacity_(capacity) {}
  bool offer(correlator::Event&& event, const daemon::AckToken& token) override {
    std::lock_guard lock(mutex);
    if (pending.size() >= capacity_) {
      ++refused;
      return false;
    }
    events.push_back(std::move(event));
    pending.push_back(token);
    return true;
  }
  std::mutex mutex;
  std::vector<correlator::Event> events;
  std::vector<daemon::AckToken> pending;
  std::size_t refused = 0;

 private:
  std::size_t capacity_;
};

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    path = fmt::format("{}/og-file-source-{}-{}.json", ::testing::TempDir(), ::getpid(), counter++);
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { std::remove(path.c_str()); }
  static inline int counter = 0;
};

daemon::FileSourceConfig config_for(const std::string& path, std::size_t max_bytes = 1 << 20) {
  daemon::FileSourceConfig config;
  config.binding = {path, "okta-replay", correlator::SourceFormat::okta_system_log, {}};
  config.limits.max_message_bytes = max_bytes;
  config.factories = daemon::default_ingest_factories(config.limits);
  config.wait_for_acks = false;
  return config;
}

TEST(FileSource, ReadsNdjsonWithLineNumbersAndCountsBadLines) {
  std::string content = event_json(1) + "\n" +          // line 1
                        "\n" +                          // 2: blank, skipped
                        "{not json}\n" +                // 3
                        std::string(300, 'x') + "\n" +  // 4: over the limit
                        event_json(1) + "\n" +          // 5: duplicate of line 1
                        "  \r\n" +                      // 6: blank
                        event_json(2) + "\r\n" +        // 7: CRLF
                        event_json(3);                  // 8: no final newline
  TempFile file(content);
  RecordingSink sink;
  std::vector<std::string> logs;
  auto source = daemon::FileSource::create(config_for(file.path, 200), sink,
                                           [&](daemon::LogLevel, std::string_view l) { logs.emplace_back(l); });
  ASSERT_TRUE(source) << source.error();
  (*source)->run(std::stop_token{});
  EXPECT_TRUE((*source)->completed());

  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0].uuid, "f-1");
  EXPECT_EQ(sink.events[0].origin.offset, 1);
  EXPECT_EQ(sink.events[0].origin.partition, -1);
  EXPECT_EQ(sink.events[0].origin.topic.view(), "okta-replay");
  EXPECT_EQ(sink.events[1].uuid, "f-2");
  EXPECT_EQ(sink.events[1].origin.offset, 7);
  EXPECT_EQ(sink.events[2].uuid, "f-3");
  EXPECT_EQ(sink.events[2].origin.offset, 8);
  EXPECT_EQ(sink.pending[2].origin.offset, 8);

  daemon::SourceStats s = (*source)->stats().at(0);
  EXPECT_EQ(s.received, 6u);
  EXPECT_EQ(s.events, 3u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.rejected_for(ParseError::invalid_json), 1u);
  EXPECT_EQ(s.rejected_for(ParseError::too_large), 1u);
  EXPECT_EQ(s.rejected, 2u);
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_NE(logs[0].find("offset=3"), std::string::npos) << logs[0];
  EXPECT_NE(logs[1].find("offset=4"), std::string::npos) << logs[1];
}

TEST(FileSource, ReadsAJsonArrayAsTheApiReturnsIt) {
  std::string content = "  \n[" + event_json(1) + ",\n " + event_json(2) + ", 42, " + event_json(3) + "]\n";
  TempFile file(content);
  RecordingSink sink;
  auto source = daemon::FileSource::create(config_for(file.path), sink, {});
  ASSERT_TRUE(source) << source.error();
  (*source)->run(std::stop_token{});
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[2].uuid, "f-3");
  EXPECT_EQ(sink.events[2].origin.offset, 4) << "element numbers are the offsets";
  daemon::SourceStats s = (*source)->stats().at(0);
  EXPECT_EQ(s.rejected_for(ParseError::not_an_object), 1u);
}

TEST(FileSource, ABrokenArrayIsOneCountedFailure) {
  TempFile file("[" + event_json(1) + ", {\"uuid\":");
  RecordingSink sink;
  auto source = daemon::FileSource::create(config_for(file.path), sink, {});
  ASSERT_TRUE(source);
  (*source)->run(std::stop_token{});
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ((*source)->stats().at(0).rejected, 1u);
}

TEST(FileSource, MissingFileIsAnError) {
  RecordingSink sink;
  auto source = daemon::FileSource::create(config_for("/nonexistent/og/file.ndjson"), sink, {});
  ASSERT_FALSE(source);
  EXPECT_NE(source.error().find("/nonexistent/og/file.ndjson"), std::string::npos);
}

TEST(FileSource, WaitsUnderBackpressureAndReturnsOnceEverythingIsAcked) {
  std::string content;
  for (int i = 0; i < 200; ++i)
    content += event_json(i) + "\n";
  TempFile file(content);
  RecordingSink sink(4);
  auto config = config_for(file.path);
  config.wait_for_acks = true;
  auto created = daemon::FileSource::create(std::move(config), sink, {});
  ASSERT_TRUE(created);
  daemon::FileSource& source = **created;
  std::atomic<bool> finished{false};
  std::jthread runner([&] {
    source.run(std::stop_token{});
    finished = true;
  });
  // The pipeline: acknowledge in batches.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    std::vector<daemon::AckToken> acks;
    {
      std::lock_guard lock(sink.mutex);
      acks.swap(sink.pending);
    }
    for (const auto& token : acks)
      source.ack(token);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  runner.join();
  ASSERT_TRUE(finished);
  EXPECT_EQ(sink.events.size(), 200u);
  EXPECT_GT(sink.refused, 0u);
  EXPECT_GT(source.stats().at(0).backpressure_pauses, 0u);
  EXPECT_EQ(source.stats().at(0).acked, 200u);
  for (std::size_t i = 0; i < sink.events.size(); ++i)
    ASSERT_EQ(sink.events[i].origin.offset, static_cast<std::int64_t>(i + 1)) << "in order";
}

TEST(StdinSource, ReadsNdjsonFromAPipeAndStopsWhileItIsSilent) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  RecordingSink sink;
  auto config = config_for("-");
  auto created = daemon::make_stdin_source(std::move(config), sink, {}, fds[0]);
  ASSERT_TRUE(created) << created.error();
  daemon::FileSource& source = **created;
  std::jthread runner([&](std::stop_token stop) { source.run(stop); });
  // A JSON array on stdin is not special: the line is a rejected non-object.
  std::string input = "[" + event_json(1) + "]\n" + event_json(2) + "\n" + event_json(3) + "\n";
  ASSERT_EQ(::write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (source.stats().at(0).received < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The writer stays open and silent: stop must still end run().
  auto stop_at = std::chrono::steady_clock::now();
  runner.request_stop();
  runner.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_at, std::chrono::seconds(2));
  ::close(fds[1]);
  ::close(fds[0]);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[0].origin.offset, 2);
  EXPECT_EQ(source.stats().at(0).rejected_for(ParseError::not_an_object), 1u);
  EXPECT_FALSE(source.completed()) << "stopped, not at end of input";
}

}  // namespace
}  // namespace og::test
