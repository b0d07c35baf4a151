#include "daemon/rules_cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "correlator/engine.h"

namespace og::daemon {

namespace fs = std::filesystem;
using namespace og::correlator;

namespace {

// Risk is a sum of decayed points; `==` in a test compares within this, so a test written as
// "== 60" survives the few milliseconds of decay between the detection and the end of the case.
constexpr double kRiskTolerance = 0.5;

void usage(std::ostream& err) {
  err << "usage: oktaguard rules check PATH... [--format text|json]\n"
         "       oktaguard rules test PATH... [--mappings DIR]... [--format text|json]\n";
}

std::optional<std::string> read_whole(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

bool compare(double got, const std::string& op, double want) {
  if (op == ">=") return got >= want - kRiskTolerance;
  if (op == ">") return got > want;
  if (op == "<=") return got <= want + kRiskTolerance;
  if (op == "<") return got < want;
  return std::fabs(got - want) <= kRiskTolerance;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v)
    s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

// Where the case ends: absences still pending after the last event are closed as if nothing more
// came (a test's events are the whole story), so the window of the longest absence is added.
Duration longest_absence(const RuleSet& rules) {
  Duration d{0};
  for (const DetectionRule& r : rules.detections)
    if (r.kind == ConstructKind::absence && r.enabled) d = std::max(d, r.within);
  return d;
}

struct Options {
  std::vector<fs::path> paths;
  std::vector<fs::path> mappings;
  std::string format = "text";
};

std::optional<Options> parse_options(std::span<const std::string_view> args, bool allow_mappings, std::ostream& err) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--format" || (allow_mappings && a == "--mappings")) {
      if (i + 1 >= args.size()) {
        err << "oktaguard rules: " << a << " needs a value\n";
        return std::nullopt;
      }
      std::string_view v = args[++i];
      if (a == "--format") {
        if (v != "text" && v != "json") {
          err << "oktaguard rules: --format is text or json, got '" << v << "'\n";
          return std::nullopt;
        }
        o.format = v;
      } else {
        o.mappings.emplace_back(v);
      }
    } else if (a.starts_with("--")) {
      err << "oktaguard rules: unknown option '" << a << "'\n";
      return std::nullopt;
    } else {
      o.paths.emplace_back(a);
    }
  }
  if (o.paths.empty()) {
    err << "oktaguard rules: no rule file or directory given\n";
    return std::nullopt;
  }
  return o;
}

// A directory without *.yml/*.yaml files loads as an empty, valid rule set: reported, so a
// mistyped path is not "ok: 0 detections".
LoadResult load(const Options& o) {
  LoadResult r = load_rules(o.paths);
  Diagnostics empty;
  for (const fs::path& p : o.paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) continue;
    bool any = false;
    for (const auto& entry : fs::directory_iterator(p, ec)) {
      const fs::path ext = entry.path().extension();
      if (entry.is_regular_file(ec) && (ext == ".yml" || ext == ".yaml")) {
        any = true;
        break;
      }
    }
    if (!any) empty.error(p.string(), 0, 0, "", "no rule files (*.yml, *.yaml) in this directory");
  }
  if (!empty.empty()) {
    empty.append(r.diagnostics);
    r.diagnostics = std::move(empty);
    r.rules.reset();
  }
  return r;
}

int check(const Options& o, std::ostream& out) {
  LoadResult r = load(o);
  if (o.format == "json") {
    out << "{\"ok\":" << (r.ok() ? "true" : "false") << ",\"diagnostics\":" << render_json(r.diagnostics);
    if (r.ok())
      out << ",\"detections\":" << r.rules->detections.size() << ",\"responses\":" << r.rules->responses.size()
          << ",\"exceptions\":" << r.rules->exceptions.size() << ",\"tests\":" << r.rules->tests.size();
    out << "}\n";
  } else {
    out << render_text(r.diagnostics);
    if (r.ok())
      out << fmt::format("ok: {} detections, {} responses, {} exceptions, {} tests\n", r.rules->detections.size(),
                         r.rules->responses.size(), r.rules->exceptions.size(), r.rules->tests.size());
    else
      out << fmt::format("{} error(s)\n", r.diagnostics.error_count());
  }
  return r.ok() ? 0 : 1;
}

int test(const Options& o, std::ostream& out, std::ostream& err) {
  AlertSources alerts;
  bool mappings_ok = true;
  for (const fs::path& m : o.mappings)
    mappings_ok &= load_alert_mappings(m, alerts, err);
  if (!mappings_ok) return 1;
  LoadResult r = load(o);
  if (!r.ok()) {
    err << render_text(r.diagnostics);
    err << "rules do not load: no test ran\n";
    return 1;
  }
  if (!r.diagnostics.empty()) err << render_text(r.diagnostics);
  std::size_t passed = 0;
  std::size_t failed = 0;
  std::vector<CaseResult> results;
  for (const RuleTest& t : r.rules->tests) {
    CaseResult c = run_rule_test(r.rules, t, alerts);
    (c.passed ? passed : failed)++;
    if (o.format == "text") {
      out << (c.passed ? "PASS " : "FAIL ") << c.file << ": " << c.name << "\n";
      for (const std::string& f : c.failures)
        out << "    " << f << "\n";
      if (c.duplicates) out << "    note: dropped " << c.duplicates << " event(s) with a uuid already seen\n";
    }
    results.push_back(std::move(c));
  }
  if (o.format == "json") {
    out << "{\"cases\":[";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const CaseResult& c = results[i];
      out << (i ? "," : "") << "{\"file\":" << json_quote(c.file) << ",\"name\":" << json_quote(c.name)
          << ",\"passed\":" << (c.passed ? "true" : "false") << ",\"failures\":[";
      for (std::size_t j = 0; j < c.failures.size(); ++j)
        out << (j ? "," : "") << json_quote(c.failures[j]);
      out << "],\"detections\":[";
      for (std::size_t j = 0; j < c.detections.size(); ++j)
        out << (j ? "," : "") << json_quote(c.detections[j]);
      out << "],\"actions\":[";
      for (std::size_t j = 0; j < c.actions.size(); ++j)
        out << (j ? "," : "") << json_quote(c.actions[j]);
      out << "]}";
    }
    out << fmt::format("],\"passed\":{},\"failed\":{}}}\n", passed, failed);
  } else {
    out << fmt::format("{} passed, {} failed\n", passed, failed);
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

CaseResult run_rule_test(const std::shared_ptr<const RuleSet>& rules, const RuleTest& t, const AlertSources& alerts) {
  CaseResult c;
  c.file = t.file;
  c.name = t.name;
  std::vector<RecordText> records;
  if (!t.events_file.empty()) {
    std::optional<std::string> text = read_whole(t.events_file);
    if (!text) {
      c.failures.push_back("cannot read " + t.events_file.string());
      return c;
    }
    records = split_records(*text, t.events_file.filename().string());
  } else {
    for (std::size_t i = 0; i < t.events_json.size(); ++i)
      records.push_back(RecordText{fmt::format("events[{}]", i), t.events_json[i]});
  }
  // The case's own mappings first, then the caller's (--mappings) on top: the flag overrides a
  // shipped mapping of the same source, e.g. to try a changed mapping against the pack's tests.
  AlertSources case_alerts;
  const AlertSources* use = &alerts;
  if (!t.alert_mappings.empty()) {
    std::ostringstream problems;
    for (const fs::path& m : t.alert_mappings)
      load_alert_mappings(m, case_alerts, problems);
    std::istringstream lines(problems.str());
    for (std::string line; std::getline(lines, line);)
      c.failures.push_back("mappings: " + line);
    for (const auto& [source, mapping] : alerts.by_source)
      case_alerts.by_source.insert_or_assign(source, mapping);
    use = &case_alerts;
  }
  ParsedEvents parsed = parse_records(records, *rules, *use);
  for (const std::string& e : parsed.errors)
    c.failures.push_back("event does not parse: " + e);
  if (parsed.events.empty() && parsed.errors.empty()) c.failures.push_back("the case has no events");

  sort_by_event_time(parsed.events);
  // As the daemon (and replay) do, or a test would pass on counts the daemon never reaches.
  c.duplicates = drop_repeated_events(parsed.events);
  Shard shard(rules);
  EventTime last{};
  for (const Event& e : parsed.events) {
    shard.apply(e);
    last = std::max(last, e.published);
  }
  shard.advance_time(last + longest_absence(*rules) + Duration(1));

  std::set<std::string, std::less<>> fired;
  EventTime risk_time = last;
  for (const Detection& d : shard.detections()) {
    c.detections.push_back(d.id);
    fired.insert(d.id);
    risk_time = std::max(risk_time, d.time);
  }
  std::set<ActionKind> decided;
  for (const Decision& d : shard.decisions()) {
    c.actions.emplace_back(to_string(d.action));
    decided.insert(d.action);
  }

  // `detections: []` claims nothing fires; a non-empty list only names what must fire.
  if (t.expect_detections_given && t.expect_detections.empty() && !c.detections.empty())
    c.failures.push_back(fmt::format("expected no detection to fire; fired: {}", join(c.detections)));
  for (const std::string& want : t.expect_detections)
    if (!fired.contains(want))
      c.failures.push_back(fmt::format("expected {} to fire; fired: {}", want, join(c.detections)));
  for (const std::string& nope : t.expect_not_detections)
    if (fired.contains(nope)) c.failures.push_back(fmt::format("{} fired but must not", nope));
  for (const RiskExpectation& want : t.expect_risk) {
    std::string user = want.user;
    for (const auto& [id, login] : parsed.logins)
      if (login == want.user) user = id;
    double got = shard.risk(user, risk_time);
    if (!compare(got, want.op, want.value))
      c.failures.push_back(fmt::format("risk of {}: expected {} {}, got {:.1f}", want.user, want.op, want.value, got));
  }
  if (t.expect_actions_given) {
    std::set<ActionKind> want(t.expect_actions.begin(), t.expect_actions.end());
    if (want != decided) {
      std::vector<std::string> w;
      for (ActionKind k : want)
        w.emplace_back(to_string(k));
      std::vector<std::string> g;
      for (ActionKind k : decided)
        g.emplace_back(to_string(k));
      c.failures.push_back(fmt::format("actions: expected {}; decided {}", join(w), join(g)));
    }
  }
  c.passed = c.failures.empty();
  return c;
}

int rules_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  if (args.empty() || (args[0] != "check" && args[0] != "test")) {
    usage(err);
    return 2;
  }
  bool is_test = args[0] == "test";
  std::optional<Options> o = parse_options(args.subspan(1), is_test, err);
  if (!o) {
    usage(err);
    return 2;
  }
  return is_test ? test(*o, out, err) : check(*o, out);
}

}  // namespace og::daemon
