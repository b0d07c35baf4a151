#pragma once

// Read operations: users by id, login or search expression, groups by name, a user's groups, with
// pagination through `Link: rel="next"`. All requests have Priority::lookup.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "okta_client/outcome.h"

namespace og::okta {

template <typename T>
using LookupResult = boost::system::result<T, Failure>;

// `attribute eq "value"` for the `search` parameter, with the value escaped so that nothing in it can
// end the string literal (`"` -> `\"`, `\` -> `\\`). The attribute must be a dotted property name
// ([A-Za-z0-9_.]). nullopt when either cannot be expressed safely (control characters, empty).
std::optional<std::string> search_equals(std::string_view attribute, std::string_view value);

// Lower-cases ASCII letters; Okta compares logins and emails case-insensitively.
std::string ascii_lower(std::string_view s);
bool iequals_ascii(std::string_view a, std::string_view b);

struct LookupOptions {
  int page_limit = 200;  // `limit` per page for searches and lists
  int max_pages = 50;    // a longer result is refused (invalid) rather than fetched without end
  LogSink log;
};

// Must be used on the io_context thread that runs the SendFn's handlers; every callback runs exactly
// once on that thread. In-flight lookups keep what they need alive.
class Lookups {
 public:
  template <typename T>
  using Callback = std::function<void(LookupResult<T>)>;

  Lookups(SendFn send, LookupOptions options);

  // GET /api/v1/users/{id}. The id must be an Okta id (alphanumeric, not "me").
  void get_user(std::string user_id, Callback<OktaUser> cb);

  // GET /api/v1/users/{login}, accepted only when the answer's profile.login equals the login
  // (case-insensitively): Okta also matches login short names there, and "me" is the caller itself.
  // Logins Okta cannot take in a path ("/", "me") go through search on profile.login.
  void get_user_by_login(std::string login, Callback<OktaUser> cb);

  // GET /api/v1/users?search=<expression>, every page.
  void search_users(std::string expression, Callback<std::vector<OktaUser>> cb);

  // search=profile.email eq "<email>"; only users whose email equals it (case-insensitively) are kept.
  // DEPROVISIONED users are among them: Okta's search, unlike its plain list, does not omit them.
  void find_users_by_email(std::string email, Callback<std::vector<OktaUser>> cb);

  // GET /api/v1/groups?q=<name>, then an exact (case-sensitive) match on profile.name. Several exact
  // matches: invalid (ambiguous); none: not_found.
  void find_group_by_name(std::string name, Callback<OktaGroup> cb);

  // GET /api/v1/users/{id}/groups, every page.
  void list_user_groups(std::string user_id, Callback<std::vector<OktaGroup>> cb);

  // GET /api/v1/groups/{id}/users?limit=<page_limit>, every page. The id must be an Okta id.
  void list_group_members(std::string group_id, Callback<std::vector<OktaUser>> cb);

  // Requests sent by this object so far (for benchmarks and metrics); readable from any thread.
  std::uint64_t requests_sent() const { return requests_sent_->load(std::memory_order_relaxed); }

 private:
  template <typename T, typename Parse>
  void fetch_pages(std::string target, Parse parse, Callback<std::vector<T>> cb);
  void get(std::string target, std::function<void(LookupResult<Response>)> cb);

  SendFn send_;
  LookupOptions options_;
  std::shared_ptr<std::atomic<std::uint64_t>> requests_sent_ = std::make_shared<std::atomic<std::uint64_t>>(0);
};

}  // namespace og::okta
