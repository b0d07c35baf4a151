#include "daemon/config.h"

#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "correlator/alert_parser.h"
#include "daemon/log.h"
#include "daemon/ops_server.h"

namespace og::daemon {

namespace {

using correlator::Diagnostics;

bool mapping_equal(const correlator::AlertMapping& a, const correlator::AlertMapping& b) {
  return a.time_pointer == b.time_pointer && a.user_pointer == b.user_pointer && a.user_kind == b.user_kind &&
         a.source_ip_pointer == b.source_ip_pointer && a.alert_type_pointer == b.alert_type_pointer &&
         a.alert_type_prefix == b.alert_type_prefix && a.severity_pointer == b.severity_pointer &&
         a.message_pointer == b.message_pointer && a.uuid_pointer == b.uuid_pointer && a.extra_fields == b.extra_fields;
}

std::string join(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto i : items) {
    if (!out.empty()) out += ", ";
    out += i;
  }
  return out;
}

// Walks the YAML tree; every check that fails adds a diagnostic and returns nullopt/false so
// loading continues and reports the next problem too.
// 100ms, 10m, 1d: in the largest unit that divides it.
std::string duration_text(Duration d) {
  if (d == Duration::zero()) return "0s";
  for (auto [unit, name] : {std::pair{Duration(86'400'000), "d"}, std::pair{Duration(3'600'000), "h"},
                            std::pair{Duration(60'000), "m"}, std::pair{Duration(1'000), "s"}})
    if (d % unit == Duration::zero()) return fmt::format("{}{}", d / unit, name);
  return fmt::format("{}ms", d.count());
}

class Reader {
 public:
  Reader(std::string file, Diagnostics& d, const LoadOptions& o) : file_(std::move(file)), d_(d), o_(o) {}

  void error(const YAML::Node& n, const std::string& path, std::string msg) {
    auto m = n.Mark();
    d_.error(file_, static_cast<std::uint32_t>(m.line + 1), static_cast<std::uint32_t>(m.column + 1), path,
             std::move(msg));
  }
  void warning(const YAML::Node& n, const std::string& path, std::string msg) {
    auto m = n.Mark();
    d_.warning(file_, static_cast<std::uint32_t>(m.line + 1), static_cast<std::uint32_t>(m.column + 1), path,
               std::move(msg));
  }

  static std::string join_path(const std::string& base, std::string_view key) {
    return base.empty() ? std::string(key) : base + "." + std::string(key);
  }

  // Requires a map and reports unknown or repeated keys; returns false when it is not a map.
  bool map(const YAML::Node& n, const std::string& path, std::initializer_list<std::string_view> allowed) {
    if (!n.IsMap()) {
      error(n, path, fmt::format("'{}' must be a map", path.empty() ? "the document" : path));
      return false;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      YAML::Node key = it->first;  // a copy: `it->first` lives in a temporary proxy
      if (!key.IsScalar()) {
        error(key, path, "keys must be strings");
        continue;
      }
      std::string k = key.Scalar();
      if (!seen.insert(k).second) error(key, join_path(path, k), fmt::format("duplicate key '{}'", k));
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        error(key, join_path(path, k), fmt::format("unknown key '{}' (expected one of: {})", k, join(allowed)));
    }
    return true;
  }

  std::optional<std::string> string(const YAML::Node& n, const std::string& path) {
    if (!n.IsScalar()) {
      error(n, path, fmt::format("'{}' must be a string", path));
      return std::nullopt;
    }
    return n.Scalar();
  }
  std::optional<std::string> nonempty(const YAML::Node& n, const std::string& path) {
    auto s = string(n, path);
    if (s && s->empty()) {
      error(n, path, fmt::format("'{}' must not be empty", path));
      return std::nullopt;
    }
    return s;
  }
  std::optional<long long> integer(const YAML::Node& n, const std::string& path, long long lo, long long hi) {
    long long v = 0;
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) {
        if (v < lo || v > hi) {
          error(n, path, fmt::format("'{}' must be between {} and {}", path, lo, hi));
          return std::nullopt;
        }
        return v;
      }
    }
    error(n, path, fmt::format("'{}' must be an integer", path));
    return std::nullopt;
  }
  std::optional<bool> boolean(const YAML::Node& n, const std::string& path) {
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      if (s == "true") return true;
      if (s == "false") return false;
    }
    error(n, path, fmt::format("'{}' must be a boolean (true or false)", path));
    return std::nullopt;
  }
  std::optional<Duration> duration(const YAML::Node& n, const std::string& path) {
    if (n.IsScalar())
      if (auto d = parse_duration(n.Scalar())) return d;
    error(n, path, fmt::format("'{}' must be a duration such as 500ms, 30s, 5m, 24h or 7d", path));
    return std::nullopt;
  }
  // A duration from `lo` to `hi`; outside, an error naming the bounds as they are written.
  std::optional<Duration> duration(const YAML::Node& n, const std::string& path, Duration lo,
                                   Duration hi = Duration::max()) {
    auto d = duration(n, path);
    if (d && (*d < lo || *d > hi)) {
      error(n, path,
            hi == Duration::max()
                ? fmt::format("'{}' must be at least {}", path, duration_text(lo))
                : fmt::format("'{}' must be between {} and {}", path, duration_text(lo), duration_text(hi)));
      return std::nullopt;
    }
    return d;
  }
  std::vector<std::string> string_list(const YAML::Node& n, const std::string& path) {
    std::vector<std::string> out;
    if (!n.IsSequence()) {
      error(n, path, fmt::format("'{}' must be a list of strings", path));
      return out;
    }
    for (std::size_t i = 0; i < n.size(); ++i)
      if (auto s = nonempty(n[i], fmt::format("{}[{}]", path, i))) out.push_back(*s);
    return out;
  }

  // `{file: PATH}` or `{credential: NAME}`, or the short forms of the keys named `file_key` and
  // `credential`. A literal secret is refused.
  std::optional<SecretRef> secret_file(const YAML::Node& n, const std::string& path) {
    auto s = nonempty(n, path);
    if (!s) return std::nullopt;
    SecretRef r{SecretRef::Kind::file, *s, *s};
    if (!s->starts_with("/")) {
      error(n, path, fmt::format("'{}' must be an absolute path", path));
      return std::nullopt;
    }
    if (o_.check_files && ::access(s->c_str(), R_OK) != 0) {
      error(n, path, fmt::format("cannot read secret file '{}': {}", *s, std::strerror(errno)));
      return std::nullopt;
    }
    if (o_.check_files && empty_file(*s)) {
      error(n, path, fmt::format("secret file '{}' is empty", *s));
      return std::nullopt;
    }
    return r;
  }
  std::optional<SecretRef> credential(const YAML::Node& n, const std::string& path) {
    auto s = nonempty(n, path);
    if (!s) return std::nullopt;
    if (s->find('/') != std::string::npos || *s == "." || *s == "..") {
      error(n, path, fmt::format("credential name '{}' must be a plain name (as in LoadCredential=NAME:...)", *s));
      return std::nullopt;
    }
    SecretRef r{SecretRef::Kind::credential, *s, {}};
    const char* dir = o_.getenv ? o_.getenv("CREDENTIALS_DIRECTORY") : std::getenv("CREDENTIALS_DIRECTORY");
    if (dir == nullptr || *dir == '\0') {
      if (o_.check_files)
        error(n, path,
              fmt::format("credential '{}' needs $CREDENTIALS_DIRECTORY (LoadCredential={}:... in the unit)", *s, *s));
      else
        warning(n, path, fmt::format("credential '{}' not checked: $CREDENTIALS_DIRECTORY is not set", *s));
      return r;
    }
    r.path = std::string(dir) + "/" + *s;
    if (o_.check_files && ::access(r.path.c_str(), R_OK) != 0) {
      error(n, path, fmt::format("cannot read credential '{}' at {}: {}", *s, r.path, std::strerror(errno)));
      return std::nullopt;
    }
    // The unit gives every credential an empty default (SetCredential=), so one the configuration
    // does not use need not exist: an empty one that it uses was not installed.
    if (o_.check_files && empty_file(r.path)) {
      error(n, path,
            fmt::format("credential '{}' is empty: install it as /etc/oktaguard/credentials/{} (mode 0600)", *s, *s));
      return std::nullopt;
    }
    return r;
  }
  // Exactly one of `file_key` / `credential` in map n.
  std::optional<SecretRef> secret_in(const YAML::Node& n, const std::string& path, std::string_view file_key,
                                     std::string_view what) {
    bool has_file = static_cast<bool>(n[std::string(file_key)]);
    bool has_cred = static_cast<bool>(n["credential"]);
    if (has_file == has_cred) {
      error(n, path, fmt::format("{} needs exactly one of '{}' or 'credential'", what, file_key));
      return std::nullopt;
    }
    if (has_file) return secret_file(n[std::string(file_key)], join_path(path, file_key));
    return credential(n["credential"], join_path(path, "credential"));
  }

  const LoadOptions& options() const { return o_; }

 private:
  static bool empty_file(const std::string& path) {
    std::error_code ec;
    return std::filesystem::file_size(path, ec) == 0 && !ec;
  }

  std::string file_;
  Diagnostics& d_;
  const LoadOptions& o_;
};

void read_mapping(Reader& r, const YAML::Node& n, const std::string& path, correlator::AlertMapping& m) {
  if (!r.map(n, path,
             {"time", "user", "user_kind", "source_ip", "alert_type", "alert_type_prefix", "severity", "message",
              "uuid", "extra"}))
    return;
  auto pointer = [&](const char* key, std::string& out, bool required) {
    std::string p = Reader::join_path(path, key);
    YAML::Node v = n[key];
    if (!v) {
      if (required) r.error(n, p, fmt::format("'{}' is required (a JSON pointer such as /user/email)", p));
      return;
    }
    auto s = r.nonempty(v, p);
    if (!s) return;
    if (!correlator::valid_json_pointer(*s)) {
      r.error(v, p, fmt::format("'{}' must be a JSON pointer starting with '/' ('~' only as ~0 or ~1)", p));
      return;
    }
    out = *s;
  };
  pointer("time", m.time_pointer, false);
  pointer("user", m.user_pointer, true);
  pointer("source_ip", m.source_ip_pointer, false);
  pointer("alert_type", m.alert_type_pointer, true);
  pointer("severity", m.severity_pointer, false);
  pointer("message", m.message_pointer, false);
  pointer("uuid", m.uuid_pointer, false);
  if (YAML::Node v = n["alert_type_prefix"])
    if (auto s = r.string(v, Reader::join_path(path, "alert_type_prefix"))) m.alert_type_prefix = *s;
  if (YAML::Node v = n["user_kind"]) {
    std::string p = Reader::join_path(path, "user_kind");
    if (auto s = r.string(v, p)) {
      if (*s == "email")
        m.user_kind = correlator::IdentityKind::email;
      else if (*s == "login")
        m.user_kind = correlator::IdentityKind::login;
      else if (*s == "okta_id")
        m.user_kind = correlator::IdentityKind::okta_id;
      else
        r.error(v, p, fmt::format("'{}' must be one of: email, login, okta_id (got '{}')", p, *s));
    }
  }
  if (YAML::Node extra = n["extra"]) {
    std::string p = Reader::join_path(path, "extra");
    if (!extra.IsMap()) {
      r.error(extra, p, fmt::format("'{}' must be a map of field name to JSON pointer", p));
      return;
    }
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      auto name = r.nonempty(it->first, p);
      if (!name) continue;
      std::string fp = Reader::join_path(p, *name);
      auto ptr = r.nonempty(it->second, fp);
      if (!ptr) continue;
      if (!ptr->starts_with('/')) {
        r.error(it->second, fp, fmt::format("'{}' must be a JSON pointer starting with '/'", fp));
        continue;
      }
      m.extra_fields.emplace_back(*name, *ptr);
    }
  }
}

void read_streams(Reader& r, const YAML::Node& n, const std::string& path, std::string_view name_key,
                  std::vector<StreamConfig>& out) {
  if (!n.IsSequence()) {
    r.error(n, path, fmt::format("'{}' must be a list", path));
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < n.size(); ++i) {
    std::string p = fmt::format("{}[{}]", path, i);
    const YAML::Node& t = n[i];
    if (!r.map(t, p, {name_key, "source", "format", "mapping"})) continue;
    StreamConfig s;
    bool ok = true;
    auto field = [&](std::string_view key, std::string& dst) {
      std::string kp = Reader::join_path(p, key);
      YAML::Node v = t[std::string(key)];
      if (!v) {
        r.error(t, kp, fmt::format("'{}' is required", kp));
        ok = false;
      } else if (auto s2 = r.nonempty(v, kp)) {
        dst = *s2;
      } else {
        ok = false;
      }
    };
    field(name_key, s.name);
    field("source", s.source);
    std::string format;
    field("format", format);
    if (!format.empty()) {
      if (format == "okta_system_log") {
        s.format = correlator::SourceFormat::okta_system_log;
      } else if (format == "alert") {
        s.format = correlator::SourceFormat::alert;
      } else {
        r.error(
            t["format"], Reader::join_path(p, "format"),
            fmt::format("'{}' must be okta_system_log or alert (got '{}')", Reader::join_path(p, "format"), format));
        ok = false;
      }
    }
    YAML::Node mapping = t["mapping"];
    if (ok && s.format == correlator::SourceFormat::alert) {
      if (!mapping)
        r.error(t, Reader::join_path(p, "mapping"), "an alert source needs a 'mapping' (at least user and alert_type)");
      else
        read_mapping(r, mapping, Reader::join_path(p, "mapping"), s.mapping);
    } else if (ok && mapping) {
      r.error(mapping, Reader::join_path(p, "mapping"), "'mapping' applies to format: alert only");
    }
    if (!s.name.empty() && !names.insert(s.name).second)
      r.error(t[std::string(name_key)], Reader::join_path(p, name_key), fmt::format("'{}' is listed twice", s.name));
    out.push_back(std::move(s));
  }
}

// librdkafka properties whose values are secrets: never literal in the file.
bool secret_kafka_property(std::string_view name) {
  return name.find("password") != std::string_view::npos || name.find("secret") != std::string_view::npos ||
         name == "ssl.key.pem" || name == "ssl_key" || name == "sasl.oauthbearer.config";
}

void read_kafka(Reader& r, const YAML::Node& n, KafkaConfig& k) {
  const std::string path = "sources.kafka";
  if (!r.map(n, path, {"brokers", "group_id", "properties", "topics", "dead_letter_topic", "audit_topic"})) return;
  if (YAML::Node b = n["brokers"]) {
    k.brokers = r.string_list(b, path + ".brokers");
    if (b.IsSequence() && b.size() == 0) r.error(b, path + ".brokers", "'sources.kafka.brokers' must not be empty");
  } else {
    r.error(n, path + ".brokers", "'sources.kafka.brokers' is required");
  }
  if (YAML::Node g = n["group_id"])
    if (auto s = r.nonempty(g, path + ".group_id")) k.group_id = *s;
  if (YAML::Node props = n["properties"]) {
    std::string pp = path + ".properties";
    if (!props.IsMap()) {
      r.error(props, pp, fmt::format("'{}' must be a map of librdkafka property to value", pp));
    } else {
      for (auto it = props.begin(); it != props.end(); ++it) {
        auto name = r.nonempty(it->first, pp);
        if (!name) continue;
        std::string kp = pp + "." + *name;
        static constexpr std::string_view kOwned[] = {"bootstrap.servers", "group.id", "enable.auto.offset.store",
                                                      "enable.auto.commit"};
        if (std::find(std::begin(kOwned), std::end(kOwned), *name) != std::end(kOwned)) {
          r.error(it->first, kp,
                  fmt::format("'{}' is set by oktaguard (brokers, group_id, and offset storage after acknowledgement)",
                              *name));
          continue;
        }
        if (it->second.IsMap()) {
          if (!r.map(it->second, kp, {"file", "credential"})) continue;
          if (auto s = r.secret_in(it->second, kp, "file", fmt::format("'{}'", kp))) k.secret_properties[*name] = *s;
        } else if (secret_kafka_property(*name)) {
          r.error(it->second, kp,
                  fmt::format("'{}' is a secret: give {{file: /path}} or {{credential: NAME}}, not the value", *name));
        } else if (auto v = r.string(it->second, kp)) {
          k.properties[*name] = *v;
        }
      }
    }
  }
  if (YAML::Node t = n["topics"])
    read_streams(r, t, path + ".topics", "topic", k.topics);
  else
    r.error(n, path + ".topics", "'sources.kafka.topics' is required");
  if (YAML::Node d = n["dead_letter_topic"])
    if (auto s = r.nonempty(d, path + ".dead_letter_topic")) k.dead_letter_topic = *s;
  if (YAML::Node a = n["audit_topic"])
    if (auto s = r.nonempty(a, path + ".audit_topic")) k.audit_topic = *s;
}

void read_okta(Reader& r, const YAML::Node& n, OktaConfig& o) {
  const std::string path = "okta";
  if (!r.map(n, path, {"org_url", "auth", "ca_file", "max_connections", "timeouts", "identity"})) return;
  if (YAML::Node u = n["org_url"]) {
    if (auto s = r.nonempty(u, "okta.org_url")) {
      std::string rest = s->starts_with("https://") ? s->substr(8) : std::string();
      if (rest.empty() || rest.find_first_of("/?#@ ") != std::string::npos)
        r.error(u, "okta.org_url", fmt::format("'okta.org_url' must be https://HOST without a path (got '{}')", *s));
      else
        o.org_url = *s;
    }
  } else {
    r.error(n, "okta.org_url", "'okta.org_url' is required");
  }
  if (YAML::Node a = n["auth"]) {
    if (r.map(a, "okta.auth", {"ssws", "private_key_jwt"})) {
      if ((a["ssws"] ? 1 : 0) + (a["private_key_jwt"] ? 1 : 0) != 1) {
        r.error(a, "okta.auth", "'okta.auth' needs exactly one of 'ssws' or 'private_key_jwt'");
      } else if (YAML::Node s = a["ssws"]) {
        o.auth = OktaConfig::Auth::ssws;
        if (s.IsMap() && s["token"])
          r.error(s["token"], "okta.auth.ssws.token",
                  "a literal API token is not allowed in the configuration; use 'token_file' or 'credential'");
        else if (r.map(s, "okta.auth.ssws", {"token_file", "credential"}))
          if (auto ref = r.secret_in(s, "okta.auth.ssws", "token_file", "'okta.auth.ssws'")) o.token = *ref;
      } else {
        YAML::Node j = a["private_key_jwt"];
        o.auth = OktaConfig::Auth::private_key_jwt;
        const std::string jp = "okta.auth.private_key_jwt";
        if (j.IsMap() && (j["key"] || j["private_key"]))
          r.error(j["key"] ? j["key"] : j["private_key"], jp + ".key",
                  "a literal private key is not allowed in the configuration; use 'key_file' or 'credential'");
        else if (r.map(j, jp, {"client_id", "key_file", "credential", "key_id", "algorithm", "scopes"})) {
          if (YAML::Node c = j["client_id"]) {
            if (auto s2 = r.nonempty(c, jp + ".client_id")) o.client_id = *s2;
          } else {
            r.error(j, jp + ".client_id", fmt::format("'{}.client_id' is required", jp));
          }
          if (auto ref = r.secret_in(j, jp, "key_file", "'" + jp + "'")) o.private_key = *ref;
          if (YAML::Node k = j["key_id"])
            if (auto s2 = r.nonempty(k, jp + ".key_id")) o.key_id = *s2;
          if (YAML::Node sc = j["scopes"]) {
            o.scopes = r.string_list(sc, jp + ".scopes");
            if (sc.IsSequence() && sc.size() == 0)
              r.error(sc, jp + ".scopes", fmt::format("'{}.scopes' must list at least one scope", jp));
            for (const std::string& scope : o.scopes)
              if (scope.empty() || scope.find_first_of(" \t\r\n") != std::string::npos)
                r.error(sc, jp + ".scopes", fmt::format("'{}.scopes' has an empty scope or one with blanks", jp));
          }
          if (YAML::Node alg = j["algorithm"]) {
            if (auto s2 = r.string(alg, jp + ".algorithm")) {
              if (*s2 == "RS256" || *s2 == "ES256")
                o.algorithm = *s2;
              else
                r.error(alg, jp + ".algorithm",
                        fmt::format("'{}.algorithm' must be RS256 or ES256 (got '{}')", jp, *s2));
            }
          }
        }
      }
    }
  } else {
    r.error(n, "okta.auth", "'okta.auth' is required");
  }
  if (YAML::Node c = n["ca_file"])
    if (auto s = r.secret_file(c, "okta.ca_file")) o.ca_file = s->path;
  if (YAML::Node m = n["max_connections"])
    if (auto v = r.integer(m, "okta.max_connections", 1, 64)) o.max_connections = static_cast<int>(*v);
  if (YAML::Node t = n["timeouts"]) {
    if (r.map(t, "okta.timeouts", {"connect", "request"})) {
      // 0 would fail every request at once; days overflow the timers' nanoseconds.
      auto bounded = [&](const YAML::Node& v, const std::string& key, Duration& out) {
        if (auto d = r.duration(v, key, Duration(100), std::chrono::minutes(10))) out = *d;
      };
      if (YAML::Node c = t["connect"]) bounded(c, "okta.timeouts.connect", o.connect_timeout);
      if (YAML::Node q = t["request"]) bounded(q, "okta.timeouts.request", o.request_timeout);
    }
  }
  if (YAML::Node id = n["identity"]) {
    if (r.map(id, "okta.identity", {"wait", "windows_domains", "default_login_domain"})) {
      if (YAML::Node w = id["wait"])
        // Every later event waits behind a parked one: minutes would stall detection.
        if (auto d = r.duration(w, "okta.identity.wait", Duration(100), std::chrono::minutes(1))) o.identity_wait = *d;
      // A login domain is what follows '@' in a login: no '@', no blanks.
      auto domain = [&](const YAML::Node& v, const std::string& key) -> std::optional<std::string> {
        auto s = r.nonempty(v, key);
        if (s && s->find_first_of("@ \t\\/") != std::string::npos) {
          r.error(v, key, fmt::format("'{}' must be a domain such as corp.example.com (got '{}')", key, *s));
          return std::nullopt;
        }
        return s;
      };
      if (YAML::Node wd = id["windows_domains"]) {
        if (!wd.IsMap()) {
          r.error(wd, "okta.identity.windows_domains",
                  "'okta.identity.windows_domains' must map NetBIOS domains to login domains (CORP: corp.example.com)");
        } else {
          for (auto it = wd.begin(); it != wd.end(); ++it) {
            auto netbios = r.nonempty(it->first, "okta.identity.windows_domains");
            auto login = domain(it->second, "okta.identity.windows_domains");
            if (netbios && login) o.windows_domains[*netbios] = *login;
          }
        }
      }
      if (YAML::Node dd = id["default_login_domain"])
        if (auto s = domain(dd, "okta.identity.default_login_domain")) o.default_login_domain = *s;
    }
  }
}

void read_rules(Reader& r, const YAML::Node& n, RulesConfig& c) {
  if (!r.map(n, "rules", {"paths", "allowed_lateness", "shards", "snapshot_interval"})) return;
  if (YAML::Node p = n["paths"]) {
    c.paths = r.string_list(p, "rules.paths");
    if (p.IsSequence() && p.size() == 0) r.error(p, "rules.paths", "'rules.paths' must list at least one path");
  } else {
    r.error(n, "rules.paths", "'rules.paths' is required");
  }
  if (YAML::Node l = n["allowed_lateness"])
    // Events wait this long (in event time) before they are applied; a day would hold a day of
    // events in memory.
    if (auto d = r.duration(l, "rules.allowed_lateness", Duration::zero(), std::chrono::hours(1)))
      c.allowed_lateness = *d;
  if (YAML::Node s = n["shards"])
    if (auto v = r.integer(s, "rules.shards", 1, 256)) c.shards = static_cast<int>(*v);
  if (YAML::Node i = n["snapshot_interval"])
    if (auto d = r.duration(i, "rules.snapshot_interval", std::chrono::seconds(1))) c.snapshot_interval = *d;
}

void read_ingestion(Reader& r, const YAML::Node& n, IngestionConfig& c) {
  if (!r.map(n, "ingestion", {"max_future_skew"})) return;
  if (YAML::Node s = n["max_future_skew"])
    if (auto d = r.duration(s, "ingestion.max_future_skew")) {
      // 0 would reject every event a producer's clock puts a millisecond ahead of the broker's.
      if (*d <= Duration::zero())
        r.error(s, "ingestion.max_future_skew", "'ingestion.max_future_skew' must be a positive duration");
      else
        c.max_future_skew = *d;
    }
}

std::optional<std::chrono::sys_seconds> parse_expiry(std::string_view s) {
  // YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC).
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  char tail = 0;
  std::string str(s);
  if (str.size() == 10 && std::sscanf(str.c_str(), "%4d-%2d-%2d", &y, &mo, &d) == 3) {
  } else if (str.size() == 20 &&
             std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &tail) == 7 &&
             tail == 'Z') {
  } else {
    return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                  std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  return std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(se);
}

void read_exceptions(Reader& r, const YAML::Node& n, const std::string& path, std::vector<ConfiguredException>& out) {
  if (!n.IsSequence()) {
    r.error(n, path, fmt::format("'{}' must be a list", path));
    return;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    std::string p = fmt::format("{}[{}]", path, i);
    const YAML::Node& e = n[i];
    ConfiguredException entry;
    if (e.IsScalar()) {
      if (auto s = r.nonempty(e, p))
        entry.value = *s;
      else
        continue;
    } else if (r.map(e, p, {"value", "expires", "reason"})) {
      if (YAML::Node v = e["value"]) {
        if (auto s = r.nonempty(v, p + ".value"))
          entry.value = *s;
        else
          continue;
      } else {
        r.error(e, p + ".value", fmt::format("'{}.value' is required", p));
        continue;
      }
      if (YAML::Node x = e["expires"]) {
        auto s = r.string(x, p + ".expires");
        if (!s) continue;
        entry.expires = parse_expiry(*s);
        if (!entry.expires) {
          r.error(x, p + ".expires",
                  fmt::format("'{}.expires' must be a date (2025-01-31) or UTC time (2025-01-31T12:00:00Z)", p));
          continue;
        }
      }
      if (YAML::Node why = e["reason"])
        if (auto s = r.string(why, p + ".reason")) entry.reason = *s;
    } else {
      continue;
    }
    out.push_back(std::move(entry));
  }
}

void read_response(Reader& r, const YAML::Node& n, ResponseSettings& c) {
  if (!r.map(n, "response",
             {"dry_run", "breaker", "cooldown", "kill_switch_file", "exceptions", "audit_file", "retention"}))
    return;
  if (YAML::Node d = n["dry_run"])
    if (auto b = r.boolean(d, "response.dry_run")) c.dry_run = *b;
  if (YAML::Node b = n["breaker"]) {
    if (r.map(b, "response.breaker", {"max_actions", "window", "rearm_after"})) {
      if (YAML::Node m = b["max_actions"])
        if (auto v = r.integer(m, "response.breaker.max_actions", 1, 1000000))
          c.breaker_max_actions = static_cast<int>(*v);
      if (YAML::Node w = b["window"])
        if (auto d = r.duration(w, "response.breaker.window")) c.breaker_window = *d;
      if (YAML::Node a = b["rearm_after"]) {
        const std::string key = "response.breaker.rearm_after";
        // Re-armed within seconds the breaker would barely slow a runaway rule; beyond a month an
        // operator release is what is meant (0).
        std::optional<Duration> d =
            a.IsScalar() && a.Scalar() == "0" ? std::optional<Duration>(Duration::zero()) : r.duration(a, key);
        if (d) {
          if (*d != Duration::zero() && (*d < std::chrono::minutes(1) || *d > std::chrono::days(30)))
            r.error(a, key, fmt::format("'{}' must be 0 (operator release only) or between 1m and 30d", key));
          else
            c.breaker_rearm_after = *d;
        }
      }
    }
  }
  if (YAML::Node cd = n["cooldown"])
    if (auto d = r.duration(cd, "response.cooldown")) c.cooldown = *d;
  auto abs_path = [&](const char* key, std::string& dst) {
    std::string p = std::string("response.") + key;
    if (YAML::Node v = n[key]) {
      if (auto s = r.nonempty(v, p)) {
        if (s->starts_with('/'))
          dst = *s;
        else
          r.error(v, p, fmt::format("'{}' must be an absolute path", p));
      }
    }
  };
  abs_path("kill_switch_file", c.kill_switch_file);
  abs_path("audit_file", c.audit_file);
  if (YAML::Node e = n["exceptions"]) {
    if (r.map(e, "response.exceptions", {"users", "logins", "groups"})) {
      if (YAML::Node u = e["users"]) read_exceptions(r, u, "response.exceptions.users", c.exception_users);
      if (YAML::Node l = e["logins"]) read_exceptions(r, l, "response.exceptions.logins", c.exception_logins);
      if (YAML::Node g = e["groups"]) read_exceptions(r, g, "response.exceptions.groups", c.exception_groups);
    }
  }
  if (YAML::Node ret = n["retention"])
    // Idempotency keys go with the rows: below a day, a redelivery after a long outage, or an
    // incident re-decided, could run its actions again.
    if (auto d = r.duration(ret, "response.retention", std::chrono::hours(24))) c.retention = *d;
}

void read_document(Reader& r, const YAML::Node& root, Config& c) {
  if (!root || root.IsNull()) {
    r.error(root, "", "the configuration is empty");
    return;
  }
  if (!r.map(root, "", {"sources", "ingestion", "okta", "rules", "response", "state_dir", "ops", "log"})) return;
  if (YAML::Node s = root["sources"]) {
    if (r.map(s, "sources", {"kafka", "files"})) {
      if (YAML::Node k = s["kafka"]) {
        c.has_kafka = true;
        read_kafka(r, k, c.kafka);
      }
      if (YAML::Node f = s["files"]) read_streams(r, f, "sources.files", "path", c.files);
      if (!s["kafka"] && !s["files"]) r.error(s, "sources", "'sources' needs 'kafka' or 'files'");
    }
  } else {
    r.error(root, "sources", "'sources' is required");
  }
  if (YAML::Node i = root["ingestion"]) read_ingestion(r, i, c.ingestion);
  if (YAML::Node o = root["okta"])
    read_okta(r, o, c.okta);
  else
    r.error(root, "okta", "'okta' is required");
  if (YAML::Node ru = root["rules"])
    read_rules(r, ru, c.rules);
  else
    r.error(root, "rules", "'rules' is required");
  if (YAML::Node re = root["response"]) read_response(r, re, c.response);
  if (YAML::Node sd = root["state_dir"]) {
    if (auto s = r.nonempty(sd, "state_dir")) {
      if (s->starts_with('/'))
        c.state_dir = *s;
      else
        r.error(sd, "state_dir", "'state_dir' must be an absolute path");
    }
  }
  if (YAML::Node ops = root["ops"]) {
    if (r.map(ops, "ops", {"listen"})) {
      if (YAML::Node l = ops["listen"]) {
        if (auto s = r.nonempty(l, "ops.listen")) {
          std::string err;
          if (auto ep = parse_listen_address(*s, &err)) {
            c.ops_listen = *s;
            if (!ep->address().is_loopback())
              r.warning(l, "ops.listen",
                        fmt::format("'ops.listen' {} is not loopback: /metrics and /readyz will be reachable from "
                                    "the network",
                                    *s));
          } else {
            r.error(l, "ops.listen", fmt::format("'ops.listen': {}", err));
          }
        }
      }
    }
  }
  if (YAML::Node lg = root["log"]) {
    if (r.map(lg, "log", {"level"})) {
      if (YAML::Node lv = lg["level"]) {
        if (auto s = r.string(lv, "log.level")) {
          if (parse_log_level(*s))
            c.log_level = *s;
          else
            r.error(lv, "log.level", fmt::format("'log.level' must be debug, info, warn or error (got '{}')", *s));
        }
      }
    }
  }
}

}  // namespace

bool StreamConfig::operator==(const StreamConfig& o) const {
  return name == o.name && source == o.source && format == o.format && mapping_equal(mapping, o.mapping);
}

std::optional<Duration> parse_duration(std::string_view text) {
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p == text.data() || v < 0) return std::nullopt;
  std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  long long ms_per = 0;
  if (unit == "ms")
    ms_per = 1;
  else if (unit == "s")
    ms_per = 1000;
  else if (unit == "m")
    ms_per = 60000;
  else if (unit == "h")
    ms_per = 3600000;
  else if (unit == "d")
    ms_per = 86400000;
  else
    return std::nullopt;
  if (v > std::numeric_limits<long long>::max() / ms_per) return std::nullopt;
  return Duration(v * ms_per);
}

LoadResult load_config_text(std::string_view yaml, const std::string& file_name, const LoadOptions& options) {
  LoadResult result;
  Config c;
  c.file = file_name;
  Reader r(file_name, result.diagnostics, options);
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    read_document(r, root, c);
  } catch (const YAML::Exception& e) {
    result.diagnostics.error(file_name, static_cast<std::uint32_t>(e.mark.line + 1),
                             static_cast<std::uint32_t>(e.mark.column + 1), "", "YAML syntax: " + e.msg);
  }
  if (!result.diagnostics.has_errors()) result.config = std::move(c);
  return result;
}

LoadResult load_config_file(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.diagnostics.error(path, 0, 0, "", fmt::format("cannot open: {}", std::strerror(errno)));
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_config_text(text.str(), path, options);
}

std::vector<std::string> restart_required_changes(const Config& running, const Config& loaded) {
  std::vector<std::string> out;
  if (running.has_kafka != loaded.has_kafka || !(running.kafka == loaded.kafka)) out.push_back("sources.kafka");
  if (running.files != loaded.files) out.push_back("sources.files");
  if (!(running.ingestion == loaded.ingestion)) out.push_back("ingestion");
  if (!(running.okta == loaded.okta)) out.push_back("okta");
  if (running.rules.shards != loaded.rules.shards) out.push_back("rules.shards");
  if (running.state_dir != loaded.state_dir) out.push_back("state_dir");
  if (running.ops_listen != loaded.ops_listen) out.push_back("ops");
  return out;
}

}  // namespace og::daemon
