#include "daemon/file_source.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "correlator/parse.h"

namespace og::daemon {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool blank(std::string_view s) {
  for (char c : s) {
    if (!is_space(c)) return false;
  }
  return true;
}

}  // namespace

boost::system::result<std::unique_ptr<FileSource>, std::string> FileSource::create(FileSourceConfig config,
                                                                                   EventSink& sink, LogSink log) {
  if (!config.factories.parser) return std::string("file source: no parser");
  const std::string path = config.binding.topic;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fmt::format("file source: open {}: {}", path, std::strerror(errno));
  return std::unique_ptr<FileSource>(
      new FileSource(std::move(config), sink, std::move(log), fd, /*owns_fd=*/true, /*allow_array=*/true));
}

FileSource::FileSource(FileSourceConfig config, EventSink& sink, LogSink log, int fd, bool owns_fd, bool allow_array)
    : config_(std::move(config)),
      sink_(sink),
      log_(std::move(log)),
      log_limiter_(config_.limits.log_lines_per_second),
      origin_topic_(correlator::Symbol::intern(config_.binding.source_name)),
      fd_(fd),
      owns_fd_(owns_fd),
      allow_array_(allow_array) {
  ingestor_ = make_ingestor(config_.binding, config_.factories, counters_, config_.limits, log_, log_limiter_);
}

FileSource::~FileSource() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

void FileSource::ack(const AckToken&) {
  counters_.acked.fetch_add(1, std::memory_order_relaxed);
}

std::vector<SourceStats> FileSource::stats() const {
  return {counters_.snapshot(config_.binding.source_name)};
}

long FileSource::read_some(char* buffer, std::size_t size, std::stop_token& stop) {
  for (;;) {
    if (stop.stop_requested()) return 0;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR) return -1;
    if (ready <= 0) continue;
    ssize_t n = ::read(fd_, buffer, size);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return static_cast<long>(n);
  }
}

bool FileSource::deliver(std::string_view payload, std::int64_t position, std::stop_token& stop) {
  correlator::SourceOffset origin{origin_topic_, -1, position};
  IngestResult result = ingestor_->ingest(payload, origin, now_ms());
  AckToken token{origin, 0};
  if (result.kind != IngestResult::Kind::event) {
    // Nothing goes downstream: the source acknowledges it itself, as the Kafka source does.
    counters_.acked.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  bool paused = false;
  while (!sink_.offer(std::move(result.event), token)) {
    if (!paused) {
      paused = true;
      counters_.backpressure_pauses.fetch_add(1, std::memory_order_relaxed);
    }
    if (stop.stop_requested()) return false;
    std::this_thread::sleep_for(config_.backpressure_wait);
  }
  offered_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void FileSource::run(std::stop_token stop) {
  if (!ingestor_) {
    if (log_) log_(LogLevel::error, fmt::format("source {}: no parser", config_.binding.source_name));
    return;
  }
  // Sniff the first non-space byte: '[' is a JSON array (an API page), anything else NDJSON.
  std::string head;
  char buffer[1 << 16];
  bool array = false;
  for (;;) {
    long n = read_some(buffer, sizeof buffer, stop);
    if (n < 0) {
      if (log_)
        log_(LogLevel::error, fmt::format("source {}: read: {}", config_.binding.source_name, std::strerror(errno)));
      return;
    }
    if (n == 0) break;
    head.append(buffer, static_cast<std::size_t>(n));
    std::size_t first = head.find_first_not_of(" \t\r\n");
    if (first != std::string::npos) {
      array = allow_array_ && head[first] == '[';
      break;
    }
  }
  if (array) {
    run_array(stop, std::move(head));
  } else {
    run_lines(stop, head);
  }
  if (!config_.wait_for_acks) return;
  while (!stop.stop_requested() && counters_.acked.load() < counters_.received.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void FileSource::run_lines(std::stop_token& stop, std::string_view already_read) {
  const std::size_t max = config_.limits.max_message_bytes;
  std::string line;
  bool overlong = false;  // the current line passed the limit: keep its head, skip the rest
  std::int64_t number = 0;
  auto finish_line = [&]() -> bool {
    ++number;
    bool ok = true;
    if (overlong || !blank(line)) ok = deliver(line, number, stop);
    line.clear();
    overlong = false;
    return ok;
  };
  auto consume = [&](std::string_view chunk) -> bool {
    while (!chunk.empty()) {
      std::size_t newline = chunk.find('\n');
      std::string_view piece = chunk.substr(0, newline);
      if (!overlong) {
        std::size_t room = max + 1 - line.size();  // keep max + 1 bytes: enough to be judged too large
        line.append(piece.substr(0, room));
        overlong = line.size() > max;
      }
      if (newline == std::string_view::npos) return true;
      if (!finish_line()) return false;
      chunk.remove_prefix(newline + 1);
    }
    return true;
  };
  if (!consume(already_read)) return;
  char buffer[1 << 16];
  for (;;) {
    long n = read_some(buffer, sizeof buffer, stop);
    if (n < 0) {
      if (log_)
        log_(LogLevel::error, fmt::format("source {}: read: {}", config_.binding.source_name, std::strerror(errno)));
      return;
    }
    if (n == 0) break;
    if (!consume(std::string_view(buffer, static_cast<std::size_t>(n)))) return;
  }
  if (stop.stop_requested()) return;
  if (!line.empty() || overlong) {
    if (!finish_line()) return;  // a last line without a newline
  }
  completed_ = true;
}

void FileSource::run_array(std::stop_token& stop, std::string document) {
  char buffer[1 << 16];
  for (;;) {
    if (document.size() > config_.max_array_bytes) {
      ingestor_->ingest(std::string_view(document.data(), config_.limits.max_message_bytes + 1), {origin_topic_, -1, 1},
                        now_ms());
      counters_.acked.fetch_add(1, std::memory_order_relaxed);
      if (log_)
        log_(LogLevel::error,
             fmt::format("source {}: JSON array over {} bytes", config_.binding.source_name, config_.max_array_bytes));
      return;
    }
    long n = read_some(buffer, sizeof buffer, stop);
    if (n < 0) return;
    if (n == 0) break;
    document.append(buffer, static_cast<std::size_t>(n));
  }
  if (stop.stop_requested()) return;
  correlator::ParserLimits limits{config_.limits.max_message_bytes, config_.limits.max_depth};
  auto elements = correlator::split_json_array(document, limits);
  if (!elements) {
    // The array as a whole is broken: one counted failure for the file, nothing half-delivered.
    counters_.received.fetch_add(1, std::memory_order_relaxed);
    counters_.count_rejected(elements.error().error);
    counters_.acked.fetch_add(1, std::memory_order_relaxed);
    if (log_) {
      log_(LogLevel::warn, fmt::format("rejected file: source={} reason={} path={} detail=\"{}\" excerpt=\"{}\"",
                                       config_.binding.source_name, correlator::to_string(elements.error().error),
                                       config_.binding.topic, elements.error().detail, scrubbed_excerpt(document)));
    }
    return;
  }
  std::int64_t number = 0;
  for (const std::string& element : *elements) {
    if (!deliver(element, ++number, stop)) return;
  }
  completed_ = true;
}

}  // namespace og::daemon
