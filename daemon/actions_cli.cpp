#include "daemon/actions_cli.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/config.h"
#include "daemon/journal.h"

namespace og::daemon {
namespace {

constexpr std::string_view kUsage = R"(usage: oktaguard actions COMMAND [--state-dir DIR]
  list [--user U] [--state S] [--since T] [--limit N]   T: 30m, 2h, 7d or 2024-05-01T12:00:00Z
  show ID                                              the full why of one action
  revert ID                                            revert an action now
  release                                              re-arm the blast-radius breaker
  killswitch on|off|status [--config FILE]             stop (or resume) all write-back; status and off
                                                       also read response.kill_switch_file from FILE
                                                       (default $OKTAGUARD_CONFIG, else
                                                       /etc/oktaguard/oktaguard.yaml when it exists)
)";

constexpr std::string_view kDefaultConfig = "/etc/oktaguard/oktaguard.yaml";

std::string fmt_time(std::int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_ms) {
  if (text.empty()) return std::nullopt;
  char unit = text.back();
  std::int64_t mult = unit == 's'   ? 1000
                      : unit == 'm' ? 60'000
                      : unit == 'h' ? 3'600'000
                      : unit == 'd' ? 86'400'000
                                    : 0;
  if (mult && text.size() > 1 && text.find('T') == std::string_view::npos) {
    try {
      std::size_t used = 0;
      std::string num(text.substr(0, text.size() - 1));
      auto n = std::stoll(num, &used);
      if (used == num.size() && n >= 0) return now_ms - n * mult;
    } catch (...) {
    }
    return std::nullopt;
  }
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) {
    tm = {};
    end = strptime(s.c_str(), "%Y-%m-%d", &tm);
  }
  if (!end || (*end != '\0' && std::string_view(end) != "Z")) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::optional<std::int64_t> parse_id(std::string_view text) {
  try {
    std::size_t used = 0;
    std::string s(text);
    auto v = std::stoll(s, &used);
    if (used == s.size() && v > 0) return v;
  } catch (...) {
  }
  return std::nullopt;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "-" : out;
}

std::int64_t now_ms() {
  return to_ms(Clock::now());
}

int queue_command(const std::filesystem::path& dir, std::string_view kind, std::string_view arg, std::ostream& out,
                  std::ostream& err) {
  bool running = Journal::writer_running(dir);
  auto j = Journal::open(dir, Journal::Mode::commander);
  if (!j) {
    err << "oktaguard actions: " << j.error() << "\n";
    return 1;
  }
  auto& journal = **j;
  auto id = journal.insert_command(kind, arg, now_ms());
  if (!id) {
    err << "oktaguard actions: " << id.error() << "\n";
    return 1;
  }
  if (!running) {
    out << fmt::format(
        "queued {} (command #{}); oktaguard is not running: the next start performs it before "
        "sending anything\n",
        kind, *id);
    return 0;
  }
  // The daemon polls commands at least every second; wait a little longer for its answer.
  for (int i = 0; i < 50; ++i) {
    auto c = journal.get_command(*id);
    if (c && c->done_ms) {
      out << fmt::format("{}: {}\n", kind, c->result);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  out << fmt::format("queued {} (command #{}); the running daemon has not answered within 5s\n", kind, *id);
  return 0;
}

void print_show(Journal& journal, const ActionRecord& r, std::ostream& out) {
  const auto& a = r.action;
  out << fmt::format("action #{}  {}  user {} ({})\n", r.id, to_string(a.kind), a.user_id,
                     a.login.empty() ? "-" : a.login);
  out << fmt::format("  state:        {}{}\n", to_string(r.state), r.reason.empty() ? "" : "  (" + r.reason + ")");
  out << fmt::format("  params:       {}\n", a.canonical_params());
  if (a.ttl.count()) out << fmt::format("  ttl:          {}s\n", a.ttl.count());
  out << fmt::format("  why:          incident {}; risk {:.0f}; shadow {}\n",
                     a.incident_id.empty() ? "-" : a.incident_id, a.risk, a.dry_run ? "yes" : "no");
  out << fmt::format("  detections:   {}\n", join(a.detection_ids));
  out << fmt::format("  events:       {}\n", join(a.contributing_uuids));
  out << fmt::format("  event time:   {}\n", fmt_time(to_ms(a.event_time)));
  out << fmt::format("  decided:      {}   updated: {}\n", fmt_time(r.decided_ms), fmt_time(r.updated_ms));
  out << fmt::format("  idempotency:  {}\n", r.idem_key);
  if (!r.response_key.empty()) out << fmt::format("  response:     {} step {}\n", r.response_key, r.step + 1);
  if (r.attempts) {
    out << fmt::format("  sent:         {} attempt(s), last {}\n", r.attempts, fmt_time(r.sent_ms));
    out << fmt::format("  request:      {}\n", r.request.empty() ? "-" : r.request);
    out << fmt::format("  okta said:    {} http {} {} {}\n", r.outcome.empty() ? "-" : r.outcome, r.http_status,
                       r.okta_error_code, r.okta_error_summary);
    if (!r.result_summary.empty()) out << fmt::format("  summary:      {}\n", r.result_summary);
  }
  if (r.revert_of) out << fmt::format("  reverts:      #{}\n", r.revert_of);
  if (r.revert_state != RevertState::none) {
    out << fmt::format("  revert:       {} due {}{}\n", to_string(r.revert_state), fmt_time(r.revert_due_ms),
                       r.revert_action_id ? fmt::format(" (#{})", r.revert_action_id) : "");
  }
  if (r.cooldown_of) out << fmt::format("  repeats:      #{} (cooldown)\n", r.cooldown_of);
  out << "  history:\n";
  for (const auto& t : journal.transitions(r.id)) {
    out << fmt::format("    {}  {} -> {}{}\n", fmt_time(t.ms), t.from.empty() ? "(new)" : t.from, t.to,
                       t.note.empty() ? "" : "  " + t.note);
  }
}

}  // namespace

int actions_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::vector<std::string_view> positional;
  std::optional<std::string> user, state, since, limit, config;
  const char* env_dir = std::getenv("OKTAGUARD_STATE_DIR");
  std::filesystem::path dir = env_dir && *env_dir ? env_dir : "/var/lib/oktaguard";
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto a = args[i];
    auto value = [&](std::optional<std::string>& slot) {
      if (i + 1 >= args.size()) return false;
      slot = std::string(args[++i]);
      return true;
    };
    bool ok = true;
    if (a == "--user") {
      ok = value(user);
    } else if (a == "--state") {
      ok = value(state);
    } else if (a == "--since") {
      ok = value(since);
    } else if (a == "--limit") {
      ok = value(limit);
    } else if (a == "--config") {
      ok = value(config);
    } else if (a == "--state-dir") {
      std::optional<std::string> d;
      ok = value(d);
      if (ok) dir = *d;
    } else if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    } else if (a.starts_with("--")) {
      err << "oktaguard actions: unknown option " << a << "\n" << kUsage;
      return 2;
    } else {
      positional.push_back(a);
    }
    if (!ok) {
      err << "oktaguard actions: " << a << " needs a value\n";
      return 2;
    }
  }
  if (positional.empty()) {
    err << kUsage;
    return 2;
  }
  auto cmd = positional[0];
  if (cmd == "list") {
    ListFilter f;
    f.user = user;
    if (state) {
      f.state = parse_action_state(*state);
      if (!f.state) {
        err << "oktaguard actions: unknown state " << *state << "\n";
        return 2;
      }
    }
    if (since) {
      f.since_ms = parse_since(*since, now_ms());
      if (!f.since_ms) {
        err << "oktaguard actions: cannot read --since " << *since << "\n";
        return 2;
      }
    }
    if (limit) {
      auto n = parse_id(*limit);
      if (!n) {
        err << "oktaguard actions: bad --limit\n";
        return 2;
      }
      f.limit = static_cast<std::size_t>(*n);
    }
    auto j = Journal::open(dir, Journal::Mode::reader);
    if (!j) {
      err << "oktaguard actions: " << j.error() << "\n";
      return 1;
    }
    out << fmt::format("{:>8}  {:<20}  {:<17}  {:<16}  {:<24}  {}\n", "ID", "DECIDED", "KIND", "STATE", "USER",
                       "REASON");
    for (const auto& r : (*j)->list(f)) {
      out << fmt::format("{:>8}  {:<20}  {:<17}  {:<16}  {:<24}  {}\n", r.id, fmt_time(r.decided_ms),
                         to_string(r.action.kind), to_string(r.state),
                         r.action.login.empty() ? r.action.user_id : r.action.login, r.reason);
    }
    return 0;
  }
  if (cmd == "show" || cmd == "revert") {
    if (positional.size() != 2 || !parse_id(positional[1])) {
      err << "oktaguard actions: " << cmd << " needs an action id\n";
      return 2;
    }
    auto id = *parse_id(positional[1]);
    auto j = Journal::open(dir, Journal::Mode::reader);
    if (!j) {
      err << "oktaguard actions: " << j.error() << "\n";
      return 1;
    }
    auto r = (*j)->get(id);
    if (!r) {
      err << "oktaguard actions: no action #" << id << "\n";
      return 1;
    }
    if (cmd == "show") {
      print_show(**j, *r, out);
      return 0;
    }
    if (!is_effective(r->state) || !inverse_kind(r->action.kind) || r->revert_of) {
      err << fmt::format("oktaguard actions: #{} ({} {}) cannot be reverted\n", id, to_string(r->action.kind),
                         to_string(r->state));
      return 1;
    }
    j->reset();
    return queue_command(dir, "revert", std::to_string(id), out, err);
  }
  if (cmd == "release") return queue_command(dir, "release", "", out, err);
  if (cmd == "killswitch") {
    auto path = dir / "killswitch";
    std::string_view what = positional.size() > 1 ? positional[1] : "status";
    std::error_code ec;
    // The engine also stops on the file response.kill_switch_file names: status and off must see it.
    std::vector<std::filesystem::path> files{path};
    // An unreadable configuration must not keep the operator from the state directory's file: it is
    // acted on, and the command fails after saying what it could not check.
    std::string unchecked;
    if (what == "off" || what == "status") {
      const char* env_config = std::getenv("OKTAGUARD_CONFIG");
      if (!config && env_config && *env_config) config = env_config;
      if (!config && std::filesystem::exists(kDefaultConfig, ec)) config = std::string(kDefaultConfig);
      if (config) {
        LoadOptions options;
        options.check_files = false;  // only the kill switch file is wanted, not the credentials
        LoadResult loaded = load_config_file(*config, options);
        if (!loaded.config) {
          unchecked = fmt::format(
              "oktaguard actions: {} could not be read, so its response.kill_switch_file was not "
              "checked:\n{}",
              *config, correlator::render_text(loaded.diagnostics));
        } else {
          std::filesystem::path configured = loaded.config->response.kill_switch_file;
          if (!configured.empty() && configured != path) files.push_back(configured);
        }
      }
    }
    if (what == "on") {
      std::ofstream(path) << "engaged by oktaguard actions killswitch at " << fmt_time(now_ms()) << "\n";
      if (!std::filesystem::exists(path, ec)) {
        err << "oktaguard actions: cannot create " << path << "\n";
        return 1;
      }
      out << "kill switch on: write-back stops within a second (" << path.string() << ")\n";
      return 0;
    }
    if (what == "off") {
      // Every file that can go goes; the switch is only reported off when none is left.
      std::vector<std::string> left;
      for (const auto& file : files) {
        std::filesystem::remove(file, ec);
        std::error_code exists_ec;
        if (ec || std::filesystem::exists(file, exists_ec))
          left.push_back(file.string() + (ec ? ": " + ec.message() : std::string()));
      }
      if (!left.empty()) {
        err << fmt::format("oktaguard actions: kill switch still on: cannot remove {}\n", fmt::join(left, ", "));
        return 1;
      }
      if (!unchecked.empty()) {
        err << fmt::format("oktaguard actions: removed {}\n", path.string()) << unchecked;
        return 1;
      }
      out << "kill switch off\n";
      return 0;
    }
    if (what == "status") {
      std::vector<std::string> engaged;
      for (const auto& file : files)
        if (std::filesystem::exists(file, ec)) engaged.push_back(file.string());
      out << (engaged.empty() ? std::string("off\n") : fmt::format("on: {}\n", fmt::join(engaged, ", ")));
      err << unchecked;
      return unchecked.empty() ? 0 : 1;
    }
    err << "oktaguard actions: killswitch on|off|status\n";
    return 2;
  }
  err << "oktaguard actions: unknown command " << cmd << "\n" << kUsage;
  return 2;
}

}  // namespace og::daemon
