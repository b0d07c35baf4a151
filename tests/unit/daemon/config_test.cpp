#include "daemon/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/config_cli.h"

namespace og::test {
namespace {

using og::daemon::Config;
using og::daemon::load_config_text;
using og::daemon::LoadOptions;
using og::daemon::SecretRef;

std::vector<std::string> texts(const og::correlator::Diagnostics& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds.items())
    out.push_back(og::correlator::render_text(d));
  return out;
}

// A credentials directory with the secrets the example names, like LoadCredential= provides.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("og-cred-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (const char* name : {"kafka-sasl-password", "okta-private-key", "okta-token"})
      std::ofstream(dir_ / name) << "secret-value\n";
    token_file_ = (dir_ / "okta-token").string();
    options_.getenv = [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
    env_["CREDENTIALS_DIRECTORY"] = dir_.string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  og::daemon::LoadResult load(const std::string& yaml) { return load_config_text(yaml, "test.yaml", options_); }

  std::string minimal() const {
    return "sources:\n"
           "  files:\n"
           "    - {path: /tmp/replay.json, source: okta, format: okta_system_log}\n"
           "okta:\n"
           "  org_url: https://example.okta.com\n"
           "  auth:\n"
           "    ssws: {token_file: " +
           token_file_ +
           "}\n"
           "rules:\n"
           "  paths: [/etc/oktaguard/rules]\n";
  }

  std::filesystem::path dir_;
  std::string token_file_;
  std::map<std::string, std::string> env_;
  LoadOptions options_;
};

TEST_F(ConfigTest, TheShippedExampleLoads) {
  auto r = og::daemon::load_config_file(OG_SOURCE_DIR "/examples/oktaguard.yaml", options_);
  ASSERT_TRUE(r.config) << og::correlator::render_text(r.diagnostics);
  EXPECT_TRUE(r.diagnostics.empty()) << og::correlator::render_text(r.diagnostics);
  const Config& c = *r.config;
  ASSERT_TRUE(c.has_kafka);
  EXPECT_EQ(c.kafka.brokers.size(), 2u);
  ASSERT_EQ(c.kafka.topics.size(), 2u);
  EXPECT_EQ(c.kafka.topics[1].format, og::correlator::SourceFormat::alert);
  EXPECT_EQ(c.kafka.topics[1].mapping.user_pointer, "/device/user_email");
  EXPECT_EQ(c.kafka.topics[1].mapping.alert_type_prefix, "edr.");
  ASSERT_EQ(c.kafka.topics[1].mapping.extra_fields.size(), 1u);
  EXPECT_EQ(c.kafka.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c.kafka.properties.count("sasl.password"), 0u);
  const SecretRef& sasl = c.kafka.secret_properties.at("sasl.password");
  EXPECT_EQ(sasl.kind, SecretRef::Kind::credential);
  EXPECT_EQ(sasl.path, (dir_ / "kafka-sasl-password").string());
  EXPECT_EQ(c.okta.auth, og::daemon::OktaConfig::Auth::private_key_jwt);
  EXPECT_EQ(c.okta.private_key.path, (dir_ / "okta-private-key").string());
  EXPECT_EQ(c.ingestion.max_future_skew, std::chrono::minutes(5));
  EXPECT_EQ(c.rules.allowed_lateness, std::chrono::minutes(2));
  EXPECT_EQ(c.rules.snapshot_interval, std::chrono::seconds(30));
  EXPECT_EQ(c.response.breaker_window, std::chrono::minutes(5));
  EXPECT_EQ(c.response.retention, std::chrono::hours(24 * 90));
  ASSERT_EQ(c.response.exception_logins.size(), 2u);
  ASSERT_TRUE(c.response.exception_logins[1].expires);
  EXPECT_EQ(c.response.exception_groups[0].value, "Okta Administrators");
  EXPECT_EQ(c.ops_listen, "127.0.0.1:9464");
}

TEST_F(ConfigTest, MinimalConfigGetsSafeDefaults) {
  auto r = load(minimal());
  ASSERT_TRUE(r.config) << og::correlator::render_text(r.diagnostics);
  EXPECT_TRUE(r.config->response.dry_run);
  EXPECT_EQ(r.config->ops_listen, "127.0.0.1:9464");
  EXPECT_EQ(r.config->okta.token.path, token_file_);
  EXPECT_FALSE(r.config->has_kafka);
  EXPECT_EQ(r.config->rules.shards, 1);
  EXPECT_EQ(r.config->rules.snapshot_interval, std::chrono::seconds(30));
  EXPECT_EQ(r.config->ingestion.max_future_skew, std::chrono::minutes(5));
}

TEST_F(ConfigTest, MaxFutureSkewIsAPositiveDuration) {
  auto ok = load(minimal() + "ingestion:\n  max_future_skew: 1h\n");
  ASSERT_TRUE(ok.config) << og::correlator::render_text(ok.diagnostics);
  EXPECT_EQ(ok.config->ingestion.max_future_skew, std::chrono::hours(1));

  auto zero = load(minimal() + "ingestion:\n  max_future_skew: 0s\n");
  ASSERT_FALSE(zero.config);
  EXPECT_EQ(texts(zero.diagnostics),
            (std::vector<std::string>{"test.yaml:11:20: error: 'ingestion.max_future_skew' must be a positive "
                                      "duration [ingestion.max_future_skew]"}));
  auto unitless = load(minimal() + "ingestion:\n  max_future_skew: 3600\n");
  ASSERT_FALSE(unitless.config);
  EXPECT_NE(og::correlator::render_text(unitless.diagnostics).find("'ingestion.max_future_skew' must be a duration"),
            std::string::npos);
  auto unknown = load(minimal() + "ingestion:\n  max_past_skew: 1h\n");
  ASSERT_FALSE(unknown.config);
  EXPECT_NE(og::correlator::render_text(unknown.diagnostics).find("unknown key 'max_past_skew'"), std::string::npos);

  // The sources read it once, at start.
  auto base = load(minimal());
  ASSERT_TRUE(base.config);
  EXPECT_EQ(og::daemon::restart_required_changes(*base.config, *ok.config), (std::vector<std::string>{"ingestion"}));
}

TEST_F(ConfigTest, BreakerRearmAfterIsZeroForOperatorOnlyOrABoundedDuration) {
  auto base = load(minimal());
  ASSERT_TRUE(base.config) << og::correlator::render_text(base.diagnostics);
  EXPECT_EQ(base.config->response.breaker_rearm_after, std::chrono::hours(1));
  auto rearm = [&](const std::string& v) {
    return load(minimal() + "response:\n  breaker:\n    rearm_after: " + v + "\n");
  };
  auto ok = rearm("30m");
  ASSERT_TRUE(ok.config) << og::correlator::render_text(ok.diagnostics);
  EXPECT_EQ(ok.config->response.breaker_rearm_after, std::chrono::minutes(30));
  for (const char* zero : {"0", "0s"}) {
    auto r = rearm(zero);
    ASSERT_TRUE(r.config) << zero << ": " << og::correlator::render_text(r.diagnostics);
    EXPECT_EQ(r.config->response.breaker_rearm_after, og::daemon::Duration::zero()) << zero;
  }
  // Re-armed within seconds, a tripped breaker would let a runaway rule through almost unchecked.
  auto short_one = rearm("10s");
  ASSERT_FALSE(short_one.config);
  EXPECT_EQ(texts(short_one.diagnostics),
            (std::vector<std::string>{"test.yaml:12:18: error: 'response.breaker.rearm_after' must be 0 (operator "
                                      "release only) or between 1m and 30d [response.breaker.rearm_after]"}));
  EXPECT_FALSE(rearm("31d").config);
  auto unitless = rearm("3600");
  ASSERT_FALSE(unitless.config);
  EXPECT_NE(og::correlator::render_text(unitless.diagnostics).find("'response.breaker.rearm_after' must be"),
            std::string::npos);
}

TEST_F(ConfigTest, KafkaGroupIdDefaultsToOktaguard) {
  auto r = load(
      "sources:\n"
      "  kafka:\n"
      "    brokers: [b:9092]\n"
      "    topics: [{topic: t, source: okta, format: okta_system_log}]\n"
      "okta: {org_url: 'https://x.okta.com', auth: {ssws: {token_file: " +
      token_file_ +
      "}}}\n"
      "rules: {paths: [/r]}\n");
  ASSERT_TRUE(r.config) << og::correlator::render_text(r.diagnostics);
  EXPECT_EQ(r.config->kafka.group_id, "oktaguard");
}

TEST_F(ConfigTest, OktaTimeoutsAreBetween100msAnd10Minutes) {
  auto timeouts = [&](const std::string& t) {
    std::string text = minimal();
    text.insert(text.find("rules:\n"), "  timeouts: " + t + "\n");
    return load(text);
  };
  auto ok = timeouts("{connect: 100ms, request: 10m}");
  ASSERT_TRUE(ok.config) << og::correlator::render_text(ok.diagnostics);
  EXPECT_EQ(ok.config->okta.connect_timeout, std::chrono::milliseconds(100));
  EXPECT_EQ(ok.config->okta.request_timeout, std::chrono::minutes(10));
  std::string wait = minimal();
  wait.insert(wait.find("rules:\n"),
              "  identity:\n    wait: 2s\n    windows_domains: {CORP: corp.example.com}\n"
              "    default_login_domain: example.com\n");
  auto waited = load(wait);
  ASSERT_TRUE(waited.config) << og::correlator::render_text(waited.diagnostics);
  EXPECT_EQ(waited.config->okta.identity_wait, std::chrono::seconds(2));
  EXPECT_EQ(waited.config->okta.windows_domains, (std::map<std::string, std::string>{{"CORP", "corp.example.com"}}));
  EXPECT_EQ(waited.config->okta.default_login_domain, "example.com");
  std::string bad_identity = wait;
  bad_identity.replace(bad_identity.find("2s"), 2, "5m");
  bad_identity.replace(bad_identity.find("example.com\n"), 11, "'me@example.com'");
  auto refused = load(bad_identity);
  EXPECT_FALSE(refused.config);
  const std::string why = og::correlator::render_text(refused.diagnostics);
  EXPECT_NE(why.find("'okta.identity.wait' must be between"), std::string::npos) << why;
  EXPECT_NE(why.find("'okta.identity.default_login_domain' must be a domain"), std::string::npos) << why;
  for (const char* bad : {"{request: 0s}", "{connect: 99ms}", "{request: 11m}", "{connect: 1000000d}"}) {
    auto r = timeouts(bad);
    EXPECT_FALSE(r.config) << bad;
    EXPECT_NE(og::correlator::render_text(r.diagnostics).find("must be between 100ms and 10m"), std::string::npos)
        << bad << ": " << og::correlator::render_text(r.diagnostics);
  }
}

TEST_F(ConfigTest, PrivateKeyJwtScopesAreAListOfScopes) {
  auto jwt = [&](const std::string& extra) {
    return load(
        "sources:\n"
        "  files: [{path: /tmp/replay.json, source: okta, format: okta_system_log}]\n"
        "okta:\n"
        "  org_url: https://example.okta.com\n"
        "  auth:\n"
        "    private_key_jwt: {client_id: 0oa1, key_file: " +
        (dir_ / "okta-private-key").string() + extra +
        "}\n"
        "rules: {paths: [/r]}\n");
  };
  auto unset = jwt("");
  ASSERT_TRUE(unset.config) << og::correlator::render_text(unset.diagnostics);
  EXPECT_TRUE(unset.config->okta.scopes.empty()) << "empty: taken from the rules at start";
  auto listed = jwt(", scopes: [okta.users.manage, okta.userRisk.manage]");
  ASSERT_TRUE(listed.config) << og::correlator::render_text(listed.diagnostics);
  EXPECT_EQ(listed.config->okta.scopes, (std::vector<std::string>{"okta.users.manage", "okta.userRisk.manage"}));
  for (const char* bad : {", scopes: []", ", scopes: ['okta.users.manage okta.groups.manage']"}) {
    auto r = jwt(bad);
    EXPECT_FALSE(r.config) << bad;
    EXPECT_NE(og::correlator::render_text(r.diagnostics).find("okta.auth.private_key_jwt.scopes"), std::string::npos)
        << og::correlator::render_text(r.diagnostics);
  }
}

TEST_F(ConfigTest, SnapshotIntervalIsADurationOfAtLeastOneSecond) {
  auto ok = load(minimal() + "  snapshot_interval: 5m\n");
  ASSERT_TRUE(ok.config) << og::correlator::render_text(ok.diagnostics);
  EXPECT_EQ(ok.config->rules.snapshot_interval, std::chrono::minutes(5));
  auto tiny = load(minimal() + "  snapshot_interval: 10ms\n");
  ASSERT_FALSE(tiny.config);
  EXPECT_NE(og::correlator::render_text(tiny.diagnostics).find("rules.snapshot_interval"), std::string::npos);
}

// Lateness holds events in memory for that long; retention keeps the idempotency keys that stop a
// redelivered incident from acting twice. Values that defeat either are errors at their field.
TEST_F(ConfigTest, LatenessAndRetentionAreBounded) {
  auto ok = load(minimal() + "  allowed_lateness: 0s\nresponse:\n  retention: 1d\n");
  ASSERT_TRUE(ok.config) << og::correlator::render_text(ok.diagnostics);
  EXPECT_EQ(ok.config->rules.allowed_lateness, og::daemon::Duration::zero());
  EXPECT_EQ(ok.config->response.retention, std::chrono::hours(24));
  auto bad = load(minimal() + "  allowed_lateness: 2d\nresponse:\n  retention: 0s\n");
  ASSERT_FALSE(bad.config);
  const std::string text = og::correlator::render_text(bad.diagnostics);
  EXPECT_NE(text.find("test.yaml:10:21: error: 'rules.allowed_lateness' must be between 0s and 1h"), std::string::npos)
      << text;
  EXPECT_NE(text.find("test.yaml:12:14: error: 'response.retention' must be at least 1d"), std::string::npos) << text;
}

TEST_F(ConfigTest, EveryProblemIsReportedWithFileLineAndColumn) {
  auto r = load(
      "sources:\n"                            // 1
      "  kafka:\n"                            // 2
      "    brokers: [a:9092]\n"               // 3
      "    topcis: []\n"                      // 4 unknown key
      "okta:\n"                               // 5
      "  org_url: http://example.okta.com\n"  // 6 not https
      "  auth: {ssws: {token: 00abc}}\n"      // 7 literal token
      "  max_connections: many\n"             // 8 type error
      "rules:\n"                              // 9
      "  paths: [/r]\n"                       // 10
      "  allowed_lateness: 10\n"              // 11 no unit
      "response:\n"                           // 12
      "  dry_run: yes please\n"               // 13
      "log: {level: loud}\n");                // 14
  EXPECT_FALSE(r.config);
  auto t = texts(r.diagnostics);
  std::vector<std::string> expected = {
      "test.yaml:4:5: error: unknown key 'topcis' (expected one of: brokers, group_id, properties, topics, "
      "dead_letter_topic, audit_topic) [sources.kafka.topcis]",
      "test.yaml:3:5: error: 'sources.kafka.topics' is required [sources.kafka.topics]",
      "test.yaml:6:12: error: 'okta.org_url' must be https://HOST without a path (got 'http://example.okta.com') "
      "[okta.org_url]",
      "test.yaml:7:24: error: a literal API token is not allowed in the configuration; use 'token_file' or "
      "'credential' [okta.auth.ssws.token]",
      "test.yaml:8:20: error: 'okta.max_connections' must be an integer [okta.max_connections]",
      "test.yaml:11:21: error: 'rules.allowed_lateness' must be a duration such as 500ms, 30s, 5m, 24h or 7d "
      "[rules.allowed_lateness]",
      "test.yaml:13:12: error: 'response.dry_run' must be a boolean (true or false) [response.dry_run]",
      "test.yaml:14:14: error: 'log.level' must be debug, info, warn or error (got 'loud') [log.level]",
  };
  EXPECT_EQ(t, expected);
}

TEST_F(ConfigTest, SecretsAreOnlyAcceptedByReference) {
  auto r = load(minimal() +
                "response:\n"
                "  kill_switch_file: relative/path\n");
  ASSERT_FALSE(r.config);
  EXPECT_NE(og::correlator::render_text(r.diagnostics).find("'response.kill_switch_file' must be an absolute path"),
            std::string::npos);

  std::string kafka =
      "sources:\n"
      "  kafka:\n"
      "    brokers: [b:9092]\n"
      "    properties:\n"
      "      sasl.password: hunter2\n"
      "      ssl.key.password: {file: /nonexistent/key-pass}\n"
      "      enable.auto.commit: 'true'\n"
      "    topics: [{topic: t, source: okta, format: okta_system_log}]\n"
      "okta:\n"
      "  org_url: https://x.okta.com\n"
      "  auth: {private_key_jwt: {client_id: c, key: '-----BEGIN PRIVATE KEY-----'}}\n"
      "rules: {paths: [/r]}\n";
  auto k = load(kafka);
  ASSERT_FALSE(k.config);
  std::string all = og::correlator::render_text(k.diagnostics);
  EXPECT_NE(all.find("test.yaml:5:22: error: 'sasl.password' is a secret: give {file: /path} or {credential: NAME}"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:6:32: error: cannot read secret file '/nonexistent/key-pass'"), std::string::npos)
      << all;
  EXPECT_NE(all.find("'enable.auto.commit' is set by oktaguard"), std::string::npos) << all;
  EXPECT_NE(all.find("a literal private key is not allowed"), std::string::npos) << all;
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << "diagnostics never echo a secret value";
}

TEST_F(ConfigTest, CredentialsNeedTheCredentialsDirectory) {
  std::string cfg = minimal();
  cfg.replace(cfg.find("token_file: " + token_file_), ("token_file: " + token_file_).size(), "credential: okta-token");
  auto ok = load(cfg);
  ASSERT_TRUE(ok.config) << og::correlator::render_text(ok.diagnostics);
  EXPECT_EQ(ok.config->okta.token.path, (dir_ / "okta-token").string());

  // The unit's empty default (SetCredential=okta-token:) stands in for a credential not installed.
  std::ofstream(dir_ / "okta-token", std::ios::trunc).close();
  auto empty = load(cfg);
  EXPECT_FALSE(empty.config);
  EXPECT_NE(og::correlator::render_text(empty.diagnostics)
                .find("credential 'okta-token' is empty: install it as /etc/oktaguard/credentials/okta-token"),
            std::string::npos)
      << og::correlator::render_text(empty.diagnostics);
  std::ofstream(dir_ / "okta-token") << "secret-value\n";

  env_.erase("CREDENTIALS_DIRECTORY");
  auto missing = load(cfg);
  ASSERT_FALSE(missing.config);
  EXPECT_NE(
      og::correlator::render_text(missing.diagnostics).find("needs $CREDENTIALS_DIRECTORY (LoadCredential=okta-token:"),
      std::string::npos);
  options_.check_files = false;  // `config check --no-file-checks` on a workstation
  auto relaxed = load(cfg);
  EXPECT_TRUE(relaxed.config);
  EXPECT_EQ(relaxed.diagnostics.items().size(), 1u);
  EXPECT_EQ(relaxed.diagnostics.items()[0].severity, og::correlator::Severity::warning);

  std::string traversal = minimal();
  traversal.replace(traversal.find("token_file: " + token_file_), ("token_file: " + token_file_).size(),
                    "credential: ../etc/shadow");
  auto bad = load(traversal);
  ASSERT_FALSE(bad.config);
  EXPECT_NE(og::correlator::render_text(bad.diagnostics).find("must be a plain name"), std::string::npos);
}

TEST_F(ConfigTest, AlertTopicsNeedAMappingWithPointers) {
  auto r = load(
      "sources:\n"
      "  kafka:\n"
      "    brokers: [b:9092]\n"
      "    topics:\n"
      "      - {topic: edr, source: edr, format: alert}\n"
      "      - {topic: ueba, source: ueba, format: alert, mapping: {user: user.email, alert_type: /t, "
      "user_kind: upn}}\n"
      "      - {topic: vpn, source: vpn, format: alert, mapping: {user: /user~2login, alert_type: /t}}\n"
      "      - {topic: edr, source: x, format: okta_system_log, mapping: {user: /u}}\n"
      "      - {topic: y, source: y, format: csv}\n"
      "okta: {org_url: 'https://x.okta.com', auth: {ssws: {token_file: " +
      token_file_ +
      "}}}\n"
      "rules: {paths: [/r]}\n");
  ASSERT_FALSE(r.config);
  auto all = og::correlator::render_text(r.diagnostics);
  EXPECT_NE(all.find("test.yaml:5:9: error: an alert source needs a 'mapping'"), std::string::npos) << all;
  EXPECT_NE(all.find("'sources.kafka.topics[1].mapping.user' must be a JSON pointer starting with '/'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("'sources.kafka.topics[2].mapping.user' must be a JSON pointer"), std::string::npos) << all;
  EXPECT_NE(all.find("'sources.kafka.topics[1].mapping.user_kind' must be one of: email, login, okta_id (got 'upn')"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("'mapping' applies to format: alert only"), std::string::npos) << all;
  EXPECT_NE(all.find("'edr' is listed twice"), std::string::npos) << all;
  EXPECT_NE(all.find("must be okta_system_log or alert (got 'csv')"), std::string::npos) << all;
}

TEST_F(ConfigTest, SyntaxErrorsDuplicatesAndMissingSectionsAreDiagnosed) {
  auto syntax = load("sources: [\n");
  ASSERT_FALSE(syntax.config);
  ASSERT_EQ(syntax.diagnostics.items().size(), 1u);
  EXPECT_TRUE(syntax.diagnostics.items()[0].message.starts_with("YAML syntax: "))
      << syntax.diagnostics.items()[0].message;
  EXPECT_GT(syntax.diagnostics.items()[0].line, 0u);

  auto empty = load("");
  ASSERT_FALSE(empty.config);
  EXPECT_EQ(empty.diagnostics.items()[0].message, "the configuration is empty");

  auto dup = load(minimal() + "state_dir: /a\nstate_dir: /b\n");
  ASSERT_FALSE(dup.config);
  EXPECT_NE(og::correlator::render_text(dup.diagnostics).find("test.yaml:11:1: error: duplicate key 'state_dir'"),
            std::string::npos)
      << og::correlator::render_text(dup.diagnostics);

  auto missing = load("log: {level: info}\n");
  auto t = texts(missing.diagnostics);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_NE(t[0].find("'sources' is required"), std::string::npos);
  EXPECT_NE(t[1].find("'okta' is required"), std::string::npos);
  EXPECT_NE(t[2].find("'rules' is required"), std::string::npos);
}

TEST_F(ConfigTest, OpsListenIsValidatedAndNonLoopbackWarns) {
  auto bad = load(minimal() + "ops: {listen: 'localhost:9464'}\n");
  ASSERT_FALSE(bad.config);
  auto open = load(minimal() + "ops: {listen: '0.0.0.0:9464'}\n");
  ASSERT_TRUE(open.config);
  ASSERT_EQ(open.diagnostics.items().size(), 1u);
  EXPECT_EQ(open.diagnostics.items()[0].severity, og::correlator::Severity::warning);
  EXPECT_EQ(open.config->ops_listen, "0.0.0.0:9464");
}

TEST_F(ConfigTest, ReloadTellsWhichSectionsNeedARestart) {
  auto a = load(minimal());
  auto b = load(minimal() + "response: {dry_run: false}\nlog: {level: debug}\n");
  auto c = load(minimal() + "ops: {listen: '127.0.0.1:9999'}\nrules: {paths: [/r], shards: 8}\n");
  ASSERT_TRUE(a.config && b.config);
  EXPECT_TRUE(og::daemon::restart_required_changes(*a.config, *b.config).empty());
  // `rules` twice is a duplicate-key error; the restart check needs a valid file.
  EXPECT_FALSE(c.config);
  auto d = load(minimal().substr(0, minimal().find("rules:")) +
                "rules: {paths: [/r], shards: 8}\nops: {listen: '127.0.0.1:9999'}\n");
  ASSERT_TRUE(d.config) << og::correlator::render_text(d.diagnostics);
  EXPECT_EQ(og::daemon::restart_required_changes(*a.config, *d.config),
            (std::vector<std::string>{"rules.shards", "ops"}));
}

TEST(ConfigDuration, Units) {
  using og::daemon::parse_duration;
  EXPECT_EQ(parse_duration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(parse_duration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(parse_duration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(parse_duration("24h"), std::chrono::hours(24));
  EXPECT_EQ(parse_duration("7d"), std::chrono::hours(168));
  EXPECT_FALSE(parse_duration("10"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("1.5h"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("99999999999999999d"));
}

TEST(ConfigCli, CheckPrintsDiagnosticsAndReturnsTheVerdict) {
  std::ostringstream out, err;
  std::vector<std::string_view> usage = {"check"};
  EXPECT_EQ(og::daemon::config_command(usage, out, err), 2);

  auto bad = std::filesystem::path(::testing::TempDir()) / "og-bad-config.yaml";
  std::ofstream(bad) << "sources: {files: []}\nokta: 3\nrules: {paths: [/r]}\nextra: 1\n";
  std::string bad_path = bad.string();
  std::vector<std::string_view> args = {"check", bad_path};
  out.str("");
  err.str("");
  EXPECT_EQ(og::daemon::config_command(args, out, err), 1);
  EXPECT_NE(err.str().find(bad_path + ":2:7: error: 'okta' must be a map [okta]"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find(bad_path + ":4:1: error: unknown key 'extra'"), std::string::npos) << err.str();
  EXPECT_EQ(out.str(), bad_path + ": 2 error(s)\n");

  std::vector<std::string_view> json = {"check", bad_path, "--format", "json"};
  out.str("");
  EXPECT_EQ(og::daemon::config_command(json, out, err), 1);
  EXPECT_EQ(out.str().front(), '[');
  EXPECT_NE(out.str().find("\"line\":4"), std::string::npos) << out.str();

  std::vector<std::string_view> example = {"check", OG_SOURCE_DIR "/examples/oktaguard.yaml", "--no-file-checks"};
  out.str("");
  err.str("");
  EXPECT_EQ(og::daemon::config_command(example, out, err), 0) << err.str();
  std::filesystem::remove(bad);
}

}  // namespace
}  // namespace og::test
