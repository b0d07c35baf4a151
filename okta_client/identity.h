#pragma once

// Identity resolution: maps the names events carry (Okta user id, login, email, DOMAIN\user) to Okta
// user ids, from a passive map learned from the log stream, an LRU cache with TTL (negative entries
// too), and single-flight lookups through Lookups; and group names to group ids, resolved once and
// refreshed. See docs/okta-client.md, "Operations and identity", for the normalisation rules.

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "okta_client/lookups.h"

namespace og::okta {

enum class NameKind : std::uint8_t {
  okta_id,   // 00u... : used as is
  login,     // an email-shaped login (user@domain), lower-cased
  unusable,  // empty, control characters, a bare name without a configured domain, ...
};

struct NormalisedName {
  NameKind kind = NameKind::unusable;
  std::string key;  // the id, or the lower-cased login
};

struct IdentityOptions {
  // NetBIOS / AD domain -> login domain: "CORP" -> "corp.example.com" turns CORP\jdoe into
  // jdoe@corp.example.com. Domain names compare case-insensitively.
  std::map<std::string, std::string> windows_domains;
  // Used for DOMAIN\user with an unmapped domain and for bare user names; empty: such names are unusable.
  std::string default_login_domain;

  std::size_t cache_capacity = 100'000;  // resolved and negative entries together
  std::chrono::seconds positive_ttl{3600};
  std::chrono::seconds negative_ttl{300};
  std::size_t learned_capacity = 200'000;
  std::chrono::seconds learned_ttl{24 * 3600};  // logins can be renamed or reassigned
  std::size_t max_pending = 10'000;             // distinct names being looked up at once
  bool search_email_fallback = true;            // a login not found: search profile.email
  std::chrono::seconds group_refresh{3600};

  std::function<std::chrono::steady_clock::time_point()> clock;  // default: steady_clock::now
  LogSink log;
};

NormalisedName normalise_name(std::string_view raw, const IdentityOptions& options);

struct IdentityStats {
  std::uint64_t given_ids = 0;      // the name was an Okta id already
  std::uint64_t learned_hits = 0;   // answered from the passive map
  std::uint64_t cache_hits = 0;     // answered from a cached lookup result
  std::uint64_t negative_hits = 0;  // answered from a cached "not found"
  std::uint64_t lookups = 0;        // single-flight lookups started
  std::uint64_t coalesced = 0;      // callers that joined a lookup already in flight
  std::uint64_t rejected = 0;       // refused: unusable name or too many lookups pending
  std::uint64_t evictions = 0;
  std::size_t cache_size = 0;
  std::size_t learned_size = 0;
};

// Resolves names to Okta user ids. Thread-safe: resolve(), learn(), try_cached() and stats() may be
// called from any thread. A name answered from memory calls back at once on the calling thread; a
// name that needs Okta calls back later on the io_context thread, and never blocks the caller or
// other names. Lookup failures that may heal (transient, rate_limited, forbidden) are not cached.
class IdentityResolver {
 public:
  using Callback = std::function<void(LookupResult<std::string>)>;
  using GroupCallback = std::function<void(LookupResult<OktaGroup>)>;

  IdentityResolver(boost::asio::io_context& io, SendFn send, IdentityOptions options, LookupOptions lookup = {});
  ~IdentityResolver();
  IdentityResolver(const IdentityResolver&) = delete;
  IdentityResolver& operator=(const IdentityResolver&) = delete;

  void resolve(std::string_view name, Callback cb);
  // The answer if it is known without asking Okta; nullopt otherwise (including cached negatives).
  std::optional<std::string> try_cached(std::string_view name);
  // From the log stream: actor/target alternateId (a user's login) <-> id. Ignored unless okta_id is an
  // Okta id. One name is kept per id: an id seen under a new name drops the name learned before (and a
  // cached answer that name -> id), since the old login may have been given to someone else. The
  // latest call wins, whatever the events' own times.
  void learn(std::string_view alternate_id, std::string_view okta_id);

  // Group id by exact name, looked up once and refreshed after group_refresh; on a failed refresh
  // the previous answer is kept (and the failure logged).
  void resolve_group(std::string_view name, GroupCallback cb);

  IdentityStats stats() const;
  std::uint64_t requests_sent() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace og::okta
