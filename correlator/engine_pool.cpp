#include <boost/container/small_vector.hpp>
#include <pthread.h>

#include <algorithm>
#include <set>

#include "correlator/engine.h"

namespace og::correlator {

struct Engine::Worker {
  struct Item {
    enum class Kind : std::uint8_t { event, foreign, observe, remove_partition, flush, advance };
    Kind kind = Kind::event;
    // One Event for every shard it is routed to: shards only read it.
    std::shared_ptr<const Event> event;
    std::int32_t partition = 0;
    EventTime time{};
    std::unique_ptr<ForeignRisk> foreign;  // rare: on the heap, it does not enlarge every event's Item
  };

  Worker(Engine& owner, std::shared_ptr<const RuleSet> rules, ShardOptions options)
      : engine(owner), shard(std::move(rules), std::move(options)) {
    shard.retire_events_into(&retiring);
  }
  // `retiring` goes before `shard`: the shard must not hand it anything from now on.
  ~Worker() { shard.retire_events_into(nullptr); }

  void run() {
    // Reused: a fresh batch (thousands of Items) would come from mmap and be faulted in, page by page,
    // every time.
    std::vector<Item> batch;
    for (;;) {
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return stop || !queue.empty(); });
        if (queue.empty()) return;  // stop requested and nothing left
        batch.swap(queue);
        busy = true;
      }
      space_cv.notify_all();
      for (Item& item : batch) {
        switch (item.kind) {
          case Item::Kind::event:
            shard.push(std::move(item.event), item.partition);
            break;
          case Item::Kind::foreign:
            shard.apply_foreign(*item.foreign);
            break;
          case Item::Kind::observe:
            shard.observe(item.partition, item.time);
            break;
          case Item::Kind::remove_partition:
            shard.remove_partition(item.partition);
            break;
          case Item::Kind::flush:
            shard.flush();
            break;
          case Item::Kind::advance:
            shard.advance_time(item.time);
            break;
        }
      }
      batch.clear();
      std::vector<ForeignRisk> foreign = shard.take_foreign();
      for (ForeignRisk& f : foreign) {
        Item item;
        item.kind = Item::Kind::foreign;
        std::uint32_t to = static_cast<std::uint32_t>(key_hash(f.user.id) % engine.workers_.size());
        item.foreign = std::make_unique<ForeignRisk>(std::move(f));
        engine.workers_[to]->enqueue(std::move(item));
      }
      std::vector<Detection> d = shard.take_detections();
      std::vector<Decision> dec = shard.take_decisions();
      {
        std::lock_guard lock(m);
        std::move(d.begin(), d.end(), std::back_inserter(detections));
        std::move(dec.begin(), dec.end(), std::back_inserter(decisions));
        if (retired.empty())
          retired.swap(retiring);
        else
          std::move(retiring.begin(), retiring.end(), std::back_inserter(retired));
        retiring.clear();
        busy = false;
      }
      idle_cv.notify_all();
    }
  }

  void enqueue(Item item) {
    {
      std::lock_guard lock(m);
      queue.push_back(std::move(item));
    }
    cv.notify_one();
  }
  // From the routing thread only: it waits while the shard is far behind, so a fast producer does
  // not grow the queue without bound (its memory, and the page faults to get it, cost more than the
  // events' processing). Shards forwarding risk to each other use enqueue(Item), which never waits.
  // Takes back the events the shard is done with, to be freed by the routing thread.
  void enqueue(std::vector<Item>& items, std::size_t limit) {
    if (items.empty()) return;
    {
      std::unique_lock lock(m);
      space_cv.wait(lock, [&] { return queue.size() < limit; });
      if (queue.empty())
        queue.swap(items);
      else
        std::move(items.begin(), items.end(), std::back_inserter(queue));
      freeing.swap(retired);
    }
    items.clear();
    cv.notify_one();
    release_freeing(limit);
  }
  // The three hand-back vectors trade places and so keep their largest capacity: after a flush of
  // a long backlog, give it back.
  void release_freeing(std::size_t limit) {
    freeing.clear();
    if (freeing.capacity() > 4 * limit) freeing.shrink_to_fit();
  }

  // true if it had to wait (or was not idle): the caller repeats its pass.
  bool wait_idle(std::size_t limit) {
    bool waited;
    {
      std::unique_lock lock(m);
      waited = busy || !queue.empty();
      idle_cv.wait(lock, [&] { return !busy && queue.empty(); });
      freeing.swap(retired);
    }
    release_freeing(limit);
    return waited;
  }

  Engine& engine;
  Shard shard;
  std::mutex m;
  std::condition_variable cv;
  std::condition_variable idle_cv;
  std::condition_variable space_cv;
  std::vector<Item> queue;            // guarded by m
  bool busy = false;                  // guarded by m
  bool stop = false;                  // guarded by m
  std::vector<Detection> detections;  // guarded by m
  std::vector<Decision> decisions;    // guarded by m
  std::vector<Item> staging;          // the routing thread's batch, not shared
  // Events the shard has finished with: `retiring` on the shard thread, handed over in `retired`
  // (guarded by m) after each batch, freed from `freeing` on the routing thread.
  std::vector<std::shared_ptr<const Event>> retiring;
  std::vector<std::shared_ptr<const Event>> retired;  // guarded by m
  std::vector<std::shared_ptr<const Event>> freeing;  // the routing thread's, not shared
  std::thread thread;
};

namespace {

std::vector<std::vector<FieldRef>> route_keys(const RuleSet& rules) {
  std::vector<std::vector<FieldRef>> out;
  std::set<std::string> seen;
  for (const DetectionRule& d : rules.detections) {
    if (d.enabled && seen.insert(d.key_text).second) out.push_back(d.key);
  }
  return out;
}

}  // namespace

Engine::Engine(std::shared_ptr<const RuleSet> rules, EngineOptions options)
    : rules_(std::move(rules)), options_(std::move(options)) {
  std::uint32_t n = options_.shards ? options_.shards : std::max(1u, std::thread::hardware_concurrency());
  for (std::uint32_t i = 0; i < n; ++i) {
    ShardOptions so;
    so.shard_index = i;
    so.shard_count = n;
    so.lateness = options_.lateness;
    so.max_tracked_keys = options_.max_tracked_keys;
    so.group_lookup = options_.group_lookup;
    workers_.push_back(std::make_unique<Worker>(*this, rules_, so));
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    w->thread = std::thread([w] { w->run(); });
    // Named so `top -H` and profiles tell the shard threads from the routing one.
    std::string name = "og-shard-" + std::to_string(i);
    pthread_setname_np(w->thread.native_handle(), name.c_str());
  }
  route_keys_ = route_keys(*rules_);
}

Engine::~Engine() {
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->m);
      w->stop = true;
    }
    w->cv.notify_one();
  }
  for (auto& w : workers_)
    w->thread.join();
}

void Engine::dispatch(std::uint32_t shard) {
  Worker& w = *workers_[shard];
  // Every batch carries the partitions' progress, so a shard that gets few events still advances.
  for (const auto& [p, t] : partitions_) {
    Worker::Item item;
    item.kind = Worker::Item::Kind::observe;
    item.partition = p;
    item.time = t;
    w.staging.push_back(std::move(item));
  }
  w.enqueue(w.staging, queue_limit());
}

void Engine::push(Event event, std::int32_t partition) {
  auto [it, inserted] = partitions_.try_emplace(partition, event.published);
  if (!inserted && event.published > it->second) it->second = event.published;
  std::uint32_t n = static_cast<std::uint32_t>(workers_.size());
  // The shards owning one of the event's key values; usually one or two, at most one per route key.
  boost::container::small_vector<std::uint32_t, 8> targets;
  std::string& key = route_key_;
  std::string& scratch = route_scratch_;
  auto usable = [](const FieldView& v) {
    return (v.kind == FieldView::Kind::string || v.kind == FieldView::Kind::number ||
            v.kind == FieldView::Kind::boolean) &&
           !v.text.empty();
  };
  for (const std::vector<FieldRef>& fields : route_keys_) {
    std::uint32_t shard = 0;
    if (fields.size() == 1) {
      FieldView v = read_field(event, fields[0], 0, scratch);
      if (!usable(v)) continue;
      // With one shard, one key value present is all there is to know: hashing would decide nothing.
      if (n > 1) shard = static_cast<std::uint32_t>(key_hash(v.text) % n);
    } else {
      key.clear();
      bool ok = true;
      for (std::size_t i = 0; i < fields.size() && ok; ++i) {
        FieldView v = read_field(event, fields[i], 0, scratch);
        ok = usable(v);
        if (ok) {
          if (i) key.push_back('\x1f');
          key.append(v.text);
        }
      }
      if (!ok) continue;
      if (n > 1) shard = static_cast<std::uint32_t>(key_hash(key) % n);
    }
    if (std::find(targets.begin(), targets.end(), shard) == targets.end()) targets.push_back(shard);
    if (targets.size() == n) break;  // every shard gets the event already
  }
  const std::size_t count = targets.size();
  if (count == 0) return;
  // Shared, not copied, between the shards: a copy is a kilobyte and an allocation per long text.
  auto shared = std::make_shared<const Event>(std::move(event));
  for (std::size_t i = 0; i < count; ++i) {
    Worker& w = *workers_[targets[i]];
    Worker::Item item;
    item.kind = Worker::Item::Kind::event;
    item.partition = partition;
    item.event = (i + 1 == count) ? std::move(shared) : shared;
    w.staging.push_back(std::move(item));
    if (w.staging.size() >= options_.queue_batch) dispatch(targets[i]);
  }
}

void Engine::sync() {
  for (std::uint32_t i = 0; i < workers_.size(); ++i)
    dispatch(i);
  for (;;) {
    bool waited = false;
    for (auto& w : workers_)
      waited |= w->wait_idle(queue_limit());
    if (!waited) return;
  }
}

void Engine::observe(std::int32_t partition, EventTime time) {
  auto [it, inserted] = partitions_.try_emplace(partition, time);
  if (!inserted && time > it->second) it->second = time;
  if (!inserted) return;
  // A new partition must hold the shards' watermarks before the events pushed after this call
  // reach them, so it is staged in order with them rather than sent with the next dispatch.
  for (auto& w : workers_) {
    Worker::Item item;
    item.kind = Worker::Item::Kind::observe;
    item.partition = partition;
    item.time = time;
    w->staging.push_back(std::move(item));
  }
}

void Engine::remove_partition(std::int32_t partition) {
  partitions_.erase(partition);
  // Staged behind the partition's events not yet sent: sent ahead of them, the removal would be
  // undone by their arrival (a shard learns of a partition from its events), and the partition,
  // no longer tracked here, would then hold that shard's watermark for good.
  for (std::uint32_t i = 0; i < workers_.size(); ++i) {
    Worker::Item item;
    item.kind = Worker::Item::Kind::remove_partition;
    item.partition = partition;
    workers_[i]->staging.push_back(std::move(item));
    dispatch(i);
  }
}

EventTime Engine::released() {
  EventTime oldest = EventTime::max();
  on_all([&](Worker& w) { oldest = std::min(oldest, w.shard.released()); });
  return oldest;
}

void Engine::flush() {
  sync();
  for (auto& w : workers_) {
    Worker::Item item;
    item.kind = Worker::Item::Kind::flush;
    w->enqueue(std::move(item));
  }
  sync();
  if (workers_.size() < 2) return;
  // A shard's flush fires the absences due before its own last event; one shard would fire every
  // absence due before the last event of all. So the others catch up with the latest.
  EventTime latest{};
  on_all([&](Worker& w) { latest = std::max(latest, w.shard.now()); });
  for (auto& w : workers_) {
    Worker::Item item;
    item.kind = Worker::Item::Kind::advance;
    item.time = latest;
    w->enqueue(std::move(item));
  }
  sync();
}

template <typename F>
void Engine::on_all(F&& f) {
  sync();
  for (auto& w : workers_) {
    std::lock_guard lock(w->m);
    f(*w);
  }
}

std::vector<Detection> Engine::take_detections() {
  std::vector<Detection> out;
  for (auto& w : workers_) {
    std::lock_guard lock(w->m);
    std::move(w->detections.begin(), w->detections.end(), std::back_inserter(out));
    w->detections.clear();
  }
  std::stable_sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.rule != b.rule) return a.rule < b.rule;
    return a.key < b.key;
  });
  return out;
}

std::vector<Decision> Engine::take_decisions() {
  std::vector<Decision> out;
  for (auto& w : workers_) {
    std::lock_guard lock(w->m);
    std::move(w->decisions.begin(), w->decisions.end(), std::back_inserter(out));
    w->decisions.clear();
  }
  // Responses in the rule set's order (as one shard decides them), not by name: a policy that lists
  // step-up before session clearing and suspension is carried out in that order.
  auto position = [this](const std::string& response) {
    for (std::size_t i = 0; i < rules_->responses.size(); ++i)
      if (rules_->responses[i].id == response) return i;
    return rules_->responses.size();
  };
  std::stable_sort(out.begin(), out.end(), [&](const Decision& a, const Decision& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.user.id != b.user.id) return a.user.id < b.user.id;
    if (a.response != b.response) {
      std::size_t pa = position(a.response), pb = position(b.response);
      return pa != pb ? pa < pb : a.response < b.response;
    }
    return a.ordinal < b.ordinal;
  });
  return out;
}

std::optional<Explanation> Engine::explain(const std::string& user) {
  sync();
  Worker& w = *workers_[key_hash(user) % workers_.size()];
  std::lock_guard lock(w.m);
  return w.shard.explain(user);
}

ShardMetrics Engine::metrics() {
  ShardMetrics total;
  on_all([&](Worker& w) {
    ShardMetrics m = w.shard.metrics();
    total.events += m.events;
    total.late_events += m.late_events;
    total.candidate_evaluations += m.candidate_evaluations;
    total.detections += m.detections;
    total.decisions += m.decisions;
    total.excepted += m.excepted;
    total.evicted_keys += m.evicted_keys;
    total.expired_keys += m.expired_keys;
    total.tracked_keys += m.tracked_keys;
    total.tracked_users += m.tracked_users;
    total.buffered_events += m.buffered_events;
  });
  return total;
}

std::vector<std::string> Engine::snapshot() {
  std::vector<std::string> out;
  on_all([&](Worker& w) { out.push_back(w.shard.snapshot()); });
  return out;
}

bool Engine::restore(const std::vector<std::string>& blobs, Diagnostics& diagnostics) {
  bool ok = true;
  // Every shard reads every snapshot and keeps what it owns: the shard count may have changed.
  on_all([&](Worker& w) {
    for (const std::string& b : blobs)
      ok = w.shard.restore(b, diagnostics) && ok;
  });
  return ok;
}

ReloadReport Engine::reload(std::shared_ptr<const RuleSet> rules) {
  ReloadReport report;
  on_all([&](Worker& w) { report = w.shard.reload(rules); });
  rules_ = std::move(rules);
  route_keys_ = route_keys(*rules_);
  return report;
}

}  // namespace og::correlator
