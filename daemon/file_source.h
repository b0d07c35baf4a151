#pragma once

#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "daemon/ingest.h"
#include "daemon/source.h"

namespace og::daemon {

struct FileSourceConfig {
  SourceBinding binding;  // binding.topic is the path; "-" reads stdin (NDJSON only)
  IngestLimits limits;    // max_message_bytes also bounds a line
  IngestFactories factories;
  // run() returns only once every event it handed downstream was acknowledged (or stop), so a
  // replay finishes when its effects are applied.
  bool wait_for_acks = true;
  std::chrono::milliseconds backpressure_wait{2};
  std::size_t max_array_bytes = 256u << 20;  // a JSON-array file is read whole
};

// Replays a file: NDJSON (one event per line) or a JSON array of events as GET /api/v1/logs
// returns it, told apart by the first non-space byte. Offsets are 1-based line numbers (array
// element numbers for an array); the SourceOffset's topic is the source name, partition -1.
// Bad lines are counted and logged like bad Kafka messages (there is no dead-letter topic);
// a line longer than max_message_bytes is a too_large error and reading resumes after it.
// Whitespace-only lines are separators and are skipped uncounted.
class FileSource : public Source {
 public:
  static boost::system::result<std::unique_ptr<FileSource>, std::string> create(FileSourceConfig config,
                                                                                EventSink& sink, LogSink log);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  void run(std::stop_token stop) override;
  void ack(const AckToken& token) override;
  std::vector<SourceStats> stats() const override;
  // False when the input could not be read to the end (I/O error); see the log.
  bool completed() const { return completed_.load(); }

 protected:
  FileSource(FileSourceConfig config, EventSink& sink, LogSink log, int fd, bool owns_fd, bool allow_array);

 private:
  bool deliver(std::string_view payload, std::int64_t position, std::stop_token& stop);
  void run_lines(std::stop_token& stop, std::string_view already_read);
  void run_array(std::stop_token& stop, std::string document);
  // Reads more bytes; 0 at end of input or on stop, -1 on error. Waits in slices so stop works
  // on a pipe that stays silent.
  long read_some(char* buffer, std::size_t size, std::stop_token& stop);

  FileSourceConfig config_;
  EventSink& sink_;
  LogSink log_;
  LogRateLimiter log_limiter_;
  IngestCounters counters_;
  std::unique_ptr<Ingestor> ingestor_;
  correlator::Symbol origin_topic_;
  int fd_;
  bool owns_fd_;
  bool allow_array_;
  std::atomic<std::uint64_t> offered_{0};
  std::atomic<bool> completed_{false};
};

}  // namespace og::daemon
