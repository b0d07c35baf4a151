#include "daemon/replay_events.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "correlator/alert_parser.h"
#include "daemon/ingest.h"

namespace og::daemon {

namespace fs = std::filesystem;
using namespace og::correlator;

namespace {

bool load_mapping_file(const fs::path& file, AlertSources& out, std::ostream& err) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    err << file.string() << ": " << e.what() << "\n";
    return false;
  }
  if (!root.IsMap() || !root["source"] || !root["source"].IsScalar() || !root["mapping"]) {
    err << file.string() << ": expected a mapping file with 'source' and 'mapping' keys\n";
    return false;
  }
  MappingLoad load = alert_mapping_from_yaml(root["mapping"]);
  for (const MappingProblem& p : load.problems)
    err << file.string() << ":" << p.line << ":" << p.column << ": error: " << p.message << " [" << p.path << "]\n";
  if (!load.problems.empty()) return false;
  out.by_source[root["source"].Scalar()] = std::move(load.mapping);
  return true;
}

// The envelope that marks a test or replay record as a third-party alert.
struct Envelope {
  std::string source;
  std::string payload;
};

std::optional<Envelope> alert_envelope(std::string_view text) {
  // Cheap pre-filter: Okta LogEvents never carry this key, so most records skip the DOM parse.
  if (text.find("\"alert_source\"") == std::string_view::npos) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
  std::string_view source;
  simdjson::dom::element alert;
  if (obj["alert_source"].get_string().get(source) != simdjson::SUCCESS) return std::nullopt;
  if (obj["alert"].get(alert) != simdjson::SUCCESS) return std::nullopt;
  return Envelope{std::string(source), simdjson::minify(alert)};
}

void remember_login(const EntityRef& e, ParsedEvents& out) {
  if (e.type.view() == "User" && !e.id.empty() && !e.alternate_id.empty()) out.logins.emplace(e.id, e.alternate_id);
}

}  // namespace

bool load_alert_mappings(const fs::path& path, AlertSources& out, std::ostream& err) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return load_mapping_file(path, out, err);
  if (!fs::is_directory(path, ec)) {
    err << path.string() << ": no such mapping file or directory\n";
    return false;
  }
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() > 13 && name.ends_with(".mapping.yaml")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  bool ok = true;
  for (const fs::path& f : files)
    ok &= load_mapping_file(f, out, err);
  return ok;
}

std::vector<RecordText> split_records(std::string_view document, std::string_view origin) {
  std::vector<RecordText> out;
  std::size_t first = document.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && document[first] == '[') {
    auto items = split_json_array(document);
    if (items) {
      for (std::size_t i = 0; i < items->size(); ++i)
        out.push_back(RecordText{fmt::format("{}[{}]", origin, i), std::move((*items)[i])});
      return out;
    }
    // Not a valid array: fall through, so each line reports its own error.
  }
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= document.size()) {
    std::size_t nl = document.find('\n', pos);
    std::string_view line = document.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    ++line_no;
    if (line.find_first_not_of(" \t\r") != std::string_view::npos)
      out.push_back(RecordText{fmt::format("{}:{}", origin, line_no), std::string(line)});
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return out;
}

ParsedEvents parse_records(const std::vector<RecordText>& records, const RuleSet& rules, const AlertSources& alerts) {
  ParsedEvents out;
  std::unique_ptr<EventParser> okta = make_okta_parser(&rules.fields);
  std::map<std::string, std::unique_ptr<EventParser>, std::less<>> alert_parsers;
  const Symbol okta_source = Symbol::intern("okta");
  for (const RecordText& r : records) {
    std::optional<Envelope> env = alert_envelope(r.text);
    EventParser* parser = okta.get();
    RecordMeta meta{okta_source, {}, 0};
    std::string_view payload = r.text;
    if (env) {
      auto m = alerts.by_source.find(env->source);
      if (m == alerts.by_source.end()) {
        out.errors.push_back(
            fmt::format("{}: no alert mapping for source '{}' (pass --mappings DIR, e.g. examples/alerts; a rule test "
                        "can name it with `mappings`)",
                        r.where, env->source));
        continue;
      }
      auto& p = alert_parsers[env->source];
      if (!p) p = make_alert_parser(m->second, &rules.fields);
      parser = p.get();
      meta.source = Symbol::intern(env->source);
      payload = env->payload;
    }
    auto parsed = parser->parse(payload, meta);
    if (!parsed) {
      out.errors.push_back(fmt::format("{}: {} {}", r.where, to_string(parsed.error().error), parsed.error().detail));
      continue;
    }
    Event e = std::move(*parsed);
    if (e.uuid.empty()) e.uuid = r.where;
    remember_login(e.actor, out);
    for (const EntityRef& t : e.targets)
      remember_login(t, out);
    out.events.push_back(std::move(e));
  }
  return out;
}

void sort_by_event_time(std::vector<Event>& events) {
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.published != b.published) return a.published < b.published;
    return a.uuid < b.uuid;
  });
}

std::size_t drop_repeated_events(std::vector<Event>& events) {
  IngestLimits limits;
  Deduplicator dedupe(limits.dedupe_horizon, limits.dedupe_max_entries);
  std::size_t dropped = 0;
  std::vector<Event> kept;
  kept.reserve(events.size());
  for (Event& e : events) {
    if (dedupe.seen_before(e))
      ++dropped;
    else
      kept.push_back(std::move(e));
  }
  events = std::move(kept);
  return dropped;
}

std::string format_time(EventTime t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), hms.hours().count(),
                     hms.minutes().count(), hms.seconds().count(), hms.subseconds().count());
}

namespace {
std::string duration_text(Duration d) {
  auto ms = d.count();
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}
}  // namespace

std::string_view action_params(const Decision& d, std::string& s) {
  s.clear();
  auto add = [&s](std::string part) {
    if (!s.empty()) s += ' ';
    s += part;
  };
  switch (d.action) {
    case ActionKind::add_to_group:
    case ActionKind::remove_from_group:
      add(fmt::format("{}={}", d.group_is_id ? "group_id" : "group", d.group));
      break;
    case ActionKind::clear_sessions:
      add(fmt::format("oauth_tokens={}", d.oauth_tokens));
      if (d.forget_devices) add("forget_devices=true");
      break;
    case ActionKind::expire_password:
      add(fmt::format("temp_password={}", d.temp_password));
      break;
    case ActionKind::reset_password:
      add(fmt::format("send_email={}", d.send_email));
      break;
    case ActionKind::set_profile:
      for (const auto& [k, v] : d.profile)
        add(fmt::format("{}={}", k, v));
      break;
    case ActionKind::set_user_risk:
      add(fmt::format("level={}", d.level));
      break;
    case ActionKind::notify:
      if (!d.message.empty()) add(fmt::format("message={}", d.message));
      break;
    case ActionKind::suspend:
    case ActionKind::unsuspend:
      break;
  }
  if (d.ttl) add(fmt::format("ttl={}", duration_text(*d.ttl)));
  return s;
}

}  // namespace og::daemon
