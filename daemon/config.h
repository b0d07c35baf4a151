#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/diagnostics.h"
#include "correlator/parse.h"

namespace og::daemon {

// oktaguard's one configuration file. Loading reports every problem as a diagnostic with
// file:line:col; unknown keys are errors; secrets are never in the file, only references to files or
// to systemd credentials (LoadCredential= puts them in $CREDENTIALS_DIRECTORY).

using Duration = std::chrono::milliseconds;

struct SecretRef {
  enum class Kind : std::uint8_t { file, credential };
  Kind kind = Kind::file;
  std::string name;  // the path as written, or the credential name
  std::string path;  // resolved path: the file itself, or $CREDENTIALS_DIRECTORY/name
  bool operator==(const SecretRef&) const = default;
};

struct StreamConfig {  // one Kafka topic or one replay file
  std::string name;    // topic name or file path
  std::string source;  // source name events carry ("okta", "edr")
  correlator::SourceFormat format = correlator::SourceFormat::okta_system_log;
  correlator::AlertMapping mapping;  // format == alert only
  bool operator==(const StreamConfig& o) const;
};

struct KafkaConfig {
  std::vector<std::string> brokers;
  std::string group_id = "oktaguard";
  std::map<std::string, std::string> properties;       // passed to librdkafka as they are
  std::map<std::string, SecretRef> secret_properties;  // sasl.password etc., read from the reference
  std::vector<StreamConfig> topics;
  std::string dead_letter_topic;
  std::string audit_topic;
  bool operator==(const KafkaConfig&) const = default;
};

struct OktaConfig {
  std::string org_url;  // https://example.okta.com
  enum class Auth : std::uint8_t { ssws, private_key_jwt } auth = Auth::ssws;
  SecretRef token;        // ssws
  std::string client_id;  // private_key_jwt
  SecretRef private_key;  // private_key_jwt
  std::string key_id;
  std::string algorithm = "RS256";  // RS256 | ES256
  // private_key_jwt: the OAuth scopes to request; empty: those the loaded rules' actions need
  // (okta_scopes_for in run_command.cpp).
  std::vector<std::string> scopes;
  std::string ca_file;
  int max_connections = 4;
  Duration connect_timeout{5000};
  Duration request_timeout{15000};
  // okta.identity: how long an event waits for its user's lookup before it is applied unresolved
  // (PipelineOptions), and how DOMAIN\user and bare names become logins (okta::IdentityOptions).
  Duration identity_wait{5000};
  std::map<std::string, std::string> windows_domains;  // NetBIOS domain -> login domain
  std::string default_login_domain;
  bool operator==(const OktaConfig&) const = default;
};

struct RulesConfig {
  std::vector<std::string> paths;
  Duration allowed_lateness{120000};
  // How often the correlator state is written (and, with it, Kafka offsets stored).
  Duration snapshot_interval{30000};
  int shards = 1;  // see docs/rules.md "Shards": more trade exact cross-key attribution for threads
  bool operator==(const RulesConfig&) const = default;
};

struct IngestionConfig {
  // How far an event's time may be ahead of its ingest time (daemon/ingest.h, future_time).
  Duration max_future_skew{300000};
  bool operator==(const IngestionConfig&) const = default;
};

// An entry of response.exceptions as the file gives it; the response engine checks daemon/guard.h's
// ExceptionEntry, built from it.
struct ConfiguredException {
  std::string value;
  std::optional<std::chrono::sys_seconds> expires;
  std::string reason;
  bool operator==(const ConfiguredException&) const = default;
};

struct ResponseSettings {
  bool dry_run = true;  // a fresh install observes before it acts
  int breaker_max_actions = 20;
  Duration breaker_window{300000};
  Duration breaker_rearm_after{3600000};  // 0: only `oktaguard actions release` re-arms it
  Duration cooldown{3600000};
  std::string kill_switch_file;
  std::vector<ConfiguredException> exception_users;
  std::vector<ConfiguredException> exception_logins;
  std::vector<ConfiguredException> exception_groups;
  std::string audit_file;
  Duration retention{90LL * 24 * 3600 * 1000};
  bool operator==(const ResponseSettings&) const = default;
};

struct Config {
  std::string file;  // where it was loaded from
  KafkaConfig kafka;
  bool has_kafka = false;
  std::vector<StreamConfig> files;
  IngestionConfig ingestion;
  OktaConfig okta;
  RulesConfig rules;
  ResponseSettings response;
  std::string state_dir = "/var/lib/oktaguard";
  std::string ops_listen = "127.0.0.1:9464";
  std::string log_level = "info";
};

struct LoadOptions {
  // Check that referenced files exist and that credentials resolve. `config check` on a machine
  // other than the server turns it off.
  bool check_files = true;
  std::function<const char*(const char*)> getenv;  // default ::getenv; tests inject
};

struct LoadResult {
  std::optional<Config> config;  // set when there is no error (warnings allowed)
  correlator::Diagnostics diagnostics;
};

LoadResult load_config_file(const std::string& path, const LoadOptions& options = {});
LoadResult load_config_text(std::string_view yaml, const std::string& file_name, const LoadOptions& options = {});

// SIGHUP applies rules, response and log level; these sections need a restart. Returns the names
// of the sections that changed and would be ignored by a reload.
std::vector<std::string> restart_required_changes(const Config& running, const Config& loaded);

// Parses "500ms", "30s", "5m", "24h", "7d".
std::optional<Duration> parse_duration(std::string_view text);

}  // namespace og::daemon
