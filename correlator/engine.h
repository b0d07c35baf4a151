#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "correlator/decision.h"
#include "correlator/diagnostics.h"
#include "correlator/risk.h"
#include "correlator/rule_set.h"
#include "correlator/watermark.h"
#include "correlator/window_state.h"

namespace og::correlator {

// Is `user` a member of `group` (name or id)? Used by exceptions with `groups`.
using GroupLookup = std::function<bool(const UserRef& user, std::string_view group)>;

struct ShardOptions {
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;
  std::optional<Duration> lateness;             // default: the rule set's settings.lateness
  std::optional<std::size_t> max_tracked_keys;  // default: settings.max_tracked_keys
  GroupLookup group_lookup;
};

struct ShardMetrics {
  std::uint64_t events = 0;
  std::uint64_t late_events = 0;
  std::uint64_t candidate_evaluations = 0;
  std::uint64_t detections = 0;
  std::uint64_t decisions = 0;
  std::uint64_t excepted = 0;  // events excluded from a detection, or decisions suppressed, by exceptions
  std::uint64_t evicted_keys = 0;
  std::uint64_t expired_keys = 0;
  std::size_t tracked_keys = 0;
  std::size_t tracked_users = 0;  // users with risk
  std::size_t buffered_events = 0;
};

struct Explanation {
  std::string user;
  double risk = 0;
  EventTime at{};
  struct Item {
    std::string detection;
    std::string key;
    double points_added = 0;
    double points_now = 0;
    EventTime time{};
    std::vector<std::string> evidence;
  };
  std::vector<Item> contributions;
  struct Response {
    std::string response;
    std::uint32_t tier = 0;
    EventTime last_fired{};
  };
  std::vector<Response> responses;
};
std::string render_text(const Explanation& e);

// Risk points for a user owned by another shard: applied there (see Engine).
struct ForeignRisk {
  UserRef user;
  RiskContribution contribution;
  std::uint32_t rule = 0;
  DetectionSeverity severity = DetectionSeverity::medium;
  std::string client_ip;
  std::string key;
  std::vector<std::string> evidence;
};

struct ReloadReport {
  std::size_t kept = 0;     // detections whose state was carried over (unchanged fingerprint)
  std::size_t dropped = 0;  // changed or removed detections whose state was discarded
};

// One shard of the correlator: owns the state of the keys and users that hash to it, single
// threaded, no locks. With shard_count == 1 it is the whole engine (tests, replay, `rules test`).
class Shard {
 public:
  Shard(std::shared_ptr<const RuleSet> rules, ShardOptions options = {});
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Buffers the event until the watermark passes it, then applies due events in order.
  void push(Event event, std::int32_t partition = 0);
  // The same for an event other shards may hold too (it is never modified).
  void push(std::shared_ptr<const Event> event, std::int32_t partition);
  // Moves a partition's watermark without an event (an idle partition must not stall the others).
  void observe(std::int32_t partition, EventTime time);
  void remove_partition(std::int32_t partition);
  // Applies everything buffered and fires every absence whose deadline has passed the last event.
  void flush();
  // Applies one event now, bypassing the reorder buffer (input already in event-time order).
  void apply(const Event& event);
  // Fires absence timers whose deadline is before `time` (apply() does this before each event).
  void advance_time(EventTime time);
  // Risk points from another shard's detection, for a user this shard owns.
  void apply_foreign(const ForeignRisk& risk);

  std::vector<Detection> take_detections();
  std::vector<Decision> take_decisions();
  std::vector<ForeignRisk> take_foreign();
  const std::vector<Detection>& detections() const { return detections_; }
  const std::vector<Decision>& decisions() const { return decisions_; }

  double risk(const std::string& user) const;  // at the shard's current event time
  double risk(const std::string& user, EventTime at) const;
  std::optional<Explanation> explain(const std::string& user) const;
  ShardMetrics metrics() const;
  EventTime now() const { return now_; }
  // Every event older than this has been applied (in order, or at once when it came late).
  EventTime released() const;
  const RuleSet& rules() const { return *rules_; }

  // Swaps the rule set; state of detections and responses whose definition is unchanged is kept.
  ReloadReport reload(std::shared_ptr<const RuleSet> rules);

  // Serialises all state (windows, risk, response history, watermarks). `restore` keeps only the
  // keys and users this shard owns, so snapshots taken with another shard count can be restored by
  // giving every shard every snapshot.
  std::string snapshot() const;
  bool restore(std::string_view blob, Diagnostics& diagnostics);

  // Events the shard is done with are moved into `sink` instead of being freed here, so that the
  // thread that allocated them frees them (the Engine's routing thread): freed on a shard thread,
  // each was a free into another thread's malloc arena, contending for its lock. nullptr: freed here.
  void retire_events_into(std::vector<std::shared_ptr<const Event>>* sink) { retired_ = sink; }

  bool owns(std::uint64_t key_hash) const {
    return options_.shard_count == 1 || key_hash % options_.shard_count == options_.shard_index;
  }

 private:
  struct Impl;
  std::shared_ptr<const RuleSet> rules_;
  ShardOptions options_;
  std::unique_ptr<Impl> impl_;
  std::vector<Detection> detections_;
  std::vector<Decision> decisions_;
  std::vector<ForeignRisk> foreign_;
  std::vector<std::shared_ptr<const Event>>* retired_ = nullptr;
  EventTime now_{};
  void retire(std::shared_ptr<const Event>&& event) {
    if (retired_) retired_->push_back(std::move(event));
  }
  friend struct ShardAccess;
};

// The key hash used for sharding and state: XXH3-64 of the key's bytes, whose output xxHash
// specifies, so it is stable across runs, builds and machines (snapshots store it).
std::uint64_t key_hash(std::string_view key);

struct EngineOptions {
  std::uint32_t shards = 0;  // 0: std::thread::hardware_concurrency()
  std::optional<Duration> lateness;
  std::optional<std::size_t> max_tracked_keys;
  GroupLookup group_lookup;  // called from shard threads: must be thread-safe
  std::size_t queue_batch = 256;
};

// N shards on N threads. An event goes to the shard of each of its key values (and of its actor);
// a shard evaluates a detection only for the keys it owns, and applies risk only for users it owns.
// Risk for a user owned by another shard is forwarded there. Outputs are collected per shard and
// merged in (time, detection, key) order by take_*().
class Engine {
 public:
  Engine(std::shared_ptr<const RuleSet> rules, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void push(Event event, std::int32_t partition = 0);
  // Waits until every shard has applied what it was given, then flushes all buffers.
  void flush();
  // Waits until the queues are empty (without flushing the reorder buffers).
  void sync();
  // The partition stops holding the watermarks back (revoked, or idle); its next event adds it again.
  void remove_partition(std::int32_t partition);
  // Announces a partition before its first event, so it holds the watermarks back from the start
  // (inputs known up front, such as replay files, then apply in event-time order whatever order
  // they are read in). Reaches the shards with the next batch or sync().
  void observe(std::int32_t partition, EventTime time);
  // The oldest released watermark over the shards (after a sync): every event older has been applied.
  EventTime released();

  std::vector<Detection> take_detections();
  std::vector<Decision> take_decisions();
  std::optional<Explanation> explain(const std::string& user);
  ShardMetrics metrics();
  std::vector<std::string> snapshot();
  bool restore(const std::vector<std::string>& blobs, Diagnostics& diagnostics);
  ReloadReport reload(std::shared_ptr<const RuleSet> rules);
  std::uint32_t shard_count() const { return static_cast<std::uint32_t>(workers_.size()); }

 private:
  struct Worker;
  void route(Event&& event, std::int32_t partition);
  void dispatch(std::uint32_t shard);
  // Items a shard's queue may hold before the routing thread waits.
  std::size_t queue_limit() const { return std::max<std::size_t>(options_.queue_batch, 1) * 16; }
  template <typename F>
  void on_all(F&& f);

  std::shared_ptr<const RuleSet> rules_;
  EngineOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::vector<FieldRef>> route_keys_;  // one per distinct detection key of the rule set
  std::map<std::int32_t, EventTime> partitions_;
  std::string route_key_, route_scratch_;  // push's buffers, kept so a long key is not allocated per event
};

}  // namespace og::correlator
