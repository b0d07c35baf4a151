#include "correlator/snapshot.h"

#include <fmt/format.h>

#include "correlator/engine_state.h"

namespace og::correlator {
namespace {

constexpr std::string_view kMagic = "OGSNAP\x01\x00";
// 2: key hashes are XXH3-64. Version 1 held FNV-1a hashes, which no key of this build matches: its
// hash-keyed state (windows, sequences, locations, first-seen sets, cooldowns) is dropped on restore,
// and the rest (risk, response history, pending absences, which name their key) is kept.
constexpr std::uint32_t kVersion = 2;
constexpr std::uint32_t kVersionFnvKeys = 1;

std::int64_t ms(EventTime t) {
  return t.time_since_epoch().count();
}
EventTime from_ms(std::int64_t v) {
  return EventTime(std::chrono::milliseconds(v));
}

void put_entry(SnapshotWriter& w, const WindowEntry& e) {
  w.put<std::int64_t>(ms(e.time));
  w.put<std::uint64_t>(e.value);
  std::array<char, 36> buf;
  w.put_string(e.uuid.view(buf));
  w.put_string(e.actor.view(buf));
}

bool get_entry(SnapshotReader& r, WindowEntry& e) {
  std::int64_t t = 0;
  std::string uuid, actor;
  if (!r.get(t) || !r.get(e.value) || !r.get_string(uuid) || !r.get_string(actor)) return false;
  e.time = from_ms(t);
  e.uuid = EntryId(uuid);
  e.actor = EntryId(actor);
  return true;
}

template <typename Entries>
void put_entries(SnapshotWriter& w, const Entries& es) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(es.size()));
  for (const WindowEntry& e : es)
    put_entry(w, e);
}

template <typename Entries>
bool get_entries(SnapshotReader& r, Entries& es) {
  std::uint32_t n = 0;
  if (!r.get_count(n, 24)) return false;
  es.resize(n);
  for (WindowEntry& e : es) {
    if (!get_entry(r, e)) return false;
  }
  return true;
}

}  // namespace

std::string Shard::snapshot() const {
  SnapshotWriter w;
  for (char c : kMagic)
    w.put<char>(c);
  w.put<std::uint32_t>(kVersion);
  w.put<std::int64_t>(ms(now_));
  w.put<std::int64_t>(ms(impl_->buffer.released()));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(impl_->buffer.partitions().size()));
  for (const auto& [p, t] : impl_->buffer.partitions()) {
    w.put<std::int32_t>(p);
    w.put<std::int64_t>(ms(t));
  }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(rules_->detections.size()));
  for (std::size_t d = 0; d < rules_->detections.size(); ++d) {
    const DetectionStore& st = impl_->stores[d];
    w.put_string(rules_->detections[d].id);
    w.put<std::uint64_t>(st.fingerprint);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(st.windows.size()));
    for (const auto& [k, v] : st.windows) {
      w.put<std::uint64_t>(k);
      w.put<std::int64_t>(ms(v.last_seen));
      put_entries(w, v.entries);
    }
    w.put<std::uint32_t>(static_cast<std::uint32_t>(st.sequences.size()));
    for (const auto& [k, v] : st.sequences) {
      w.put<std::uint64_t>(k);
      w.put<std::uint32_t>(v.step);
      w.put<std::uint32_t>(v.count);
      w.put<std::int64_t>(ms(v.start));
      w.put<std::int64_t>(ms(v.last_seen));
      put_entries(w, v.first);
      put_entries(w, v.evidence);
    }
    w.put<std::uint32_t>(static_cast<std::uint32_t>(st.absences.size()));
    for (const auto& [k, v] : st.absences) {
      w.put<std::uint64_t>(k);
      w.put<std::int64_t>(ms(v.last_seen));
      w.put<std::uint8_t>(v.has_pending ? 1 : 0);
      put_entry(w, v.pending);
      auto key = st.absence_keys.find(k);
      w.put_string(key == st.absence_keys.end() ? std::string_view() : std::string_view(key->second));
    }
    w.put<std::uint32_t>(static_cast<std::uint32_t>(st.geo.size()));
    for (const auto& [k, v] : st.geo) {
      w.put<std::uint64_t>(k);
      w.put<std::int64_t>(ms(v.time));
      w.put<float>(v.lat);
      w.put<float>(v.lon);
      w.put_string(v.uuid.str());
    }
    w.put<std::uint32_t>(static_cast<std::uint32_t>(st.first_seen.size()));
    for (const auto& [k, v] : st.first_seen) {
      w.put<std::uint64_t>(k);
      w.put<std::int32_t>(v.first_min);
      w.put<std::int32_t>(v.last_seen_min);
      w.put<std::uint32_t>(static_cast<std::uint32_t>(v.values.size()));
      for (const auto& x : v.values) {
        w.put<std::uint32_t>(x.hash);
        w.put<std::int32_t>(x.last_seen_min);
      }
    }
    w.put<std::uint32_t>(static_cast<std::uint32_t>(st.fired.size()));
    for (const auto& [k, v] : st.fired) {
      w.put<std::uint64_t>(k);
      w.put<std::int64_t>(ms(v));
    }
  }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(impl_->ledger.users().size()));
  for (const auto& [id, u] : impl_->ledger.users()) {
    w.put_string(id);
    w.put<std::uint8_t>(static_cast<std::uint8_t>(u.kind));
    w.put<double>(u.value);
    w.put<std::int64_t>(ms(u.at));
    w.put<std::uint32_t>(static_cast<std::uint32_t>(u.contributions.size()));
    for (const RiskContribution& c : u.contributions) {
      w.put_string(c.detection.view());
      std::array<char, 36> buf;
      w.put_string(c.key.view(buf));
      w.put<double>(c.points);
      w.put<std::int64_t>(ms(c.time));
      w.put<std::uint32_t>(static_cast<std::uint32_t>(c.evidence.size()));
      for (const CompactId& e : c.evidence)
        w.put_string(e.str());
    }
  }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(impl_->responses.size()));
  for (const auto& [k, v] : impl_->responses) {
    w.put_string(k);
    w.put<std::int64_t>(ms(v.last));
    w.put<std::uint32_t>(v.tier);
  }
  return w.take();
}

bool Shard::restore(std::string_view blob, Diagnostics& diagnostics) {
  SnapshotReader r(blob);
  auto fail = [&](std::string_view what) {
    diagnostics.error("snapshot", 0, 0, "", fmt::format("corrupt or incompatible snapshot: {}", what));
    return false;
  };
  for (char c : kMagic) {
    char got = 0;
    if (!r.get(got) || got != c) return fail("bad magic");
  }
  std::uint32_t version = 0;
  if (!r.get(version) || (version != kVersion && version != kVersionFnvKeys))
    return fail(fmt::format("version {} (this build reads {} and {})", version, kVersionFnvKeys, kVersion));
  const bool fnv_keys = version == kVersionFnvKeys;
  // Parse into fresh state, merge only when the whole snapshot read cleanly.
  Impl fresh(impl_->ledger.half_life(), impl_->buffer.lateness());
  fresh.stores.resize(rules_->detections.size());
  std::int64_t now = 0, released = 0;
  std::uint32_t nparts = 0;
  if (!r.get(now) || !r.get(released) || !r.get_count(nparts, 12)) return fail("header");
  std::vector<std::pair<std::int32_t, std::int64_t>> parts(nparts);
  for (auto& [p, t] : parts) {
    if (!r.get(p) || !r.get(t)) return fail("partitions");
  }
  std::uint32_t ndet = 0;
  if (!r.get_count(ndet, 12)) return fail("detections");
  std::size_t kept = 0;
  for (std::uint32_t i = 0; i < ndet; ++i) {
    std::string id;
    std::uint64_t fp = 0;
    if (!r.get_string(id) || !r.get(fp)) return fail("detection header");
    auto idx = rules_->find_detection(id);
    // State of a changed or removed detection is read and dropped; so is state under a key hash
    // this build does not compute.
    bool same = idx && rules_->detections[*idx].fingerprint == fp;
    bool keep = same && !fnv_keys;
    DetectionStore scratch;
    DetectionStore& st = keep ? fresh.stores[*idx] : scratch;
    kept += same ? 1 : 0;
    std::uint32_t n = 0;
    if (!r.get_count(n, 16)) return fail("windows");
    for (std::uint32_t j = 0; j < n; ++j) {
      std::uint64_t k = 0;
      std::int64_t seen = 0;
      WindowState v;
      if (!r.get(k) || !r.get(seen) || !get_entries(r, v.entries)) return fail("window");
      v.last_seen = from_ms(seen);
      // An evidence window's entries name their signal by index (engine.cpp: evidence_points).
      if (keep && rules_->detections[*idx].kind == ConstructKind::evidence)
        for (const WindowEntry& w : v.entries)
          if (w.value >= rules_->detections[*idx].signals.size()) return fail("evidence signal");
      if (owns(k)) st.windows.emplace(k, std::move(v));
    }
    if (!r.get_count(n, 32)) return fail("sequences");
    for (std::uint32_t j = 0; j < n; ++j) {
      std::uint64_t k = 0;
      std::int64_t start = 0, seen = 0;
      SequenceState v;
      if (!r.get(k) || !r.get(v.step) || !r.get(v.count) || !r.get(start) || !r.get(seen) || !get_entries(r, v.first) ||
          !get_entries(r, v.evidence))
        return fail("sequence");
      v.start = from_ms(start);
      v.last_seen = from_ms(seen);
      // A run at the last step has fired and started over: a stored step is always below the count.
      if (keep && v.step >= rules_->detections[*idx].steps.size()) return fail("sequence step");
      if (owns(k)) st.sequences.emplace(k, std::move(v));
    }
    if (!r.get_count(n, 17)) return fail("absences");
    for (std::uint32_t j = 0; j < n; ++j) {
      std::uint64_t k = 0;
      std::int64_t seen = 0;
      std::uint8_t pending = 0;
      AbsenceState v;
      std::string key;
      if (!r.get(k) || !r.get(seen) || !r.get(pending) || !get_entry(r, v.pending) || !r.get_string(key))
        return fail("absence");
      v.last_seen = from_ms(seen);
      v.has_pending = pending != 0;
      if (fnv_keys) {
        // A pending absence names its key: hash it again.
        if (!v.has_pending || key.empty()) continue;
        k = key_hash(key);
      }
      if (!owns(k)) continue;
      DetectionStore& ast = same ? fresh.stores[*idx] : scratch;
      if (same && v.has_pending) {
        fresh.timers.push(AbsenceTimer{v.pending.time + rules_->detections[*idx].within, *idx, k});
        ast.absence_keys.emplace(k, std::move(key));
      }
      ast.absences.emplace(k, std::move(v));
    }
    if (!r.get_count(n, 20)) return fail("geo");
    for (std::uint32_t j = 0; j < n; ++j) {
      std::uint64_t k = 0;
      std::int64_t t = 0;
      GeoState v;
      std::string uuid;
      if (!r.get(k) || !r.get(t) || !r.get(v.lat) || !r.get(v.lon) || !r.get_string(uuid)) return fail("geo");
      v.uuid = CompactId::from(uuid);
      v.time = from_ms(t);
      if (owns(k)) st.geo.emplace(k, std::move(v));
    }
    if (!r.get_count(n, 20)) return fail("first_seen");
    for (std::uint32_t j = 0; j < n; ++j) {
      std::uint64_t k = 0;
      FirstSeenState v;
      std::uint32_t nv = 0;
      if (!r.get(k) || !r.get(v.first_min) || !r.get(v.last_seen_min) || !r.get_count(nv, 8)) return fail("first_seen");
      v.values.resize(nv);
      for (auto& x : v.values) {
        if (!r.get(x.hash) || !r.get(x.last_seen_min)) return fail("first_seen value");
      }
      if (owns(k)) st.first_seen.emplace(k, std::move(v));
    }
    if (!r.get_count(n, 16)) return fail("cooldowns");
    for (std::uint32_t j = 0; j < n; ++j) {
      std::uint64_t k = 0;
      std::int64_t t = 0;
      if (!r.get(k) || !r.get(t)) return fail("cooldown");
      if (owns(k)) st.fired.emplace(k, from_ms(t));
    }
  }
  std::uint32_t nusers = 0;
  if (!r.get_count(nusers, 21)) return fail("users");
  for (std::uint32_t i = 0; i < nusers; ++i) {
    std::string id;
    std::uint8_t kind = 0;
    UserRisk u;
    std::int64_t t = 0;
    std::uint32_t nc = 0;
    if (!r.get_string(id) || !r.get(kind) || !r.get(u.value) || !r.get(t) || !r.get_count(nc, 24) || kind > 2)
      return fail("user");
    u.kind = static_cast<IdentityKind>(kind);
    u.at = from_ms(t);
    for (std::uint32_t j = 0; j < nc; ++j) {
      RiskContribution c;
      std::int64_t ct = 0;
      std::uint32_t ne = 0;
      std::string detection, key;
      if (!r.get_string(detection) || !r.get_string(key) || !r.get(c.points) || !r.get(ct) || !r.get_count(ne, 4))
        return fail("contribution");
      c.key = EntryId(key);
      c.detection = Symbol::intern(detection);
      c.time = from_ms(ct);
      for (std::uint32_t k = 0; k < ne; ++k) {
        std::string e;
        if (!r.get_string(e)) return fail("evidence");
        c.evidence.push_back(CompactId::from(e));
      }
      u.contributions.push_back(std::move(c));
    }
    if (owns(key_hash(id))) fresh.ledger.mutable_users().emplace(std::move(id), std::move(u));
  }
  std::uint32_t nresp = 0;
  if (!r.get_count(nresp, 16)) return fail("responses");
  for (std::uint32_t i = 0; i < nresp; ++i) {
    std::string k;
    std::int64_t t = 0;
    ResponseState v;
    if (!r.get_string(k) || !r.get(t) || !r.get(v.tier)) return fail("response");
    v.last = from_ms(t);
    auto sep = k.find('\x1f');
    if (sep == std::string::npos) return fail("response key");
    if (owns(key_hash(std::string_view(k).substr(sep + 1)))) fresh.responses.emplace(std::move(k), v);
  }
  if (!r.at_end()) return fail("trailing bytes");

  // Merge: several snapshots (taken with another shard count) may be restored into one shard.
  for (std::size_t d = 0; d < impl_->stores.size(); ++d) {
    DetectionStore& dst = impl_->stores[d];
    DetectionStore& src = fresh.stores[d];
    dst.windows.insert(src.windows.begin(), src.windows.end());
    dst.sequences.insert(src.sequences.begin(), src.sequences.end());
    dst.absences.insert(src.absences.begin(), src.absences.end());
    dst.absence_keys.insert(src.absence_keys.begin(), src.absence_keys.end());
    dst.geo.insert(src.geo.begin(), src.geo.end());
    dst.first_seen.insert(src.first_seen.begin(), src.first_seen.end());
    dst.fired.insert(src.fired.begin(), src.fired.end());
    dst.rebuild_advanced();
  }
  impl_->cap_check_in = 0;  // merged keys: count again at the next event
  while (!fresh.timers.empty()) {
    impl_->timers.push(fresh.timers.top());
    fresh.timers.pop();
  }
  for (auto& [id, u] : fresh.ledger.mutable_users())
    impl_->ledger.mutable_users().insert_or_assign(id, std::move(u));
  for (auto& [k, v] : fresh.responses)
    impl_->responses.insert_or_assign(k, v);
  now_ = std::max(now_, from_ms(now));
  impl_->buffer.set_released(std::max(impl_->buffer.released(), from_ms(released)));
  // Partition progress is not restored: partition numbers belong to one run (the daemon numbers
  // Kafka partitions as they first deliver), and a stale entry would hold the watermark forever.
  // The released watermark carries the progress that matters.
  (void)parts;
  if (kept < ndet) {
    diagnostics.warning("snapshot", 0, 0, "",
                        fmt::format("state of {} changed or removed detection(s) was dropped", ndet - kept));
  }
  if (fnv_keys) {
    diagnostics.warning("snapshot", 0, 0, "",
                        "snapshot of version 1 (an earlier key hash): windows, sequences, locations, first-seen "
                        "values and cooldowns were dropped; risk, response history, pending absences and the "
                        "released watermark were kept");
  }
  return true;
}

}  // namespace og::correlator
