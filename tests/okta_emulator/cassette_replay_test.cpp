// Conformance with real Okta: the exchanges okta-sdk-python recorded against real orgs
// (shared/data/okta-api-cassettes/okta-sdk-python/exchanges.ndjson) are replayed against the
// emulator, cassette by cassette, and the answers must have the recorded status and body shape.
//
// Each cassette is one scripted scenario against a real org. The emulator starts empty for each;
// the org the recording shows is reconstructed through the seed:
//  - operations the emulator does not serve (user create/replace/activate/deactivate/delete, group
//    create/delete, ...) are skipped with a named reason, and their recorded effect is applied to
//    the seed instead (a create's response becomes a seeded user, a deactivate sets DEPROVISIONED);
//  - users and groups that only appear in a recorded list answer (other users of the real org) are
//    seeded before that request, but only when unknown: what the emulator already holds comes from
//    the replay itself, so a wrong transition still shows up;
//  - ids are the recorded ones (the seed accepts them), so paths need no rewriting except `after`
//    cursors, which follow the emulator's own rel="next" link when the recording followed Okta's.
// The requests run through the socket-free core (Api::handle) with the clock set to each recorded
// Date, so timestamps advance as they did in the recording. The recorded 429s are checked against
// the emulator process with the recorded bucket limit (RecordedRateLimitAnswers).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/okta_emulator/api.h"
#include "tests/okta_emulator/emulator_process.h"
#include "tests/okta_emulator/json.h"

namespace og::test {
namespace {

using emulator::Api;
using emulator::Json;

const std::filesystem::path kExchanges =
    std::filesystem::path(OG_SHARED_DATA_DIR) / "okta-api-cassettes/okta-sdk-python/exchanges.ndjson";

struct Exchange {
  std::string cassette;
  std::int64_t seq = 0;
  std::string method;
  std::string path;   // origin stripped, "//api" collapsed (one cassette's SDK doubled the slash)
  std::string query;  // as recorded, still encoded
  Json request_body;  // null when not recorded (2020 cassettes)
  unsigned status = 0;
  std::map<std::string, std::string> response_headers;  // names lower-case
  Json response_body;
  std::int64_t date_ms = 0;  // the recorded Date header

  std::string target() const { return query.empty() ? path : path + "?" + query; }
};

// "Thu, 27 Aug 2020 18:19:26 GMT" -> epoch ms; nullopt when not an IMF-fixdate.
std::optional<std::int64_t> parse_http_date(std::string_view s) {
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(25) != " GMT") return std::nullopt;
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i)
    if (s.substr(8, 3) == kMonths[i]) month = i + 1;
  if (month == 0) return std::nullopt;
  return emulator::parse_iso_time(
      fmt::format("{}-{:02}-{}T{}Z", s.substr(12, 4), month, s.substr(5, 2), s.substr(17, 8)));
}

std::string strip_origin(std::string_view uri) {
  auto scheme = uri.find("://");
  if (scheme != std::string_view::npos) {
    auto slash = uri.find('/', scheme + 3);
    uri = slash == std::string_view::npos ? std::string_view("/") : uri.substr(slash);
  }
  while (uri.size() > 1 && uri[0] == '/' && uri[1] == '/')
    uri.remove_prefix(1);
  return std::string(uri);
}

std::vector<Exchange> load_exchanges() {
  std::ifstream in(kExchanges);
  EXPECT_TRUE(in) << "cannot read " << kExchanges;
  std::vector<Exchange> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::string err;
    auto j = Json::parse(line, &err);
    EXPECT_TRUE(j) << err << ": " << line.substr(0, 200);
    if (!j) continue;
    Exchange e;
    e.cassette = j->get_string("cassette");
    e.seq = j->find("seq")->as_int();
    e.method = j->get_string("method");
    auto target = strip_origin(j->get_string("uri"));
    auto q = target.find('?');
    e.path = target.substr(0, q);
    if (q != std::string::npos) e.query = target.substr(q + 1);
    e.request_body = *j->find("request_body");
    e.status = static_cast<unsigned>(j->find("status")->as_int());
    for (const auto& [k, v] : j->find("response_headers")->as_object())
      e.response_headers[k] = v.as_string();
    e.response_body = *j->find("response_body");
    auto date = parse_http_date(e.response_headers["date"]);
    EXPECT_TRUE(date) << e.cassette << " #" << e.seq << ": Date " << e.response_headers["date"];
    e.date_ms = date.value_or(0);
    out.push_back(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Which exchanges the emulator serves, and why the others are skipped.

struct Route {
  const char* method;
  const char* path;  // regex over the path
};

// The operations the emulator serves (docs/okta-emulator.md, "API served").
const Route kServed[] = {
    {"GET", R"(/api/v1/users)"},
    {"GET", R"(/api/v1/users/[^/]+)"},
    {"POST", R"(/api/v1/users/[^/]+)"},
    {"POST",
     R"(/api/v1/users/[^/]+/lifecycle/(suspend|unsuspend|unlock|expire_password|expire_password_with_temp_password|reset_password))"},
    {"DELETE", R"(/api/v1/users/[^/]+/sessions)"},
    {"GET", R"(/api/v1/users/[^/]+/groups)"},
    {"GET", R"(/api/v1/groups)"},
    {"GET", R"(/api/v1/groups/[^/]+)"},
    {"GET", R"(/api/v1/groups/[^/]+/users)"},
    {"PUT", R"(/api/v1/groups/[^/]+/users/[^/]+)"},
    {"DELETE", R"(/api/v1/groups/[^/]+/users/[^/]+)"},
};

struct Skip {
  const char* method;  // "*": any
  const char* path;
  const char* reason;
};

// First match wins. Reasons that end in "seeded" are applied to the org (apply_skipped_effect).
const Skip kSkips[] = {
    {"POST", R"(/api/v1/users)", "user create not served: response seeded"},
    {"PUT", R"(/api/v1/users/[^/]+)", "user replace not served: response seeded"},
    {"POST", R"(/api/v1/users/[^/]+/lifecycle/(activate|deactivate))", "activate/deactivate not served: status seeded"},
    {"POST", R"(/api/v1/users/[^/]+/lifecycle/reactivate)", "reactivate not served"},
    {"POST", R"(/api/v1/users/[^/]+/lifecycle/reset_factors)", "reset_factors not served"},
    {"DELETE", R"(/api/v1/users/[^/]+)", "user delete not served: removal seeded"},
    {"POST", R"(/api/v1/users/[^/]+/credentials/change_recovery_question)",
     "credentials ops not served: recovery question seeded"},
    {"*", R"(/api/v1/users/[^/]+/credentials/.*)", "credentials ops not served"},
    {"*", R"(/api/v1/users/[^/]+/roles.*)", "admin roles not served"},
    {"*", R"(/api/v1/users/[^/]+/(grants|appLinks|clients|idps|blocks))",
     "grants/appLinks/clients/idps/blocks not served"},
    {"POST", R"(/api/v1/groups)", "group create not served: response seeded"},
    {"DELETE", R"(/api/v1/groups/[^/]+)", "group delete not served: removal seeded"},
    {"*", R"(/api/v1/agentPools.*)", "agent pools not served"},
    {"*", R"(/api/v1/apps/.*)", "application features not served"},
};

bool method_matches(std::string_view want, std::string_view got) {
  return want == "*" || want == got;
}

// nullopt: replay it; otherwise the reason it is skipped.
std::optional<std::string> skip_reason(const Exchange& e) {
  // README §2: the one non-Okta body, produced by the recording harness.
  if (e.response_body.is_object() && e.response_body.find("message") && !e.response_body.find("errorCode"))
    return "harness artifact (non-Okta body)";
  // A 429 depends on the real org's traffic at that second; RecordedRateLimitAnswers reproduces it.
  if (e.status == 429) return "429: see RecordedRateLimitAnswers";
  for (const auto& s : kSkips)
    if (method_matches(s.method, e.method) && std::regex_match(e.path, std::regex(s.path))) return s.reason;
  for (const auto& r : kServed)
    if (method_matches(r.method, e.method) && std::regex_match(e.path, std::regex(r.path))) return std::nullopt;
  return "not served: " + e.method + " " + e.path;
}

// ---------------------------------------------------------------------------------------------
// Shape comparison.

struct Diff {
  std::string path;  // "_links.resetFactors", "[].profile.nickName"; "" for the root
  std::string kind;  // missing (recorded only), extra (emulator only), type, value, length, status, link
  std::string detail;
};

const char* shape_kind(const Json& j) {
  // Okta's numbers are JSON numbers; integer vs fraction is a value, not a type.
  if (j.is_number()) return "number";
  return emulator::kind_name(j.kind());
}

std::string join(const std::string& base, std::string_view key) {
  return base.empty() ? std::string(key) : base + "." + std::string(key);
}

// Keys whose string value is part of the contract (a user's status after a transition, the error
// code, a group's type); every other value (ids, timestamps, hrefs, names) is ignored.
bool value_compared(std::string_view key) {
  return key == "status" || key == "errorCode" || key == "type";
}

void compare_shape(const Json& rec, const Json& emu, const std::string& path, std::vector<Diff>& out) {
  if (std::string_view(shape_kind(rec)) != shape_kind(emu)) {
    out.push_back({path, "type", fmt::format("recorded {} vs emulator {}", shape_kind(rec), shape_kind(emu))});
    return;
  }
  if (rec.is_object()) {
    for (const auto& [k, v] : rec.as_object()) {
      const Json* other = emu.find(k);
      if (!other) {
        out.push_back({join(path, k), "missing", "recorded key absent from the emulator's answer"});
        continue;
      }
      if (value_compared(k) && v.is_string() && other->is_string() && v.as_string() != other->as_string())
        out.push_back({join(path, k), "value", fmt::format("recorded {} vs emulator {}", v.dump(), other->dump())});
      compare_shape(v, *other, join(path, k), out);
    }
    for (const auto& [k, v] : emu.as_object())
      if (!rec.find(k)) out.push_back({join(path, k), "extra", "emulator key absent from the recording"});
    return;
  }
  if (rec.is_array()) {
    const auto& ra = rec.as_array();
    const auto& ea = emu.as_array();
    if (ra.size() != ea.size())
      out.push_back({path, "length", fmt::format("recorded {} elements vs emulator {}", ra.size(), ea.size())});
    std::string elem = path + "[]";
    // Pair elements by id where they have one (list order is the org's), else by position.
    std::vector<bool> used(ea.size(), false);
    for (std::size_t i = 0; i < ra.size(); ++i) {
      const Json* match = nullptr;
      std::string id = ra[i].is_object() ? ra[i].get_string("id") : std::string();
      for (std::size_t k = 0; k < ea.size() && !match; ++k)
        if (!used[k] && !id.empty() && ea[k].is_object() && ea[k].get_string("id") == id) {
          used[k] = true;
          match = &ea[k];
        }
      if (!match && id.empty() && i < ea.size() && !used[i]) {
        used[i] = true;
        match = &ea[i];
      }
      if (!match) {
        if (!id.empty())
          out.push_back({elem, "missing", "recorded element id " + id + " not in the emulator's answer"});
        continue;
      }
      compare_shape(ra[i], *match, elem, out);
    }
  }
}

// Real-but-benign differences between the recordings and the emulator (which follows the current
// release). Each applies to one path and kind, only to recordings up to max_year, and must still be
// needed: an entry no exchange uses fails the test, so the list cannot go stale.
struct Allowance {
  const char* path;
  const char* kind;
  int max_year;
  const char* reason;
};

const Allowance kAllowed[] = {
    {"_links.resetFactors", "extra", 2020,
     "Okta added the reset_factors link to STAGED/ACTIVE users after 2020; every 2025 recording has it"},
    {"_links.forgotPassword", "extra", 2020,
     "offered by the org's password-recovery policy: the 2020 org offered it only once a recovery question was "
     "set, the 2025 org offers it to every ACTIVE user (as the emulator does)"},
};

int year_of(std::int64_t epoch_ms) {
  using namespace std::chrono;
  auto days = floor<std::chrono::days>(sys_time<milliseconds>(milliseconds(epoch_ms)));
  return static_cast<int>(year_month_day(days).year());
}

const Allowance* allowance_for(const Diff& d, const Exchange& e) {
  for (const auto& a : kAllowed)
    if (d.path == a.path && d.kind == a.kind && year_of(e.date_ms) <= a.max_year) return &a;
  return nullptr;
}

bool has_next_link(std::string_view link) {
  return link.find("rel=\"next\"") != std::string_view::npos;
}

// The path?query of the rel="next" URL in a Link header ("" when none).
std::string next_target(std::string_view link) {
  auto rel = link.find("rel=\"next\"");
  if (rel == std::string_view::npos) return {};
  auto open = link.rfind('<', rel), close = link.rfind('>', rel);
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return {};
  return strip_origin(link.substr(open + 1, close - open - 1));
}

// ---------------------------------------------------------------------------------------------
// The org as a seed.

std::string ts(std::int64_t ms) {
  return emulator::iso_time(ms);
}

Json ts_or_null(std::int64_t ms) {
  return ms ? Json(ts(ms)) : Json();
}

bool looks_like_user(const Json& j) {
  return j.is_object() && j.get_string("id").rfind("00u", 0) == 0 && j.find("profile") && j.find("status");
}

bool looks_like_group(const Json& j) {
  return j.is_object() && j.get_string("id").rfind("00g", 0) == 0 && j.find("objectClass") && j.find("profile");
}

class Org {
 public:
  explicit Org(Api& api) : api_(api) {}

  Json seed() const {
    Json users = Json::array(), groups = Json::array(), members = Json::array();
    for (const auto& u : api_.users()) {
      Json j = Json::object();
      j.set("id", u.id);
      j.set("status", std::string(emulator::to_string(u.status)));
      j.set("profile", u.profile);
      j.set("created", ts(u.created_ms));
      j.set("activated", ts_or_null(u.activated_ms));
      j.set("statusChanged", ts_or_null(u.status_changed_ms));
      j.set("lastLogin", ts_or_null(u.last_login_ms));
      j.set("lastUpdated", ts(u.last_updated_ms));
      j.set("passwordChanged", ts_or_null(u.password_changed_ms));
      j.set("sessions", static_cast<std::int64_t>(u.sessions));
      j.set("riskLevel", u.risk_level);
      if (!u.recovery_question.empty()) j.set("recoveryQuestion", u.recovery_question);
      users.push_back(std::move(j));
    }
    for (const auto& g : api_.groups()) {
      Json j = Json::object();
      j.set("id", g.id);
      j.set("type", g.type);
      j.set("profile", g.profile);
      groups.push_back(std::move(j));
      for (const auto& uid : g.members) {
        Json m = Json::object();
        m.set("groupId", g.id);
        m.set("userId", uid);
        members.push_back(std::move(m));
      }
    }
    Json s = Json::object();
    s.set("users", std::move(users));
    s.set("groups", std::move(groups));
    s.set("memberships", std::move(members));
    Json schema = Json::object();
    for (const auto& [k, v] : schema_)
      schema.set(k, v);
    s.set("profileSchema", std::move(schema));
    return s;
  }

  void reseed(Json s) {
    // Okta lists users in id order (its ids grow with creation time); seed them that way.
    auto& us = s.find("users")->as_array();
    std::stable_sort(us.begin(), us.end(),
                     [](const Json& a, const Json& b) { return a.get_string("id") < b.get_string("id"); });
    std::string err;
    ASSERT_TRUE(api_.seed(s, &err)) << err << "\n" << s.dump();
  }

  // A seed user from a recorded User object.
  Json seed_user(const Json& rec) {
    Json j = Json::object();
    j.set("id", rec.get_string("id"));
    j.set("status", rec.get_string("status"));
    Json profile = Json::object();
    for (const auto& [k, v] : rec.find("profile")->as_object()) {
      profile.set(k, v);
      declare(k, v);
    }
    j.set("profile", std::move(profile));
    for (const char* k : {"created", "activated", "statusChanged", "lastLogin", "lastUpdated", "passwordChanged"})
      if (const Json* v = rec.find(k)) j.set(k, *v);
    if (const Json* q = rec.path("credentials.recovery_question.question"); q && q->is_string())
      j.set("recoveryQuestion", *q);
    return j;
  }

  Json seed_group(const Json& rec) {
    Json j = Json::object();
    j.set("id", rec.get_string("id"));
    j.set("type", rec.get_string("type"));
    j.set("profile", *rec.find("profile"));
    return j;
  }

  const emulator::User* user(std::string_view id) const {
    for (const auto& u : api_.users())
      if (u.id == id) return &u;
    return nullptr;
  }
  bool has_group(std::string_view id) const {
    for (const auto& g : api_.groups())
      if (g.id == id) return true;
    return false;
  }

 private:
  // Custom attributes must be declared; recorded orgs only showed base ones, but infer to be safe.
  void declare(const std::string& name, const Json& v) {
    static const std::set<std::string> kBase{
        "city",        "costCenter",     "countryCode",   "department",        "displayName",     "division",
        "email",       "employeeNumber", "firstName",     "honorificPrefix",   "honorificSuffix", "lastName",
        "locale",      "login",          "manager",       "managerId",         "middleName",      "mobilePhone",
        "nickName",    "organization",   "postalAddress", "preferredLanguage", "primaryPhone",    "profileUrl",
        "secondEmail", "state",          "streetAddress", "timezone",          "title",           "userType",
        "zipCode"};
    if (kBase.count(name)) return;
    std::string type = v.is_bool() ? "boolean" : v.is_integer() ? "integer" : v.is_number() ? "number" : "string";
    schema_.emplace(name, type);
  }

  Api& api_;
  std::map<std::string, std::string> schema_;
};

std::vector<std::string> path_segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// What a skipped, successful exchange did to the real org, applied to the seed.
void apply_skipped_effect(Org& org, const Exchange& e) {
  if (e.status >= 300) return;
  auto seg = path_segments(e.path);  // api v1 users {id} ...
  Json s = org.seed();
  auto& users = s.find("users")->as_array();
  auto& groups = s.find("groups")->as_array();
  auto& members = s.find("memberships")->as_array();
  auto find_user = [&](const std::string& id) -> Json* {
    for (auto& u : users)
      if (u.get_string("id") == id) return &u;
    return nullptr;
  };
  const std::string now = ts(e.date_ms);
  if (e.method == "POST" && seg.size() == 3 && seg[2] == "users") {
    users.push_back(org.seed_user(e.response_body));
  } else if (e.method == "PUT" && seg.size() == 4 && seg[2] == "users") {
    Json* u = find_user(seg[3]);
    ASSERT_TRUE(u) << "replace of an unknown user " << seg[3];
    *u = org.seed_user(e.response_body);
  } else if (seg.size() == 6 && seg[2] == "users" && seg[4] == "lifecycle") {
    Json* u = find_user(seg[3]);
    ASSERT_TRUE(u) << seg[5] << " of an unknown user " << seg[3];
    if (seg[5] == "activate") {
      u->set("status", "ACTIVE");
      u->set("activated", now);
    } else if (seg[5] == "deactivate") {
      u->set("status", "DEPROVISIONED");
    } else {
      return;  // reset_factors, reactivate: no state the replay reads
    }
    u->set("statusChanged", now);
    u->set("lastUpdated", now);
  } else if (e.method == "DELETE" && seg.size() == 4 && seg[2] == "users") {
    std::erase_if(users, [&](const Json& u) { return u.get_string("id") == seg[3]; });
    std::erase_if(members, [&](const Json& m) { return m.get_string("userId") == seg[3]; });
  } else if (e.method == "POST" && seg.size() == 3 && seg[2] == "groups") {
    groups.push_back(org.seed_group(e.response_body));
  } else if (e.method == "DELETE" && seg.size() == 4 && seg[2] == "groups") {
    std::erase_if(groups, [&](const Json& g) { return g.get_string("id") == seg[3]; });
    std::erase_if(members, [&](const Json& m) { return m.get_string("groupId") == seg[3]; });
  } else if (seg.size() == 6 && seg[4] == "credentials" && seg[5] == "change_recovery_question") {
    Json* u = find_user(seg[3]);
    const Json* q = e.response_body.path("recovery_question.question");
    if (!u || !q) return;
    u->set("recoveryQuestion", *q);
  } else {
    return;
  }
  org.reseed(std::move(s));
}

// Users and groups a recorded list shows that the emulator does not know yet: the rest of the real
// org. Known ones are left alone, so their state stays the replay's own.
void seed_unknown_from_list(Org& org, const Exchange& e) {
  if (!e.response_body.is_array() || e.status != 200) return;
  Json s = org.seed();
  bool changed = false;
  auto seg = path_segments(e.path);
  for (const auto& item : e.response_body.as_array()) {
    if (looks_like_user(item) && !org.user(item.get_string("id"))) {
      s.find("users")->push_back(org.seed_user(item));
      changed = true;
    } else if (looks_like_group(item) && !org.has_group(item.get_string("id"))) {
      s.find("groups")->push_back(org.seed_group(item));
      // Listed under a user: that user is a member (Everyone holds everyone anyway).
      if (seg.size() == 5 && seg[2] == "users" && seg[4] == "groups" && item.get_string("type") != "BUILT_IN") {
        Json m = Json::object();
        m.set("groupId", item.get_string("id"));
        m.set("userId", seg[3]);
        s.find("memberships")->push_back(std::move(m));
      }
      changed = true;
    }
  }
  if (changed) org.reseed(std::move(s));
}

// 2020 cassettes did not record request bodies. For a partial profile update the body is what the
// recorded answer changed in the profile the emulator holds.
std::optional<Json> reconstruct_update_body(const Org& org, const Exchange& e) {
  auto seg = path_segments(e.path);
  const auto* u = seg.size() == 4 ? org.user(seg[3]) : nullptr;
  const Json* after = e.response_body.find("profile");
  if (!u || !after || !after->is_object()) return std::nullopt;
  Json profile = Json::object();
  for (const auto& [k, v] : after->as_object()) {
    const Json* before = u->profile.find(k);
    if (!before || !(*before == v)) profile.set(k, v);
  }
  Json body = Json::object();
  body.set("profile", std::move(profile));
  return body;
}

std::string header(const emulator::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() != name.size()) continue;
    bool eq = true;
    for (std::size_t i = 0; i < k.size() && eq; ++i)
      eq = std::tolower(static_cast<unsigned char>(k[i])) == name[i];
    if (eq) return v;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------

struct CassetteStats {
  int total = 0, replayed = 0, matched = 0;
  std::map<std::string, int> skipped;
};

struct Failure {
  std::string where;
  std::string what;
};

std::string short_name(std::string name) {
  for (std::string_view prefix :
       {"TestUsersResource.", "TestGroupsResource.", "TestAgentPoolsResource.", "TestApplicationFeaturesResource."})
    if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  if (name.size() > 5 && name.substr(name.size() - 5) == ".yaml") name.resize(name.size() - 5);
  return name;
}

TEST(CassetteReplay, RecordedExchangesMatchStatusAndBodyShape) {
  auto exchanges = load_exchanges();
  ASSERT_EQ(exchanges.size(), 287u) << "exchanges.ndjson changed; re-check the skip table";

  std::vector<std::string> order;
  std::map<std::string, std::vector<const Exchange*>> by_cassette;
  for (const auto& e : exchanges) {
    if (!by_cassette.count(e.cassette)) order.push_back(e.cassette);
    by_cassette[e.cassette].push_back(&e);
  }

  std::map<std::string, CassetteStats> stats;
  std::map<const Allowance*, int> allowance_uses;
  std::vector<Failure> failures;

  for (const auto& name : order) {
    auto& st = stats[name];
    Api api({}, 20240101);
    Org org(api);
    std::string recorded_next, emulator_next;  // the last list's rel="next" targets
    for (const Exchange* e : by_cassette[name]) {
      ++st.total;
      std::string where = fmt::format("{} #{} {} {}", short_name(name), e->seq, e->method, e->target());
      if (auto reason = skip_reason(*e)) {
        ++st.skipped[*reason];
        apply_skipped_effect(org, *e);
        continue;
      }
      seed_unknown_from_list(org, *e);

      emulator::Request req;
      req.method = e->method;
      req.target = e->target();
      if (!recorded_next.empty() && req.target == recorded_next) req.target = emulator_next;
      req.headers = {
          {"authorization", "SSWS " + api.settings().token}, {"accept", "application/json"}, {"host", "test.okta.com"}};
      req.now_ms = e->date_ms;
      std::string body_source = "recorded";
      if (!e->request_body.is_null()) {
        req.body = e->request_body.dump();
      } else if (e->method == "POST" && path_segments(e->path).size() == 4) {
        auto body = reconstruct_update_body(org, *e);
        if (!body) {
          ++st.skipped["partial update: body not recorded, not reconstructible"];
          continue;
        }
        req.body = body->dump();
        body_source = "reconstructed";
      }
      if (!req.body.empty()) req.headers.emplace_back("content-type", "application/json");
      ++st.replayed;
      auto resp = api.handle(req);

      std::vector<Diff> diffs;
      if (resp.status != e->status) {
        diffs.push_back(
            {"", "status", fmt::format("recorded {} vs emulator {} ({})", e->status, resp.status, resp.body)});
      } else if (e->response_body.is_null()) {
        if (!resp.body.empty()) diffs.push_back({"", "extra", "emulator answered a body where Okta sent none"});
      } else {
        std::string err;
        auto got = Json::parse(resp.body, &err);
        if (!got) {
          diffs.push_back({"", "type", "emulator body is not JSON: " + err});
        } else {
          compare_shape(e->response_body, *got, "", diffs);
        }
        if (e->method == "GET" && e->response_body.is_array()) {
          auto rec_link = e->response_headers.count("link") ? e->response_headers.at("link") : std::string();
          auto emu_link = header(resp, "link");
          if (has_next_link(rec_link) != has_next_link(emu_link))
            diffs.push_back({"Link", "link", fmt::format("recorded '{}' vs emulator '{}'", rec_link, emu_link)});
          recorded_next = next_target(rec_link);
          emulator_next = next_target(emu_link);
        }
      }

      std::string what;
      for (const auto& d : diffs) {
        if (const Allowance* a = allowance_for(d, *e)) {
          ++allowance_uses[a];
          continue;
        }
        what += fmt::format("\n    {} {}: {}", d.kind, d.path.empty() ? "<root>" : d.path, d.detail);
      }
      if (what.empty()) {
        ++st.matched;
      } else {
        failures.push_back({where + (body_source == "reconstructed" ? " (request body reconstructed)" : ""), what});
      }
    }
  }

  // The summary table.
  int total = 0, replayed = 0, matched = 0, skipped = 0;
  std::map<std::string, int> reasons;
  std::printf("\n%-52s %5s %8s %7s %7s  %s\n", "cassette", "total", "replayed", "matched", "skipped", "skip reasons");
  for (const auto& name : order) {
    const auto& st = stats[name];
    int sk = 0;
    std::string why;
    for (const auto& [r, n] : st.skipped) {
      sk += n;
      reasons[r] += n;
      why += fmt::format("{}{} x{}", why.empty() ? "" : "; ", r, n);
    }
    std::printf("%-52s %5d %8d %7d %7d  %s\n", short_name(name).c_str(), st.total, st.replayed, st.matched, sk,
                why.c_str());
    total += st.total;
    replayed += st.replayed;
    matched += st.matched;
    skipped += sk;
  }
  std::printf("%-52s %5d %8d %7d %7d\n\nskipped by reason:\n", "TOTAL", total, replayed, matched, skipped);
  for (const auto& [r, n] : reasons)
    std::printf("  %4d  %s\n", n, r.c_str());
  std::printf("allow-listed differences:\n");
  for (const auto& a : kAllowed)
    std::printf("  %4d  %s (%s, recordings <= %d): %s\n", allowance_uses[&a], a.path, a.kind, a.max_year, a.reason);
  std::fflush(stdout);

  EXPECT_EQ(total, replayed + skipped);
  for (const auto& f : failures)
    ADD_FAILURE() << f.where << f.what;
  EXPECT_EQ(matched, replayed);
  for (const auto& a : kAllowed)
    EXPECT_GT(allowance_uses[&a], 0) << "allow-list entry no longer needed: " << a.path << " (" << a.kind << ")";
  // Coverage must not shrink silently (a widened skip rule, a cassette that stopped replaying).
  EXPECT_GE(replayed, 45);
}

// The recorded 429s (agent pools, application features) against the emulator process, its bucket
// set to the recorded X-Rate-Limit-Limit and used up: the same status, error body shape and header
// set, and consistent rate-limit values.
TEST(CassetteReplay, RecordedRateLimitAnswers) {
  auto exchanges = load_exchanges();
  EmulatorProcess emu;
  std::vector<std::pair<std::string, std::string>> auth{{"Authorization", "SSWS " + emu.token()}};
  int checked = 0;
  for (const auto& e : exchanges) {
    if (e.status != 429) continue;
    ++checked;
    SCOPED_TRACE(fmt::format("{} #{} {} {}", short_name(e.cassette), e.seq, e.method, e.target()));
    const std::int64_t limit = std::stoll(e.response_headers.at("x-rate-limit-limit"));
    const std::string bucket = emulator::bucket_for(e.method, e.path);
    ASSERT_EQ(emu.post("/__emulator/config", fmt::format(R"({{"rate-limit":{{"{}":{}}}}})", bucket, limit)).first,
              200u);
    for (std::int64_t i = 0; i < limit; ++i)
      ASSERT_NE(emu.request(e.method, e.target(), {}, auth).status, 429u) << "request " << i + 1 << " of " << limit;
    auto r = emu.request(e.method, e.target(), {}, auth);
    ASSERT_EQ(r.status, 429u) << r.error << r.body;

    auto got = Json::parse(r.body);
    ASSERT_TRUE(got) << r.body;
    std::vector<Diff> diffs;
    compare_shape(e.response_body, *got, "", diffs);
    for (const auto& d : diffs)
      ADD_FAILURE() << d.kind << " " << d.path << ": " << d.detail;

    // Every header Okta sent on the 429 (content-type, date, x-okta-request-id, x-rate-limit-*),
    // except the SDK-retry artifacts.
    for (const auto& [name, value] : e.response_headers) {
      if (name.rfind("x-okta-retry", 0) == 0) continue;
      EXPECT_FALSE(r.header(name).empty()) << "missing header " << name;
    }
    for (const char* name : {"date", "x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"})
      ASSERT_TRUE(e.response_headers.count(name)) << "recording lacks " << name;
    EXPECT_EQ(r.header("x-rate-limit-limit"), e.response_headers.at("x-rate-limit-limit"));
    EXPECT_EQ(r.header("x-rate-limit-remaining"), e.response_headers.at("x-rate-limit-remaining"));
    // The reset lies in the window's future, at most one minute after the Date, as recorded.
    auto date = parse_http_date(r.header("date"));
    ASSERT_TRUE(date) << r.header("date");
    std::int64_t reset = std::stoll(r.header("x-rate-limit-reset"));
    std::int64_t recorded_wait = std::stoll(e.response_headers.at("x-rate-limit-reset")) - e.date_ms / 1000;
    EXPECT_GT(recorded_wait, 0);
    EXPECT_LE(recorded_wait, 60);
    EXPECT_GE(reset, *date / 1000);
    EXPECT_LE(reset - *date / 1000, 60);
  }
  EXPECT_EQ(checked, 3);
}

}  // namespace
}  // namespace og::test
