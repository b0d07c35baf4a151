#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "correlator/engine.h"
#include "correlator/timestamp.h"
#include "daemon/replay_events.h"
#include "daemon/rules_cli.h"

namespace og::daemon {

namespace fs = std::filesystem;
using namespace og::correlator;

namespace {

void usage(std::ostream& err) {
  err << "usage: oktaguard replay --rules PATH [--rules PATH]... --events FILE|- [--events FILE]...\n"
         "                        [--mappings DIR]...\n"
         "                        [--from T] [--to T] [--format table|json]\n";
}

struct ReplayOptions {
  std::vector<fs::path> rules;
  std::vector<std::string> events;  // files, or "-" for stdin (once)
  std::vector<fs::path> mappings;
  std::optional<EventTime> from;
  std::optional<EventTime> to;
  std::string format = "table";
};

std::optional<ReplayOptions> parse_options(std::span<const std::string_view> args, std::ostream& err) {
  ReplayOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (i + 1 >= args.size()) {
      err << "oktaguard replay: " << (a.starts_with("--") ? "option needs a value: " : "unexpected argument: ") << a
          << "\n";
      return std::nullopt;
    }
    std::string_view v = args[++i];
    if (a == "--rules") {
      o.rules.emplace_back(v);
    } else if (a == "--events") {
      if (v == "-" && std::find(o.events.begin(), o.events.end(), "-") != o.events.end()) {
        err << "oktaguard replay: stdin (--events -) can be read only once\n";
        return std::nullopt;
      }
      o.events.emplace_back(v);
    } else if (a == "--mappings") {
      o.mappings.emplace_back(v);
    } else if (a == "--from" || a == "--to") {
      std::optional<EventTime> t = parse_timestamp(v);
      if (!t) {
        err << "oktaguard replay: " << a << " expects a timestamp like 2024-01-01T00:00:00Z, got '" << v << "'\n";
        return std::nullopt;
      }
      (a == "--from" ? o.from : o.to) = t;
    } else if (a == "--format") {
      if (v != "table" && v != "json") {
        err << "oktaguard replay: --format is table or json, got '" << v << "'\n";
        return std::nullopt;
      }
      o.format = v;
    } else {
      err << "oktaguard replay: unknown option '" << a << "'\n";
      return std::nullopt;
    }
  }
  if (o.rules.empty() || o.events.empty()) {
    err << "oktaguard replay: --rules and --events are required\n";
    return std::nullopt;
  }
  if (o.from && o.to && *o.to < *o.from) {
    err << "oktaguard replay: --to " << format_time(*o.to) << " is before --from " << format_time(*o.from) << "\n";
    return std::nullopt;
  }
  return o;
}

// What one --events input contributed, reported so a file that silently failed to parse stands out
// in a merged replay.
struct InputReport {
  std::string origin;
  std::size_t parsed = 0;
  std::size_t skipped = 0;
};

struct UserReport {
  std::string login;
  double risk = 0;
  std::vector<const Decision*> decisions;
  std::size_t detections = 0;
};

std::string users_text(const Detection& d) {
  std::string s;
  for (const UserRef& u : d.users)
    s += (s.empty() ? "" : ",") + u.id;
  return s.empty() ? "-" : s;
}

}  // namespace

int replay_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::optional<ReplayOptions> o = parse_options(args, err);
  if (!o) {
    usage(err);
    return 2;
  }
  AlertSources alerts;
  bool mappings_ok = true;
  for (const fs::path& m : o->mappings)
    mappings_ok &= load_alert_mappings(m, alerts, err);
  if (!mappings_ok) return 1;
  LoadResult loaded = load_rules(o->rules);
  if (!loaded.ok()) {
    err << render_text(loaded.diagnostics) << "rules do not load\n";
    return 1;
  }

  ParsedEvents parsed;
  std::vector<InputReport> inputs;
  for (const std::string& path : o->events) {
    std::string document;
    std::string origin = path;
    if (path == "-") {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      document = std::move(ss).str();
      origin = "stdin";
    } else {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        err << "oktaguard replay: cannot read " << path << "\n";
        return 1;
      }
      std::ostringstream ss;
      ss << in.rdbuf();
      document = std::move(ss).str();
    }
    // Record positions carry the origin ("a.ndjson:3"), so uuid-less events of different inputs
    // keep distinct labels after the merge.
    ParsedEvents one = parse_records(split_records(document, origin), *loaded.rules, alerts);
    inputs.push_back(InputReport{origin, one.events.size(), one.errors.size()});
    std::move(one.events.begin(), one.events.end(), std::back_inserter(parsed.events));
    std::move(one.errors.begin(), one.errors.end(), std::back_inserter(parsed.errors));
    parsed.logins.merge(one.logins);
  }
  for (const std::string& e : parsed.errors)
    err << "skipped " << e << "\n";

  // Historical exports are not always in order (Okta's are; hand-assembled files often not), and
  // several inputs interleave, so the merged input is sorted rather than trusting a reorder window.
  std::size_t outside = 0;
  std::erase_if(parsed.events, [&](const Event& e) {
    bool drop = (o->from && e.published < *o->from) || (o->to && e.published >= *o->to);
    outside += drop;
    return drop;
  });
  sort_by_event_time(parsed.events);
  // As the daemon: a backtest must not count one event twice towards a threshold.
  std::size_t duplicates = drop_repeated_events(parsed.events);
  if (duplicates) err << "oktaguard replay: dropped " << duplicates << " event(s) with a uuid already seen\n";

  Shard shard(loaded.rules);
  for (const Event& e : parsed.events)
    shard.apply(e);
  // Only an explicit end closes absences: past the last record the log may simply not go on.
  EventTime end = parsed.events.empty() ? EventTime{} : parsed.events.back().published;
  if (o->to) {
    shard.advance_time(*o->to);
    end = *o->to;
  }

  const std::vector<Detection>& detections = shard.detections();
  const std::vector<Decision>& decisions = shard.decisions();
  std::map<std::string, UserReport> users;
  auto login_of = [&](const std::string& id) {
    auto it = parsed.logins.find(id);
    return it == parsed.logins.end() ? std::string() : it->second;
  };
  for (const Detection& d : detections) {
    for (const UserRef& u : d.users) {
      UserReport& r = users[u.id];
      ++r.detections;
    }
  }
  for (const Decision& d : decisions)
    users[d.user.id].decisions.push_back(&d);
  for (auto& [id, r] : users) {
    r.login = login_of(id);
    r.risk = shard.risk(id, end);
  }

  std::string scratch;
  if (o->format == "json") {
    out << "{\"events\":" << parsed.events.size() << ",\"skipped\":" << parsed.errors.size()
        << ",\"outside_range\":" << outside << ",\"duplicates\":" << duplicates << ",\"inputs\":[";
    for (std::size_t i = 0; i < inputs.size(); ++i)
      out << (i ? "," : "") << "{\"input\":" << json_quote(inputs[i].origin) << ",\"parsed\":" << inputs[i].parsed
          << ",\"skipped\":" << inputs[i].skipped << "}";
    out << "]";
    if (!parsed.events.empty())
      out << ",\"first\":" << json_quote(format_time(parsed.events.front().published))
          << ",\"last\":" << json_quote(format_time(parsed.events.back().published));
    out << ",\"detections\":[";
    for (std::size_t i = 0; i < detections.size(); ++i) {
      const Detection& d = detections[i];
      out << (i ? "," : "") << "{\"time\":" << json_quote(format_time(d.time)) << ",\"detection\":" << json_quote(d.id)
          << ",\"severity\":" << json_quote(to_string(d.severity)) << ",\"key\":" << json_quote(d.key)
          << ",\"risk\":" << d.risk << ",\"users\":[";
      for (std::size_t j = 0; j < d.users.size(); ++j)
        out << (j ? "," : "") << json_quote(d.users[j].id);
      out << "],\"evidence\":[";
      for (std::size_t j = 0; j < d.evidence.size(); ++j)
        out << (j ? "," : "") << json_quote(d.evidence[j]);
      out << "]}";
    }
    out << "],\"users\":[";
    bool first = true;
    for (const auto& [id, r] : users) {
      out << (first ? "" : ",") << "{\"user\":" << json_quote(id) << ",\"login\":" << json_quote(r.login)
          << ",\"final_risk\":" << fmt::format("{:.1f}", r.risk) << ",\"detections\":" << r.detections
          << ",\"actions\":[";
      first = false;
      for (std::size_t j = 0; j < r.decisions.size(); ++j) {
        const Decision& d = *r.decisions[j];
        out << (j ? "," : "") << "{\"time\":" << json_quote(format_time(d.time))
            << ",\"response\":" << json_quote(d.response) << ",\"action\":" << json_quote(to_string(d.action))
            << ",\"params\":" << json_quote(action_params(d, scratch)) << ",\"tier\":" << d.tier
            << ",\"risk\":" << fmt::format("{:.1f}", d.risk) << ",\"id\":" << json_quote(d.id) << "}";
      }
      out << "]}";
    }
    out << "]}\n";
    return 0;
  }

  out << fmt::format("replay (shadow mode, nothing sent to Okta): {} events", parsed.events.size());
  if (!parsed.events.empty())
    out << fmt::format(" from {} to {}", format_time(parsed.events.front().published),
                       format_time(parsed.events.back().published));
  out << fmt::format(", {} skipped, {} outside --from/--to", parsed.errors.size(), outside);
  if (duplicates) out << fmt::format(", {} duplicate(s) dropped", duplicates);
  out << "\n";
  for (const InputReport& in : inputs)
    out << fmt::format("  input {}: {} parsed, {} skipped\n", in.origin, in.parsed, in.skipped);
  out << "\n";
  out << fmt::format("DETECTIONS ({})\n", detections.size());
  if (!detections.empty())
    out << fmt::format("{:<24} {:<40} {:<8} {:<28} {:>5}  {}\n", "TIME", "DETECTION", "SEVERITY", "KEY", "RISK",
                       "USERS / EVIDENCE");
  for (const Detection& d : detections) {
    out << fmt::format("{:<24} {:<40} {:<8} {:<28} {:>5.0f}  users={}\n", format_time(d.time), d.id,
                       to_string(d.severity), d.key, d.risk, users_text(d));
    std::string ev;
    for (const std::string& u : d.evidence)
      ev += (ev.empty() ? "" : " ") + u;
    out << fmt::format("{:<24} evidence: {}\n", "", ev.empty() ? "-" : ev);
  }
  out << fmt::format("\nUSERS ({})\n", users.size());
  for (const auto& [id, r] : users) {
    out << fmt::format("{} {}  final risk {:.1f}, {} detection(s), {} action(s)\n", id,
                       r.login.empty() ? "" : "(" + r.login + ")", r.risk, r.detections, r.decisions.size());
    for (const Decision* d : r.decisions)
      out << fmt::format("    {}  {:<16} {:<18} {}  [{} tier {}, risk {:.0f}]\n", format_time(d->time),
                         to_string(d->action), d->response, action_params(*d, scratch), d->id.substr(0, 12),
                         d->tier + 1, d->risk);
  }
  return 0;
}

}  // namespace og::daemon
