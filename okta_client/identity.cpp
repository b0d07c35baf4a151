#include "okta_client/identity.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace og::okta {

namespace {

using Clock = std::chrono::steady_clock;

bool is_user_id(std::string_view s) {
  if (s.size() != 20 || !s.starts_with("00u")) return false;
  for (char c : s) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Bounded LRU map with a per-entry expiry. Not thread-safe: the resolver's mutex guards it.
template <typename V>
class LruCache {
 public:
  // Told of every value that leaves (expired, evicted, erased or overwritten), so that an index kept
  // beside the cache never outlives its entry.
  using DropFn = std::function<void(const std::string& key, const V& value)>;

  explicit LruCache(std::size_t capacity, DropFn on_drop = {})
      : capacity_(capacity == 0 ? 1 : capacity), on_drop_(std::move(on_drop)) {}

  const V* get(const std::string& key, Clock::time_point now) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    if (it->second->expires <= now) {
      drop(it->second);
      order_.erase(it->second);
      index_.erase(it);
      return nullptr;
    }
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->value;
  }

  // Returns the number of entries evicted to make room.
  std::size_t put(const std::string& key, V value, Clock::time_point expires) {
    if (auto it = index_.find(key); it != index_.end()) {
      drop(it->second);
      it->second->value = std::move(value);
      it->second->expires = expires;
      order_.splice(order_.begin(), order_, it->second);
      return 0;
    }
    std::size_t evicted = 0;
    while (order_.size() >= capacity_) {
      drop(std::prev(order_.end()));
      index_.erase(order_.back().key);
      order_.pop_back();
      ++evicted;
    }
    order_.push_front(Entry{key, std::move(value), expires});
    index_.emplace(key, order_.begin());
    return evicted;
  }

  void erase(const std::string& key) {
    if (auto it = index_.find(key); it != index_.end()) {
      drop(it->second);
      order_.erase(it->second);
      index_.erase(it);
    }
  }

  // Erases the entry only when pred(value) holds; the LRU order is left alone.
  template <typename Pred>
  void erase_if(const std::string& key, Pred pred) {
    if (auto it = index_.find(key); it != index_.end() && pred(it->second->value)) erase(key);
  }

  std::size_t size() const { return order_.size(); }

 private:
  struct Entry {
    std::string key;
    V value;
    Clock::time_point expires;
  };
  void drop(typename std::list<Entry>::iterator it) {
    if (on_drop_) on_drop_(it->key, it->value);
  }

  std::size_t capacity_;
  DropFn on_drop_;
  std::list<Entry> order_;
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

// A cached lookup result: the user id, or the reason there is none.
struct Cached {
  std::optional<std::string> user_id;
  Failure failure;
};

bool cacheable(const Failure& f) {
  return f.kind == OutcomeKind::not_found || f.kind == OutcomeKind::invalid;
}

}  // namespace

NormalisedName normalise_name(std::string_view raw, const IdentityOptions& options) {
  const std::string_view s = trim(raw);
  NormalisedName out;
  if (s.empty() || s.size() > 320) return out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return out;
  }
  if (is_user_id(s)) {
    out.kind = NameKind::okta_id;
    out.key = std::string(s);
    return out;
  }
  std::string login;
  if (const auto bs = s.find('\\'); bs != std::string_view::npos) {
    // DOMAIN\user (down-level logon name): the domain part names an AD domain, not a login suffix.
    const std::string_view domain = s.substr(0, bs);
    const std::string_view user = s.substr(bs + 1);
    if (domain.empty() || user.empty() || user.find('\\') != std::string_view::npos ||
        user.find('@') != std::string_view::npos) {
      return out;
    }
    std::string suffix = options.default_login_domain;
    for (const auto& [netbios, dns] : options.windows_domains) {
      if (iequals_ascii(netbios, domain)) {
        suffix = dns;
        break;
      }
    }
    if (suffix.empty()) return out;
    login = fmt::format("{}@{}", user, suffix);
  } else if (const auto at = s.find('@'); at != std::string_view::npos) {
    if (at == 0 || at + 1 == s.size() || s.find('@', at + 1) != std::string_view::npos) return out;
    login = std::string(s);
  } else {
    // A bare name is a login short name at best: Okta would match it ambiguously.
    if (options.default_login_domain.empty()) return out;
    login = fmt::format("{}@{}", s, options.default_login_domain);
  }
  out.kind = NameKind::login;
  out.key = ascii_lower(login);
  return out;
}

struct IdentityResolver::Impl : std::enable_shared_from_this<IdentityResolver::Impl> {
  Impl(boost::asio::io_context& io_ctx, SendFn send, IdentityOptions opts, LookupOptions lookup)
      : io(io_ctx),
        options(std::move(opts)),
        lookups(std::move(send), std::move(lookup)),
        cache(options.cache_capacity),
        learned(options.learned_capacity, [this](const std::string& key, const std::string& id) {
          if (auto it = learned_name.find(id); it != learned_name.end() && it->second == key) learned_name.erase(it);
        }) {
    if (!options.clock) options.clock = [] { return Clock::now(); };
  }

  void log(LogLevel level, const std::string& line) {
    if (options.log) options.log(level, line);
  }

  // Under the mutex: the answer from memory, if any.
  std::optional<LookupResult<std::string>> from_memory(const std::string& key, Clock::time_point now) {
    if (const auto* id = learned.get(key, now)) {
      ++stats.learned_hits;
      return LookupResult<std::string>(*id);
    }
    if (const auto* c = cache.get(key, now)) {
      if (c->user_id) {
        ++stats.cache_hits;
        return LookupResult<std::string>(*c->user_id);
      }
      ++stats.negative_hits;
      return LookupResult<std::string>(c->failure);
    }
    return std::nullopt;
  }

  // On the io thread.
  void start_or_join(const std::string& key, Callback cb) {
    std::unique_lock lock(mutex);
    if (auto hit = from_memory(key, options.clock())) {
      lock.unlock();
      cb(std::move(*hit));
      return;
    }
    if (auto it = pending.find(key); it != pending.end()) {
      ++stats.coalesced;
      it->second.push_back(std::move(cb));
      return;
    }
    if (pending.size() >= options.max_pending) {
      ++stats.rejected;
      lock.unlock();
      Failure f;
      f.kind = OutcomeKind::transient;
      f.detail = "too many identity lookups in flight";
      cb(std::move(f));
      return;
    }
    ++stats.lookups;
    pending[key].push_back(std::move(cb));
    lock.unlock();
    lookup(key);
  }

  void lookup(const std::string& key) {
    auto self = shared_from_this();
    lookups.get_user_by_login(key, [self, key](LookupResult<OktaUser> r) {
      if (r) return self->complete(key, LookupResult<std::string>(std::move(r->id)));
      if (r.error().kind != OutcomeKind::not_found || !self->options.search_email_fallback) {
        return self->complete(key, r.error());
      }
      // Users whose login is not their email are found by email.
      self->lookups.find_users_by_email(key, [self, key](LookupResult<std::vector<OktaUser>> users) {
        if (!users) return self->complete(key, users.error());
        if (users->empty()) {
          Failure f;
          f.kind = OutcomeKind::not_found;
          f.detail = "no user with this login or email";
          return self->complete(key, std::move(f));
        }
        // Search answers include DEPROVISIONED users: a rehire's old account keeps the email, and
        // counting it would make the person ambiguous for good. Only when every match is deprovisioned
        // do they count, as the login lookup also answers with deprovisioned users.
        const auto deprovisioned = [](const OktaUser& u) { return u.status == "DEPROVISIONED"; };
        if (!std::all_of(users->begin(), users->end(), deprovisioned)) std::erase_if(*users, deprovisioned);
        if (users->size() > 1) {
          Failure f;
          f.kind = OutcomeKind::invalid;
          f.detail = fmt::format("{} users share this email", users->size());
          return self->complete(key, std::move(f));
        }
        self->complete(key, LookupResult<std::string>(std::move(users->front().id)));
      });
    });
  }

  void complete(const std::string& key, LookupResult<std::string> result) {
    std::vector<Callback> waiters;
    {
      std::lock_guard lock(mutex);
      const auto now = options.clock();
      if (result) {
        stats.evictions += cache.put(key, Cached{*result, {}}, now + options.positive_ttl);
      } else if (cacheable(result.error())) {
        stats.evictions += cache.put(key, Cached{std::nullopt, result.error()}, now + options.negative_ttl);
      }
      if (auto it = pending.find(key); it != pending.end()) {
        waiters = std::move(it->second);
        pending.erase(it);
      }
    }
    if (!result) log(LogLevel::info, fmt::format("identity {}: {}", key, describe(result.error())));
    for (auto& w : waiters)
      w(result);
  }

  // Groups: io thread only.
  struct GroupEntry {
    std::optional<OktaGroup> group;
    Clock::time_point fetched{};
    std::vector<GroupCallback> waiters;
    bool in_flight = false;
  };

  void group_on_io(const std::string& name, GroupCallback cb) {
    auto& e = groups[name];
    const auto now = options.clock();
    if (e.group && now - e.fetched < options.group_refresh) {
      auto g = *e.group;
      cb(std::move(g));
      return;
    }
    e.waiters.push_back(std::move(cb));
    if (e.in_flight) return;
    e.in_flight = true;
    auto self = shared_from_this();
    lookups.find_group_by_name(name, [self, name](LookupResult<OktaGroup> r) {
      auto& entry = self->groups[name];
      entry.in_flight = false;
      auto waiters = std::move(entry.waiters);
      entry.waiters.clear();
      LookupResult<OktaGroup> answer = r;
      if (r) {
        entry.group = *r;
        entry.fetched = self->options.clock();
      } else if (entry.group) {
        self->log(LogLevel::warning,
                  fmt::format("group {}: refresh failed ({}); keeping {}", name, describe(r.error()), entry.group->id));
        answer = *entry.group;
      }
      for (auto& w : waiters)
        w(answer);
    });
  }

  boost::asio::io_context& io;
  IdentityOptions options;
  Lookups lookups;  // io thread only

  mutable std::mutex mutex;  // guards cache, learned, learned_name, pending, stats
  LruCache<Cached> cache;
  // User id -> the one name learned for it; `learned`'s drop hook keeps it from outliving that entry.
  std::unordered_map<std::string, std::string> learned_name;
  LruCache<std::string> learned;
  std::unordered_map<std::string, std::vector<Callback>> pending;
  IdentityStats stats;

  std::unordered_map<std::string, GroupEntry> groups;  // io thread only
};

IdentityResolver::IdentityResolver(boost::asio::io_context& io, SendFn send, IdentityOptions options,
                                   LookupOptions lookup)
    : impl_(std::make_shared<Impl>(io, std::move(send), std::move(options), std::move(lookup))) {}

IdentityResolver::~IdentityResolver() = default;

void IdentityResolver::resolve(std::string_view name, Callback cb) {
  NormalisedName n = normalise_name(name, impl_->options);
  if (n.kind == NameKind::unusable) {
    {
      std::lock_guard lock(impl_->mutex);
      ++impl_->stats.rejected;
    }
    Failure f;
    f.kind = OutcomeKind::invalid;
    f.detail = "name cannot be resolved to an Okta user";
    cb(std::move(f));
    return;
  }
  if (n.kind == NameKind::okta_id) {
    {
      std::lock_guard lock(impl_->mutex);
      ++impl_->stats.given_ids;
    }
    cb(std::move(n.key));
    return;
  }
  {
    std::unique_lock lock(impl_->mutex);
    if (auto hit = impl_->from_memory(n.key, impl_->options.clock())) {
      lock.unlock();
      cb(std::move(*hit));
      return;
    }
  }
  boost::asio::post(impl_->io, [impl = impl_, key = std::move(n.key), cb = std::move(cb)]() mutable {
    impl->start_or_join(key, std::move(cb));
  });
}

std::optional<std::string> IdentityResolver::try_cached(std::string_view name) {
  NormalisedName n = normalise_name(name, impl_->options);
  if (n.kind == NameKind::okta_id) return n.key;
  if (n.kind == NameKind::unusable) return std::nullopt;
  std::lock_guard lock(impl_->mutex);
  auto hit = impl_->from_memory(n.key, impl_->options.clock());
  if (hit && *hit) return std::move(hit->value());
  return std::nullopt;
}

void IdentityResolver::learn(std::string_view alternate_id, std::string_view okta_id) {
  if (!is_user_id(okta_id)) return;
  NormalisedName n = normalise_name(alternate_id, impl_->options);
  if (n.kind != NameKind::login) return;
  std::string id(okta_id);
  std::lock_guard lock(impl_->mutex);
  auto& im = *impl_;
  // What the log stream names a user by is their login, and a user has one login: the same id under
  // another name means the user was renamed, and the old name may since have gone to someone else.
  // Names are not told apart as login or email here, so two names learned for one user would also
  // displace each other; that costs a lookup, while keeping a stale name gives a wrong answer. Arrival
  // order decides, as learn() is given no event time.
  if (auto it = im.learned_name.find(id); it != im.learned_name.end() && it->second != n.key) {
    const std::string old = it->second;
    im.learned.erase(old);
    im.cache.erase_if(old, [&](const Cached& c) { return c.user_id == id; });
  }
  const auto now = im.options.clock();
  im.stats.evictions += im.learned.put(n.key, id, now + im.options.learned_ttl);
  im.learned_name[id] = n.key;
  im.cache.erase(n.key);  // a stale "not found" must not outlive what the log stream says
}

void IdentityResolver::resolve_group(std::string_view name, GroupCallback cb) {
  boost::asio::post(impl_->io, [impl = impl_, name = std::string(name), cb = std::move(cb)]() mutable {
    impl->group_on_io(name, std::move(cb));
  });
}

IdentityStats IdentityResolver::stats() const {
  std::lock_guard lock(impl_->mutex);
  IdentityStats s = impl_->stats;
  s.cache_size = impl_->cache.size();
  s.learned_size = impl_->learned.size();
  return s;
}

std::uint64_t IdentityResolver::requests_sent() const {
  return impl_->lookups.requests_sent();
}

}  // namespace og::okta
