#include "tests/okta_emulator/api.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>
#include <limits>
#include <set>

#include "tests/okta_emulator/search_expr.h"

namespace og::test::emulator {
namespace {

constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kHex = "0123456789abcdef";

// Base profile attributes (UserProfile in the spec): all strings. login and email cannot be null.
const std::set<std::string>& base_attributes() {
  static const std::set<std::string> k{
      "city",        "costCenter",     "countryCode",   "department",        "displayName",     "division",
      "email",       "employeeNumber", "firstName",     "honorificPrefix",   "honorificSuffix", "lastName",
      "locale",      "login",          "manager",       "managerId",         "middleName",      "mobilePhone",
      "nickName",    "organization",   "postalAddress", "preferredLanguage", "primaryPhone",    "profileUrl",
      "secondEmail", "state",          "streetAddress", "timezone",          "title",           "userType",
      "zipCode"};
  return k;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(url_decode(path.substr(i, j - i)));
    i = j;
  }
  return out;
}

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Json href(std::string url) {
  Json o = Json::object();
  o.set("href", std::move(url));
  return o;
}

Json href_post(std::string url) {
  Json o = href(std::move(url));
  o.set("method", "POST");
  return o;
}

}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

std::string bucket_for(std::string_view method, std::string_view path) {
  // Okta's management rate limits (developer.okta.com/docs/reference/rl-global-mgmt) name these
  // endpoint families; anything else under /api/v1 shares "Most other API actions".
  if (path.rfind("/oauth2/", 0) == 0) return "oauth2-token";
  if (path.rfind("/api/v1/logs", 0) == 0) return "logs";
  auto segments = [&](std::string_view prefix) {
    if (path.size() <= prefix.size()) return 0;  // the collection itself
    std::string_view rest = path.substr(prefix.size());
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.empty()) return 0;
    return 1 + static_cast<int>(std::count(rest.begin(), rest.end(), '/'));
  };
  if (path == "/api/v1/groups" || path.rfind("/api/v1/groups/", 0) == 0) {
    // "Get, update, or delete a group by ID: /api/v1/groups/{id} only"; the rest (list, members,
    // membership changes) is "Create or list groups: /api/v1/groups except /api/v1/groups/{id}".
    return segments("/api/v1/groups/") == 1 ? "groups-id" : "groups";
  }
  if (path == "/api/v1/users" || path.rfind("/api/v1/users/", 0) == 0) {
    int n = segments("/api/v1/users/");
    if (n == 0) return "users";                         // "Create or list users: GET or POST /api/v1/users"
    if (n == 1 && method == "GET") return "users-get";  // "Get a user by ID or sign in: GET /api/v1/users/{idOrLogin}"
    // "Update or delete a user by ID: POST, PUT or DELETE /api/v1/users/{id}"; the user's
    // sub-resources (lifecycle, sessions, risk, groups) count there too: the recorded Okta answers
    // carry this bucket's limit (600 in a Workforce org) on them, not the catch-all's (1200).
    return "users-id";
  }
  return "default";
}

const std::vector<std::string>& bucket_names() {
  static const std::vector<std::string> names = {"users",     "users-get", "users-id",     "groups",
                                                 "groups-id", "logs",      "oauth2-token", "default"};
  return names;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
      } else {
        out.push_back('%');
      }
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned>(c));
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    if (!part.empty()) {
      auto eq = part.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(url_decode(part), "");
      } else {
        out.emplace_back(url_decode(part.substr(0, eq)), url_decode(part.substr(eq + 1)));
      }
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string iso_time(std::int64_t epoch_ms) {
  std::time_t secs = static_cast<std::time_t>(epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000);
  std::int64_t ms = epoch_ms - static_cast<std::int64_t>(secs) * 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::optional<std::int64_t> parse_iso_time(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+00:00)
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
    return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) { return to_int(s.substr(pos, len)); };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !se) return std::nullopt;
  std::size_t i = 19;
  std::int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 3; ++k)
      ms *= 10;
  }
  std::int64_t offset_s = 0;
  if (i < s.size()) {
    if (s[i] == 'Z' && i + 1 == s.size()) {
    } else if ((s[i] == '+' || s[i] == '-') && s.size() - i == 6 && s[i + 3] == ':') {
      auto oh = num(i + 1, 2), om = num(i + 4, 2);
      if (!oh || !om) return std::nullopt;
      offset_s = (*oh * 3600 + *om * 60) * (s[i] == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
  }
  using namespace std::chrono;
  auto ymd =
      year_month_day{year{static_cast<int>(*y)}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  std::int64_t days = sys_days{ymd}.time_since_epoch().count();
  return ((days * 86400 + *h * 3600 + *mi * 60 + *se) - offset_s) * 1000 + ms;
}

std::string http_date(std::int64_t epoch_ms) {
  std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Per-request context: parsed target, the org's base URL as the client sees it, rate-limit verdict.
struct Api::Ctx {
  const Request& req;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string base;
  std::string bucket;
  RateLimiter::Decision rl;
  std::string request_id;
  std::string actor;  // "SSWS" or the OAuth client id

  std::optional<std::string> param(std::string_view name) const {
    for (const auto& [k, v] : query)
      if (k == name) return v;
    return std::nullopt;
  }
};

Api::Api(Settings settings, std::uint64_t seed) : settings_(std::move(settings)), rng_(seed) {
  if (!settings_.oauth_client_key_path.empty()) oauth_key_ = load_public_key_pem_file(settings_.oauth_client_key_path);
}

std::string Api::random_string(std::size_t n, std::string_view alphabet) {
  std::uniform_int_distribution<std::size_t> d(0, alphabet.size() - 1);
  std::string s;
  for (std::size_t i = 0; i < n; ++i)
    s.push_back(alphabet[d(rng_)]);
  return s;
}

std::string Api::new_id(std::string_view prefix) {
  return std::string(prefix) + random_string(17, kAlnum);
}

User* Api::find_user(std::string_view id_or_login) {
  for (auto& u : users_)
    if (u.id == id_or_login) return &u;
  auto want = lower(id_or_login);
  for (auto& u : users_)
    if (lower(u.profile.get_string("login")) == want) return &u;
  // Login shortname, when unambiguous.
  User* found = nullptr;
  for (auto& u : users_) {
    auto login = lower(u.profile.get_string("login"));
    if (login.substr(0, login.find('@')) == want) {
      if (found) return nullptr;
      found = &u;
    }
  }
  return found;
}

Group* Api::find_group(std::string_view id) {
  for (auto& g : groups_)
    if (g.id == id) return &g;
  return nullptr;
}

bool Api::is_member(const Group& g, const std::string& uid) const {
  // Okta's built-in Everyone group holds every user.
  if (g.type == "BUILT_IN" && g.profile.get_string("name") == "Everyone") return true;
  return std::find(g.members.begin(), g.members.end(), uid) != g.members.end();
}

bool Api::seed(const Json& seed, std::string* error) {
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return false;
  };
  if (!seed.is_object()) return fail("seed must be a JSON object");
  std::vector<User> users;
  std::vector<Group> groups;
  std::map<std::string, std::string> schema;
  if (const Json* ps = seed.find("profileSchema")) {
    if (!ps->is_object()) return fail("profileSchema must be an object");
    for (const auto& [name, type] : ps->as_object()) {
      if (!type.is_string() || (type.as_string() != "string" && type.as_string() != "integer" &&
                                type.as_string() != "number" && type.as_string() != "boolean"))
        return fail("profileSchema." + name + ": type must be string, integer, number or boolean");
      if (base_attributes().count(name)) return fail("profileSchema." + name + " redefines a base attribute");
      schema[name] = type.as_string();
    }
  }
  // A fixed epoch for seeded timestamps keeps state dumps reproducible.
  const std::int64_t seeded_at = 1704067200000;  // 2024-01-01T00:00:00Z
  if (const Json* us = seed.find("users")) {
    if (!us->is_array()) return fail("users must be an array");
    for (const auto& ju : us->as_array()) {
      User u;
      u.id = ju.get_string("id");
      if (u.id.empty()) u.id = new_id("00u");
      auto st = parse_status(ju.get_string("status", "ACTIVE"));
      if (!st) return fail("user " + u.id + ": unknown status '" + ju.get_string("status") + "'");
      u.status = *st;
      const Json* prof = ju.find("profile");
      if (!prof || !prof->is_object()) return fail("user " + u.id + ": profile object required");
      if (prof->get_string("login").empty()) return fail("user " + u.id + ": profile.login required");
      // Okta always answers with these base attributes, null when unset.
      Json p = Json::object();
      for (const char* k : {"firstName", "lastName", "mobilePhone", "secondEmail", "login", "email"}) {
        const Json* v = prof->find(k);
        p.set(k, v ? *v : Json());
      }
      if (p.find("email")->is_null()) p.set("email", prof->get_string("login"));
      for (const auto& [k, v] : prof->as_object()) {
        if (!base_attributes().count(k) && !schema.count(k))
          return fail("user " + u.id + ": profile." + k + " is not in profileSchema");
        p.set(k, v);
      }
      u.profile = std::move(p);
      u.created_ms = u.last_updated_ms = u.status_changed_ms = u.password_changed_ms = seeded_at;
      if (u.status != UserStatus::staged && u.status != UserStatus::provisioned) u.activated_ms = seeded_at;
      // Optional timestamps (ISO-8601 or null), so a seed can reproduce a recorded user exactly:
      // Okta leaves e.g. activated or statusChanged null for users that never went through that step.
      for (auto [key, field] :
           {std::pair{"created", &u.created_ms}, std::pair{"activated", &u.activated_ms},
            std::pair{"statusChanged", &u.status_changed_ms}, std::pair{"lastLogin", &u.last_login_ms},
            std::pair{"lastUpdated", &u.last_updated_ms}, std::pair{"passwordChanged", &u.password_changed_ms}}) {
        const Json* t = ju.find(key);
        if (!t) continue;
        if (t->is_null() && key != std::string_view("created") && key != std::string_view("lastUpdated")) {
          *field = 0;
          continue;
        }
        auto ms = t->is_string() ? parse_iso_time(t->as_string()) : std::nullopt;
        if (!ms)
          return fail("user " + u.id + ": " + key + " must be an ISO-8601 timestamp" +
                      (key == std::string_view("created") || key == std::string_view("lastUpdated") ? "" : " or null"));
        *field = *ms;
      }
      if (const Json* q = ju.find("recoveryQuestion")) {
        if (!q->is_string()) return fail("user " + u.id + ": recoveryQuestion must be a string");
        u.recovery_question = q->as_string();
      }
      if (const Json* s = ju.find("sessions"); s && s->is_integer()) u.sessions = static_cast<int>(s->as_int());
      if (const Json* r = ju.find("riskLevel"); r && r->is_string()) u.risk_level = r->as_string();
      for (const auto& other : users)
        if (other.id == u.id || lower(other.profile.get_string("login")) == lower(u.profile.get_string("login")))
          return fail("user " + u.id + ": duplicate id or login");
      users.push_back(std::move(u));
    }
  }
  if (const Json* gs = seed.find("groups")) {
    if (!gs->is_array()) return fail("groups must be an array");
    for (const auto& jg : gs->as_array()) {
      Group g;
      g.id = jg.get_string("id");
      if (g.id.empty()) g.id = new_id("00g");
      g.type = jg.get_string("type", "OKTA_GROUP");
      if (g.type != "OKTA_GROUP" && g.type != "APP_GROUP" && g.type != "BUILT_IN")
        return fail("group " + g.id + ": type must be OKTA_GROUP, APP_GROUP or BUILT_IN");
      const Json* prof = jg.find("profile");
      if (!prof || !prof->is_object() || prof->get_string("name").empty())
        return fail("group " + g.id + ": profile.name required");
      g.profile = *prof;
      if (!g.profile.find("description")) g.profile.set("description", Json());
      g.created_ms = g.last_updated_ms = g.last_membership_updated_ms = seeded_at;
      groups.push_back(std::move(g));
    }
  }
  if (const Json* ms = seed.find("memberships")) {
    if (!ms->is_array()) return fail("memberships must be an array");
    for (const auto& m : ms->as_array()) {
      auto gid = m.get_string("groupId"), uid = m.get_string("userId");
      auto git = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.id == gid; });
      auto uit = std::find_if(users.begin(), users.end(), [&](const User& u) { return u.id == uid; });
      if (git == groups.end() || uit == users.end()) return fail("membership " + gid + "/" + uid + ": unknown id");
      if (std::find(git->members.begin(), git->members.end(), uid) == git->members.end()) git->members.push_back(uid);
    }
  }
  users_ = std::move(users);
  groups_ = std::move(groups);
  profile_schema_ = std::move(schema);
  temp_passwords_ = Json::array();
  reset_urls_ = Json::array();
  return true;
}

bool Api::apply_setting(std::string_view raw_name, std::string_view value, std::string* error) {
  std::string name(raw_name);
  std::replace(name.begin(), name.end(), '_', '-');
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return false;
  };
  auto as_int = [&](std::int64_t& out) {
    auto v = to_int(value);
    if (!v || *v < 0) return fail(name + ": expected a non-negative integer, got '" + std::string(value) + "'");
    out = *v;
    return true;
  };
  auto as_prob = [&](double& out) {
    double d = -1;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), d);
    if (ec != std::errc() || p != value.data() + value.size() || d < 0 || d > 1)
      return fail(name + ": expected a probability in [0,1], got '" + std::string(value) + "'");
    out = d;
    return true;
  };
  if (name == "token") {
    settings_.token = std::string(value);
    return true;
  }
  if (name == "oauth-client-id") {
    settings_.oauth_client_id = std::string(value);
    return true;
  }
  if (name == "oauth-client-key") {
    auto key = load_public_key_pem_file(std::string(value));
    if (!key) return fail("oauth-client-key: cannot read a PEM public key from '" + std::string(value) + "'");
    settings_.oauth_client_key_path = std::string(value);
    oauth_key_ = std::move(key);
    return true;
  }
  if (name == "oauth-token-ttl") return as_int(settings_.oauth_token_ttl_s);
  if (name == "concurrency-limit") return as_int(settings_.concurrency_limit);
  if (name == "latency-ms") return as_int(settings_.latency_ms);
  if (name == "fault-5xx") return as_prob(settings_.fault_5xx);
  if (name == "fault-5xx-status") {
    // "503" or a comma-separated list such as "502,503,504"; replaces the previous list.
    std::vector<unsigned> statuses;
    std::string_view rest = value;
    while (true) {
      auto comma = rest.find(',');
      auto v = to_int(rest.substr(0, comma));
      if (!v || *v < 500 || *v > 599)
        return fail("fault-5xx-status: expected 5xx statuses such as 503 or 502,503,504, got '" + std::string(value) +
                    "'");
      statuses.push_back(static_cast<unsigned>(*v));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    settings_.fault_5xx_statuses = std::move(statuses);
    return true;
  }
  if (name == "fault-reset") return as_prob(settings_.fault_reset);
  if (name == "fault-stall") return as_prob(settings_.fault_stall);
  if (name == "clock-skew-s") {
    auto v = to_int(value);
    if (!v) return fail("clock-skew-s: expected an integer");
    settings_.clock_skew_s = *v;
    return true;
  }
  if (name == "rate-limit") {
    auto eq = value.find('=');
    if (eq == std::string_view::npos || eq == 0) return fail("rate-limit: expected BUCKET=N");
    auto n = to_int(value.substr(eq + 1));
    if (!n || *n < 0) return fail("rate-limit: expected BUCKET=N with N >= 0");
    std::string bucket(value.substr(0, eq));
    // A misspelt (or renamed) bucket would silently limit nothing.
    const auto& known = bucket_names();
    if (std::find(known.begin(), known.end(), bucket) == known.end())
      return fail("rate-limit: unknown bucket '" + bucket + "' (" + fmt::format("{}", fmt::join(known, ", ")) + ")");
    limiter_.set_limit(bucket, *n);
    return true;
  }
  return fail("unknown setting '" + std::string(raw_name) + "'");
}

void Api::record(const Request& req, std::string_view fault) {
  auto q = req.target.find('?');
  Json r = Json::object();
  r.set("method", req.method);
  r.set("path", req.target.substr(0, q));
  r.set("query", q == std::string::npos ? std::string() : req.target.substr(q + 1));
  Json h = Json::object();
  for (const auto& [k, v] : req.headers) {
    if (k == "authorization") {
      // Tests assert the scheme; the secret stays out of the log.
      h.set(k, v.substr(0, v.find(' ')));
    } else {
      h.set(k, v);
    }
  }
  r.set("headers", std::move(h));
  r.set("body", req.body);
  r.set("time", iso_time(req.now_ms));
  if (!fault.empty()) r.set("fault", std::string(fault));
  requests_.push_back(std::move(r));
}

void Api::add_common_headers(Ctx& c, Response& r) {
  r.headers.emplace_back("Date", http_date(c.req.now_ms));
  r.headers.emplace_back("X-Okta-Request-Id", c.request_id);
  r.headers.emplace_back("X-Rate-Limit-Limit", std::to_string(c.rl.limit));
  r.headers.emplace_back("X-Rate-Limit-Remaining", std::to_string(c.rl.remaining));
  r.headers.emplace_back("X-Rate-Limit-Reset", std::to_string(c.rl.reset_epoch_s));
  r.headers.emplace_back("Cache-Control", "no-cache, no-store");
}

Response Api::json_response(Ctx& c, unsigned status, const Json& body) {
  Response r;
  r.status = status;
  add_common_headers(c, r);
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump();
  return r;
}

Response Api::error(Ctx& c, unsigned status, std::string_view code, std::string_view summary,
                    std::vector<std::string> causes) {
  Json e = Json::object();
  e.set("errorCode", std::string(code));
  e.set("errorSummary", std::string(summary));
  e.set("errorLink", std::string(code));
  e.set("errorId", "oae" + random_string(22, kAlnum));
  Json cs = Json::array();
  for (auto& cause : causes) {
    Json o = Json::object();
    o.set("errorSummary", std::move(cause));
    cs.push_back(std::move(o));
  }
  e.set("errorCauses", std::move(cs));
  return json_response(c, status, e);
}

Response Api::fault_response(const Request& req, unsigned status) {
  Ctx c{req, {}, {}, {}, {}, {}, random_string(32, kHex), {}};
  c.rl.limit = limiter_.limit(bucket_for(req.method, req.target.substr(0, req.target.find('?'))));
  c.rl.remaining = c.rl.limit;
  c.rl.reset_epoch_s = req.now_ms / 1000 + 60;
  // Okta documents E0000009 for its 500s only; the body of a 502/503/504 (from Okta's edge) is not
  // documented, so it keeps the error object clients parse, with the status's reason phrase.
  std::string_view summary = status == 502   ? "Bad Gateway"
                             : status == 503 ? "Service Unavailable"
                             : status == 504 ? "Gateway Timeout"
                                             : "Internal Server Error";
  return error(c, status, "E0000009", summary);
}

unsigned Api::pick_fault_status() {
  const auto& s = settings_.fault_5xx_statuses;
  if (s.empty()) return 500;
  return s[std::uniform_int_distribution<std::size_t>(0, s.size() - 1)(rng_)];
}

Json Api::user_json(const User& u, std::string_view base, bool full_links) const {
  auto ts = [](std::int64_t ms) { return ms ? Json(iso_time(ms)) : Json(); };
  std::string self = fmt::format("{}/api/v1/users/{}", base, u.id);
  Json j = Json::object();
  j.set("id", u.id);
  j.set("status", std::string(to_string(u.status)));
  j.set("created", iso_time(u.created_ms));
  j.set("activated", ts(u.activated_ms));
  j.set("statusChanged", ts(u.status_changed_ms));
  j.set("lastLogin", ts(u.last_login_ms));
  j.set("lastUpdated", iso_time(u.last_updated_ms));
  j.set("passwordChanged", ts(u.password_changed_ms));
  Json type = Json::object();
  type.set("id", u.type_id);
  j.set("type", std::move(type));
  j.set("profile", u.profile);
  Json cred = Json::object();
  cred.set("password", Json::object());
  Json emails = Json::array();
  Json email = Json::object();
  email.set("value", u.profile.get_string("email"));
  email.set("status", "VERIFIED");
  email.set("type", "PRIMARY");
  emails.push_back(std::move(email));
  cred.set("emails", std::move(emails));
  Json provider = Json::object();
  provider.set("type", "OKTA");
  provider.set("name", "OKTA");
  cred.set("provider", std::move(provider));
  if (!u.recovery_question.empty()) {
    Json rq = Json::object();
    rq.set("question", u.recovery_question);
    cred.set("recovery_question", std::move(rq));
  }
  j.set("credentials", std::move(cred));
  Json links = Json::object();
  if (full_links) {
    // The links Okta offers depend on the status: they name the transitions allowed from it.
    auto lc = [&](std::string_view op) { return href_post(fmt::format("{}/lifecycle/{}", self, op)); };
    switch (u.status) {
      case UserStatus::active:
      case UserStatus::password_expired:
      case UserStatus::recovery:
        links.set("suspend", lc("suspend"));
        links.set("resetPassword", lc("reset_password"));
        links.set("expirePassword", lc("expire_password"));
        links.set("forgotPassword", href_post(self + "/credentials/forgot_password"));
        links.set("changeRecoveryQuestion", href_post(self + "/credentials/change_recovery_question"));
        links.set("resetFactors", lc("reset_factors"));
        links.set("changePassword", href_post(self + "/credentials/change_password"));
        links.set("deactivate", lc("deactivate"));
        break;
      case UserStatus::locked_out:
        links.set("unlock", lc("unlock"));
        links.set("resetPassword", lc("reset_password"));
        links.set("expirePassword", lc("expire_password"));
        links.set("deactivate", lc("deactivate"));
        break;
      case UserStatus::suspended:
        links.set("unsuspend", lc("unsuspend"));
        links.set("resetFactors", lc("reset_factors"));
        links.set("deactivate", lc("deactivate"));
        break;
      case UserStatus::staged:
        // Recorded: a STAGED user offers no deactivate link (only activate, and reset_factors in
        // current releases).
        links.set("activate", lc("activate"));
        links.set("resetFactors", lc("reset_factors"));
        break;
      case UserStatus::provisioned:
        links.set("activate", lc("activate"));
        links.set("deactivate", lc("deactivate"));
        break;
      case UserStatus::deprovisioned:
        links.set("activate", lc("activate"));
        break;
    }
    links.set("schema", href(fmt::format("{}/api/v1/meta/schemas/user/osc1emulatordefault0", base)));
    links.set("type", href(fmt::format("{}/api/v1/meta/types/user/{}", base, u.type_id)));
  }
  links.set("self", href(self));
  j.set("_links", std::move(links));
  return j;
}

Json Api::group_json(const Group& g, std::string_view base) const {
  Json j = Json::object();
  j.set("id", g.id);
  j.set("created", iso_time(g.created_ms));
  j.set("lastUpdated", iso_time(g.last_updated_ms));
  j.set("lastMembershipUpdated", iso_time(g.last_membership_updated_ms));
  Json oc = Json::array();
  oc.push_back(g.type == "APP_GROUP" ? "okta:windows_security_principal" : "okta:user_group");
  j.set("objectClass", std::move(oc));
  j.set("type", g.type);
  j.set("profile", g.profile);
  Json links = Json::object();
  Json logo = Json::array();
  for (const char* size : {"medium", "large"}) {
    Json l = Json::object();
    l.set("name", size);
    l.set("href", fmt::format("{}/assets/img/logos/groups/okta-{}.png", base, size));
    l.set("type", "image/png");
    logo.push_back(std::move(l));
  }
  links.set("logo", std::move(logo));
  links.set("users", href(fmt::format("{}/api/v1/groups/{}/users", base, g.id)));
  links.set("apps", href(fmt::format("{}/api/v1/groups/{}/apps", base, g.id)));
  j.set("_links", std::move(links));
  return j;
}

Json& Api::emit_event(Ctx& c, std::string_view type, std::string_view display, Json targets, Json given_actor) {
  Json e = Json::object();
  Json actor = Json::object();
  if (!given_actor.is_null()) {
    actor = std::move(given_actor);
  } else if (c.actor == "SSWS") {
    actor.set("id", "00uemulatorapiadmin0");
    actor.set("type", "User");
    actor.set("alternateId", "api-admin@okta-emulator.invalid");
    actor.set("displayName", "Okta Emulator API token");
  } else {
    actor.set("id", c.actor);
    actor.set("type", "PublicClientApp");
    actor.set("alternateId", c.actor);
    actor.set("displayName", "oktaguard service app");
  }
  e.set("actor", std::move(actor));
  Json client = Json::object();
  Json ua = Json::object();
  ua.set("rawUserAgent", c.req.header("user-agent"));
  ua.set("os", "Unknown");
  ua.set("browser", "UNKNOWN");
  client.set("userAgent", std::move(ua));
  client.set("zone", "null");
  client.set("device", "Unknown");
  client.set("ipAddress", c.req.remote_ip);
  e.set("client", std::move(client));
  e.set("authenticationContext", Json::object());
  e.set("displayMessage", std::string(display));
  e.set("eventType", std::string(type));
  Json outcome = Json::object();
  outcome.set("result", "SUCCESS");
  e.set("outcome", std::move(outcome));
  e.set("published", iso_time(c.req.now_ms));
  e.set("securityContext", Json::object());
  e.set("severity", "INFO");
  Json debug = Json::object();
  Json data = Json::object();
  data.set("requestId", c.request_id);
  data.set("requestUri", c.path);
  data.set("url", c.req.target);
  debug.set("debugData", std::move(data));
  e.set("debugContext", std::move(debug));
  Json tx = Json::object();
  tx.set("type", "WEB");
  tx.set("id", c.request_id);
  tx.set("detail", Json::object());
  e.set("transaction", std::move(tx));
  e.set("uuid", fmt::format("{}-{}-{}-{}-{}", random_string(8, kHex), random_string(4, kHex), random_string(4, kHex),
                            random_string(4, kHex), random_string(12, kHex)));
  e.set("version", "0");
  Json request = Json::object();
  Json chain = Json::array();
  Json hop = Json::object();
  hop.set("ip", c.req.remote_ip);
  chain.push_back(std::move(hop));
  request.set("ipChain", std::move(chain));
  e.set("request", std::move(request));
  e.set("target", std::move(targets));
  logs_.push_back(LogEntry{next_log_seq_++, c.req.now_ms, std::move(e)});
  return logs_.back().event;
}

namespace {
Json user_target(const User& u) {
  Json t = Json::object();
  t.set("id", u.id);
  t.set("type", "User");
  t.set("alternateId", u.profile.get_string("login"));
  t.set("displayName", u.profile.get_string("firstName") + " " + u.profile.get_string("lastName"));
  return t;
}
Json group_target(const Group& g) {
  Json t = Json::object();
  t.set("id", g.id);
  t.set("type", "UserGroup");
  t.set("alternateId", "unknown");
  t.set("displayName", g.profile.get_string("name"));
  return t;
}
}  // namespace

Response Api::handle(const Request& req) {
  auto q = req.target.find('?');
  std::string path = req.target.substr(0, q);
  if (path.rfind("/__emulator/", 0) == 0) return dispatch_emulator(req, path.substr(12));
  record(req, {});
  std::string host = req.header("host");
  if (host.empty()) host = "127.0.0.1";
  Ctx c{req,
        path,
        parse_query(q == std::string::npos ? std::string_view{} : std::string_view(req.target).substr(q + 1)),
        std::string(req.tls ? "https://" : "http://") + host,
        bucket_for(req.method, path),
        {},
        random_string(32, kHex),
        {}};
  if (settings_.concurrency_limit > 0 && req.in_flight > settings_.concurrency_limit) {
    // Okta (rl-best-practices): past the concurrent limit the three headers "report the concurrent
    // values" instead of the bucket's per-minute counts: the concurrency limit, nothing remaining,
    // and a reset that is only an estimate (requests in flight finish within a second or so).
    // The bucket is not charged: the request was never processed.
    c.rl.limit = settings_.concurrency_limit;
    c.rl.remaining = 0;
    c.rl.reset_epoch_s = req.now_ms / 1000 + 1;
    return error(c, 429, "E0000047", "API call exceeded rate limit due to too many requests.");
  }
  c.rl = limiter_.take(c.bucket, req.now_ms / 1000);
  if (!c.rl.allowed) return error(c, 429, "E0000047", "API call exceeded rate limit due to too many requests.");
  if (path == "/oauth2/v1/token") return oauth_token(req);
  std::string auth = req.header("authorization");
  bool authed = false;
  if (auth.rfind("SSWS ", 0) == 0 && auth.substr(5) == settings_.token) {
    authed = true;
    c.actor = "SSWS";
  } else if (auth.rfind("Bearer ", 0) == 0) {
    auto it = access_tokens_.find(auth.substr(7));
    if (it != access_tokens_.end() && it->second.first > req.now_ms) {
      authed = true;
      c.actor = settings_.oauth_client_id;
    }
  }
  if (!authed) return error(c, 401, "E0000011", "Invalid token provided");
  return dispatch_api(c);
}

Response Api::dispatch_api(Ctx& c) {
  auto seg = split_path(c.path);
  const auto& m = c.req.method;
  auto not_found = [&](std::string_view what, std::string_view kind) {
    return error(c, 404, "E0000007", fmt::format("Not found: Resource not found: {} ({})", what, kind));
  };
  auto bad_method = [&]() {
    return error(c, 405, "E0000022", "The endpoint does not support the provided HTTP method");
  };
  if (seg.size() < 3 || seg[0] != "api" || seg[1] != "v1") return not_found(c.path, "Resource");
  if (seg[2] == "users") {
    if (seg.size() == 3) return m == "GET" ? list_users(c) : bad_method();
    User* u = find_user(seg[3]);
    if (seg.size() == 4) {
      if (m == "GET") return get_user(c, seg[3]);
      if (m != "POST") return bad_method();
      if (!u) return not_found(seg[3], "User");
      return update_user(c, *u);
    }
    if (!u) return not_found(seg[3], "User");
    if (seg.size() == 6 && seg[4] == "lifecycle") return m == "POST" ? lifecycle(c, *u, seg[5]) : bad_method();
    if (seg.size() == 5 && seg[4] == "sessions") return m == "DELETE" ? clear_sessions(c, *u) : bad_method();
    if (seg.size() == 5 && seg[4] == "risk") {
      if (m == "GET") return get_risk(c, *u);
      if (m == "PUT") return put_risk(c, *u);
      return bad_method();
    }
    if (seg.size() == 5 && seg[4] == "groups") return m == "GET" ? user_groups(c, *u) : bad_method();
    return not_found(c.path, "Resource");
  }
  if (seg[2] == "groups") {
    if (seg.size() == 3) return m == "GET" ? list_groups(c) : bad_method();
    if (seg.size() == 4) {
      if (m != "GET") return bad_method();
      Group* g = find_group(seg[3]);
      if (!g) return not_found(seg[3], "UserGroup");
      return json_response(c, 200, group_json(*g, c.base));
    }
    if (seg.size() == 5 && seg[4] == "users") {
      if (m != "GET") return bad_method();
      Group* g = find_group(seg[3]);
      if (!g) return not_found(seg[3], "UserGroup");
      return group_members(c, *g);
    }
    if (seg.size() == 6 && seg[4] == "users") {
      if (m == "PUT") return membership(c, seg[3], seg[5], true);
      if (m == "DELETE") return membership(c, seg[3], seg[5], false);
      return bad_method();
    }
    return not_found(c.path, "Resource");
  }
  if (seg[2] == "logs" && seg.size() == 3) return m == "GET" ? list_logs(c) : bad_method();
  return not_found(c.path, "Resource");
}

Response Api::get_user(Ctx& c, std::string_view id_or_login) {
  User* u = find_user(id_or_login);
  if (!u) return error(c, 404, "E0000007", fmt::format("Not found: Resource not found: {} (User)", id_or_login));
  auto r = json_response(c, 200, user_json(*u, c.base, true));
  r.headers.emplace_back("ETag", fmt::format("W/\"{}\"", u->last_updated_ms));
  return r;
}

namespace {
// Writes the Link header Okta sends on lists: self always, next when another page exists.
void add_links(Response& r, const std::string& base, const std::string& path,
               const std::vector<std::pair<std::string, std::string>>& query, std::int64_t limit,
               const std::optional<std::string>& next_after) {
  auto build = [&](const std::optional<std::string>& after) {
    std::string url = base + path + "?";
    bool first = true;
    auto add = [&](std::string_view k, std::string_view v) {
      if (!first) url += "&";
      first = false;
      url += url_encode(k) + "=" + url_encode(v);
    };
    if (after) add("after", *after);
    add("limit", std::to_string(limit));
    for (const auto& [k, v] : query)
      if (k != "after" && k != "limit") add(k, v);
    return url;
  };
  std::string link = "<" + build(std::nullopt) + ">; rel=\"self\"";
  if (next_after) link += ", <" + build(next_after) + ">; rel=\"next\"";
  r.headers.emplace_back("Link", link);
}
}  // namespace

Response Api::list_users(Ctx& c) {
  auto search = c.param("search"), filter = c.param("filter"), q = c.param("q");
  std::int64_t limit = q ? 10 : 200;
  if (auto l = c.param("limit")) {
    auto v = to_int(*l);
    if (!v || *v < 0) return error(c, 400, "E0000001", "Api validation failed: limit", {"limit: must be an integer"});
    limit = std::min<std::int64_t>(*v, 200);
  }
  std::vector<const User*> matched;
  if (q) {
    auto needle = lower(*q);
    for (const auto& u : users_) {
      if (u.status == UserStatus::deprovisioned) continue;
      for (const char* attr : {"firstName", "lastName", "email"})
        if (lower(u.profile.get_string(attr)).rfind(needle, 0) == 0) {
          matched.push_back(&u);
          break;
        }
    }
    if (static_cast<std::int64_t>(matched.size()) > limit) matched.resize(static_cast<std::size_t>(limit));
    Json out = Json::array();
    for (const auto* u : matched)
      out.push_back(user_json(*u, c.base, false));
    return json_response(c, 200, out);
  }
  std::unique_ptr<Expr> expr;
  bool ci = false;
  if (search || filter) {
    auto parsed = parse_expression(search ? *search : *filter);
    if (!parsed.expr) return error(c, 400, "E0000031", "Invalid search criteria.", {parsed.error});
    ExprRules rules;
    if (search) {
      rules.ops = {Op::eq, Op::sw, Op::co, Op::gt, Op::ge, Op::lt, Op::le, Op::pr};
      rules.attributes = {"id", "status", "created", "activated", "statusChanged", "lastUpdated", "type.id"};
      rules.attr_prefixes = {"profile."};
      rules.co_attributes = {"profile.firstName", "profile.lastName", "profile.email", "profile.login"};
      ci = true;
    } else {
      rules.ops = {Op::eq};
      rules.attributes = {"status",          "lastUpdated", "id", "profile.login", "profile.email", "profile.firstName",
                          "profile.lastName"};
      rules.range_attributes = {"lastUpdated"};
      rules.range_ops = {Op::gt, Op::ge, Op::lt, Op::le};
      rules.allow_not = false;
    }
    if (auto why = check_rules(*parsed.expr, rules); !why.empty())
      return error(c, 400, "E0000031", "Invalid search criteria.", {why});
    expr = std::move(parsed.expr);
  }
  std::vector<Json> docs;
  for (const auto& u : users_) {
    if (!expr && u.status == UserStatus::deprovisioned) continue;
    Json doc = user_json(u, c.base, false);
    if (expr && !evaluate(*expr, doc, ci)) continue;
    docs.push_back(std::move(doc));
  }
  if (search) {
    if (auto sort_by = c.param("sortBy")) {
      bool desc = lower(c.param("sortOrder").value_or("asc")) == "desc";
      std::stable_sort(docs.begin(), docs.end(), [&](const Json& a, const Json& b) {
        const Json* x = a.path(*sort_by);
        const Json* y = b.path(*sort_by);
        std::string xs = x ? x->dump() : "", ys = y ? y->dump() : "";
        if (xs == ys) return a.get_string("id") < b.get_string("id");
        return desc ? xs > ys : xs < ys;
      });
    }
  }
  std::size_t start = 0;
  if (auto after = c.param("after")) {
    auto it = std::find_if(docs.begin(), docs.end(), [&](const Json& d) { return d.get_string("id") == *after; });
    start = it == docs.end() ? docs.size() : static_cast<std::size_t>(it - docs.begin()) + 1;
  }
  Json out = Json::array();
  std::size_t end = std::min(docs.size(), start + static_cast<std::size_t>(limit));
  for (std::size_t i = start; i < end; ++i)
    out.push_back(std::move(docs[i]));
  std::optional<std::string> next;
  if (end < docs.size() && end > start) next = out.as_array().back().get_string("id");
  auto r = json_response(c, 200, out);
  add_links(r, c.base, c.path, c.query, limit, next);
  return r;
}

std::string Api::validate_profile_value(const std::string& name, const Json& value) const {
  if (base_attributes().count(name)) {
    if (value.is_null()) {
      if (name == "login" || name == "email") return name + ": The field cannot be left blank";
      return {};
    }
    if (!value.is_string()) return name + ": Property value must be of type string";
    if ((name == "login" || name == "email") && value.as_string().size() < 5) return name + ": The field is too short";
    if (name == "email" && value.as_string().find('@') == std::string::npos)
      return name + ": Does not match required pattern";
    return {};
  }
  auto it = profile_schema_.find(name);
  if (it == profile_schema_.end()) return "Property name '" + name + "' is not defined in profile schema";
  if (value.is_null()) return {};
  const auto& type = it->second;
  bool ok = (type == "string" && value.is_string()) || (type == "integer" && value.is_integer()) ||
            (type == "number" && value.is_number()) || (type == "boolean" && value.is_bool());
  if (!ok) return name + ": Property value must be of type " + type;
  return {};
}

Response Api::update_user(Ctx& c, User& u) {
  std::string perr;
  auto body = Json::parse(c.req.body, &perr);
  if (!body || !body->is_object()) return error(c, 400, "E0000003", "The request body was not well-formed.");
  if (u.status == UserStatus::deprovisioned)
    return error(c, 403, "E0000038", "This operation is not allowed in the user's current status.");
  if (const Json* t = body->find("type"); t && t->is_object() && t->get_string("id") != u.type_id)
    return error(c, 400, "E0000001", "Api validation failed: type", {"type: The user type cannot be changed"});
  const Json* prof = body->find("profile");
  if (prof && !prof->is_object())
    return error(c, 400, "E0000001", "Api validation failed: profile", {"profile: must be an object"});
  std::vector<std::string> causes;
  std::string first_attr;
  if (prof) {
    for (const auto& [k, v] : prof->as_object()) {
      auto why = validate_profile_value(k, v);
      if (!why.empty()) {
        if (first_attr.empty()) first_attr = k;
        causes.push_back(std::move(why));
      }
    }
    if (const Json* login = prof->find("login"); login && login->is_string()) {
      for (const auto& other : users_)
        if (other.id != u.id && lower(other.profile.get_string("login")) == lower(login->as_string())) {
          if (first_attr.empty()) first_attr = "login";
          causes.push_back("login: An object with this field already exists in the current organization");
        }
    }
  }
  if (!causes.empty()) return error(c, 400, "E0000001", "Api validation failed: " + first_attr, causes);
  if (prof) {
    for (const auto& [k, v] : prof->as_object())
      u.profile.set(k, v);
    u.last_updated_ms = c.req.now_ms;
    emit_event(c, "user.account.update_profile", "Update user profile for Okta", [&] {
      Json t = Json::array();
      t.push_back(user_target(u));
      return t;
    }());
  }
  return json_response(c, 200, user_json(u, c.base, true));
}

Response Api::lifecycle(Ctx& c, User& u, std::string_view op) {
  auto bool_param = [&](std::string_view name, bool& out, bool fallback) -> bool {
    auto v = c.param(name);
    if (!v) {
      out = fallback;
      return true;
    }
    if (*v == "true")
      out = true;
    else if (*v == "false")
      out = false;
    else
      return false;
    return true;
  };
  auto not_allowed = [&]() {
    return error(c, 403, "E0000038", "This operation is not allowed in the user's current status.");
  };
  auto targets = [&]() {
    Json t = Json::array();
    t.push_back(user_target(u));
    return t;
  };
  auto move_to = [&](UserStatus s) {
    u.status = s;
    u.status_changed_ms = u.last_updated_ms = c.req.now_ms;
  };
  auto issue_temp_password = [&]() {
    std::string pw = random_string(12, kAlnum);
    Json rec = Json::object();
    rec.set("userId", u.id);
    rec.set("tempPassword", pw);
    rec.set("issued", iso_time(c.req.now_ms));
    temp_passwords_.push_back(std::move(rec));
    u.password_changed_ms = c.req.now_ms;
    Json body = Json::object();
    body.set("tempPassword", pw);
    return body;
  };
  if (op == "suspend" || op == "unsuspend" || op == "unlock") {
    auto lop = op == "suspend"     ? LifecycleOp::suspend
               : op == "unsuspend" ? LifecycleOp::unsuspend
                                   : LifecycleOp::unlock;
    auto next = transition(u.status, lop);
    if (!next) {
      if (lop == LifecycleOp::unlock)
        return error(c, 403, "E0000032", "Unlock is not allowed for this user.", {"The user is not locked out."});
      return not_allowed();
    }
    move_to(*next);
    if (op == "suspend")
      emit_event(c, "user.lifecycle.suspend", "Suspend Okta user", targets());
    else if (op == "unsuspend")
      emit_event(c, "user.lifecycle.unsuspend", "Unsuspend Okta user", targets());
    else
      emit_event(c, "user.account.unlock", "Unlock user account", targets());
    return json_response(c, 200, Json::object());
  }
  if (op == "expire_password" || op == "expire_password_with_temp_password") {
    bool temp = false, revoke = false;
    if (op == "expire_password") {
      // The legacy (v1 swagger) form of the temp-password variant.
      if (!bool_param("tempPassword", temp, false))
        return error(c, 400, "E0000001", "Api validation failed: tempPassword", {"tempPassword: must be a boolean"});
    } else {
      temp = true;
      if (!bool_param("revokeSessions", revoke, false))
        return error(c, 400, "E0000001", "Api validation failed: revokeSessions",
                     {"revokeSessions: must be a boolean"});
    }
    auto next = transition(u.status, LifecycleOp::expire_password);
    if (!next) return not_allowed();
    move_to(*next);
    if (revoke) u.sessions = 0;
    emit_event(c, "user.account.expire_password", "Expire user password", targets());
    if (temp) return json_response(c, 200, issue_temp_password());
    return json_response(c, 200, user_json(u, c.base, true));
  }
  if (op == "reset_password") {
    bool send_email = false, revoke = false;
    if (!c.param("sendEmail"))
      return error(c, 400, "E0000028", "The request is missing a required parameter.", {"sendEmail"});
    if (!bool_param("sendEmail", send_email, false) || !bool_param("revokeSessions", revoke, false))
      return error(c, 400, "E0000001", "Api validation failed: reset_password",
                   {"sendEmail and revokeSessions must be booleans"});
    auto next = transition(u.status, LifecycleOp::reset_password);
    if (!next) return not_allowed();
    move_to(*next);
    if (revoke) u.sessions = 0;
    emit_event(c, "user.account.reset_password", "Reset password for Okta user", targets());
    Json body = Json::object();
    if (!send_email) {
      std::string url = c.base + "/reset_password/" + random_string(20, kAlnum);
      Json rec = Json::object();
      rec.set("userId", u.id);
      rec.set("resetPasswordUrl", url);
      rec.set("issued", iso_time(c.req.now_ms));
      reset_urls_.push_back(std::move(rec));
      body.set("resetPasswordUrl", url);
    }
    return json_response(c, 200, body);
  }
  return error(c, 404, "E0000007", fmt::format("Not found: Resource not found: {} (Operation)", op));
}

Response Api::clear_sessions(Ctx& c, User& u) {
  for (const char* name : {"oauthTokens", "forgetDevices"}) {
    auto v = c.param(name);
    if (v && *v != "true" && *v != "false")
      return error(c, 400, "E0000001", std::string("Api validation failed: ") + name,
                   {std::string(name) + ": must be a boolean"});
  }
  u.sessions = 0;
  Json t = Json::array();
  t.push_back(user_target(u));
  emit_event(c, "user.session.clear", "Clear user session", std::move(t));
  Response r;
  r.status = 204;
  add_common_headers(c, r);
  return r;
}

Response Api::get_risk(Ctx& c, User& u) {
  Json j = Json::object();
  j.set("riskLevel", u.risk_level);
  if (u.risk_level != "NONE") j.set("reason", u.risk_reason);
  Json links = Json::object();
  links.set("self", href(fmt::format("{}/api/v1/users/{}/risk", c.base, u.id)));
  links.set("user", href(fmt::format("{}/api/v1/users/{}", c.base, u.id)));
  j.set("_links", std::move(links));
  return json_response(c, 200, j);
}

Response Api::put_risk(Ctx& c, User& u) {
  auto body = Json::parse(c.req.body);
  if (!body || !body->is_object()) return error(c, 400, "E0000003", "The request body was not well-formed.");
  auto level = body->get_string("riskLevel");
  if (level != "HIGH" && level != "MEDIUM" && level != "LOW")
    return error(c, 400, "E0000001", "Api validation failed: riskLevel",
                 {"riskLevel: must be one of HIGH, MEDIUM, LOW"});
  std::string reason = "override.by.admin";
  if (const Json* r = body->find("riskReason")) {
    if (!r->is_string() || r->as_string().size() > 500)
      return error(c, 400, "E0000001", "Api validation failed: riskReason", {"riskReason: invalid value"});
    reason = r->as_string();
  }
  bool created = u.risk_level == "NONE";
  u.risk_level = level;
  u.risk_reason = reason;
  Json t = Json::array();
  t.push_back(user_target(u));
  emit_event(c, "user.risk.change", "User risk level changed", std::move(t));
  auto r = get_risk(c, u);
  r.status = created ? 201 : 200;
  return r;
}

Response Api::user_groups(Ctx& c, User& u) {
  Json out = Json::array();
  for (const auto& g : groups_)
    if (is_member(g, u.id)) out.push_back(group_json(g, c.base));
  auto r = json_response(c, 200, out);
  r.headers.emplace_back("Link", "<" + c.base + c.path + "?limit=200>; rel=\"self\"");
  return r;
}

Response Api::list_groups(Ctx& c) {
  auto search = c.param("search"), filter = c.param("filter"), q = c.param("q");
  std::int64_t limit = q ? 300 : 10000;
  if (auto l = c.param("limit")) {
    auto v = to_int(*l);
    if (!v || *v < 0) return error(c, 400, "E0000001", "Api validation failed: limit", {"limit: must be an integer"});
    limit = std::min<std::int64_t>(*v, 10000);
  }
  std::unique_ptr<Expr> expr;
  bool ci = false;
  if (search || filter) {
    auto parsed = parse_expression(search ? *search : *filter);
    if (!parsed.expr) return error(c, 400, "E0000031", "Invalid search criteria.", {parsed.error});
    ExprRules rules;
    if (search) {
      rules.ops = {Op::eq, Op::sw, Op::co, Op::gt, Op::ge, Op::lt, Op::le, Op::pr};
      rules.attributes = {"id", "created", "lastMembershipUpdated", "lastUpdated", "type", "source.id"};
      rules.attr_prefixes = {"profile."};
      rules.co_attributes = {"profile.name", "profile.description"};
      ci = true;
    } else {
      rules.ops = {Op::eq};
      rules.attributes = {"id", "type", "lastUpdated", "lastMembershipUpdated"};
      rules.range_attributes = {"lastUpdated", "lastMembershipUpdated"};
      rules.range_ops = {Op::gt, Op::ge, Op::lt, Op::le};
    }
    if (auto why = check_rules(*parsed.expr, rules); !why.empty())
      return error(c, 400, "E0000031", "Invalid search criteria.", {why});
    expr = std::move(parsed.expr);
  }
  std::vector<Json> docs;
  for (const auto& g : groups_) {
    Json doc = group_json(g, c.base);
    if (q && lower(g.profile.get_string("name")).rfind(lower(*q), 0) != 0) continue;
    if (expr && !evaluate(*expr, doc, ci)) continue;
    docs.push_back(std::move(doc));
  }
  std::size_t start = 0;
  if (auto after = c.param("after"); after && !q) {
    auto it = std::find_if(docs.begin(), docs.end(), [&](const Json& d) { return d.get_string("id") == *after; });
    start = it == docs.end() ? docs.size() : static_cast<std::size_t>(it - docs.begin()) + 1;
  }
  Json out = Json::array();
  std::size_t end = std::min(docs.size(), start + static_cast<std::size_t>(limit));
  for (std::size_t i = start; i < end; ++i)
    out.push_back(std::move(docs[i]));
  std::optional<std::string> next;
  if (!q && end < docs.size() && end > start) next = out.as_array().back().get_string("id");
  auto r = json_response(c, 200, out);
  add_links(r, c.base, c.path, c.query, limit, next);
  return r;
}

Response Api::group_members(Ctx& c, const Group& g) {
  // Okta's default page is 1000 (the spec recommends asking for 200); members in user-id order.
  std::int64_t limit = 1000;
  if (auto l = c.param("limit")) {
    auto v = to_int(*l);
    if (!v || *v < 0) return error(c, 400, "E0000001", "Api validation failed: limit", {"limit: must be an integer"});
    limit = std::min<std::int64_t>(*v, 1000);
  }
  std::vector<const User*> members;
  for (const auto& u : users_)
    if (is_member(g, u.id)) members.push_back(&u);
  std::size_t start = 0;
  if (auto after = c.param("after")) {
    auto it = std::find_if(members.begin(), members.end(), [&](const User* u) { return u->id == *after; });
    start = it == members.end() ? members.size() : static_cast<std::size_t>(it - members.begin()) + 1;
  }
  Json out = Json::array();
  std::size_t end = std::min(members.size(), start + static_cast<std::size_t>(limit));
  for (std::size_t i = start; i < end; ++i)
    out.push_back(user_json(*members[i], c.base, false));
  std::optional<std::string> next;
  if (end < members.size() && end > start) next = members[end - 1]->id;
  auto r = json_response(c, 200, out);
  add_links(r, c.base, c.path, c.query, limit, next);
  return r;
}

Response Api::membership(Ctx& c, std::string_view gid, std::string_view uid, bool add) {
  Group* g = find_group(gid);
  if (!g) return error(c, 404, "E0000007", fmt::format("Not found: Resource not found: {} (UserGroup)", gid));
  User* u = find_user(uid);
  if (!u || u->id != uid)
    return error(c, 404, "E0000007", fmt::format("Not found: Resource not found: {} (User)", uid));
  // Only OKTA_GROUP memberships are managed in Okta; app imports own APP_GROUP, Okta owns BUILT_IN.
  if (g->type != "OKTA_GROUP")
    return error(c, 403, "E0000006", "You do not have permission to perform the requested action",
                 {fmt::format("Memberships of {} groups cannot be modified", g->type)});
  auto it = std::find(g->members.begin(), g->members.end(), u->id);
  bool changed = false;
  if (add && it == g->members.end()) {
    g->members.push_back(u->id);
    changed = true;
  } else if (!add && it != g->members.end()) {
    g->members.erase(it);
    changed = true;
  }
  if (changed) {
    g->last_membership_updated_ms = c.req.now_ms;
    Json t = Json::array();
    t.push_back(user_target(*u));
    t.push_back(group_target(*g));
    if (add)
      emit_event(c, "group.user_membership.add", "Add user to group membership", std::move(t));
    else
      emit_event(c, "group.user_membership.remove", "Remove user from group membership", std::move(t));
  }
  Response r;
  r.status = 204;
  add_common_headers(c, r);
  return r;
}

Response Api::list_logs(Ctx& c) {
  auto since_s = c.param("since"), until_s = c.param("until"), after = c.param("after"), filter = c.param("filter"),
       q = c.param("q");
  std::int64_t limit = 100;
  if (auto l = c.param("limit")) {
    auto v = to_int(*l);
    if (!v || *v < 0 || *v > 1000)
      return error(c, 400, "E0000001", "Api validation failed: limit", {"limit: must be between 0 and 1000"});
    limit = *v;
  }
  auto order = c.param("sortOrder").value_or("ASCENDING");
  if (order != "ASCENDING" && order != "DESCENDING")
    return error(c, 400, "E0000001", "Api validation failed: sortOrder",
                 {"sortOrder: must be ASCENDING or DESCENDING"});
  // `until` is exclusive; by default it is "now", which must include events of this millisecond.
  std::int64_t until = c.req.now_ms + 1;
  if (until_s) {
    auto t = parse_iso_time(*until_s);
    if (!t) return error(c, 400, "E0000001", "Api validation failed: until", {"until: not an ISO 8601 timestamp"});
    until = *t;
  }
  std::int64_t since = until - 7LL * 24 * 3600 * 1000;
  if (since_s) {
    auto t = parse_iso_time(*since_s);
    if (!t) return error(c, 400, "E0000001", "Api validation failed: since", {"since: not an ISO 8601 timestamp"});
    since = *t;
  }
  std::unique_ptr<Expr> expr;
  if (filter) {
    auto parsed = parse_expression(*filter);
    if (!parsed.expr) return error(c, 400, "E0000001", "Api validation failed: filter", {parsed.error});
    expr = std::move(parsed.expr);
  }
  // The cursor is "<published ms>_<seq>" of the last event returned: events are ordered by
  // (published, persistence sequence), so a poller never sees one twice.
  std::optional<std::pair<std::int64_t, std::int64_t>> cursor;
  if (after) {
    auto us = after->find('_');
    auto a = to_int(std::string_view(*after).substr(0, us));
    auto b = us == std::string::npos ? std::nullopt : to_int(std::string_view(*after).substr(us + 1));
    if (!a || !b) return error(c, 400, "E0000001", "Api validation failed: after", {"after: invalid cursor"});
    cursor = std::make_pair(*a, *b);
  }
  std::vector<const LogEntry*> sel;
  for (const auto& e : logs_) {
    if (e.published_ms < since || e.published_ms >= until) continue;
    if (cursor && std::make_pair(e.published_ms, e.seq) <= *cursor) continue;
    if (expr && !evaluate(*expr, e.event, false)) continue;
    if (q) {
      auto text = lower(e.event.dump());
      bool all = true;
      std::string_view rest = *q;
      while (!rest.empty()) {
        auto sp = rest.find(' ');
        auto kw = lower(rest.substr(0, sp));
        if (!kw.empty() && text.find(kw) == std::string::npos) all = false;
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
      }
      if (!all) continue;
    }
    sel.push_back(&e);
  }
  std::stable_sort(sel.begin(), sel.end(), [](const LogEntry* a, const LogEntry* b) {
    return std::make_pair(a->published_ms, a->seq) < std::make_pair(b->published_ms, b->seq);
  });
  bool descending = order == "DESCENDING";
  if (descending) std::reverse(sel.begin(), sel.end());
  bool more = static_cast<std::int64_t>(sel.size()) > limit;
  if (more) sel.resize(static_cast<std::size_t>(limit));
  Json out = Json::array();
  for (const auto* e : sel)
    out.push_back(e->event);
  auto r = json_response(c, 200, out);
  // Polling (no `until`, ascending) always gets a next link, even on an empty page: the client
  // keeps following it. Bounded queries get one only while more results remain.
  bool polling = !until_s && !descending;
  std::optional<std::string> next;
  if (polling || (more && !descending)) {
    if (!sel.empty()) {
      next = fmt::format("{}_{}", sel.back()->published_ms, sel.back()->seq);
    } else if (cursor) {
      next = *after;
    } else {
      next = fmt::format("{}_{}", since - 1, std::numeric_limits<std::int64_t>::max());
    }
  }
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [k, v] : c.query)
    if (k != "after" && k != "limit" && !(next && k == "since" && polling)) query.emplace_back(k, v);
  if (next && polling && !cursor && sel.empty()) {
    // Keep the caller's window start when nothing was returned yet.
    if (since_s) query.emplace_back("since", *since_s);
  }
  add_links(r, c.base, c.path, query, limit, next);
  return r;
}

Response Api::oauth_token(const Request& req) {
  auto oauth_error = [&](unsigned status, std::string_view code, std::string_view desc) {
    Response r;
    r.status = status;
    r.headers.emplace_back("Date", http_date(req.now_ms));
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("Cache-Control", "no-store");
    Json e = Json::object();
    e.set("error", std::string(code));
    e.set("error_description", std::string(desc));
    r.body = e.dump();
    return r;
  };
  if (req.method != "POST") return oauth_error(405, "invalid_request", "The token endpoint takes POST.");
  if (req.header("content-type").rfind("application/x-www-form-urlencoded", 0) != 0)
    return oauth_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.");
  auto form = parse_query(req.body);
  auto field = [&](std::string_view name) -> std::string {
    for (const auto& [k, v] : form)
      if (k == name) return v;
    return {};
  };
  if (field("grant_type") != "client_credentials")
    return oauth_error(400, "unsupported_grant_type", "The authorization grant type is not supported.");
  if (field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    return oauth_error(401, "invalid_client", "client_assertion_type must be jwt-bearer (private_key_jwt).");
  if (!oauth_key_ || settings_.oauth_client_id.empty())
    return oauth_error(401, "invalid_client", "No OAuth client is configured (--oauth-client-id/--oauth-client-key).");
  auto jwt = verify_jwt(field("client_assertion"), oauth_key_.get());
  if (!jwt.ok) return oauth_error(401, "invalid_client", "The client_assertion is invalid: " + jwt.error);
  const auto& cl = jwt.claims;
  if (cl.get_string("iss") != settings_.oauth_client_id || cl.get_string("sub") != settings_.oauth_client_id)
    return oauth_error(401, "invalid_client", "The client_assertion iss and sub must be the client id.");
  std::string host = req.header("host");
  std::string aud = std::string(req.tls ? "https://" : "http://") + host + "/oauth2/v1/token";
  bool aud_ok = false;
  if (const Json* a = cl.find("aud")) {
    if (a->is_string()) aud_ok = a->as_string() == aud;
    if (a->is_array())
      for (const auto& x : a->as_array())
        aud_ok = aud_ok || (x.is_string() && x.as_string() == aud);
  }
  if (!aud_ok) return oauth_error(401, "invalid_client", "The client_assertion aud must be " + aud + ".");
  const Json* exp = cl.find("exp");
  if (!exp || !exp->is_number() || exp->as_double() * 1000 <= static_cast<double>(req.now_ms))
    return oauth_error(401, "invalid_client", "The client_assertion is expired or has no exp.");
  auto scope = field("scope");
  if (scope.empty())
    return oauth_error(400, "invalid_scope",
                       "The authorization server resource does not have any configured default scopes, 'scope' must "
                       "be provided.");
  std::string token = random_string(48, kAlnum);
  access_tokens_[token] = {req.now_ms + settings_.oauth_token_ttl_s * 1000, scope};
  Json body = Json::object();
  body.set("token_type", "Bearer");
  body.set("expires_in", settings_.oauth_token_ttl_s);
  body.set("access_token", token);
  body.set("scope", scope);
  Response r;
  r.status = 200;
  r.headers.emplace_back("Date", http_date(req.now_ms));
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = body.dump();
  return r;
}

Json Api::state_json() const {
  Json s = Json::object();
  Json us = Json::array();
  for (const auto& u : users_) {
    Json j = Json::object();
    j.set("id", u.id);
    j.set("status", std::string(to_string(u.status)));
    j.set("profile", u.profile);
    j.set("sessions", static_cast<std::int64_t>(u.sessions));
    Json risk = Json::object();
    risk.set("riskLevel", u.risk_level);
    risk.set("reason", u.risk_reason.empty() ? Json() : Json(u.risk_reason));
    j.set("risk", std::move(risk));
    Json gs = Json::array();
    for (const auto& g : groups_)
      if (is_member(g, u.id)) gs.push_back(g.id);
    j.set("groups", std::move(gs));
    us.push_back(std::move(j));
  }
  s.set("users", std::move(us));
  Json gs = Json::array();
  for (const auto& g : groups_) {
    Json j = Json::object();
    j.set("id", g.id);
    j.set("type", g.type);
    j.set("profile", g.profile);
    Json ms = Json::array();
    for (const auto& u : users_)
      if (is_member(g, u.id)) ms.push_back(u.id);
    j.set("members", std::move(ms));
    gs.push_back(std::move(j));
  }
  s.set("groups", std::move(gs));
  s.set("tempPasswords", temp_passwords_);
  s.set("resetPasswordUrls", reset_urls_);
  s.set("logEvents", static_cast<std::int64_t>(logs_.size()));
  return s;
}

Response Api::dispatch_emulator(const Request& req, std::string_view path) {
  auto reply = [&](unsigned status, const Json& body) {
    Response r;
    r.status = status;
    r.headers.emplace_back("Date", http_date(req.now_ms));
    if (status != 204) {
      r.headers.emplace_back("Content-Type", "application/json");
      r.body = body.dump();
    }
    return r;
  };
  auto bad = [&](std::string msg) {
    Json e = Json::object();
    e.set("error", std::move(msg));
    return reply(400, e);
  };
  const auto& m = req.method;
  if (path == "requests" && m == "GET") return reply(200, requests_);
  if (path == "requests" && m == "DELETE") {
    requests_ = Json::array();
    return reply(204, Json());
  }
  if (path == "state" && m == "GET") return reply(200, state_json());
  if (path == "seed" && m == "POST") {
    std::string err;
    auto body = Json::parse(req.body, &err);
    if (!body) return bad("seed: " + err);
    if (!seed(*body, &err)) return bad(err);
    Json ok = Json::object();
    ok.set("users", static_cast<std::int64_t>(users_.size()));
    ok.set("groups", static_cast<std::int64_t>(groups_.size()));
    return reply(200, ok);
  }
  if (path == "logs" && m == "POST") {
    std::string err;
    auto body = Json::parse(req.body, &err);
    if (!body || !body->is_array()) return bad("logs: expected a JSON array of LogEvent objects");
    std::int64_t added = 0;
    for (auto& ev : body->as_array()) {
      if (!ev.is_object()) return bad("logs: every element must be an object");
    }
    for (auto& ev : body->as_array()) {
      std::int64_t published = req.now_ms;
      if (const Json* p = ev.find("published"); p && p->is_string()) {
        if (auto t = parse_iso_time(p->as_string())) published = *t;
      } else {
        ev.set("published", iso_time(published));
      }
      if (!ev.find("uuid"))
        ev.set("uuid", fmt::format("{}-{}-{}-{}-{}", random_string(8, kHex), random_string(4, kHex),
                                   random_string(4, kHex), random_string(4, kHex), random_string(12, kHex)));
      logs_.push_back(LogEntry{next_log_seq_++, published, std::move(ev)});
      ++added;
    }
    Json ok = Json::object();
    ok.set("added", added);
    return reply(201, ok);
  }
  if (path == "config" && (m == "POST" || m == "GET")) {
    if (m == "POST") {
      std::string err;
      auto body = Json::parse(req.body, &err);
      if (!body || !body->is_object()) return bad("config: expected a JSON object");
      for (const auto& [k, v] : body->as_object()) {
        std::vector<std::string> values;
        if (k == "rate-limit" && v.is_object()) {
          for (const auto& [bucket, n] : v.as_object())
            values.push_back(bucket + "=" + n.dump());
        } else if (v.is_array() && k == "fault-5xx-status") {
          // One setting, the whole list (the command line's "502,503,504").
          std::string joined;
          for (const auto& x : v.as_array())
            joined += (joined.empty() ? "" : ",") + (x.is_string() ? x.as_string() : x.dump());
          values.push_back(joined);
        } else if (v.is_array()) {
          for (const auto& x : v.as_array())
            values.push_back(x.is_string() ? x.as_string() : x.dump());
        } else {
          values.push_back(v.is_string() ? v.as_string() : v.dump());
        }
        for (const auto& val : values)
          if (!apply_setting(k, val, &err)) return bad(err);
      }
    }
    Json s = Json::object();
    s.set("token", settings_.token);
    s.set("oauth-client-id", settings_.oauth_client_id);
    s.set("oauth-token-ttl", settings_.oauth_token_ttl_s);
    s.set("concurrency-limit", settings_.concurrency_limit);
    s.set("latency-ms", settings_.latency_ms);
    s.set("fault-5xx", settings_.fault_5xx);
    Json statuses = Json::array();
    for (unsigned st : settings_.fault_5xx_statuses)
      statuses.push_back(static_cast<std::int64_t>(st));
    s.set("fault-5xx-status", std::move(statuses));
    s.set("fault-reset", settings_.fault_reset);
    s.set("fault-stall", settings_.fault_stall);
    s.set("clock-skew-s", settings_.clock_skew_s);
    Json rl = Json::object();
    for (const auto& b : bucket_names())
      rl.set(b, limiter_.limit(b));
    s.set("rate-limit", std::move(rl));
    return reply(200, s);
  }
  // POST users/{id}/sessions
  if (m == "POST" && path.rfind("users/", 0) == 0 && path.size() > 15 && path.substr(path.size() - 9) == "/sessions") {
    std::string id = url_decode(path.substr(6, path.size() - 15));
    User* u = find_user(id);
    if (!u) return reply(404, Json::object());
    std::int64_t n = 1;
    if (!req.body.empty()) {
      auto body = Json::parse(req.body);
      if (!body || !body->is_object()) return bad("sessions: expected {\"count\": N}");
      if (const Json* cnt = body->find("count"); cnt && cnt->is_integer()) n = cnt->as_int();
    }
    u->sessions += static_cast<int>(n);
    // Each session is a sign-in: Okta logs user.session.start with the user as the actor (shape as
    // in the recorded LogEvent samples) and updates lastLogin.
    Ctx c{req, std::string(req.target.substr(0, req.target.find('?'))), {}, {}, {}, {}, {}, {}};
    for (std::int64_t i = 0; i < n; ++i) {
      c.request_id = random_string(32, kHex);
      Json actor = user_target(*u);
      Json target = Json::object();
      target.set("id", "0oaemulatordashboard0");
      target.set("type", "AppInstance");
      target.set("alternateId", "Okta Dashboard");
      target.set("displayName", "Okta Dashboard");
      Json targets = Json::array();
      targets.push_back(std::move(target));
      Json& e = emit_event(c, "user.session.start", "User login to Okta", std::move(targets), std::move(actor));
      std::string session_id = "idx" + random_string(22, kAlnum);
      Json auth = Json::object();
      auth.set("authenticationStep", 0);
      auth.set("rootSessionId", session_id);
      auth.set("externalSessionId", session_id);
      e.set("authenticationContext", std::move(auth));
      e.set("legacyEventType", "core.user_auth.login_success");
      // A sign-in happens on Okta's sign-in endpoints, not on the emulator's control path.
      Json data = Json::object();
      data.set("requestId", c.request_id);
      data.set("requestUri", "/idp/idx/identify");
      data.set("url", "/idp/idx/identify?");
      Json debug = Json::object();
      debug.set("debugData", std::move(data));
      e.set("debugContext", std::move(debug));
    }
    if (n > 0) u->last_login_ms = req.now_ms;
    Json ok = Json::object();
    ok.set("userId", u->id);
    ok.set("sessions", static_cast<std::int64_t>(u->sessions));
    return reply(201, ok);
  }
  Json e = Json::object();
  e.set("error", "no such emulator endpoint: " + std::string(path));
  return reply(404, e);
}

}  // namespace og::test::emulator
