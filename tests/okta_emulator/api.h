#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/okta_emulator/json.h"
#include "tests/okta_emulator/jwt.h"
#include "tests/okta_emulator/lifecycle.h"
#include "tests/okta_emulator/rate_limiter.h"

namespace og::test::emulator {

// One HTTP request as the server read it. The API below is pure (no sockets, no clocks of its own),
// so the unit tests drive it directly.
struct Request {
  std::string method;
  std::string target;                                        // path?query, as received
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string remote_ip = "127.0.0.1";
  bool tls = false;
  std::int64_t now_ms = 0;  // the emulated org's clock (clock skew applied)
  int in_flight = 1;        // requests being served, this one included (concurrency limit)

  std::string header(std::string_view name) const;
};

struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // empty with 204
};

// Runtime settings: the command line and POST /__emulator/config share these names.
struct Settings {
  std::string token = "test-token";
  std::string oauth_client_id;
  std::string oauth_client_key_path;
  std::int64_t oauth_token_ttl_s = 3600;
  std::int64_t concurrency_limit = 0;  // 0: none
  std::int64_t latency_ms = 0;
  double fault_5xx = 0, fault_reset = 0, fault_stall = 0;
  // The statuses a --fault-5xx answer picks from: Okta's transient errors are 502/503/504 (the SDKs
  // retry 503 and 504). The default stays 500 while okta_transport_test relies on it (it checks that
  // a 500 is not retried); 503 is one --fault-5xx-status away.
  std::vector<unsigned> fault_5xx_statuses{500};
  std::int64_t clock_skew_s = 0;
};

// The rate-limit bucket of a request, named as Okta documents them.
std::string bucket_for(std::string_view method, std::string_view path);
// Every name bucket_for returns: what --rate-limit BUCKET=N accepts.
const std::vector<std::string>& bucket_names();

// Decoded query parameters in the order given ('+' is a space).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);
std::string url_decode(std::string_view s);
std::string url_encode(std::string_view s);

// ISO-8601 UTC with milliseconds, as Okta writes timestamps.
std::string iso_time(std::int64_t epoch_ms);
// Accepts any fraction length and a 'Z' or +00:00 offset; nullopt when not a timestamp.
std::optional<std::int64_t> parse_iso_time(std::string_view s);
std::string http_date(std::int64_t epoch_ms);

struct User {
  std::string id;
  UserStatus status = UserStatus::active;
  Json profile = Json::object();
  std::int64_t created_ms = 0, activated_ms = 0, status_changed_ms = 0, last_login_ms = 0, last_updated_ms = 0,
               password_changed_ms = 0;
  std::string type_id = "oty1emulatordefault0";
  int sessions = 0;
  std::string risk_level = "NONE";
  std::string risk_reason;
  std::string recovery_question;  // empty: none set (Okta then leaves credentials.recovery_question out)
};

struct Group {
  std::string id;
  std::string type = "OKTA_GROUP";
  Json profile = Json::object();
  std::int64_t created_ms = 0, last_updated_ms = 0, last_membership_updated_ms = 0;
  std::vector<std::string> members;  // user ids in the order added
};

struct LogEntry {
  std::int64_t seq = 0;
  std::int64_t published_ms = 0;
  Json event;
};

class Api {
 public:
  explicit Api(Settings settings = {}, std::uint64_t seed = std::random_device{}());

  // Everything under /__emulator/ and the API proper.
  Response handle(const Request& req);

  // Replaces the org from seed JSON (see docs/okta-emulator.md); false and *error on bad input.
  bool seed(const Json& seed, std::string* error);
  // Applies one setting by its command-line name ("latency-ms", "rate-limit" with "bucket=N" ...).
  bool apply_setting(std::string_view name, std::string_view value, std::string* error);

  const Settings& settings() const { return settings_; }
  RateLimiter& rate_limiter() { return limiter_; }
  const std::vector<User>& users() const { return users_; }
  const std::vector<Group>& groups() const { return groups_; }
  const std::vector<LogEntry>& logs() const { return logs_; }

  // Records a request the server answered itself (faults), so introspection still lists it.
  void record(const Request& req, std::string_view fault);
  // The Okta error object and headers for a 5xx fault.
  Response fault_response(const Request& req, unsigned status);
  // One of settings().fault_5xx_statuses, uniformly.
  unsigned pick_fault_status();
  double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  Json state_json() const;
  Json user_json(const User& u, std::string_view base, bool full_links) const;
  Json group_json(const Group& g, std::string_view base) const;

 private:
  struct Ctx;
  Response dispatch_api(Ctx& c);
  Response dispatch_emulator(const Request& req, std::string_view path);

  Response get_user(Ctx& c, std::string_view id_or_login);
  Response list_users(Ctx& c);
  Response update_user(Ctx& c, User& u);
  Response lifecycle(Ctx& c, User& u, std::string_view op);
  Response clear_sessions(Ctx& c, User& u);
  Response get_risk(Ctx& c, User& u);
  Response put_risk(Ctx& c, User& u);
  Response user_groups(Ctx& c, User& u);
  Response list_groups(Ctx& c);
  Response membership(Ctx& c, std::string_view gid, std::string_view uid, bool add);
  Response group_members(Ctx& c, const Group& g);
  Response list_logs(Ctx& c);
  Response oauth_token(const Request& req);

  Response error(Ctx& c, unsigned status, std::string_view code, std::string_view summary,
                 std::vector<std::string> causes = {});
  Response json_response(Ctx& c, unsigned status, const Json& body);
  void add_common_headers(Ctx& c, Response& r);
  // actor null: the API caller (token or OAuth client).
  Json& emit_event(Ctx& c, std::string_view type, std::string_view display, Json targets, Json actor = Json());

  User* find_user(std::string_view id_or_login);
  Group* find_group(std::string_view id);
  bool is_member(const Group& g, const std::string& uid) const;
  std::string random_string(std::size_t n, std::string_view alphabet);
  std::string new_id(std::string_view prefix);
  std::string validate_profile_value(const std::string& name, const Json& value) const;

  Settings settings_;
  Pkey oauth_key_;
  RateLimiter limiter_;
  std::mt19937_64 rng_;
  std::vector<User> users_;
  std::vector<Group> groups_;
  std::map<std::string, std::string> profile_schema_;  // custom attribute -> string|integer|number|boolean
  std::vector<LogEntry> logs_;
  std::int64_t next_log_seq_ = 1;
  Json requests_ = Json::array();
  Json temp_passwords_ = Json::array();
  Json reset_urls_ = Json::array();
  std::map<std::string, std::pair<std::int64_t, std::string>> access_tokens_;  // token -> expiry ms, scope
};

}  // namespace og::test::emulator
