// bench/parse: builds a corpus of at least 200 MB by replaying the shared System Log samples with
// fresh uuids and times, then reports, in the same run and on one core:
//   baseline       simdjson On Demand iterate_many over the NDJSON, counting documents, one thread
//   normalise      OktaLogParser::parse per message (copy to padded buffer, UTF-8 and depth checks,
//                  one pass, owned Event) -- what the Kafka source does per message
//   normalise+3    the same with three rule-requested extra paths
// Best of five interleaved rounds; figures in events/s and GB/s of input. The one-core figures are
// measured in the thread's CPU time: the build machine is shared and loaded, and wall time there
// mostly measures the other jobs. The threaded iterate_many figure (context only) is wall time.
#include "correlator/parse.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#define OG_STR2(x) #x
#define OG_STR(x) OG_STR2(x)

namespace {

using og::correlator::Event;
using og::correlator::FieldRegistry;
using og::correlator::RecordMeta;
namespace fs = std::filesystem;

// Seconds of CPU time of the calling thread (one_core) or of wall time.
double now_seconds(bool one_core) {
  timespec ts{};
  clock_gettime(one_core ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<std::string> load_samples(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".ndjson" && name.find(".meta.") == std::string::npos &&
        name.find(".raw.") == std::string::npos)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> samples;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) samples.push_back(line);
  }
  return samples;
}

// Replaces the string value of `"key":"..."` (first occurrence) with `value`, if present.
void replace_value(std::string& doc, std::string_view key, std::string_view value) {
  std::string needle;
  needle.reserve(key.size() + 4);
  needle.append("\"").append(key).append("\":\"");
  std::size_t start = doc.find(needle);
  if (start == std::string::npos) return;
  start += needle.size();
  std::size_t end = doc.find('"', start);
  if (end == std::string::npos) return;
  doc.replace(start, end - start, value);
}

std::string iso_time(std::int64_t millis) {
  using namespace std::chrono;
  sys_time<milliseconds> t{milliseconds{millis}};
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()), static_cast<long>(hms.subseconds().count()));
  return text;
}

struct Corpus {
  std::string ndjson;                                      // every message, one per line
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // offset, length of each message
};

Corpus build_corpus(const std::vector<std::string>& samples, std::size_t min_bytes) {
  Corpus corpus;
  corpus.ndjson.reserve(min_bytes + (1 << 20));
  std::int64_t time = 1'767'225'600'000;  // 2026-01-01
  std::uint64_t id = 0;
  while (corpus.ndjson.size() < min_bytes) {
    for (const std::string& sample : samples) {
      std::string doc = sample;
      char uuid[40];
      ++id;
      std::snprintf(uuid, sizeof uuid, "%08llx-%04llx-4%03llx-8%03llx-%012llx",
                    static_cast<unsigned long long>(id >> 32), static_cast<unsigned long long>((id >> 16) & 0xffff),
                    static_cast<unsigned long long>(id & 0xfff), static_cast<unsigned long long>((id * 7) & 0xfff),
                    static_cast<unsigned long long>(id * 2654435761u));
      replace_value(doc, "uuid", uuid);
      time += 7;
      replace_value(doc, "published", iso_time(time));
      corpus.spans.emplace_back(corpus.ndjson.size(), doc.size());
      corpus.ndjson += doc;
      corpus.ndjson += '\n';
    }
  }
  return corpus;
}

struct Result {
  double seconds = 1e30;
  std::size_t events = 0;
};

void report(const char* name, const Result& r, std::size_t bytes) {
  std::printf("%-34s %10.0f events/s  %6.3f GB/s  (%zu events, %.3f s)\n", name, r.events / r.seconds,
              bytes / r.seconds / 1e9, r.events, r.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t megabytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200;
  fs::path dir = argc > 2 ? fs::path(argv[2]) : fs::path(OG_SHARED_DATA_DIR) / "okta-logs";
  std::vector<std::string> samples = load_samples(dir);
  if (samples.empty()) {
    std::fprintf(stderr, "no samples under %s\n", dir.c_str());
    return 1;
  }
  Corpus corpus = build_corpus(samples, megabytes << 20);
  const std::size_t bytes = corpus.ndjson.size();
  std::printf("simdjson %s, implementation %s; corpus %zu events from %zu samples, %.1f MB\n", OG_STR(SIMDJSON_VERSION),
              simdjson::get_active_implementation()->name().c_str(), corpus.spans.size(), samples.size(), bytes / 1e6);

  simdjson::padded_string padded(corpus.ndjson);
  constexpr int kRounds = 5;

  // iterate_many runs stage 1 of the next batch on a second thread when simdjson is built with
  // threads; the one-core comparison switches that off, the threaded figure is printed for context.
  auto iterate_count = [&](bool threaded, Result& best) {
    simdjson::ondemand::parser parser;
    parser.threaded = threaded;
    simdjson::ondemand::document_stream stream;
    double start = now_seconds(!threaded);
    if (auto error = parser.iterate_many(padded.data(), padded.size(), 1 << 20).get(stream)) {
      std::fprintf(stderr, "iterate_many: %s\n", simdjson::error_message(error));
      std::exit(1);
    }
    std::size_t count = 0;
    for (auto doc : stream) {
      (void)doc;
      ++count;
    }
    double seconds = now_seconds(!threaded) - start;
    best.seconds = std::min(best.seconds, seconds);
    best.events = count;
  };

  auto normalise = [&](const FieldRegistry* extras, Result& best) {
    auto parser = og::correlator::make_okta_parser(extras);
    RecordMeta meta{og::correlator::Symbol::intern("okta"), {}, 0};
    std::size_t events = 0, failures = 0, checksum = 0;
    double start = now_seconds(true);
    for (auto [offset, length] : corpus.spans) {
      meta.origin.offset = static_cast<std::int64_t>(offset);
      auto parsed = parser->parse(std::string_view(corpus.ndjson).substr(offset, length), meta);
      if (parsed) {
        ++events;
        checksum += parsed->uuid.size() + parsed->targets.size();
      } else {
        ++failures;
      }
    }
    double seconds = now_seconds(true) - start;
    if (failures != 0 || checksum == 0) {
      std::fprintf(stderr, "normalisation failed on %zu messages\n", failures);
      std::exit(1);
    }
    best.seconds = std::min(best.seconds, seconds);
    best.events = events;
  };

  // "profile" as the third argument runs only the normalisation, for perf.
  const bool profile_only = argc > 3 && std::string_view(argv[3]) == "profile";
  FieldRegistry registry;
  registry.resolve("legacyEventType");
  registry.resolve("debugContext.debugData.requestId");
  registry.resolve("authenticationContext.authenticationStep");
  // The rounds interleave the three one-core measurements, so a change in the machine's load
  // during the run reaches each of them alike and the ratios stay comparable.
  Result baseline, threaded, plain, with_extras;
  for (int round = 0; round < kRounds; ++round) {
    if (!profile_only) iterate_count(false, baseline);
    normalise(nullptr, plain);
    if (!profile_only) normalise(&registry, with_extras);
  }
  if (!profile_only)
    for (int round = 0; round < kRounds; ++round)
      iterate_count(true, threaded);

  report("baseline: iterate_many, count", baseline, bytes);
  report("(iterate_many, 2nd thread, wall)", threaded, bytes);
  report("normalise: OktaLogParser -> Event", plain, bytes);
  report("normalise + 3 rule extras", with_extras, bytes);
  std::printf("ratio normalise/baseline: %.2f (target >= 0.5); with extras: %.2f\n", baseline.seconds / plain.seconds,
              baseline.seconds / with_extras.seconds);
  return 0;
}
