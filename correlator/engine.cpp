#include "correlator/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <span>
#include <tuple>

#include "correlator/engine_state.h"

// Inlined: key_hash runs several times per event.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace og::correlator {
namespace {

constexpr double kEarthRadiusKm = 6371.0088;

double haversine_km(double lat1, double lon1, double lat2, double lon2) {
  constexpr double rad = std::numbers::pi / 180.0;
  double dlat = (lat2 - lat1) * rad;
  double dlon = (lon2 - lon1) * rad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * rad) * std::cos(lat2 * rad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(a)));
}

std::int32_t minutes(EventTime t) {
  return static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()).count());
}

bool user_actor(const EntityRef& a, UserRef& out) {
  if (a.identity_kind != IdentityKind::okta_id) {
    const Text& id = a.alternate_id.empty() ? a.id : a.alternate_id;
    if (id.empty()) return false;
    out = UserRef{id.str(), a.identity_kind};
    return true;
  }
  if (a.id.empty()) return false;
  if (!a.type.empty() && a.type.view() != "User") return false;
  out = UserRef{a.id.str(), IdentityKind::okta_id};
  return true;
}

template <typename Entries>
void insert_sorted(Entries& entries, WindowEntry e) {
  auto pos = entries.end();
  while (pos != entries.begin() && std::prev(pos)->time > e.time)
    --pos;
  entries.insert(pos, std::move(e));
}

template <typename Entries>
void trim_before(Entries& entries, EventTime cutoff) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const WindowEntry& e) { return e.time >= cutoff; });
  entries.erase(entries.begin(), it);
}

// Every trim of a window goes through here, and every insertion is followed by one, so `oldest`
// stays a lower bound of the entries' times.
void trim_window(WindowState& st, EventTime cutoff) {
  trim_before(st.entries, cutoff);
  st.oldest = st.entries.empty() ? EventTime::min() : st.entries.front().time;
}

void trim_first(SequenceState& st, EventTime cutoff) {
  trim_before(st.first, cutoff);
  st.first_oldest = st.first.empty() ? EventTime::min() : st.first.front().time;
}

bool condition_holds(const ResponseCondition& c, double risk, std::uint32_t detection, DetectionSeverity sev) {
  switch (c.kind) {
    case ResponseCondition::Kind::risk_at_least:
      return risk >= c.risk;
    case ResponseCondition::Kind::detection:
      return std::find(c.detections.begin(), c.detections.end(), detection) != c.detections.end();
    case ResponseCondition::Kind::severity_at_least:
      return sev >= c.severity;
    case ResponseCondition::Kind::all:
      return std::all_of(c.children.begin(), c.children.end(),
                         [&](const ResponseCondition& x) { return condition_holds(x, risk, detection, sev); });
    case ResponseCondition::Kind::any:
      return std::any_of(c.children.begin(), c.children.end(),
                         [&](const ResponseCondition& x) { return condition_holds(x, risk, detection, sev); });
    case ResponseCondition::Kind::negate:
      return !condition_holds(c.children.front(), risk, detection, sev);
  }
  return false;
}

}  // namespace

std::uint64_t key_hash(std::string_view key) {
  return XXH3_64bits(key.data(), key.size());
}

// The engine's inner loop, written as free functions over the shard so snapshot.cpp can share types.
struct ShardAccess {
  Shard& s;
  Shard::Impl& m;

  const RuleSet& rules() const { return *s.rules_; }

  // The detection's key for this event (then `cur_key()`), and its hash into `hash`; false when absent.
  // Read once per key slot per event; later detections of the slot share the cached view.
  bool cached_key(const DetectionRule& r, const Event& e, std::uint64_t& hash) {
    if (r.key_slot >= m.key_cache.size() || m.key_cache[r.key_slot].event_seq != m.event_seq) read_key(r, e);
    const Shard::Impl::KeyCache& c = m.key_cache[r.key_slot];
    m.key = c.current();
    hash = c.hash;
    return c.present;
  }
  // Out of line, so the cached path (most calls) stays small enough to inline.
  [[gnu::noinline]] void read_key(const DetectionRule& r, const Event& e) {
    if (m.key_cache.size() <= r.key_slot) m.key_cache.resize(std::max<std::size_t>(rules().key_slots, r.key_slot + 1u));
    Shard::Impl::KeyCache& c = m.key_cache[r.key_slot];
    c.event_seq = m.event_seq;
    c.present = key_of(r, e, c);
    if (c.present) c.hash = key_hash(c.current());
  }
  // The key read by the last cached_key (valid while the event is applied).
  std::string_view cur_key() const { return m.key; }

  bool key_of(const DetectionRule& r, const Event& e, Shard::Impl::KeyCache& c) {
    auto usable = [](const FieldView& v) {
      return v.kind != FieldView::Kind::missing && v.kind != FieldView::Kind::null && !v.text.empty();
    };
    if (r.key.size() == 1) {
      FieldView v = read_field(e, r.key[0], 0, m.scratch);
      if (!usable(v)) return false;
      // Numbers are rendered into scratch, which the next read overwrites.
      c.own = v.text.data() >= m.scratch.data() && v.text.data() < m.scratch.data() + m.scratch.size();
      if (c.own)
        c.text.assign(v.text);
      else
        c.view = v.text;
      return true;
    }
    c.text.clear();
    for (std::size_t i = 0; i < r.key.size(); ++i) {
      FieldView v = read_field(e, r.key[i], 0, m.scratch);
      if (!usable(v)) return false;
      if (i) c.text.push_back('\x1f');
      c.text.append(v.text);
    }
    c.own = true;
    return true;
  }

  bool exception_matches(const ExceptionRule& ex, const UserRef* user, const Event* e) {
    if (ex.expires && e && e->published >= *ex.expires) return false;
    if (ex.expires && !e && s.now_ >= *ex.expires) return false;
    if (!ex.users.empty()) {
      // For a response, the decision's user (and, when that user is the event's actor, their login):
      // not whoever else acted, e.g. the admin who granted a role to the user at risk.
      bool hit = false;
      for (const std::string& u : ex.users) {
        if (user)
          hit = hit || user->id == u || (e && e->actor.id == user->id && e->actor.alternate_id == u);
        else
          hit = hit || (e && (e->actor.id == u || e->actor.alternate_id == u));
      }
      if (!hit) return false;
    }
    if (!ex.groups.empty()) {
      if (!s.options_.group_lookup) return false;
      UserRef subject;
      if (user)
        subject = *user;
      else if (!e || !user_actor(e->actor, subject))
        return false;
      bool hit = std::any_of(ex.groups.begin(), ex.groups.end(),
                             [&](const std::string& g) { return s.options_.group_lookup(subject, g); });
      if (!hit) return false;
    }
    if (!ex.ips.empty()) {
      if (!e) return false;
      auto ip = parse_ip(e->client_ip);
      if (!ip || std::none_of(ex.ips.begin(), ex.ips.end(), [&](const Cidr& c) { return c.contains(*ip); }))
        return false;
    }
    if (ex.has_where && (!e || !ex.where.matches(*e))) return false;
    return true;
  }

  bool detection_excepted(std::uint32_t d, const Event& e) {
    for (std::uint32_t x : rules().detection_exceptions[d]) {
      if (exception_matches(rules().exceptions[x], nullptr, &e)) {
        ++m.metrics.excepted;
        return true;
      }
    }
    return false;
  }

  WindowEntry entry(const Event& e, std::uint64_t value = 0) {
    return WindowEntry{e.published, value, EntryId(e.uuid), EntryId(e.actor.id)};
  }
  // For entries kept in a window: the actor only when the detection will need it (key_users, or the
  // user of a detection completed by a deadline or by another detection), saving a copy per event.
  WindowEntry kept_entry(std::uint32_t d, const Event& e, std::uint64_t value = 0) {
    const DetectionRule& r = rules().detections[d];
    bool actor =
        r.risk_to == RiskTo::key_users || r.kind == ConstructKind::absence || r.kind == ConstructKind::evidence;
    return WindowEntry{e.published, value, EntryId(e.uuid), actor ? EntryId(e.actor.id) : EntryId()};
  }

  // -- firing --------------------------------------------------------------------------------
  void fire(std::uint32_t d, const std::string& key, std::uint64_t kh, EventTime t, EventTime start, const Event* e,
            std::span<const WindowEntry> evidence, const std::string* fallback_actor) {
    const DetectionRule& r = rules().detections[d];
    DetectionStore& store = m.stores[d];
    if (r.cooldown.count() > 0) {
      auto it = store.fired.find(kh);
      if (it != store.fired.end() && t - it->second < r.cooldown) return;
      store.fired[kh] = t;
    }
    Detection det;
    det.rule = d;
    det.id = r.id;
    det.key = key;
    det.severity = r.severity;
    det.time = t;
    det.window_start = start;
    det.risk = r.risk;
    std::array<char, 36> buf;
    for (const WindowEntry& w : evidence) {
      if (w.uuid.empty()) continue;
      // Evidence detections store the signal detection's uuids comma-joined.
      std::string_view rest = w.uuid.view(buf);
      while (!rest.empty()) {
        auto comma = rest.find(',');
        det.evidence.emplace_back(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    std::sort(det.evidence.begin(), det.evidence.end());
    det.evidence.erase(std::unique(det.evidence.begin(), det.evidence.end()), det.evidence.end());
    switch (r.risk_to) {
      case RiskTo::actor: {
        UserRef u;
        if (e && user_actor(e->actor, u))
          det.users.push_back(std::move(u));
        else if (!e && fallback_actor && !fallback_actor->empty())
          det.users.push_back(UserRef{*fallback_actor, IdentityKind::okta_id});
        break;
      }
      case RiskTo::targets:
        if (e) {
          for (const EntityRef& t2 : e->targets) {
            if (t2.type.view() == "User" && !t2.id.empty())
              det.users.push_back(UserRef{t2.id.str(), IdentityKind::okta_id});
          }
        }
        break;
      case RiskTo::key:
        det.users.push_back(UserRef{key, IdentityKind::okta_id});
        break;
      case RiskTo::key_users: {
        std::vector<std::string> actors;
        for (const WindowEntry& w : evidence) {
          if (!w.actor.empty()) actors.push_back(w.actor.str());
        }
        std::sort(actors.begin(), actors.end());
        actors.erase(std::unique(actors.begin(), actors.end()), actors.end());
        for (std::string& a : actors)
          det.users.push_back(UserRef{std::move(a), IdentityKind::okta_id});
        break;
      }
    }
    ++m.metrics.detections;
    const std::string client_ip = e ? e->client_ip.str() : std::string();
    for (const UserRef& u : det.users) {
      RiskContribution c{m.detection_symbols[d], key == u.id ? EntryId() : EntryId(key), r.risk, t, {}};
      c.evidence.reserve(std::min(det.evidence.size(), RiskContribution::kMaxEvidence));
      for (std::size_t i = 0; i < det.evidence.size() && i < RiskContribution::kMaxEvidence; ++i)
        c.evidence.push_back(CompactId::from(det.evidence[i]));
      if (s.owns(key_hash(u.id))) {
        double risk = r.risk > 0 ? m.ledger.add(u, std::move(c)) : m.ledger.value(u.id, t);
        respond(u, d, risk, t, e, client_ip, key, det.evidence);
      } else {
        s.foreign_.push_back(ForeignRisk{u, std::move(c), d, r.severity, client_ip, key, det.evidence});
      }
    }
    std::vector<std::string> evidence_ids = det.evidence;
    s.detections_.push_back(std::move(det));
    for (std::uint32_t listener : r.listeners)
      signal_detection(listener, d, key, kh, t, evidence_ids, e);
  }

  void respond(const UserRef& user, std::uint32_t d, double risk, EventTime t, const Event* e,
               const std::string& client_ip, const std::string& key, const std::vector<std::string>& evidence) {
    const RuleSet& rs = rules();
    const DetectionRule& r = rs.detections[d];
    for (std::uint32_t ri = 0; ri < rs.responses.size(); ++ri) {
      const ResponseRule& resp = rs.responses[ri];
      if (!condition_holds(resp.when, risk, d, r.severity)) continue;
      std::string state_key = resp.id;
      state_key.push_back('\x1f');
      state_key += user.id;
      auto it = m.responses.find(state_key);
      if (it != m.responses.end() && t - it->second.last < resp.cooldown) continue;
      bool excepted = false;
      for (std::uint32_t x : rs.response_exceptions[ri]) {
        const ExceptionRule& ex = rs.exceptions[x];
        if (e) {
          excepted = exception_matches(ex, &user, e);
        } else {
          Event stub;
          stub.published = t;
          stub.client_ip = client_ip;
          excepted = !ex.has_where && exception_matches(ex, &user, &stub);
        }
        if (excepted) break;
      }
      if (excepted) {
        ++m.metrics.excepted;
        continue;
      }
      std::uint32_t tier = 0;
      if (it != m.responses.end() && t - it->second.last <= resp.escalation_horizon)
        tier = std::min<std::uint32_t>(it->second.tier + 1, static_cast<std::uint32_t>(resp.tiers.size() - 1));
      m.responses[state_key] = ResponseState{t, tier};
      if (resp.tiers.empty()) continue;
      const std::vector<ActionSpec>& actions = resp.tiers[tier];
      TemplateContext ctx{risk, r.id, r.title, user.id, key, to_string(r.severity)};
      for (std::uint32_t ord = 0; ord < actions.size(); ++ord) {
        const ActionSpec& a = actions[ord];
        Decision dec;
        dec.id = decision_id(resp.id, user, t, ord);
        dec.response = resp.id;
        dec.user = user;
        dec.action = a.kind;
        dec.ttl = a.ttl;
        dec.oauth_tokens = a.oauth_tokens;
        dec.forget_devices = a.forget_devices;
        dec.temp_password = a.temp_password;
        dec.revoke_sessions = a.revoke_sessions;
        dec.send_email = a.kind == ActionKind::reset_password ? a.send_email : false;
        dec.group = a.group;
        dec.group_is_id = a.group_is_id;
        for (const auto& [attr, tmpl] : a.profile)
          dec.profile.emplace_back(attr, render_template(tmpl, ctx));
        dec.level = a.level;
        if (!a.message.empty()) dec.message = render_template(a.message, ctx);
        dec.ordinal = ord;
        dec.tier = tier;
        dec.detections.push_back(r.id);
        dec.evidence = evidence;
        dec.risk = risk;
        dec.time = t;
        ++m.metrics.decisions;
        s.decisions_.push_back(std::move(dec));
      }
    }
  }

  // -- constructs ----------------------------------------------------------------------------
  // The constructs below with a `where` are called only for events it holds for (see apply).
  void single(std::uint32_t d, const Event& e, std::uint64_t kh) {
    if (detection_excepted(d, e)) return;
    std::string key(cur_key());
    std::vector<WindowEntry> ev{entry(e)};
    fire(d, key, kh, e.published, e.published, &e, ev, nullptr);
  }

  void threshold(std::uint32_t d, const Event& e, std::uint64_t kh) {
    const DetectionRule& r = rules().detections[d];
    if (detection_excepted(d, e)) return;
    WindowState& st = m.stores[d].windows[kh];
    st.last_seen = std::max(st.last_seen, e.published);
    insert_sorted(st.entries, kept_entry(d, e));
    trim_window(st, e.published - r.within);
    if (st.entries.size() >= r.count) {
      WindowEntries ev = std::move(st.entries);
      st.entries.clear();
      std::string key(cur_key());
      fire(d, key, kh, e.published, ev.front().time, &e, ev, nullptr);
    }
  }

  void distinct(std::uint32_t d, const Event& e, std::uint64_t kh) {
    const DetectionRule& r = rules().detections[d];
    FieldView v = read_field(e, r.field, 0, m.scratch);
    if (v.kind == FieldView::Kind::missing || v.kind == FieldView::Kind::null || v.text.empty()) return;
    std::uint64_t value = key_hash(v.text);
    if (detection_excepted(d, e)) return;
    WindowState& st = m.stores[d].windows[kh];
    st.last_seen = std::max(st.last_seen, e.published);
    auto same =
        std::find_if(st.entries.begin(), st.entries.end(), [&](const WindowEntry& w) { return w.value == value; });
    if (same != st.entries.end()) {
      if (same->time > e.published) return;  // a late duplicate adds nothing
      st.entries.erase(same);
    }
    insert_sorted(st.entries, kept_entry(d, e, value));
    trim_window(st, e.published - r.within);
    if (st.entries.size() >= r.count) {
      WindowEntries ev = std::move(st.entries);
      st.entries.clear();
      std::string key(cur_key());
      fire(d, key, kh, e.published, ev.front().time, &e, ev, nullptr);
    }
  }

  static void advance_first(const DetectionRule& r, DetectionStore& store, std::uint64_t kh, SequenceState& st) {
    if (st.step != 0 || st.first.size() < r.steps[0].count) return;
    store.advanced.insert(kh);
    st.step = 1;
    st.count = 0;
    auto from = st.first.end() - static_cast<std::ptrdiff_t>(r.steps[0].count);
    st.start = from->time;
    st.evidence.assign(from, st.first.end());
  }

  // m0: the first step's `where` holds for the event.
  void sequence(std::uint32_t d, const Event& e, std::uint64_t kh, bool m0) {
    const DetectionRule& r = rules().detections[d];
    DetectionStore& store = m.stores[d];
    SequenceState* st = nullptr;
    if (m0) {
      if (detection_excepted(d, e)) return;
      st = &store.sequences[kh];
    } else {
      if (!store.advanced.contains(kh)) return;
      auto it = store.sequences.find(kh);
      if (it == store.sequences.end() || it->second.step == 0) return;
      SequenceState& s2 = it->second;
      // A run whose window has passed starts over from its newest step-0 events first, as a sweep
      // would have done: the step awaited then decides whether this event counts, so the outcome
      // does not depend on whether a sweep ran in between.
      if (e.published - s2.start > r.within) {
        trim_first(s2, e.published - r.within);
        s2.step = 0;
        s2.count = 0;
        s2.evidence.clear();
        advance_first(r, store, kh, s2);
      }
      if (s2.step == 0 || s2.step >= r.steps.size() || !r.steps[s2.step].where.matches(e, &m.memo)) return;
      if (detection_excepted(d, e)) return;
      st = &s2;
    }
    EventTime t = e.published;
    st->last_seen = std::max(st->last_seen, t);
    trim_first(*st, t - r.within);
    if (st->step >= 1 && t - st->start > r.within) {
      st->step = 0;
      st->count = 0;
      st->evidence.clear();
      advance_first(r, store, kh, *st);
    }
    bool counted = false;
    if (st->step >= 1 && r.steps[st->step].where.matches(e, &m.memo)) {
      counted = true;
      st->evidence.push_back(kept_entry(d, e));
      if (++st->count >= r.steps[st->step].count) {
        ++st->step;
        st->count = 0;
      }
    }
    if (!counted && m0) {
      insert_sorted(st->first, kept_entry(d, e));
      // Only the newest step-0 events can start a run (advance_first takes the last `count`), and
      // older ones can never become newest again: keeping more only grows the vector that
      // trim_before shifts, without bound for a source that keeps failing while a run is open.
      std::size_t keep = r.steps[0].count;
      if (st->first.size() > keep)
        st->first.erase(st->first.begin(), st->first.end() - static_cast<std::ptrdiff_t>(keep));
      st->first_oldest = st->first.front().time;  // the insert may have been a late, older event
      advance_first(r, store, kh, *st);
    }
    if (st->step >= r.steps.size()) {
      std::vector<WindowEntry> ev = std::move(st->evidence);
      EventTime start = st->start;
      st->evidence.clear();
      st->first.clear();
      st->step = 0;
      st->count = 0;
      std::string key(cur_key());
      fire(d, key, kh, t, start, &e, ev, nullptr);
    }
  }

  void absence(std::uint32_t d, const Event& e, std::uint64_t kh) {
    const DetectionRule& r = rules().detections[d];
    DetectionStore& store = m.stores[d];
    bool then = r.absence_then.matches(e, &m.memo);
    bool first = r.absence_first.matches(e, &m.memo);
    if (!then && !first) return;
    if (detection_excepted(d, e)) return;
    if (then) {
      if (auto it = store.absences.find(kh); it != store.absences.end()) {
        store.absences.erase(it);
        store.absence_keys.erase(kh);
      }
    }
    if (first) {
      AbsenceState& st = store.absences[kh];
      st.last_seen = std::max(st.last_seen, e.published);
      if (!st.has_pending) {
        st.has_pending = true;
        st.pending = kept_entry(d, e);
        store.absence_keys[kh] = std::string(cur_key());
        m.timers.push(AbsenceTimer{e.published + r.within, d, kh});
      }
    }
  }

  void fire_timer(const AbsenceTimer& timer) {
    if (timer.detection >= m.stores.size()) return;
    m.cap_check_in = 0;  // a firing may add keys to listeners outside any event's count
    const DetectionRule& r = rules().detections[timer.detection];
    if (r.kind != ConstructKind::absence) return;
    DetectionStore& store = m.stores[timer.detection];
    auto it = store.absences.find(timer.key);
    if (it == store.absences.end() || !it->second.has_pending) return;
    if (it->second.pending.time + r.within != timer.deadline) return;  // superseded
    std::vector<WindowEntry> ev{it->second.pending};
    std::string key = store.absence_keys[timer.key];
    store.absences.erase(it);
    store.absence_keys.erase(timer.key);
    std::string actor = ev.front().actor.str();
    fire(timer.detection, key, timer.key, timer.deadline, ev.front().time, nullptr, ev, &actor);
  }

  void geo_velocity(std::uint32_t d, const Event& e, std::uint64_t kh) {
    const DetectionRule& r = rules().detections[d];
    if (!e.geo.lat || !e.geo.lon) return;
    if (detection_excepted(d, e)) return;
    auto [it, inserted] = m.stores[d].geo.try_emplace(kh);
    GeoState& st = it->second;
    EventTime t = e.published;
    if (!inserted && t >= st.time && t - st.time <= r.forget_after) {
      double km = haversine_km(st.lat, st.lon, *e.geo.lat, *e.geo.lon);
      double hours = std::chrono::duration<double, std::ratio<3600>>(t - st.time).count();
      double kmh = hours > 0 ? km / hours : std::numeric_limits<double>::infinity();
      if (km >= r.min_km && kmh > r.max_kmh) {
        std::vector<WindowEntry> ev{WindowEntry{st.time, 0, EntryId(st.uuid.str()), EntryId(e.actor.id)}, entry(e)};
        EventTime start = st.time;
        st = GeoState{t, static_cast<float>(*e.geo.lat), static_cast<float>(*e.geo.lon), CompactId::from(e.uuid)};
        std::string key(cur_key());
        fire(d, key, kh, t, start, &e, ev, nullptr);
        return;
      }
    }
    if (inserted || t >= st.time)
      st = GeoState{t, static_cast<float>(*e.geo.lat), static_cast<float>(*e.geo.lon), CompactId::from(e.uuid)};
  }

  void first_seen(std::uint32_t d, const Event& e, std::uint64_t kh) {
    const DetectionRule& r = rules().detections[d];
    FieldView v = read_field(e, r.field, 0, m.scratch);
    if (v.kind == FieldView::Kind::missing || v.kind == FieldView::Kind::null || v.text.empty()) return;
    auto h = static_cast<std::uint32_t>(key_hash(v.text));
    if (detection_excepted(d, e)) return;
    std::int32_t now = minutes(e.published);
    auto [it, inserted] = m.stores[d].first_seen.try_emplace(kh);
    FirstSeenState& st = it->second;
    if (inserted) st.first_min = now;
    st.last_seen_min = std::max(st.last_seen_min, now);
    auto forget = static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::minutes>(r.forget_after).count());
    st.values.erase(std::remove_if(st.values.begin(), st.values.end(),
                                   [&](const FirstSeenState::Value& x) { return now - x.last_seen_min > forget; }),
                    st.values.end());
    // Every value forgotten: the key starts over, learning again, as when a sweep has dropped the
    // state; so the outcome does not depend on whether one ran in between.
    if (!inserted && st.values.empty()) st.first_min = now;
    auto found = std::find_if(st.values.begin(), st.values.end(), [&](const auto& x) { return x.hash == h; });
    if (found != st.values.end()) {
      found->last_seen_min = std::max(found->last_seen_min, now);
      return;
    }
    auto learning = static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::minutes>(r.learning).count());
    bool learned_silently = now - st.first_min < learning;
    if (st.values.size() >= r.max_values) {
      auto oldest = std::min_element(st.values.begin(), st.values.end(),
                                     [](const auto& a, const auto& b) { return a.last_seen_min < b.last_seen_min; });
      st.values.erase(oldest);
    }
    st.values.push_back(FirstSeenState::Value{h, now});
    if (learned_silently) return;
    std::vector<WindowEntry> ev{entry(e)};
    std::string key(cur_key());
    fire(d, key, kh, e.published, e.published, &e, ev, nullptr);
  }

  double evidence_points(const DetectionRule& r, const WindowState& st) {
    double points = 0;
    for (const WindowEntry& w : st.entries)
      points += r.signals[w.value].points;
    return points;
  }

  void add_signal(std::uint32_t d, WindowState& st, std::size_t signal, WindowEntry w) {
    const DetectionRule& r = rules().detections[d];
    st.entries.erase(
        std::remove_if(st.entries.begin(), st.entries.end(), [&](const WindowEntry& x) { return x.value == signal; }),
        st.entries.end());
    w.value = signal;
    insert_sorted(st.entries, std::move(w));
    trim_window(st, st.entries.back().time - r.within);
    st.last_seen = std::max(st.last_seen, st.entries.back().time);
  }

  void evidence_event(std::uint32_t d, const Event& e, std::uint64_t kh) {
    const DetectionRule& r = rules().detections[d];
    bool any = false;
    for (const EvidenceSignal& sig : r.signals) {
      if (!sig.detection && sig.where.matches(e, &m.memo)) any = true;
    }
    if (!any) return;
    if (detection_excepted(d, e)) return;
    WindowState& st = m.stores[d].windows[kh];
    for (std::size_t i = 0; i < r.signals.size(); ++i) {
      if (!r.signals[i].detection && r.signals[i].where.matches(e, &m.memo)) add_signal(d, st, i, kept_entry(d, e));
    }
    trim_window(st, e.published - r.within);
    check_evidence(d, kh, std::string(cur_key()), e.published, &e);
  }

  void signal_detection(std::uint32_t listener, std::uint32_t source, const std::string& key, std::uint64_t kh,
                        EventTime t, const std::vector<std::string>& uuids, const Event* e) {
    const DetectionRule& r = rules().detections[listener];
    WindowState& st = m.stores[listener].windows[kh];
    std::string joined;
    for (const std::string& u : uuids)
      joined += (joined.empty() ? "" : ",") + u;
    for (std::size_t i = 0; i < r.signals.size(); ++i) {
      if (r.signals[i].detection == source)
        add_signal(listener, st, i, WindowEntry{t, 0, EntryId(joined), e ? EntryId(e->actor.id) : EntryId()});
    }
    trim_window(st, t - r.within);
    check_evidence(listener, kh, key, t, e);
  }

  void check_evidence(std::uint32_t d, std::uint64_t kh, const std::string& key, EventTime t, const Event* e) {
    const DetectionRule& r = rules().detections[d];
    WindowState& st = m.stores[d].windows[kh];
    if (st.entries.empty() || evidence_points(r, st) < r.min_points) return;
    WindowEntries ev = std::move(st.entries);
    st.entries.clear();
    std::string k = key;
    std::string actor = e ? std::string() : ev.back().actor.str();
    fire(d, k, kh, t, ev.front().time, e, ev, e ? nullptr : &actor);
  }

  // -- maintenance ---------------------------------------------------------------------------
  void sweep(EventTime now) {
    const RuleSet& rs = rules();
    std::size_t before = 0, after = 0;
    for (std::uint32_t d = 0; d < m.stores.size(); ++d) {
      const DetectionRule& r = rs.detections[d];
      DetectionStore& st = m.stores[d];
      before += st.size();
      const EventTime cutoff = now - r.within;
      boost::unordered::erase_if(st.windows, [&](auto& kv) {
        if (!kv.second.entries.empty() && kv.second.oldest >= cutoff) return false;
        trim_window(kv.second, cutoff);
        return kv.second.entries.empty();
      });
      st.advanced.clear();
      boost::unordered::erase_if(st.sequences, [&](auto& kv) {
        SequenceState& s2 = kv.second;
        if (s2.first.empty() || s2.first_oldest < cutoff) trim_first(s2, cutoff);
        if (s2.step >= 1 && now - s2.start > r.within) {
          s2.step = 0;
          s2.evidence.clear();
          advance_first(r, st, kv.first, s2);
        }
        if (s2.step >= 1) st.advanced.insert(kv.first);
        return s2.step == 0 && s2.first.empty();
      });
      boost::unordered::erase_if(st.geo, [&](auto& kv) { return now - kv.second.time > r.forget_after; });
      auto forget = static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::minutes>(r.forget_after).count());
      std::int32_t now_min = minutes(now);
      boost::unordered::erase_if(st.first_seen, [&](auto& kv) {
        auto& vs = kv.second.values;
        vs.erase(
            std::remove_if(vs.begin(), vs.end(), [&](const auto& x) { return now_min - x.last_seen_min > forget; }),
            vs.end());
        return kv.second.values.empty();
      });
      boost::unordered::erase_if(st.fired, [&](auto& kv) { return now - kv.second >= r.cooldown; });
      after += st.size();
    }
    m.metrics.expired_keys += before - after;
    m.ledger.sweep(now);
    // Open-addressing tables keep their peak capacity; give memory back once they are mostly empty.
    auto shrink = [](auto& map) {
      if (map.bucket_count() > 64 && map.size() < map.bucket_count() / 4) map.rehash(0);
    };
    for (DetectionStore& st : m.stores) {
      shrink(st.windows);
      shrink(st.sequences);
      shrink(st.advanced);
      shrink(st.absences);
      shrink(st.absence_keys);
      shrink(st.geo);
      shrink(st.first_seen);
      shrink(st.fired);
    }
    shrink(m.ledger.mutable_users());
    shrink(m.responses);
    for (const ResponseRule& resp : rs.responses) {
      std::string prefix = resp.id + '\x1f';
      Duration keep = std::max(resp.cooldown, resp.escalation_horizon);
      boost::unordered::erase_if(m.responses, [&](auto& kv) {
        return kv.first.compare(0, prefix.size(), prefix) == 0 && now - kv.second.last > keep;
      });
    }
    evict_if_needed();
  }

  std::size_t tracked() const {
    std::size_t n = 0;
    for (const DetectionStore& st : m.stores)
      n += st.size();
    return n;
  }

  // Evicts once the keys exceed the cap, exactly when a count after every event would.
  void check_cap() {
    if (m.cap_check_in > 0) {
      --m.cap_check_in;
      return;
    }
    std::size_t n = tracked();
    if (n > m.max_keys) {
      // Expired state goes first, as a sweep frees it, so that which live keys are evicted does not
      // depend on when the last sweep ran. The sweep ends by evicting what is still over the cap.
      m.last_sweep = s.now_;
      m.events_since_sweep = 0;
      sweep(s.now_);
      n = tracked();
    }
    const RuleSet& rs = rules();
    std::uint64_t per_event = std::uint64_t{rs.detections.size()} * (rs.key_slots + 1u);
    m.cap_check_in = n < m.max_keys && per_event > 0 ? (m.max_keys - n) / per_event : 0;
  }

  // Past the cap, drop the idlest keys (by last event time) down to 90% of it. Ties are broken by
  // detection, table and key hash, a total order: which keys go must not depend on the tables'
  // iteration order, which their insertion and rehash history (or a restore) changes.
  void evict_if_needed() {
    std::size_t n = tracked();
    if (n <= m.max_keys) return;
    enum Table : std::uint8_t { windows, sequences, absences, geo, first_seen };
    using Victim = std::tuple<std::int64_t, std::uint32_t, Table, std::uint64_t>;  // age, detection, table, key
    std::vector<Victim> keys;
    keys.reserve(n);
    auto ms = [](EventTime t) { return t.time_since_epoch().count(); };
    for (std::uint32_t d = 0; d < m.stores.size(); ++d) {
      const DetectionStore& st = m.stores[d];
      for (const auto& kv : st.windows)
        keys.emplace_back(ms(kv.second.last_seen), d, windows, kv.first);
      for (const auto& kv : st.sequences)
        keys.emplace_back(ms(kv.second.last_seen), d, sequences, kv.first);
      for (const auto& kv : st.absences)
        keys.emplace_back(ms(kv.second.last_seen), d, absences, kv.first);
      for (const auto& kv : st.geo)
        keys.emplace_back(ms(kv.second.time), d, geo, kv.first);
      for (const auto& kv : st.first_seen)
        keys.emplace_back(std::int64_t{kv.second.last_seen_min} * 60'000, d, first_seen, kv.first);
    }
    std::size_t drop = n - m.max_keys * 9 / 10;
    std::nth_element(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(drop - 1), keys.end());
    for (std::size_t i = 0; i < drop; ++i) {
      const std::uint64_t key = std::get<3>(keys[i]);
      DetectionStore& st = m.stores[std::get<1>(keys[i])];
      switch (std::get<2>(keys[i])) {
        case windows:
          st.windows.erase(key);
          break;
        case sequences:
          st.sequences.erase(key);
          st.advanced.erase(key);
          break;
        case absences:
          st.absences.erase(key);
          st.absence_keys.erase(key);
          break;
        case geo:
          st.geo.erase(key);
          break;
        case first_seen:
          st.first_seen.erase(key);
          break;
      }
    }
    m.metrics.evicted_keys += drop;
  }

  using Candidate = ApplyCandidate;

  // Loads the state the detection keeps for the key, if any, into the cache. Run for all of an
  // event's candidates before any of them is applied, so that their table lookups (each a cache
  // miss or two with many users) overlap instead of waiting on each other.
  void touch_state(const DetectionRule& r, const DetectionStore& store, std::uint64_t kh, bool first_step) {
    const void* found = nullptr;
    switch (r.kind) {
      case ConstructKind::threshold:
      case ConstructKind::distinct:
      case ConstructKind::evidence:
        if (auto it = store.windows.find(kh); it != store.windows.end()) {
          found = &it->second;
          // Past one entry a window's entries live on the heap: the construct will read them next.
          __builtin_prefetch(it->second.entries.data());
        }
        break;
      case ConstructKind::sequence:
        if (!first_step) return;
        if (auto it = store.sequences.find(kh); it != store.sequences.end()) {
          found = &it->second;
          __builtin_prefetch(it->second.first.data());
        }
        break;
      case ConstructKind::geo_velocity:
        if (auto it = store.geo.find(kh); it != store.geo.end()) found = &it->second;
        break;
      case ConstructKind::first_seen:
        if (auto it = store.first_seen.find(kh); it != store.first_seen.end()) found = &it->second;
        break;
      case ConstructKind::single:
      case ConstructKind::absence:
        return;
    }
    // Keeps the lookup: its only purpose is the load.
    asm volatile("" : : "r"(found) : "memory");
  }

  void apply(const Event& e) {
    const RuleSet& rs = rules();
    advance(e.published);
    s.now_ = std::max(s.now_, e.published);
    ++m.metrics.events;
    ++m.event_seq;
    m.memo.clear(rs.predicate_memo_slots);
    static const std::vector<std::uint32_t> kNone;
    const std::vector<std::uint32_t>* typed = &kNone;
    if (auto it = rs.by_event_type.find(e.event_type); it != rs.by_event_type.end()) typed = &it->second;
    const std::vector<std::uint32_t>& any = rs.any_event_type;
    // First pass: keys and predicates, which read only the event, so evaluating all of them before
    // any state changes decides exactly as evaluating each just before its construct.
    m.candidates.clear();
    std::size_t i = 0, j = 0;
    while (i < typed->size() || j < any.size()) {
      std::uint32_t d;
      if (j >= any.size() || (i < typed->size() && (*typed)[i] < any[j]))
        d = (*typed)[i++];
      else
        d = any[j++];
      const DetectionRule& r = rs.detections[d];
      if (!r.sources.empty() && std::find(r.sources.begin(), r.sources.end(), e.source) == r.sources.end()) continue;
      ++m.metrics.candidate_evaluations;
      // Every construct ignores an event without its key, or with a key another shard owns, so read
      // the key (once per key slot per event) before evaluating the predicates, which cost far more.
      std::uint64_t kh = 0;
      if (!cached_key(r, e, kh)) continue;
      // Another shard evaluates this detection for this key: the predicates need not run here too.
      if (!s.owns(kh)) continue;
      bool first_step = false;
      switch (r.kind) {
        case ConstructKind::single:
        case ConstructKind::threshold:
        case ConstructKind::distinct:
        case ConstructKind::geo_velocity:
        case ConstructKind::first_seen:
          if (!r.where.matches(e, &m.memo)) continue;
          break;
        case ConstructKind::sequence:
          first_step = r.steps[0].where.matches(e, &m.memo);
          break;
        case ConstructKind::absence:
        case ConstructKind::evidence:
          break;
      }
      m.candidates.push_back(Candidate{d, r.key_slot, kh, first_step});
    }
    for (const Candidate& c : m.candidates)
      touch_state(rs.detections[c.detection], m.stores[c.detection], c.key_hash, c.first_step);
    // Second pass: the constructs, in detection order. cur_key() is the candidate's key text.
    for (const Candidate& c : m.candidates) {
      const std::uint32_t d = c.detection;
      const std::uint64_t kh = c.key_hash;
      m.key = m.key_cache[c.key_slot].current();
      switch (rs.detections[d].kind) {
        case ConstructKind::single:
          single(d, e, kh);
          break;
        case ConstructKind::threshold:
          threshold(d, e, kh);
          break;
        case ConstructKind::distinct:
          distinct(d, e, kh);
          break;
        case ConstructKind::sequence:
          sequence(d, e, kh, c.first_step);
          break;
        case ConstructKind::absence:
          absence(d, e, kh);
          break;
        case ConstructKind::geo_velocity:
          geo_velocity(d, e, kh);
          break;
        case ConstructKind::first_seen:
          first_seen(d, e, kh);
          break;
        case ConstructKind::evidence:
          evidence_event(d, e, kh);
          break;
      }
    }
    maybe_sweep();
  }

  void maybe_sweep() {
    ++m.events_since_sweep;
    check_cap();
    if (s.now_ - m.last_sweep < std::chrono::minutes(1)) return;
    // Amortise: a sweep walks every key, so let as many events pass between sweeps as there are keys
    // (a quarter as many made apply 5-19 % slower in bench/correlate, for 11 % less live state).
    // An hour of event time without one forces it, so a quiet shard still frees its state.
    if (m.events_since_sweep < tracked() && s.now_ - m.last_sweep < std::chrono::hours(1)) return;
    m.last_sweep = s.now_;
    m.events_since_sweep = 0;
    sweep(s.now_);
  }

  void advance(EventTime t) {
    while (!m.timers.empty() && m.timers.top().deadline < t) {
      AbsenceTimer timer = m.timers.top();
      m.timers.pop();
      s.now_ = std::max(s.now_, timer.deadline);
      fire_timer(timer);
    }
  }

  void apply_foreign(const ForeignRisk& f) {
    // Not the shard's clock: the other shard may be ahead, and sweeping by its time would cut
    // windows that this shard's buffered events still need.
    double risk = f.contribution.points > 0 ? m.ledger.add(f.user, f.contribution)
                                            : m.ledger.value(f.user.id, f.contribution.time);
    respond(f.user, f.rule, risk, f.contribution.time, nullptr, f.client_ip, f.key, f.evidence);
  }
};

Shard::Shard(std::shared_ptr<const RuleSet> rules, ShardOptions options)
    : rules_(std::move(rules)), options_(std::move(options)) {
  if (options_.shard_count == 0) options_.shard_count = 1;
  impl_ =
      std::make_unique<Impl>(rules_->settings.risk_half_life, options_.lateness.value_or(rules_->settings.lateness));
  impl_->stores.resize(rules_->detections.size());
  for (const DetectionRule& d : rules_->detections)
    impl_->detection_symbols.push_back(Symbol::intern(d.id));
  for (std::size_t i = 0; i < rules_->detections.size(); ++i)
    impl_->stores[i].fingerprint = rules_->detections[i].fingerprint;
  impl_->max_keys = options_.max_tracked_keys.value_or(rules_->settings.max_tracked_keys);
}

Shard::~Shard() = default;

void Shard::push(Event event, std::int32_t partition) {
  push(std::make_shared<const Event>(std::move(event)), partition);
}

void Shard::push(std::shared_ptr<const Event> event, std::int32_t partition) {
  ShardAccess a{*this, *impl_};
  if (!impl_->buffer.push(std::move(event), partition)) {
    // Late: the buffer refused it and left `event` as it was. Apply now, count it.
    ++impl_->metrics.late_events;
    a.apply(*event);
    retire(std::move(event));
    return;
  }
  impl_->buffer.release([&](std::shared_ptr<const Event>&& e) {
    a.apply(*e);
    retire(std::move(e));
  });
  a.advance(impl_->buffer.released());
}

void Shard::observe(std::int32_t partition, EventTime time) {
  ShardAccess a{*this, *impl_};
  impl_->buffer.observe(partition, time);
  impl_->buffer.release([&](std::shared_ptr<const Event>&& e) {
    a.apply(*e);
    retire(std::move(e));
  });
  a.advance(impl_->buffer.released());
}

EventTime Shard::released() const {
  return impl_->buffer.released();
}

void Shard::remove_partition(std::int32_t partition) {
  ShardAccess a{*this, *impl_};
  impl_->buffer.remove_partition(partition);
  impl_->buffer.release([&](std::shared_ptr<const Event>&& e) {
    a.apply(*e);
    retire(std::move(e));
  });
}

void Shard::flush() {
  ShardAccess a{*this, *impl_};
  impl_->buffer.drain([&](std::shared_ptr<const Event>&& e) {
    a.apply(*e);
    retire(std::move(e));
  });
  a.advance(now_);
}

void Shard::apply(const Event& event) {
  ShardAccess a{*this, *impl_};
  a.apply(event);
}

void Shard::advance_time(EventTime time) {
  ShardAccess a{*this, *impl_};
  a.advance(time);
  now_ = std::max(now_, time);
}

void Shard::apply_foreign(const ForeignRisk& risk) {
  ShardAccess a{*this, *impl_};
  a.apply_foreign(risk);
}

std::vector<Detection> Shard::take_detections() {
  return std::exchange(detections_, {});
}
std::vector<Decision> Shard::take_decisions() {
  return std::exchange(decisions_, {});
}
std::vector<ForeignRisk> Shard::take_foreign() {
  return std::exchange(foreign_, {});
}

double Shard::risk(const std::string& user) const {
  return impl_->ledger.value(user, now_);
}

double Shard::risk(const std::string& user, EventTime at) const {
  return impl_->ledger.value(user, at);
}

std::optional<Explanation> Shard::explain(const std::string& user) const {
  const UserRisk* r = impl_->ledger.find(user);
  Explanation out;
  out.user = user;
  out.at = now_;
  if (r) {
    out.risk = impl_->ledger.decay(r->value, r->at, now_);
    for (const RiskContribution& c : r->contributions) {
      std::vector<std::string> evidence;
      for (const CompactId& id : c.evidence)
        evidence.push_back(id.str());
      out.contributions.push_back(Explanation::Item{c.detection.str(), c.key.empty() ? user : c.key.str(), c.points,
                                                    impl_->ledger.decay(c.points, c.time, now_), c.time,
                                                    std::move(evidence)});
    }
  }
  for (const auto& [k, st] : impl_->responses) {
    auto sep = k.find('\x1f');
    if (sep != std::string::npos && k.compare(sep + 1, std::string::npos, user) == 0)
      out.responses.push_back(Explanation::Response{k.substr(0, sep), st.tier, st.last});
  }
  std::sort(out.responses.begin(), out.responses.end(),
            [](const auto& a, const auto& b) { return a.last_fired < b.last_fired; });
  if (!r && out.responses.empty()) return std::nullopt;
  return out;
}

ShardMetrics Shard::metrics() const {
  ShardMetrics m = impl_->metrics;
  ShardAccess a{const_cast<Shard&>(*this), *impl_};
  m.tracked_keys = a.tracked();
  m.tracked_users = impl_->ledger.size();
  m.buffered_events = impl_->buffer.size();
  return m;
}

ReloadReport Shard::reload(std::shared_ptr<const RuleSet> rules) {
  ReloadReport report;
  std::vector<DetectionStore> stores(rules->detections.size());
  for (std::size_t i = 0; i < rules->detections.size(); ++i) {
    const DetectionRule& d = rules->detections[i];
    stores[i].fingerprint = d.fingerprint;
    auto old = rules_->find_detection(d.id);
    if (old && impl_->stores[*old].fingerprint == d.fingerprint) {
      stores[i] = std::move(impl_->stores[*old]);
      ++report.kept;
    }
  }
  report.dropped = rules_->detections.size() - report.kept;
  // Pending absence timers refer to detection indexes of the old set: re-key them.
  std::vector<AbsenceTimer> timers;
  while (!impl_->timers.empty()) {
    AbsenceTimer t = impl_->timers.top();
    impl_->timers.pop();
    if (auto idx = rules->find_detection(rules_->detections[t.detection].id);
        idx && stores[*idx].fingerprint == rules_->detections[t.detection].fingerprint) {
      t.detection = *idx;
      timers.push_back(t);
    }
  }
  for (const AbsenceTimer& t : timers)
    impl_->timers.push(t);
  // Response history is kept for responses whose definition is unchanged.
  boost::unordered::erase_if(impl_->responses, [&](const auto& kv) {
    std::string id = kv.first.substr(0, kv.first.find('\x1f'));
    auto oldr = rules_->find_response(id);
    auto newr = rules->find_response(id);
    return !oldr || !newr || rules_->responses[*oldr].fingerprint != rules->responses[*newr].fingerprint;
  });
  impl_->stores = std::move(stores);
  impl_->cap_check_in = 0;
  impl_->detection_symbols.clear();
  for (const DetectionRule& d : rules->detections)
    impl_->detection_symbols.push_back(Symbol::intern(d.id));
  impl_->ledger.set_half_life(rules->settings.risk_half_life);
  if (!options_.lateness) impl_->buffer.set_lateness(rules->settings.lateness);
  if (!options_.max_tracked_keys) impl_->max_keys = rules->settings.max_tracked_keys;
  rules_ = std::move(rules);
  return report;
}

std::string render_text(const Explanation& e) {
  std::string out = fmt::format("user {}: risk {:.1f} at {} ms\n", e.user, e.risk, e.at.time_since_epoch().count());
  for (const Explanation::Item& c : e.contributions) {
    out += fmt::format("  {} key={} +{:.1f} at {} ms (now {:.1f}); events:", c.detection, c.key, c.points_added,
                       c.time.time_since_epoch().count(), c.points_now);
    for (const std::string& u : c.evidence)
      out += " " + u;
    out += "\n";
  }
  for (const Explanation::Response& r : e.responses) {
    out += fmt::format("  response {} tier {} last fired at {} ms\n", r.response, r.tier + 1,
                       r.last_fired.time_since_epoch().count());
  }
  return out;
}

}  // namespace og::correlator
