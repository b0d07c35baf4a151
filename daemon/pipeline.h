#pragma once

// The running daemon's data path (design §1-2): sources -> ingest -> identity -> correlator Engine ->
// decisions -> ResponseEngine (journaled) -> acknowledgements back to the sources.
//
// PipelineOptions is the configuration the data path needs, independent of the YAML: run_command.cpp
// maps the configuration file into it, tests build it directly.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "correlator/decision.h"
#include "correlator/parse.h"
#include "correlator/rule_set.h"
#include "daemon/action_types.h"
#include "daemon/log_level.h"

namespace og::okta {
class IdentityResolver;
}

namespace og::daemon {

class Registry;
class ReadinessChecks;
struct Response;

struct PipelineException {
  enum class Type : std::uint8_t { user, login, group };
  Type type = Type::user;
  std::string value;
  std::optional<TimePoint> expires;
  std::string note;
};

struct PipelineStream {  // a replay file or a Kafka topic
  std::string name;      // path or topic
  std::string source;    // source name events carry
  correlator::SourceFormat format = correlator::SourceFormat::okta_system_log;
  correlator::AlertMapping mapping;
};

struct PipelineKafka {
  std::vector<PipelineStream> topics;
  std::map<std::string, std::string> properties;  // librdkafka: bootstrap.servers, group.id, secrets read
  std::string dead_letter_topic;
  std::string audit_topic;  // every audit line is copied here too (empty: file only)
};

using PipelineLogFn = std::function<void(LogLevel level, std::string_view component, std::string_view message)>;

struct PipelineOptions {
  // Inputs. Files are replayed; with `exit_at_eof` the pipeline finishes once every file was read
  // and every event it produced is applied, journaled and acknowledged (the demo's --once).
  std::vector<PipelineStream> files;
  bool exit_at_eof = false;
  std::optional<PipelineKafka> kafka;
  // Events whose time is further ahead than this are rejected as future_time (IngestLimits).
  std::chrono::milliseconds max_future_skew{300000};

  // Correlator.
  std::shared_ptr<const correlator::RuleSet> rules;
  correlator::Duration lateness{120000};
  // Wall time without new events after which everything buffered is applied (a quiet input would
  // otherwise hold its last events until traffic resumes; a later straggler is applied on arrival).
  std::chrono::milliseconds idle_release{120000};
  std::uint32_t shards = 1;

  // Response engine.
  std::filesystem::path state_dir;
  bool dry_run = true;
  std::size_t breaker_max_actions = 20;
  std::chrono::seconds breaker_window{300};
  std::chrono::seconds breaker_rearm_after{3600};  // 0: operator release only
  std::chrono::seconds cooldown{3600};
  std::filesystem::path kill_switch_file;
  std::filesystem::path audit_file;
  std::chrono::hours retention{24 * 90};
  std::vector<PipelineException> exceptions;

  // Called on the pipeline thread for every detection, with the rule that made it (the daemon logs
  // them); empty: the pipeline logs a plain line.
  std::function<void(const correlator::Detection&, const correlator::DetectionRule&)> on_detection;

  // How long an event waits for its user's Okta lookup; past it the event is applied unresolved (a
  // late answer is dropped). Every later event waits behind it, so a slow or unreachable Okta must not
  // stall detection for the length of the client's timeouts and retries.
  std::chrono::milliseconds identity_wait{5000};
  std::size_t queue_capacity = 8192;                // events between the sources and the correlator
  std::chrono::milliseconds settle_timeout{30000};  // exit_at_eof: how long to wait for the actions

  // Correlator state in <state_dir>/correlator.snapshot: restored at start, written every interval
  // and at the end. An event is acknowledged only once a snapshot holding its effect is on disk, so
  // after a crash the source redelivers exactly what the restored state lacks.
  bool snapshots = true;
  std::chrono::milliseconds snapshot_interval{30000};
};

// Maps one pass's correlator Decisions to the response engine's input (daemon/decision_adapter.h
// groups the decisions of one response firing into one ordered Response).
using DecisionAdapterFn =
    std::function<void(std::span<const correlator::Decision> decisions, std::vector<Response>& out)>;
// daemon/decision_adapter.h's to_responses; `dry_run_responses` are rule response ids in shadow mode.
DecisionAdapterFn default_decision_adapter(std::set<std::string, std::less<>> dry_run_responses = {});

struct PipelineStats {
  std::uint64_t events = 0;  // applied by the correlator
  std::uint64_t acked = 0;
  std::uint64_t parked = 0;  // waiting for an identity lookup now
  std::uint64_t resolved = 0;
  std::uint64_t unresolved = 0;
  std::uint64_t detections = 0;
  std::uint64_t decisions = 0;
  std::uint64_t submitted = 0;
  std::uint64_t journal_failures = 0;
  std::uint64_t snapshots = 0;  // written
  std::uint64_t snapshot_failures = 0;
  bool restored = false;  // started from a snapshot
};

class Pipeline {
 public:
  // `identity` may be null (no Okta client: third-party users stay unresolved). `executor` and
  // `adapt` must outlive the pipeline.
  Pipeline(PipelineOptions options, PipelineLogFn log, Registry& metrics, ReadinessChecks& readiness,
           okta::IdentityResolver* identity, ActionExecutor& executor, DecisionAdapterFn adapt);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Opens the journal, builds the engine and the sources and starts their threads. An error message
  // on failure (the caller tears down with stop()).
  std::optional<std::string> start();
  // Graceful stop: sources stop reading, the correlator drains (flush), the resulting decisions are
  // journaled, every event is acknowledged (Kafka offsets stored on close), in-flight actions get
  // `grace` to finish. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  // exit_at_eof: every file was read and everything it produced is journaled and acknowledged.
  bool finished() const;
  // Waits until finished() or `timeout`; false on timeout.
  bool wait_finished(std::chrono::milliseconds timeout) const;
  // The correlator stopped making progress (the control thread stops pinging the watchdog).
  bool healthy() const;
  // Rule reload (SIGHUP): swapped on the pipeline thread between batches, state kept where the
  // definitions are unchanged.
  void reload_rules(std::shared_ptr<const correlator::RuleSet> rules);
  // Replaces the exception lists (SIGHUP); actions not yet sent are checked against the new lists.
  void set_exceptions(const std::vector<PipelineException>& exceptions);
  // What the daemon resolved through Okta for those lists (see ExceptionList); not thread-safe
  // against stop(): call from the thread that stops the pipeline.
  void set_group_members(const std::string& group_id, std::vector<std::string> user_ids,
                         const std::vector<std::string>& names);
  void set_login_owner(const std::string& login, std::string user_id, const std::vector<std::string>& names);
  void set_user_names(const std::string& user_id, const std::vector<std::string>& names);

  PipelineStats stats() const;
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace og::daemon
