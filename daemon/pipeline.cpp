#include "daemon/pipeline.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "correlator/engine.h"
#include "daemon/applied_offsets.h"
#include "daemon/audit_topic.h"
#include "daemon/decision_adapter.h"
#include "daemon/file_source.h"
#include "daemon/kafka_source.h"
#include "daemon/metrics.h"
#include "daemon/ops_server.h"
#include "daemon/response.h"
#include "daemon/state_snapshot.h"
#include "okta_client/identity.h"

namespace og::daemon {
namespace {

using correlator::Event;
using correlator::EventTime;
using Millis = std::chrono::milliseconds;

struct Item {
  Event event;
  AckToken token;
  Acknowledger* acknowledger = nullptr;
  std::int32_t partition = 0;  // dense, per file or per Kafka (topic, partition)
  std::string source;
  bool kafka = false;      // token.origin is a Kafka (topic, partition, offset)
  bool duplicate = false;  // a redelivered copy: acknowledged with the original, never applied
  // Not an event: news of a Kafka partition (or the end of a file), kept in order with its events.
  enum class Control : std::uint8_t { none, assigned, caught_up, revoked, file_ended } control = Control::none;
};

// What a file source's lines are recorded under as applied: the file (device and inode) and its
// first lines (through the end of the line that reaches byte 64: a whole event of an NDJSON file,
// more than the "[" of an array), so a file read again after a restart, or appended to, has its
// applied lines skipped, and another file that reuses the inode does not. Empty, so nothing is
// recorded, for stdin, anything but a regular file (a FIFO must not be read twice), and a file
// without such a complete line yet (appending would change what identifies it).
std::string file_identity(const std::string& path) {
  struct stat st {};
  if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  std::ifstream in(path, std::ios::binary);
  std::string first;
  char c;
  bool complete = false;
  while (first.size() < 65536 && in.get(c)) {
    if (c == '\n' && first.size() >= 64) {
      complete = true;
      break;
    }
    first.push_back(c);
  }
  if (!complete) return {};
  return fmt::format("file:{}:{}:{:016x}", static_cast<unsigned long long>(st.st_dev),
                     static_cast<unsigned long long>(st.st_ino), correlator::key_hash(first));
}

ExceptionList to_exception_list(const std::vector<PipelineException>& list) {
  ExceptionList exceptions;
  for (const PipelineException& e : list) {
    ExceptionEntry entry;
    entry.type = e.type == PipelineException::Type::user    ? ExceptionEntry::Type::user
                 : e.type == PipelineException::Type::login ? ExceptionEntry::Type::login
                                                            : ExceptionEntry::Type::group;
    entry.value = e.value;
    entry.expires = e.expires;
    entry.note = e.note;
    exceptions.add(std::move(entry));
  }
  return exceptions;
}

}  // namespace

DecisionAdapterFn default_decision_adapter(std::set<std::string, std::less<>> dry_run_responses) {
  DecisionAdapterOptions options;
  options.dry_run_responses = std::move(dry_run_responses);
  return [options](std::span<const correlator::Decision> decisions, std::vector<Response>& out) {
    out = to_responses(decisions, options);
  };
}

struct Pipeline::Impl {
  // The source threads' door into the pipeline: one per source, so the ack goes back to the right
  // Acknowledger and each input gets its own watermark partition.
  class Sink final : public EventSink {
   public:
    Sink(Impl& impl, std::int32_t partition_base, bool per_kafka_partition)
        : impl_(impl), base_(partition_base), per_kafka_partition_(per_kafka_partition) {}
    bool offer(Event&& event, const AckToken& token) override {
      std::int32_t partition = per_kafka_partition_ ? dense(token.origin.topic, token.origin.partition) : base_;
      return impl_.enqueue(std::move(event), token, acknowledger_, partition, per_kafka_partition_);
    }
    bool wait_for_room(std::chrono::milliseconds timeout) override { return impl_.wait_for_room(timeout); }
    bool take_duplicate(Event&& event, const AckToken& token) override {
      // A file's duplicates carry its partition: their lines are recorded as applied with the file's.
      impl_.enqueue_duplicate(std::move(event), token, acknowledger_, per_kafka_partition_ ? 0 : base_,
                              per_kafka_partition_);
      return true;
    }
    void partition_assigned(correlator::Symbol topic, std::int32_t partition, std::int64_t end_offset) override {
      if (per_kafka_partition_)
        impl_.enqueue_control(dense(topic, partition), Item::Control::assigned,
                              correlator::SourceOffset{topic, partition, end_offset});
    }
    void partition_caught_up(correlator::Symbol topic, std::int32_t partition) override {
      if (per_kafka_partition_) impl_.enqueue_control(dense(topic, partition), Item::Control::caught_up);
    }
    void partition_revoked(correlator::Symbol topic, std::int32_t partition) override {
      if (per_kafka_partition_) impl_.enqueue_control(dense(topic, partition), Item::Control::revoked);
    }
    Acknowledger* acknowledger_ = nullptr;

   private:
    std::int32_t dense(correlator::Symbol topic, std::int32_t partition) {
      auto key = std::make_pair(std::string(topic.view()), partition);
      auto [it, inserted] = dense_.try_emplace(key, base_ + static_cast<std::int32_t>(dense_.size()));
      return it->second;
    }

    Impl& impl_;
    std::int32_t base_;
    bool per_kafka_partition_;
    std::map<std::pair<std::string, std::int32_t>, std::int32_t> dense_;  // source thread only
  };

  struct Pending {
    AckToken token;
    Acknowledger* acknowledger;
    bool kafka;
    std::int32_t partition;  // for a file, its index in options.files
  };

  Impl(PipelineOptions o, PipelineLogFn l, Registry& m, ReadinessChecks& r, okta::IdentityResolver* id,
       ActionExecutor& ex, DecisionAdapterFn a)
      : options(std::move(o)),
        log_fn(std::move(l)),
        metrics(m),
        readiness(r),
        identity(id),
        executor(ex),
        adapt(std::move(a)) {}

  bool enqueue(Event&& event, const AckToken& token, Acknowledger* acknowledger, std::int32_t partition, bool kafka) {
    std::lock_guard lock(mu);
    if (inbox.size() >= options.queue_capacity) return false;  // the source backs off and offers again
    inbox.push_back(Item{std::move(event), token, acknowledger, partition, {}, kafka});
    cv.notify_one();
    return true;
  }

  // For a source whose sink was full: the worker takes the whole inbox at once, so room comes back
  // in one step. A condition variable of its own, so a notify meant for the worker never wakes
  // a waiting source instead.
  bool wait_for_room(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    return room_cv.wait_for(lock, timeout, [&] { return inbox.size() < options.queue_capacity; });
  }

  // Duplicates are few and never applied: past the capacity too, so the source never holds them.
  void enqueue_duplicate(Event&& event, const AckToken& token, Acknowledger* acknowledger, std::int32_t partition,
                         bool kafka) {
    std::lock_guard lock(mu);
    Item item{std::move(event), token, acknowledger, partition, {}, kafka};
    item.duplicate = true;
    inbox.push_back(std::move(item));
    cv.notify_one();
  }

  // Few and tiny: past the capacity too, so a full inbox never delays or drops them.
  // `origin`: for an assignment, the Kafka topic, partition and its end offset (-1: unknown).
  void enqueue_control(std::int32_t partition, Item::Control control, correlator::SourceOffset origin = {}) {
    std::lock_guard lock(mu);
    Item item{};
    item.partition = partition;
    item.token.origin = origin;
    item.kafka = true;
    item.control = control;
    inbox.push_back(std::move(item));
    cv.notify_one();
  }

  // An event waiting for its user's lookup: whichever comes first, the answer or the deadline,
  // hands it to the worker (under `mu`); the other finds it done.
  struct ParkedLookup {
    Item item;
    std::chrono::steady_clock::time_point deadline;
    bool done = false;
  };

  // The lookup's answer (any thread).
  void requeue_resolved(ParkedLookup& p, okta::LookupResult<std::string> answer) {
    std::lock_guard lock(mu);
    if (p.done) return;  // given up on: the event was applied unresolved
    p.done = true;
    if (answer) {
      p.item.event.actor.id = *answer;
      p.item.event.actor.identity_kind = correlator::IdentityKind::okta_id;
      p.item.source = "resolved";
    } else {
      p.item.source = "unresolved";
    }
    resolved_items.push_back(std::move(p.item));
    --parked;
    cv.notify_one();
  }
  // Under `mu`, on the worker thread: the lookups past their deadline go on unresolved.
  void expire_lookups(std::chrono::steady_clock::time_point now) {
    std::erase_if(parked_lookups, [&](const std::shared_ptr<ParkedLookup>& p) {
      if (p->done) return true;
      if (now < p->deadline) return false;
      p->done = true;
      p->item.source = "unresolved";
      resolved_items.push_back(std::move(p->item));
      --parked;
      ++identity_timeouts;
      return true;
    });
  }

  std::optional<std::string> start();
  void worker_loop(std::stop_token stop);
  void admit(Item&& item);
  void apply_control(const Item& item);
  void push(Item&& item);
  void learn(const Event& event);
  bool submit_decisions(const std::vector<correlator::Decision>& decisions);
  void ack_applied(bool everything);
  void acknowledge(std::vector<Pending>& list);
  bool snapshot_due(bool force) const;
  void write_snapshot();
  std::optional<std::string> restore_snapshot();
  std::filesystem::path snapshot_path() const { return options.state_dir / "correlator.snapshot"; }
  void register_metrics();

  void log(LogLevel level, std::string_view component, std::string_view message) const {
    if (log_fn) log_fn(level, component, message);
  }

  PipelineOptions options;
  IngestLimits limits;
  PipelineLogFn log_fn;
  Registry& metrics;
  ReadinessChecks& readiness;
  okta::IdentityResolver* identity;
  ActionExecutor& executor;
  DecisionAdapterFn adapt;
  SystemWallClock clock;

  std::unique_ptr<AuditTopicProducer> audit_topic;  // outlives `responses`, whose audit sink it is
  std::unique_ptr<ResponseEngine> responses;
  std::unique_ptr<correlator::Engine> engine;
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<std::jthread> source_threads;
  std::jthread worker;

  // Shared between the source threads, lookup callbacks and the worker.
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::condition_variable room_cv;  // the inbox has room again (wait_for_room)
  std::deque<Item> inbox;
  std::deque<Item> resolved_items;
  std::uint64_t parked = 0;
  std::vector<std::shared_ptr<ParkedLookup>> parked_lookups;
  std::uint64_t identity_timeouts = 0;  // lookups given up on (okta.identity.wait), for the log
  std::size_t files_running = 0;
  bool drain = false;
  bool finished = false;
  std::shared_ptr<const correlator::RuleSet> pending_rules;

  // Worker thread only.
  // Events that arrived after an event still waiting for its identity lookup: they wait behind it,
  // so no later event moves the watermark past the parked one (it would then be applied late, out of
  // order: an EDR alert after the sign-in it should precede).
  std::deque<Item> held;
  std::uint64_t lookups_out = 0;
  // Wall time of each partition's last event: a partition quiet for idle_release stops holding the
  // watermark back (a rarely used alert topic, a partition another member now owns).
  std::map<std::int32_t, std::chrono::steady_clock::time_point> partition_last_event;
  // Kafka partitions assigned but without an event applied since: they hold the watermark from the
  // assignment (a partition whose backlog arrives after another's must not find its events overtaken),
  // until their first event, their end (nothing to read), or idle_release.
  std::set<std::int32_t> silent_partitions;
  std::chrono::steady_clock::time_point batch_wall = std::chrono::steady_clock::now();
  std::multimap<EventTime, Pending> unacked;  // by event time: applied once the watermark passes
  std::vector<Pending> unsnapshotted;         // applied, acknowledged at the next snapshot
  std::chrono::steady_clock::time_point last_snapshot = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_event_wall = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_progress = std::chrono::steady_clock::now();

  std::atomic<std::uint64_t> events{0}, acked{0}, resolved{0}, unresolved{0}, detections{0}, decisions{0}, submitted{0},
      journal_failures{0}, tracked_keys{0}, late_events{0}, evicted_keys{0}, excepted{0}, users_with_risk{0},
      buffered_events{0}, snapshots{0}, snapshot_failures{0}, snapshot_bytes{0};
  std::atomic<std::int64_t> snapshot_unix_ms{0};
  std::atomic<std::size_t> waiting_for_ack{0};
  std::atomic<std::uint64_t> replay_skipped{0};
  AppliedOffsets applied_offsets;  // worker thread (and start()) only
  // Every Kafka offset this process took into the engine (or holds for it): what a rebalance
  // redelivers before a snapshot lists it. Worker thread only.
  AppliedOffsets accepted_offsets;
  // Per file source, the name its lines are recorded under in applied_offsets (empty: stdin, or a
  // file that was empty at the start). A file is read from its first line at every start.
  std::vector<std::string> file_keys;
  // Whether the correlator state already holds this event (restart, rebalance, a file read again).
  bool already_applied(const Item& item) const {
    if (item.kafka)
      return applied_offsets.contains(item.token.origin.topic.view(), item.token.origin.partition,
                                      item.token.origin.offset);
    const std::string* key = file_key(item.partition);
    return key && applied_offsets.contains(*key, -1, item.token.origin.offset);
  }
  void forget_stale_offsets(const correlator::SourceOffset& assigned) {
    if (assigned.offset < 0) return;
    accepted_offsets.forget_if_past_end(assigned.topic.view(), assigned.partition, assigned.offset);
    if (auto highest = applied_offsets.forget_if_past_end(assigned.topic.view(), assigned.partition, assigned.offset))
      log(LogLevel::warn, "pipeline",
          fmt::format("{}[{}]: the snapshot lists offsets up to {} as applied, but the partition ends at {}: it was "
                      "created again (or is another cluster's); its events are applied, none skipped",
                      assigned.topic.view(), assigned.partition, *highest, assigned.offset));
  }
  const std::string* file_key(std::int32_t partition) const {
    if (partition < 0 || static_cast<std::size_t>(partition) >= file_keys.size()) return nullptr;
    return file_keys[static_cast<std::size_t>(partition)].empty() ? nullptr
                                                                  : &file_keys[static_cast<std::size_t>(partition)];
  }
  bool restored = false;
  std::atomic<std::int64_t> heartbeat_ms{0};

  Counter* detections_total = nullptr;
  Family<Counter>* rule_hits = nullptr;
  Family<Counter>* actions = nullptr;
  Counter* unresolved_total = nullptr;
  Histogram* risk_at_decision = nullptr;
};

void Pipeline::Impl::register_metrics() {
  // Source counters live in the sources; read them at scrape time so the hot path stays untouched.
  auto source_stats = [this] {
    std::vector<SourceStats> all;
    for (const auto& s : sources)
      for (SourceStats& st : s->stats())
        all.push_back(std::move(st));
    return all;
  };
  metrics.collector("oktaguard_events_total", "Input messages by source and result", MetricType::counter,
                    {"source", "result"}, [source_stats] {
                      std::vector<Sample> out;
                      for (const SourceStats& st : source_stats()) {
                        out.push_back({{st.source, "event"}, static_cast<double>(st.events)});
                        out.push_back({{st.source, "duplicate"}, static_cast<double>(st.duplicates)});
                        out.push_back({{st.source, "rejected"}, static_cast<double>(st.rejected)});
                      }
                      return out;
                    });
  metrics.collector(
      "oktaguard_parse_errors_total", "Rejected input messages by source and reason", MetricType::counter,
      {"source", "reason"}, [source_stats] {
        std::vector<Sample> out;
        for (const SourceStats& st : source_stats())
          for (std::size_t i = 0; i < kParseErrorCount; ++i)
            if (st.rejected_by_reason[i] != 0)
              out.push_back({{st.source, std::string(correlator::to_string(static_cast<correlator::ParseError>(i)))},
                             static_cast<double>(st.rejected_by_reason[i])});
        return out;
      });
  metrics.collector("oktaguard_dead_lettered_total", "Rejected messages written to the dead-letter topic",
                    MetricType::counter, {"source"}, [source_stats] {
                      std::vector<Sample> out;
                      for (const SourceStats& st : source_stats())
                        out.push_back({{st.source}, static_cast<double>(st.dead_lettered)});
                      return out;
                    });
  metrics.collector("oktaguard_duplicates_total", "Redelivered events dropped", MetricType::counter, {"source"},
                    [source_stats] {
                      std::vector<Sample> out;
                      for (const SourceStats& st : source_stats())
                        out.push_back({{st.source}, static_cast<double>(st.duplicates)});
                      return out;
                    });
  metrics.collector("oktaguard_backpressure_total",
                    "Times an input found the pipeline's queue full: waited for room, or paused as it stayed full",
                    MetricType::counter, {"source", "action"}, [source_stats] {
                      std::vector<Sample> out;
                      for (const SourceStats& st : source_stats()) {
                        out.push_back({{st.source, "wait"}, static_cast<double>(st.backpressure_waits)});
                        out.push_back({{st.source, "pause"}, static_cast<double>(st.backpressure_pauses)});
                      }
                      return out;
                    });
  rule_hits = &metrics.counter("oktaguard_rule_hits_total", "Detections fired, by detection id", {"detection"});
  actions =
      &metrics.counter("oktaguard_actions_total", "Action state changes, by kind and new state", {"kind", "outcome"});
  unresolved_total = &metrics
                          .counter("oktaguard_identity_unresolved_total",
                                   "Third-party events whose user did not resolve to an Okta id")
                          .get();
  metrics.collector("oktaguard_breaker_tripped", "1 while the blast-radius breaker holds destructive actions",
                    MetricType::gauge, {}, [this] {
                      return std::vector<Sample>{{{}, responses && responses->stats().breaker_tripped ? 1.0 : 0.0}};
                    });
  metrics.collector(
      "oktaguard_journal_backlog", "Actions in the journal not yet finished (decided, sending, waiting)",
      MetricType::gauge, {}, [this] {
        return std::vector<Sample>{{{}, responses ? static_cast<double>(responses->stats().backlog) : 0.0}};
      });
  metrics.collector("oktaguard_actions_waiting_for_exceptions",
                    "Actions held back until the response exceptions they might match are resolved through Okta",
                    MetricType::gauge, {}, [this] {
                      return std::vector<Sample>{
                          {{}, responses ? static_cast<double>(responses->stats().waiting_for_exceptions) : 0.0}};
                    });
  metrics.collector(
      "oktaguard_actions_in_flight", "Actions sent to Okta and not yet answered", MetricType::gauge, {}, [this] {
        return std::vector<Sample>{{{}, responses ? static_cast<double>(responses->stats().in_flight) : 0.0}};
      });
  risk_at_decision = &metrics
                          .histogram("oktaguard_risk_at_decision", "A user's risk when a response policy decided",
                                     {10, 20, 40, 60, 80, 100, 150, 200, 300})
                          .get();
  metrics.collector("oktaguard_kill_switch", "1 while the kill switch is engaged", MetricType::gauge, {}, [this] {
    return std::vector<Sample>{{{}, responses && responses->stats().kill_switch ? 1.0 : 0.0}};
  });
  metrics.collector("oktaguard_late_events_total",
                    "Events older than the watermark when they arrived, applied at once rather than in event-time "
                    "order (allowed_lateness too short, or a partition far behind the others)",
                    MetricType::counter, {}, [this] {
                      return std::vector<Sample>{{{}, static_cast<double>(late_events.load())}};
                    });
  metrics.collector("oktaguard_evicted_keys_total",
                    "Keys whose correlator state was dropped because rules.max_tracked_keys was reached (the idlest "
                    "first)",
                    MetricType::counter, {}, [this] {
                      return std::vector<Sample>{{{}, static_cast<double>(evicted_keys.load())}};
                    });
  metrics.collector("oktaguard_excepted_total",
                    "Detection matches and response decisions suppressed by the rule files' exceptions (the "
                    "configuration's response.exceptions skip actions in the response engine, in its audit trail)",
                    MetricType::counter, {}, [this] {
                      return std::vector<Sample>{{{}, static_cast<double>(excepted.load())}};
                    });
  metrics.collector("oktaguard_users_with_risk", "Users whose risk has not decayed to zero", MetricType::gauge, {},
                    [this] {
                      return std::vector<Sample>{{{}, static_cast<double>(users_with_risk.load())}};
                    });
  metrics.collector("oktaguard_buffered_events",
                    "Events waiting in the correlator's reorder buffer for the watermark to pass them",
                    MetricType::gauge, {}, [this] {
                      return std::vector<Sample>{{{}, static_cast<double>(buffered_events.load())}};
                    });
  metrics.collector("oktaguard_tracked_keys", "Keys with correlator state", MetricType::gauge, {}, [this] {
    return std::vector<Sample>{{{}, static_cast<double>(tracked_keys.load())}};
  });
  metrics.collector("oktaguard_snapshots_total", "Correlator state snapshots written, by result", MetricType::counter,
                    {"result"}, [this] {
                      return std::vector<Sample>{{{"ok"}, static_cast<double>(snapshots.load())},
                                                 {{"failed"}, static_cast<double>(snapshot_failures.load())}};
                    });
  metrics.collector("oktaguard_replayed_events_skipped_total",
                    "Redelivered Kafka events acknowledged without applying: the restored state already held them",
                    MetricType::counter, {}, [this] {
                      return std::vector<Sample>{{{}, static_cast<double>(replay_skipped.load())}};
                    });
  metrics.collector("oktaguard_snapshot_bytes", "Size of the last correlator snapshot", MetricType::gauge, {}, [this] {
    return std::vector<Sample>{{{}, static_cast<double>(snapshot_bytes.load())}};
  });
  metrics.collector("oktaguard_snapshot_timestamp_seconds", "Unix time of the last correlator snapshot",
                    MetricType::gauge, {}, [this] {
                      return std::vector<Sample>{{{}, static_cast<double>(snapshot_unix_ms.load()) / 1000.0}};
                    });
  metrics.collector("oktaguard_unacknowledged_events",
                    "Events applied or buffered but not yet acknowledged (waiting for the watermark or a snapshot)",
                    MetricType::gauge, {}, [this] {
                      return std::vector<Sample>{{{}, static_cast<double>(waiting_for_ack.load())}};
                    });
  metrics.collector("oktaguard_parked_events", "Events waiting for an identity lookup", MetricType::gauge, {}, [this] {
    std::lock_guard lock(mu);
    return std::vector<Sample>{{{}, static_cast<double>(parked)}};
  });
}

std::optional<std::string> Pipeline::Impl::start() {
  if (!options.rules) return "no rules loaded";
  register_metrics();

  daemon::ResponseConfig rc;
  rc.state_dir = options.state_dir;
  rc.guard.dry_run = options.dry_run;
  rc.guard.default_cooldown = options.cooldown;
  rc.breaker.max_actions = options.breaker_max_actions;
  rc.breaker.window = options.breaker_window;
  rc.breaker.rearm_after = options.breaker_rearm_after;
  rc.retention = options.retention;
  rc.audit_file = options.audit_file;
  rc.kill_switch_file = options.kill_switch_file;
  rc.log = [this](std::string_view level, std::string_view message) {
    LogLevel l = level == "error"                        ? LogLevel::error
                 : level == "warn" || level == "warning" ? LogLevel::warn
                 : level == "debug"                      ? LogLevel::debug
                                                         : LogLevel::info;
    log(l, "response", message);
  };
  auto opened = ResponseEngine::open(rc, executor, clock);
  if (!opened) return fmt::format("opening the action journal in {}: {}", options.state_dir.string(), opened.error());
  responses = std::move(*opened);
  responses->set_exceptions(to_exception_list(options.exceptions));
  if (options.kafka && !options.kafka->audit_topic.empty()) {
    AuditTopicProducer::Options ao;
    ao.topic = options.kafka->audit_topic;
    ao.properties = options.kafka->properties;
    auto created = AuditTopicProducer::create(
        std::move(ao), [this](LogLevel level, std::string_view message) { log(level, "audit", message); });
    if (!created) return created.error();
    audit_topic = std::move(*created);
    responses->add_audit_sink([this](std::string_view line) { audit_topic->send(line); });
    metrics.collector("oktaguard_audit_topic_lines_total", "Audit lines copied to the Kafka audit topic, by result",
                      MetricType::counter, {"result"}, [this] {
                        return std::vector<Sample>{
                            {{"delivered"}, audit_topic ? static_cast<double>(audit_topic->delivered()) : 0.0},
                            {{"failed"}, audit_topic ? static_cast<double>(audit_topic->failed()) : 0.0}};
                      });
  }
  responses->add_audit_sink([this](std::string_view line) {
    std::string kind = audit_line_field(line, "kind");
    std::string to = audit_line_field(line, "to");
    // Lines that keep the state (a revert scheduled or started) are no state change.
    if (!kind.empty() && !to.empty() && audit_line_field(line, "from") != to) actions->with({kind, to}).inc();
  });
  responses->start();

  correlator::EngineOptions eo;
  eo.shards = options.shards;
  eo.lateness = options.lateness;
  engine = std::make_unique<correlator::Engine>(options.rules, eo);
  if (options.snapshots) restore_snapshot();

  // The parsers extract the extra fields the rules reference; the registry lives in the RuleSet,
  // which the pipeline holds for its lifetime.
  limits.max_future_skew = options.max_future_skew;
  IngestFactories factories = default_ingest_factories(limits, &options.rules->fields);
  auto source_log = [this](LogLevel level, std::string_view message) { log(level, "source", message); };

  std::int32_t partition = 0;
  for (const PipelineStream& stream : options.files) {
    SourceBinding binding{stream.name, stream.source, stream.format, stream.mapping};
    auto sink = std::make_unique<Sink>(*this, partition++, false);
    FileSourceConfig fc;
    fc.binding = binding;
    fc.limits = limits;
    fc.factories = factories;
    // The pipeline acknowledges only after the watermark passes an event, which for the last events
    // of a file happens at the final flush: waiting for acks inside run() would never end.
    fc.wait_for_acks = false;
    auto created = FileSource::create(std::move(fc), *sink, source_log);
    if (!created) return fmt::format("file source {}: {}", binding.topic, created.error());
    sink->acknowledger_ = created->get();
    sources.push_back(std::move(*created));
    sinks.push_back(std::move(sink));
  }
  files_running = options.files.size();
  file_keys.clear();
  for (const PipelineStream& stream : options.files)
    file_keys.push_back(file_identity(stream.name));
  // Lines of files no longer configured (rotated, regenerated, removed) would stay in every snapshot.
  applied_offsets.forget_if([this](std::string_view topic, std::int32_t recorded_partition) {
    return recorded_partition < 0 && std::find(file_keys.begin(), file_keys.end(), topic) == file_keys.end();
  });
  // Every file holds the watermark from the start: a file read slower than the others must not find
  // its events already overtaken (late). The end of the input flushes, so nothing waits for long.
  for (std::int32_t p = 0; p < static_cast<std::int32_t>(options.files.size()); ++p)
    engine->observe(p, EventTime{});
  if (!options.files.empty()) engine->sync();
  if (options.kafka) {
    auto sink = std::make_unique<Sink>(*this, 1000, true);
    KafkaSourceConfig kc;
    for (const PipelineStream& t : options.kafka->topics)
      kc.bindings.push_back(SourceBinding{t.name, t.source, t.format, t.mapping});
    kc.properties = options.kafka->properties;
    kc.dead_letter_topic = options.kafka->dead_letter_topic;
    kc.limits = limits;
    kc.factories = factories;
    auto created = KafkaSource::create(std::move(kc), *sink, source_log);
    if (!created) return fmt::format("kafka source: {}", created.error());
    sink->acknowledger_ = created->get();
    KafkaSource* kafka = created->get();
    readiness.add("kafka", [kafka] {
      std::size_t n = kafka->assigned_partitions();
      return CheckResult{n > 0, n > 0 ? "" : "no partitions assigned yet"};
    });
    metrics.collector("oktaguard_kafka_consumer_lag", "Messages behind the partition's high watermark",
                      MetricType::gauge, {"topic", "partition"}, [kafka] {
                        std::vector<Sample> out;
                        for (const KafkaSource::PartitionLag& l : kafka->lag())
                          out.push_back({{l.topic, std::to_string(l.partition)}, static_cast<double>(l.lag)});
                        return out;
                      });
    metrics.collector("oktaguard_kafka_assigned_partitions", "Partitions this consumer owns now", MetricType::gauge, {},
                      [kafka] {
                        return std::vector<Sample>{{{}, static_cast<double>(kafka->assigned_partitions())}};
                      });
    sources.push_back(std::move(*created));
    sinks.push_back(std::move(sink));
  }
  readiness.set("rules", true);
  readiness.set("sources", !sources.empty(), sources.empty() ? "no sources configured" : "");

  worker = std::jthread([this](std::stop_token stop) { worker_loop(stop); });
  for (std::size_t i = 0; i < sources.size(); ++i) {
    bool is_file = i < options.files.size();
    source_threads.emplace_back([this, i, is_file](std::stop_token stop) {
      sources[i]->run(stop);
      if (is_file) {
        enqueue_control(static_cast<std::int32_t>(i), Item::Control::file_ended);
        std::lock_guard lock(mu);
        --files_running;
        cv.notify_one();
      }
    });
  }
  return std::nullopt;
}

void Pipeline::Impl::learn(const Event& event) {
  if (!identity) return;
  auto one = [this](const correlator::EntityRef& e) {
    if (e.identity_kind == correlator::IdentityKind::okta_id && okta_id_shaped(e.id) && !e.alternate_id.empty() &&
        (e.type.empty() || e.type.view() == "User"))
      identity->learn(e.alternate_id, e.id);
  };
  one(event.actor);
  for (const auto& t : event.targets)
    one(t);
}

// Third-party events name their user by login or email: resolve before correlating, so risk lands on
// the Okta id. An answer not in memory parks the event; the lookup's callback brings it back, and
// the worker holds every later event behind it meanwhile (`held`).
void Pipeline::Impl::apply_control(const Item& item) {
  const std::int32_t p = item.partition;
  switch (item.control) {
    case Item::Control::assigned:
      engine->observe(p, EventTime{});
      partition_last_event[p] = batch_wall;
      silent_partitions.insert(p);
      break;
    case Item::Control::caught_up:
      // Only a partition that has delivered nothing is let go at once; one that has delivered
      // events keeps holding until idle_release, so a producer's brief pause cannot make its next
      // events late.
      if (silent_partitions.erase(p) == 0) break;
      engine->remove_partition(p);
      partition_last_event.erase(p);
      break;
    case Item::Control::revoked:
    case Item::Control::file_ended:  // its events are all in; it must not hold the others back
      silent_partitions.erase(p);
      engine->remove_partition(p);
      partition_last_event.erase(p);
      break;
    case Item::Control::none:
      break;
  }
}

void Pipeline::Impl::admit(Item&& item) {
  if (item.control != Item::Control::none) return apply_control(item);
  learn(item.event);
  correlator::EntityRef& actor = item.event.actor;
  bool needs = identity && actor.identity_kind != correlator::IdentityKind::okta_id &&
               !(actor.alternate_id.empty() && actor.id.empty());
  if (!needs) return push(std::move(item));
  std::string name = (actor.alternate_id.empty() ? actor.id : actor.alternate_id).str();
  if (auto known = identity->try_cached(name)) {
    actor.id = *known;
    actor.identity_kind = correlator::IdentityKind::okta_id;
    resolved.fetch_add(1, std::memory_order_relaxed);
    return push(std::move(item));
  }
  auto lookup = std::make_shared<ParkedLookup>();
  lookup->item = std::move(item);
  lookup->deadline = std::chrono::steady_clock::now() + options.identity_wait;
  {
    std::lock_guard lock(mu);
    ++parked;
    parked_lookups.push_back(lookup);
  }
  ++lookups_out;
  identity->resolve(
      name, [this, lookup](okta::LookupResult<std::string> answer) { requeue_resolved(*lookup, std::move(answer)); });
}

void Pipeline::Impl::push(Item&& item) {
  partition_last_event[item.partition] = batch_wall;
  silent_partitions.erase(item.partition);
  unacked.emplace(item.event.published, Pending{item.token, item.acknowledger, item.kafka, item.partition});
  engine->push(std::move(item.event), item.partition);
  events.fetch_add(1, std::memory_order_relaxed);
}

bool Pipeline::Impl::submit_decisions(const std::vector<correlator::Decision>& list) {
  if (list.empty()) return true;
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t outstanding = 0;
    bool ok = true;
  };
  auto wait = std::make_shared<Wait>();
  std::vector<Response> grouped;
  adapt(list, grouped);
  for (Response& response : grouped) {
    if (response.steps.empty()) continue;
    {
      std::lock_guard lock(wait->mu);
      ++wait->outstanding;
    }
    submitted.fetch_add(1, std::memory_order_relaxed);
    responses->submit(std::move(response), [wait, this](const SubmitResult& r) {
      if (!r.ok) log(LogLevel::error, "pipeline", "journaling a decision failed: " + r.error);
      std::lock_guard lock(wait->mu);
      wait->ok = wait->ok && r.ok;
      --wait->outstanding;
      wait->cv.notify_all();
    });
  }
  std::unique_lock lock(wait->mu);
  wait->cv.wait(lock, [&] { return wait->outstanding == 0; });
  return wait->ok;
}

// Acknowledges every event the correlator has applied: older than the watermark the shards share
// (Engine::sync hands every shard the same partition progress), or all of them after a flush.
void Pipeline::Impl::ack_applied(bool everything) {
  auto end = unacked.end();
  if (!everything) {
    // What the engine has applied, not what the pipeline would compute: acknowledging an event the
    // reorder buffer still holds would let a snapshot claim it.
    end = unacked.lower_bound(engine->released());
  }
  std::vector<Pending> now;
  std::vector<Pending>& into = options.snapshots ? unsnapshotted : now;
  for (auto it = unacked.begin(); it != end; ++it)
    into.push_back(it->second);
  unacked.erase(unacked.begin(), end);
  acknowledge(now);
}

void Pipeline::Impl::acknowledge(std::vector<Pending>& list) {
  for (const Pending& p : list) {
    if (p.acknowledger) p.acknowledger->ack(p.token);
    acked.fetch_add(1, std::memory_order_relaxed);
  }
  list.clear();
}

bool Pipeline::Impl::snapshot_due(bool force) const {
  if (!options.snapshots) return false;
  return force || std::chrono::steady_clock::now() - last_snapshot >= options.snapshot_interval;
}

// On the worker thread, between batches: the shards are idle, so their blobs describe one instant.
void Pipeline::Impl::write_snapshot() {
  last_snapshot = std::chrono::steady_clock::now();
  AppliedOffsets applied = applied_offsets;  // takes effect only once the file holds it
  for (const Pending& p : unsnapshotted) {
    if (p.kafka)
      applied.add(p.token.origin.topic.view(), p.token.origin.partition, p.token.origin.offset);
    else if (const std::string* key = file_key(p.partition))
      applied.add(*key, -1, p.token.origin.offset);
  }
  std::vector<std::string> blobs{applied.serialize()};
  for (std::string& shard : engine->snapshot())
    blobs.push_back(std::move(shard));
  std::size_t bytes = 0;
  for (const std::string& b : blobs)
    bytes += b.size();
  if (auto saved = save_state_snapshot(snapshot_path(), blobs); !saved) {
    // The events stay unacknowledged: after a restart they are redelivered onto the last good snapshot.
    snapshot_failures.fetch_add(1, std::memory_order_relaxed);
    log(LogLevel::error, "pipeline", "writing the correlator snapshot failed: " + saved.error());
    return;
  }
  applied_offsets = std::move(applied);
  snapshots.fetch_add(1, std::memory_order_relaxed);
  snapshot_bytes.store(bytes);
  snapshot_unix_ms.store(
      std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch()).count());
  acknowledge(unsnapshotted);
}

std::optional<std::string> Pipeline::Impl::restore_snapshot() {
  auto loaded = load_state_snapshot(snapshot_path());
  std::optional<std::string> problem;
  if (!loaded) {
    problem = loaded.error();
  } else if (loaded->empty()) {
    return std::nullopt;
  } else if (!loaded->empty() && AppliedOffsets::is_serialized(loaded->front()) &&
             !AppliedOffsets::parse(loaded->front())) {
    problem = "the applied-offsets section is damaged";
  } else {
    if (!loaded->empty() && AppliedOffsets::is_serialized(loaded->front())) {
      applied_offsets = *AppliedOffsets::parse(loaded->front());
      loaded->erase(loaded->begin());
    }
    correlator::Diagnostics diagnostics;
    if (engine->restore(*loaded, diagnostics)) {
      restored = true;
      log(LogLevel::info, "pipeline",
          fmt::format("correlator state restored from {} ({} shard snapshots, {} keys)", snapshot_path().string(),
                      loaded->size(), engine->metrics().tracked_keys));
      // What the restore dropped (every shard reads every blob: say each thing once).
      std::set<std::string> said;
      for (const correlator::Diagnostic& d : diagnostics.items()) {
        if (said.insert(d.message).second) log(LogLevel::warn, "pipeline", "correlator snapshot: " + d.message);
      }
      return std::nullopt;
    }
    problem = correlator::render_text(diagnostics);
    // A half-applied restore must not linger: start from an empty engine.
    correlator::EngineOptions eo;
    eo.shards = options.shards;
    eo.lateness = options.lateness;
    engine = std::make_unique<correlator::Engine>(options.rules, eo);
  }
  applied_offsets = AppliedOffsets{};  // nothing is in the state: every redelivered event applies
  // Kept for inspection; starting empty beats not starting (the sources replay what is unacknowledged).
  std::filesystem::path aside = snapshot_path();
  aside += ".unreadable";
  std::error_code ec;
  std::filesystem::rename(snapshot_path(), aside, ec);
  log(LogLevel::error, "pipeline",
      fmt::format("correlator snapshot not restored ({}); starting with empty state, the file is kept as {}", *problem,
                  aside.string()));
  return std::nullopt;
}

void Pipeline::Impl::worker_loop(std::stop_token stop) {
  std::deque<Item> batch;
  bool flushed_at_eof = false;
  bool drained = false;
  while (!stop.stop_requested()) {
    bool drain_now = false;
    bool eof_now = false;
    std::shared_ptr<const correlator::RuleSet> reload;
    std::uint64_t timed_out = 0;
    {
      std::unique_lock lock(mu);
      const bool held_full = held.size() >= options.queue_capacity;
      cv.wait_for(lock, Millis(50), [&] { return (!inbox.empty() && !held_full) || !resolved_items.empty() || drain; });
      // While events wait behind an identity lookup, the inbox stays put once `held` is full: the
      // sources then feel the backpressure instead of the worker buffering without bound.
      if (!held_full) batch.swap(inbox);
      const std::uint64_t timeouts_before = identity_timeouts;
      expire_lookups(std::chrono::steady_clock::now());
      timed_out = identity_timeouts - timeouts_before;
      for (Item& i : resolved_items)
        batch.push_back(std::move(i));
      resolved_items.clear();
      cv.notify_all();  // room in the inbox again
      room_cv.notify_all();
      drain_now = drain;
      eof_now = options.exit_at_eof && !options.files.empty() && files_running == 0 && parked == 0 && batch.empty() &&
                inbox.empty() && held.empty() && !flushed_at_eof;
      reload = std::move(pending_rules);
    }
    batch_wall = std::chrono::steady_clock::now();
    if (timed_out > 0)
      log(LogLevel::warn, "pipeline",
          fmt::format("{} identity lookup(s) took longer than {} ms: their events are applied unresolved", timed_out,
                      options.identity_wait.count()));
    heartbeat_ms.store(std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch()).count());
    if (reload) {
      correlator::ReloadReport report = engine->reload(reload);
      options.rules = reload;
      log(LogLevel::info, "pipeline", fmt::format("rules reloaded: kept {}, dropped {}", report.kept, report.dropped));
    }
    for (Item& item : batch) {
      if (item.source == "unresolved") {
        unresolved.fetch_add(1, std::memory_order_relaxed);
        unresolved_total->inc();
        --lookups_out;
        push(std::move(item));
      } else if (item.source == "resolved") {
        resolved.fetch_add(1, std::memory_order_relaxed);
        --lookups_out;
        push(std::move(item));
      } else if (item.control != Item::Control::none) {
        // At once, ahead of the checks of the partition's events that follow.
        if (item.control == Item::Control::assigned) forget_stale_offsets(item.token.origin);
        // In order with the events: behind any event that waits for its identity lookup.
        if (lookups_out > 0 || !held.empty())
          held.push_back(std::move(item));
        else
          apply_control(item);
      } else if (already_applied(item)) {
        // Redelivered (restart, rebalance, a file read again) but already in the correlator state:
        // acknowledge only.
        if (item.acknowledger) item.acknowledger->ack(item.token);
        replay_skipped.fetch_add(1, std::memory_order_relaxed);
      } else if (item.duplicate ||
                 (item.kafka && accepted_offsets.contains(item.token.origin.topic.view(), item.token.origin.partition,
                                                          item.token.origin.offset))) {
        // Its original is applied (or waits) under the same event time: acknowledged together. A
        // partition revoked and assigned again redelivers from its last commit what this process
        // already took, an alert without a uuid included, which de-duplication cannot recognise.
        unacked.emplace(item.event.published, Pending{item.token, item.acknowledger, item.kafka, item.partition});
        if (!item.duplicate) replay_skipped.fetch_add(1, std::memory_order_relaxed);
      } else {
        if (item.kafka)
          accepted_offsets.add(item.token.origin.topic.view(), item.token.origin.partition, item.token.origin.offset);
        if (lookups_out > 0 || !held.empty())
          held.push_back(std::move(item));
        else
          admit(std::move(item));
      }
      while (lookups_out == 0 && !held.empty()) {
        Item next = std::move(held.front());
        held.pop_front();
        admit(std::move(next));
      }
    }
    bool had_events = !batch.empty();
    batch.clear();
    auto wall = std::chrono::steady_clock::now();
    if (had_events) last_event_wall = wall;
    // A quiet input must not hold its last events (and what they complete) in the reorder buffer
    // until traffic resumes: after `idle_release` without events everything buffered is applied.
    bool idle_release = !had_events && !unacked.empty() && wall - last_event_wall >= options.idle_release;
    bool removed_partition = false;
    if (partition_last_event.size() > 1)
      for (auto it = partition_last_event.begin(); it != partition_last_event.end();) {
        if (wall - it->second < options.idle_release) {
          ++it;
          continue;
        }
        engine->remove_partition(it->first);
        it = partition_last_event.erase(it);
        removed_partition = true;
      }
    // A removed partition no longer holds the watermark back, so buffered events may have been
    // applied and decided: a snapshot holding their effect (cooldowns) before their decisions are
    // journaled would lose those decisions in a crash.
    if (!had_events && !removed_partition && !drain_now && !eof_now && !idle_release) {
      if (snapshot_due(false) && !unsnapshotted.empty()) {
        write_snapshot();
        waiting_for_ack.store(unacked.size() + unsnapshotted.size());
      }
      continue;
    }
    if (!had_events && drain_now && drained) continue;  // stop() waits for late offers; nothing new
    drained = drained || drain_now;

    bool everything = drain_now || eof_now || idle_release;
    if (everything)
      engine->flush();
    else
      engine->sync();
    for (const correlator::Detection& d : engine->take_detections()) {
      detections.fetch_add(1, std::memory_order_relaxed);
      rule_hits->with({d.id}).inc();
      if (options.on_detection && d.rule < options.rules->detections.size())
        options.on_detection(d, options.rules->detections[d.rule]);
      else
        log(LogLevel::info, "pipeline", fmt::format("detection {} key {} risk {}", d.id, d.key, d.risk));
    }
    // A decision is never dropped: while the journal refuses, the worker retries and the sources
    // back off (the queue fills). Only journaled decisions let their events be acknowledged.
    std::vector<correlator::Decision> decided = engine->take_decisions();
    bool journaled = submit_decisions(decided);
    for (int attempt = 1; !journaled && !stop.stop_requested(); ++attempt) {
      journal_failures.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::min(Millis(100) * attempt, Millis(5000)));
      journaled = submit_decisions(decided);
    }
    if (journaled) {
      decisions.fetch_add(decided.size(), std::memory_order_relaxed);
      for (const correlator::Decision& d : decided)
        risk_at_decision->observe(d.risk);
      ack_applied(everything);
    }
    correlator::ShardMetrics engine_metrics = engine->metrics();
    tracked_keys.store(engine_metrics.tracked_keys);
    late_events.store(engine_metrics.late_events);
    evicted_keys.store(engine_metrics.evicted_keys);
    excepted.store(engine_metrics.excepted);
    users_with_risk.store(engine_metrics.tracked_users);
    buffered_events.store(engine_metrics.buffered_events);
    // A snapshot after decisions that never reached the journal would hold state whose decisions
    // are lost; without one, the unacknowledged events are redelivered and decided again.
    if (journaled && snapshot_due(everything)) write_snapshot();
    waiting_for_ack.store(unacked.size() + unsnapshotted.size());
    if (eof_now) {
      flushed_at_eof = true;
      // Done means acted upon: the actions this input decided are sent and answered.
      if (!responses->wait_settled(options.settle_timeout))
        log(LogLevel::warn, "pipeline", "actions still pending at the end of the input; they stay in the journal");
      std::lock_guard lock(mu);
      finished = true;
      cv.notify_all();
    }
  }
}

Pipeline::Pipeline(PipelineOptions options, PipelineLogFn log, Registry& metrics, ReadinessChecks& readiness,
                   okta::IdentityResolver* identity, ActionExecutor& executor, DecisionAdapterFn adapt)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(log), metrics, readiness, identity, executor,
                                   std::move(adapt))) {}

Pipeline::~Pipeline() {
  stop();
}

std::optional<std::string> Pipeline::start() {
  return impl_->start();
}

void Pipeline::stop(std::chrono::milliseconds grace) {
  Impl& i = *impl_;
  if (!i.responses && !i.worker.joinable()) return;
  // 1. Sources stop reading; Kafka keeps its consumer alive while it waits for the acks below.
  for (auto& t : i.source_threads)
    t.request_stop();
  // 2. The worker flushes what the correlator holds, journals the decisions and acks everything.
  {
    std::lock_guard lock(i.mu);
    i.drain = true;
    i.cv.notify_all();
  }
  // 3. Sources end (the Kafka source stores and commits the acknowledged offsets and closes).
  for (auto& t : i.source_threads)
    if (t.joinable()) t.join();
  i.source_threads.clear();
  // 4. One more drain pass picks up anything offered while the sources were stopping.
  if (i.worker.joinable()) {
    for (int pass = 0; pass < 100; ++pass) {
      std::unique_lock lock(i.mu);
      if (i.inbox.empty() && i.resolved_items.empty()) break;
      lock.unlock();
      std::this_thread::sleep_for(Millis(10));
    }
    std::this_thread::sleep_for(Millis(60));  // one worker cycle after the last offer
    i.worker.request_stop();
    i.worker.join();
  }
  // 5. In-flight actions finish (or stay "sending" for the next start to verify).
  if (i.responses) {
    i.responses->stop(grace);
    i.responses.reset();
  }
  i.audit_topic.reset();        // flushes what the last actions audited
  i.readiness.remove("kafka");  // its check reads the source
  i.sources.clear();
  i.sinks.clear();
  i.engine.reset();
}

bool Pipeline::finished() const {
  std::lock_guard lock(impl_->mu);
  return impl_->finished;
}

bool Pipeline::wait_finished(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->finished; });
}

bool Pipeline::healthy() const {
  if (!impl_->worker.joinable()) return true;
  auto now = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return now - impl_->heartbeat_ms.load() < 30000;
}

void Pipeline::reload_rules(std::shared_ptr<const correlator::RuleSet> rules) {
  std::lock_guard lock(impl_->mu);
  impl_->pending_rules = std::move(rules);
  impl_->cv.notify_all();
}

void Pipeline::set_exceptions(const std::vector<PipelineException>& exceptions) {
  if (impl_->responses) impl_->responses->set_exceptions(to_exception_list(exceptions));
}

void Pipeline::set_group_members(const std::string& group_id, std::vector<std::string> user_ids,
                                 const std::vector<std::string>& names) {
  if (impl_->responses) impl_->responses->set_group_members(group_id, std::move(user_ids), names);
}

void Pipeline::set_login_owner(const std::string& login, std::string user_id, const std::vector<std::string>& names) {
  if (impl_->responses) impl_->responses->set_login_owner(login, std::move(user_id), names);
}

void Pipeline::set_user_names(const std::string& user_id, const std::vector<std::string>& names) {
  if (impl_->responses) impl_->responses->set_user_names(user_id, names);
}

PipelineStats Pipeline::stats() const {
  const Impl& i = *impl_;
  PipelineStats s;
  s.events = i.events.load();
  s.acked = i.acked.load();
  {
    std::lock_guard lock(i.mu);
    s.parked = i.parked;
  }
  s.resolved = i.resolved.load();
  s.unresolved = i.unresolved.load();
  s.detections = i.detections.load();
  s.decisions = i.decisions.load();
  s.submitted = i.submitted.load();
  s.journal_failures = i.journal_failures.load();
  s.snapshots = i.snapshots.load();
  s.snapshot_failures = i.snapshot_failures.load();
  s.restored = i.restored;
  return s;
}

}  // namespace og::daemon
