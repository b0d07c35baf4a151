#include "daemon/run_command.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "correlator/rule_set.h"
#include "daemon/app.h"
#include "daemon/config.h"
#include "daemon/exception_resolver.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/okta_metrics.h"
#include "daemon/ops_server.h"
#include "daemon/pipeline.h"
#include "daemon/reachability.h"
#include "daemon/response_okta.h"
#include "daemon/sd_notify.h"
#include "daemon/signals.h"
#include "okta_client/auth.h"
#include "okta_client/client.h"

namespace og::daemon {
namespace {

namespace net = boost::asio;

// How often the response exceptions' groups, users and logins are resolved again.
constexpr std::chrono::minutes kExceptionRefresh{5};

constexpr std::string_view kRunUsage = "usage: oktaguard run --config FILE [--once]\n";

PipelineOptions pipeline_options(const Config& c, std::shared_ptr<const correlator::RuleSet> rules, bool once) {
  PipelineOptions o;
  o.exit_at_eof = once;
  for (const StreamConfig& f : c.files)
    o.files.push_back(PipelineStream{f.name, f.source, f.format, f.mapping});
  if (c.has_kafka) {
    PipelineKafka k;
    for (const StreamConfig& t : c.kafka.topics)
      k.topics.push_back(PipelineStream{t.name, t.source, t.format, t.mapping});
    k.properties = c.kafka.properties;
    // Stored offsets reach the broker within a second: a crash right after a snapshot then
    // redelivers little that the restored state already holds.
    k.properties.try_emplace("auto.commit.interval.ms", "1000");
    std::string brokers;
    for (const std::string& b : c.kafka.brokers)
      brokers += (brokers.empty() ? "" : ",") + b;
    k.properties["bootstrap.servers"] = brokers;
    k.properties["group.id"] = c.kafka.group_id;
    k.dead_letter_topic = c.kafka.dead_letter_topic;
    k.audit_topic = c.kafka.audit_topic;
    o.kafka = std::move(k);
  }
  o.rules = std::move(rules);
  o.max_future_skew = c.ingestion.max_future_skew;
  o.identity_wait = c.okta.identity_wait;
  o.lateness = c.rules.allowed_lateness;
  o.snapshot_interval = std::chrono::duration_cast<std::chrono::milliseconds>(c.rules.snapshot_interval);
  o.idle_release = std::max(std::chrono::milliseconds(1000),
                            std::chrono::duration_cast<std::chrono::milliseconds>(c.rules.allowed_lateness));
  o.shards = static_cast<std::uint32_t>(std::max(1, c.rules.shards));
  o.state_dir = c.state_dir;
  o.dry_run = c.response.dry_run;
  o.breaker_max_actions = static_cast<std::size_t>(c.response.breaker_max_actions);
  o.breaker_window = std::chrono::duration_cast<std::chrono::seconds>(c.response.breaker_window);
  o.breaker_rearm_after = std::chrono::duration_cast<std::chrono::seconds>(c.response.breaker_rearm_after);
  o.cooldown = std::chrono::duration_cast<std::chrono::seconds>(c.response.cooldown);
  o.kill_switch_file = c.response.kill_switch_file;
  o.audit_file = c.response.audit_file;
  // Rounded up: a retention shorter than the rows' use would prune idempotency keys too early.
  o.retention = std::chrono::ceil<std::chrono::hours>(c.response.retention);
  auto add = [&](const std::vector<ConfiguredException>& list, PipelineException::Type type) {
    for (const ConfiguredException& e : list) {
      PipelineException p{type, e.value, std::nullopt, e.reason};
      if (e.expires) p.expires = std::chrono::time_point_cast<Clock::duration>(*e.expires);
      o.exceptions.push_back(std::move(p));
    }
  };
  add(c.response.exception_users, PipelineException::Type::user);
  add(c.response.exception_logins, PipelineException::Type::login);
  add(c.response.exception_groups, PipelineException::Type::group);
  return o;
}

}  // namespace

// The OAuth scopes a service app needs for what the rules can do: users and groups always (lookups,
// lifecycle, sessions, profile, membership); okta.userRisk.manage only when a response sets user
// risk, since Okta refuses a token request for a scope the app was not granted.
okta::IdentityOptions identity_options(const OktaConfig& okta) {
  okta::IdentityOptions o;
  o.windows_domains = okta.windows_domains;
  o.default_login_domain = okta.default_login_domain;
  return o;
}

std::vector<std::string> okta_scopes_for(const correlator::RuleSet& rules) {
  std::vector<std::string> scopes{"okta.users.manage", "okta.groups.manage", "okta.users.read"};
  for (const correlator::ResponseRule& response : rules.responses)
    for (const auto& tier : response.tiers)
      for (const correlator::ActionSpec& action : tier)
        if (action.kind == correlator::ActionKind::set_user_risk) {
          scopes.push_back("okta.userRisk.manage");
          return scopes;
        }
  return scopes;
}

std::vector<std::string> scopes_missing_after_reload(const OktaConfig& okta, const correlator::RuleSet& running,
                                                     const correlator::RuleSet& reloaded) {
  if (okta.auth != OktaConfig::Auth::private_key_jwt) return {};
  const std::vector<std::string> granted = okta.scopes.empty() ? okta_scopes_for(running) : okta.scopes;
  std::vector<std::string> missing;
  for (const std::string& scope : okta_scopes_for(reloaded))
    if (std::find(granted.begin(), granted.end(), scope) == granted.end()) missing.push_back(scope);
  return missing;
}

namespace {

std::string read_secret(const SecretRef& ref, std::string* error) {
  std::FILE* f = std::fopen(ref.path.c_str(), "rb");
  if (!f) {
    *error = fmt::format("cannot read secret '{}' ({}): {}", ref.name, ref.path, std::strerror(errno));
    return {};
  }
  std::string s;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    s.append(buf, n);
  std::fclose(f);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

}  // namespace

int run_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::string config_path;
  bool once = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = std::string(args[++i]);
    } else if (args[i] == "--once") {
      once = true;
    } else {
      err << kRunUsage;
      return 2;
    }
  }
  if (config_path.empty()) {
    err << kRunUsage;
    return 2;
  }

  LoadResult loaded = load_config_file(config_path);
  if (!loaded.diagnostics.empty()) err << correlator::render_text(loaded.diagnostics);
  if (!loaded.config) return 1;
  Config config = std::move(*loaded.config);
  if (once && config.files.empty()) {
    err << "oktaguard run: --once needs file sources (sources.files)\n";
    return 2;
  }

  Logger& log = logger();
  log.set_level(parse_log_level(config.log_level).value_or(LogLevel::info));
  Registry metrics;
  ReadinessChecks readiness;
  SdNotifier notifier;
  net::io_context control;  // signals, ops HTTP, watchdog, the --once poll
  net::io_context okta_io;  // the Okta client's one thread
  std::optional<net::executor_work_guard<net::io_context::executor_type>> okta_work;
  std::thread okta_thread;
  std::shared_ptr<const correlator::RuleSet> rules;
  std::unique_ptr<okta::Client> client;
  std::unique_ptr<OktaActionExecutor> executor;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<OpsServer> ops;
  std::unique_ptr<SignalHandler> signals;
  std::unique_ptr<WatchdogTimer> watchdog;
  std::shared_ptr<Reachability> okta_reachability;
  int exit_code = 0;
  std::map<std::string, std::string> kafka_secrets;
  // Resolves the response exceptions' groups, users and logins through Okta; set once the pipeline runs.
  std::function<void()> resolve_exception_names;
  // SIGHUP: the configuration file and the rules are read again. Rules, exceptions and the log level
  // apply at once with the correlator state kept; other changes are reported and wait for a restart.
  // Anything invalid leaves everything running as it was.
  std::function<void()> reload = [&] {
    notifier.reloading("reloading configuration and rules");
    LoadResult fresh = load_config_file(config_path);
    if (!fresh.config) {
      log.error("run", "configuration reload rejected; keeping the running configuration",
                {{"diagnostics", correlator::render_text(fresh.diagnostics)}});
      notifier.ready("running");
      return;
    }
    std::vector<std::string> ignored = restart_required_changes(config, *fresh.config);
    ResponseSettings running_response = config.response, new_response = fresh.config->response;
    for (ResponseSettings* r : {&running_response, &new_response}) {
      r->exception_users.clear();
      r->exception_logins.clear();
      r->exception_groups.clear();
    }
    if (!(running_response == new_response)) ignored.push_back("response (other than exceptions)");
    if (fresh.config->rules.allowed_lateness != config.rules.allowed_lateness)
      ignored.push_back("rules.allowed_lateness");
    if (fresh.config->rules.snapshot_interval != config.rules.snapshot_interval)
      ignored.push_back("rules.snapshot_interval");
    correlator::LoadResult r = correlator::load_rules(
        std::vector<std::filesystem::path>(fresh.config->rules.paths.begin(), fresh.config->rules.paths.end()));
    if (!r.ok()) {
      log.error("run", "rule reload rejected; keeping the running rules and configuration",
                {{"diagnostics", correlator::render_text(r.diagnostics)}});
      notifier.ready("running");
      return;
    }
    // The sources' parsers extract the extra fields the running rules named, by position: rules
    // that name other extra fields need parsers built for them, that is a restart.
    if (rules && r.rules->fields.extra_json_pointers() != rules->fields.extra_json_pointers()) {
      log.error("run",
                "rule reload needs a restart: the new rules read other event fields than the running ones; "
                "keeping the running rules and configuration");
      notifier.ready("running");
      return;
    }
    if (rules) {
      if (std::vector<std::string> missing = scopes_missing_after_reload(config.okta, *rules, *r.rules);
          !missing.empty()) {
        std::string list;
        for (const std::string& scope : missing)
          list += (list.empty() ? "" : ", ") + scope;
        log.error("run",
                  "rule reload needs a restart: the new rules' actions need OAuth scopes the running token was not "
                  "requested with; keeping the running rules and configuration",
                  {{"scopes", list}});
        notifier.ready("running");
        return;
      }
    }
    if (pipeline) {
      // `rules` (the set the sources started with) stays alive: the parsers read its field table.
      pipeline->reload_rules(r.rules);
      pipeline->set_exceptions(pipeline_options(*fresh.config, r.rules, once).exceptions);
    }
    log.set_level(parse_log_level(fresh.config->log_level).value_or(LogLevel::info));
    std::string ignored_text;
    for (const std::string& section : ignored)
      ignored_text += (ignored_text.empty() ? "" : ", ") + section;
    if (!ignored.empty()) log.warn("run", "changes that need a restart were not applied", {{"sections", ignored_text}});
    // What runs now: the new rules and exceptions, the old values of everything a restart changes.
    config.rules.paths = fresh.config->rules.paths;
    config.response.exception_users = fresh.config->response.exception_users;
    config.response.exception_logins = fresh.config->response.exception_logins;
    config.response.exception_groups = fresh.config->response.exception_groups;
    config.log_level = fresh.config->log_level;
    if (resolve_exception_names) resolve_exception_names();
    log.info("run", "configuration and rules reloaded", {{"detections", r.rules->detections.size()}});
    notifier.ready("running");
  };
  // Signals are blocked for the threads started below only once the handler exists.
  signals = std::make_unique<SignalHandler>(
      control.get_executor(),
      SignalHandler::Callbacks{[&](int signo, int count) {
                                 log.info("run", "stopping", {{"signal", signo}, {"count", count}});
                                 notifier.stopping("stopping");
                                 control.stop();
                               },
                               [&] { reload(); }});

  App app;
  app.on_progress([&](std::string_view phase, std::string_view step) {
    log.info("run", fmt::format("{} {}", phase, step));
    notifier.status(fmt::format("{} {}", phase, step));
  });
  app.add_step("load rules", [&] {
    correlator::LoadResult r = correlator::load_rules(
        std::vector<std::filesystem::path>(config.rules.paths.begin(), config.rules.paths.end()));
    if (!r.diagnostics.empty()) err << correlator::render_text(r.diagnostics);
    if (!r.ok()) return RunResult::fatal("the rules have errors");
    rules = r.rules;
    return RunResult::ok();
  });
  app.add_step(
      "start okta client",
      [&] {
        std::shared_ptr<okta::Authenticator> auth;
        if (config.okta.auth == OktaConfig::Auth::ssws) {
          std::string error;
          std::string token = read_secret(config.okta.token, &error);
          if (!error.empty()) return RunResult::fatal(error);
          log.add_secret(token);
          auto ssws = okta::SswsAuthenticator::from_token(token, fmt::format("secret '{}'", config.okta.token.name));
          if (!ssws) return RunResult::fatal(ssws.error());
          auth = *ssws;
        } else {
          okta::PrivateKeyJwtConfig jc;
          jc.org_url = config.okta.org_url;
          jc.client_id = config.okta.client_id;
          jc.private_key_file = config.okta.private_key.path;
          jc.key_id = config.okta.key_id;
          jc.scopes = config.okta.scopes.empty() ? okta_scopes_for(*rules) : config.okta.scopes;
          auto created = okta::PrivateKeyJwtAuthenticator::create(jc);
          if (!created) return RunResult::fatal(created.error());
          auth = *created;
        }
        okta::ClientConfig cc;
        // Rate-limit waits, authentication failures, retries and re-reads: what an operator asks
        // about when a write-back is late. The client's lines carry no secrets; the logger scrubs the
        // token anyway.
        okta::LogSink okta_log = [&log](okta::LogLevel level, std::string_view line) {
          LogLevel l = level == okta::LogLevel::debug     ? LogLevel::debug
                       : level == okta::LogLevel::info    ? LogLevel::info
                       : level == okta::LogLevel::warning ? LogLevel::warn
                                                          : LogLevel::error;
          log.log(l, "okta", line);
        };
        cc.transport.log = okta_log;
        cc.actions.log = okta_log;
        cc.lookups.log = okta_log;
        cc.identity = identity_options(config.okta);
        cc.identity.log = okta_log;
        cc.transport.org_url = config.okta.org_url;
        cc.transport.max_connections = static_cast<std::size_t>(config.okta.max_connections);
        cc.transport.connect_timeout = config.okta.connect_timeout;
        cc.transport.request_timeout = config.okta.request_timeout;
        cc.transport.ca_file = config.okta.ca_file;
        auto created = okta::Client::create(okta_io, cc, auth);
        if (!created) return RunResult::fatal(created.error());
        client = std::move(*created);
        executor = std::make_unique<OktaActionExecutor>(okta_io, *client);
        register_okta_metrics(metrics, *client);
        okta_work.emplace(okta_io.get_executor());
        okta_thread = std::thread([&] { okta_io.run(); });
        // Reachable when the org answered the last probe anything (a 404 for an unknown id is an answer).
        okta_reachability = std::make_shared<Reachability>(
            [c = client.get()](std::function<void(bool)> done) {
              c->get_user("00u0000000000000000", [done = std::move(done)](auto result) {
                done(result.has_value() || result.error().http_status != 0);
              });
            },
            "the Okta org", std::chrono::seconds(10), std::chrono::minutes(1));
        okta_reachability->check(Reachability::Clock::now());
        readiness.add("okta", [r = okta_reachability] { return r->check(Reachability::Clock::now()); });
        return RunResult::ok();
      },
      [&] {
        // The check probes through the client: not once it is shut down.
        readiness.remove("okta");
        if (client) client->shutdown();
        okta_work.reset();
        if (okta_thread.joinable()) okta_thread.join();
        return RunResult::ok();
      });
  app.add_step("read kafka secrets", [&] {
    // sasl.password and the like are references in the file; their values live only in memory.
    for (const auto& [property, ref] : config.kafka.secret_properties) {
      std::string error;
      std::string value = read_secret(ref, &error);
      if (!error.empty()) return RunResult::fatal(fmt::format("sources.kafka.properties.{}: {}", property, error));
      log.add_secret(value);
      kafka_secrets[property] = std::move(value);
    }
    return RunResult::ok();
  });
  app.add_step(
      "start pipeline",
      [&] {
        PipelineLogFn pipeline_log = [&log](LogLevel level, std::string_view component, std::string_view message) {
          log.log(level, component, message);
        };
        PipelineOptions po = pipeline_options(config, rules, once);
        if (po.kafka)
          for (const auto& [property, value] : kafka_secrets)
            po.kafka->properties[property] = value;
        po.on_detection = [&log](const correlator::Detection& d, const correlator::DetectionRule& rule) {
          std::string users;
          for (const auto& u : d.users)
            users += (users.empty() ? "" : ",") + u.id;
          log.info("pipeline", fmt::format("detection {} key {} risk {}", d.id, d.key, d.risk),
                   {{"detection", d.id},
                    {"title", rule.title},
                    {"severity", correlator::to_string(d.severity)},
                    {"key", d.key},
                    {"risk", d.risk},
                    {"users", users},
                    {"evidence", static_cast<std::uint64_t>(d.evidence.size())}});
        };
        pipeline = std::make_unique<Pipeline>(std::move(po), pipeline_log, metrics, readiness, &client->identity(),
                                              *executor, default_decision_adapter());
        if (auto error = pipeline->start()) return RunResult::fatal(*error);
        return RunResult::ok();
      },
      [&] {
        // Within the 10 s stop deadline: Kafka drain, consumer close, then 3 s for actions in flight.
        if (pipeline) pipeline->stop(std::chrono::milliseconds(3000));
        return RunResult::ok();
      });
  app.add_step(
      "start ops server",
      [&] {
        OpsServerOptions oo;
        oo.listen = config.ops_listen;
        oo.liveness = [&] { return CheckResult{pipeline && pipeline->healthy(), ""}; };
        ops = std::make_unique<OpsServer>(control.get_executor(), metrics, readiness, oo);
        if (auto error = ops->start()) return RunResult::fatal(*error);
        auto bound = ops->local_endpoint();
        log.info("run", "ops listening",
                 {{"address", fmt::format("{}:{}", bound.address().to_string(), bound.port())}});
        watchdog = std::make_unique<WatchdogTimer>(control.get_executor(), notifier,
                                                   [&] { return pipeline && pipeline->healthy(); });
        watchdog->start();
        return RunResult::ok();
      },
      [&] {
        if (watchdog) watchdog->stop();
        if (ops) ops->stop();
        return RunResult::ok();
      });

  RunResult started = app.start();
  if (!started.success) {
    err << started.error << "\n";
    app.stop();
    return 1;
  }
  notifier.ready("running");
  log.info("run", "running", {{"config", config.file}});

  // Results arrive on the Okta thread and are handed to the pipeline on this one, which also stops
  // it: once `control` has stopped, they are dropped with it.
  // Which round each entry's applied answer came from (control thread only): a slow answer of an
  // earlier round must not overwrite a later one.
  std::uint64_t exception_round = 0;
  std::map<std::string, std::uint64_t> exception_applied_round;
  auto newer = [&exception_applied_round](const std::string& entry, std::uint64_t round) {
    std::uint64_t& applied = exception_applied_round[entry];
    if (round < applied) return false;
    applied = round;
    return true;
  };
  resolve_exception_names = [&] {
    const std::uint64_t round = ++exception_round;
    ExceptionTargets targets;
    for (const ConfiguredException& e : config.response.exception_groups)
      targets.groups.push_back(e.value);
    for (const ConfiguredException& e : config.response.exception_users)
      targets.users.push_back(e.value);
    for (const ConfiguredException& e : config.response.exception_logins)
      targets.logins.push_back(e.value);
    ExceptionLookups lookups{
        [&](std::string id, auto cb) { client->list_group_members(std::move(id), std::move(cb)); },
        [&](std::string name, auto cb) { client->identity().resolve_group(name, std::move(cb)); },
        [&](std::string id, auto cb) { client->get_user(std::move(id), std::move(cb)); },
        [&](std::string login, auto cb) { client->get_user_by_login(std::move(login), std::move(cb)); }};
    ExceptionSink sink{
        [&, round](const std::string& group, std::vector<std::string> ids, std::vector<std::string> names) {
          net::post(control, [&, round, group, ids = std::move(ids), names = std::move(names)]() mutable {
            if (pipeline && newer("group " + group, round)) pipeline->set_group_members(group, std::move(ids), names);
          });
        },
        [&, round](const std::string& login, std::string user_id, std::vector<std::string> names) {
          net::post(control, [&, round, login, user_id = std::move(user_id), names = std::move(names)]() mutable {
            if (pipeline && newer("login " + login, round)) pipeline->set_login_owner(login, std::move(user_id), names);
          });
        },
        [&, round](const std::string& user_id, std::vector<std::string> names) {
          net::post(control, [&, round, user_id, names = std::move(names)] {
            if (pipeline && newer("user " + user_id, round)) pipeline->set_user_names(user_id, names);
          });
        }};
    resolve_exceptions(targets, lookups, sink,
                       [&log](LogLevel level, std::string message) { log.log(level, "exceptions", message); });
  };
  // Group membership changes without a reload: refreshed every few minutes.
  net::steady_timer exception_refresh(control);
  std::function<void()> refresh_exceptions_later = [&] {
    exception_refresh.expires_after(kExceptionRefresh);
    exception_refresh.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      resolve_exception_names();
      refresh_exceptions_later();
    });
  };
  resolve_exception_names();
  refresh_exceptions_later();

  net::steady_timer poll(control);
  std::function<void()> check_finished = [&] {
    poll.expires_after(std::chrono::milliseconds(100));
    poll.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (pipeline->finished()) {
        log.info("run", "input files replayed; stopping");
        control.stop();
        return;
      }
      check_finished();
    });
  };
  if (once) check_finished();
  control.run();

  ShutdownDeadline deadline;
  deadline.arm(std::chrono::seconds(10), 1, [&] { log.error("run", "graceful stop took longer than 10 s"); });
  notifier.stopping("stopping");
  signals->stop();
  RunResult stopped = app.stop();
  deadline.disarm();
  if (!stopped.success) {
    err << stopped.error << "\n";
    exit_code = 1;
  }
  PipelineStats s = pipeline ? pipeline->stats() : PipelineStats{};
  out << fmt::format("events {} acked {} detections {} decisions {} responses {} unresolved {}\n", s.events, s.acked,
                     s.detections, s.decisions, s.submitted, s.unresolved);
  return exit_code;
}

}  // namespace og::daemon
