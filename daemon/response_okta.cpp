#include "daemon/response_okta.h"

#include <boost/asio/post.hpp>
#include <boost/beast/http/verb.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <memory>
#include <optional>

namespace og::daemon {

namespace {

std::optional<bool> parse_bool(const ActionParams& params, std::string_view name, bool fallback, std::string& error) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  error = fmt::format("param {}: expected true or false, got '{}'", name, it->second);
  return std::nullopt;
}

std::optional<okta::RiskLevel> parse_level(std::string_view text) {
  std::string up(text);
  for (char& c : up)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (up == "LOW") return okta::RiskLevel::low;
  if (up == "MEDIUM") return okta::RiskLevel::medium;
  if (up == "HIGH") return okta::RiskLevel::high;
  return std::nullopt;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::optional<std::uint32_t> hex4(std::string_view s) {
  if (s.size() < 4) return std::nullopt;
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + 4, v, 16);
  if (ec != std::errc() || p != s.data() + 4) return std::nullopt;
  return v;
}

// The text of a JSON string literal ("..." with escapes), or nullopt when it is not exactly one.
std::optional<std::string> json_string_literal(std::string_view t) {
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') return std::nullopt;
  std::string out;
  for (std::size_t i = 1; i + 1 < t.size(); ++i) {
    char c = t[i];
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
    if (c == '"') return std::nullopt;  // an unescaped quote ends the literal early
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i + 1 >= t.size()) return std::nullopt;
    switch (t[i]) {
      case '"':
      case '\\':
      case '/':
        out += t[i];
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        auto cp = hex4(t.substr(i + 1, t.size() - 1 - (i + 1)));
        if (!cp) return std::nullopt;
        i += 4;
        if (*cp >= 0xD800 && *cp < 0xDC00) {
          if (i + 6 >= t.size() || t[i + 1] != '\\' || t[i + 2] != 'u') return std::nullopt;
          auto lo = hex4(t.substr(i + 3, t.size() - 1 - (i + 3)));
          if (!lo || *lo < 0xDC00 || *lo >= 0xE000) return std::nullopt;
          cp = 0x10000 + ((*cp - 0xD800) << 10) + (*lo - 0xDC00);
          i += 6;
        } else if (*cp >= 0xDC00 && *cp < 0xE000) {
          return std::nullopt;
        }
        append_utf8(out, *cp);
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

// JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?; `integral` when neither part follows.
bool json_number(std::string_view t, bool& integral) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9')
      ++i;
    return i - start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  integral = true;
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (digits() == 0) return false;
    integral = false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (digits() == 0) return false;
    integral = false;
  }
  return i == t.size();
}

}  // namespace

okta::ProfileValue parse_profile_value(std::string_view text) {
  if (text == "null") return nullptr;
  if (text == "true") return true;
  if (text == "false") return false;
  bool integral = false;
  if (json_number(text, integral)) {
    if (integral) {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && p == text.data() + text.size()) return v;
      // Beyond int64: Okta's integers are 64-bit too, so it goes as a number and Okta judges it.
    }
    double d = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc() && p == text.data() + text.size() && std::isfinite(d)) return d;
    return std::string(text);
  }
  if (auto s = json_string_literal(text)) return std::move(*s);
  return std::string(text);
}

boost::system::result<OktaActionPlan, std::string> plan_okta_action(const PlannedAction& a) {
  OktaActionPlan plan;
  const std::string& name = !a.user_id.empty() ? a.user_id : a.login;
  if (name.empty()) return std::string("no user: both user_id and login are empty");
  if (okta::normalise_name(name, {}).kind == okta::NameKind::okta_id) {
    plan.action.user_id = name;
  } else {
    plan.user_name = name;
  }
  std::string error;
  auto flag = [&](std::string_view param, bool fallback) { return parse_bool(a.params, param, fallback, error); };
  auto group = [&]() -> bool {
    if (auto it = a.params.find("group"); it != a.params.end() && !it->second.empty()) return true;
    if (auto it = a.params.find("group_name"); it != a.params.end() && !it->second.empty()) {
      plan.group_name = it->second;
      return true;
    }
    error = "param group (an Okta group id) or group_name is required";
    return false;
  };
  auto group_id = [&]() {
    auto it = a.params.find("group");
    return it == a.params.end() ? std::string() : it->second;
  };
  switch (a.kind) {
    case ActionKind::suspend:
      plan.action.params = okta::Action::Suspend{};
      break;
    case ActionKind::unsuspend:
      plan.action.params = okta::Action::Unsuspend{};
      break;
    case ActionKind::clear_sessions: {
      auto oauth = flag("oauth_tokens", false);
      auto forget = flag("forget_devices", false);
      if (!oauth || !forget) return error;
      plan.action.params = okta::Action::ClearSessions{*oauth, *forget};
      break;
    }
    case ActionKind::expire_password: {
      auto temp = flag("temp_password", false);
      auto revoke = flag("revoke_sessions", false);
      if (!temp || !revoke) return error;
      plan.action.params = okta::Action::ExpirePassword{*temp, *revoke};
      break;
    }
    case ActionKind::reset_password: {
      auto email = flag("send_email", true);  // Okta's default: absent means the user gets the email
      auto revoke = flag("revoke_sessions", false);
      if (!email || !revoke) return error;
      plan.action.params = okta::Action::ResetPassword{*email, *revoke};
      break;
    }
    case ActionKind::set_profile: {
      okta::ProfileAttrs attrs;
      for (const auto& [k, v] : a.params)
        attrs.emplace(k, parse_profile_value(v));
      if (attrs.empty()) return std::string("set_profile without attributes");
      plan.action.params = okta::Action::SetProfile{std::move(attrs)};
      break;
    }
    case ActionKind::add_to_group:
      if (!group()) return error;
      plan.action.params = okta::Action::AddToGroup{group_id()};
      break;
    case ActionKind::remove_from_group:
      if (!group()) return error;
      plan.action.params = okta::Action::RemoveFromGroup{group_id()};
      break;
    case ActionKind::set_user_risk: {
      auto it = a.params.find("level");
      auto level = parse_level(it == a.params.end() ? std::string_view("HIGH") : std::string_view(it->second));
      if (!level) return fmt::format("param level: expected LOW, MEDIUM or HIGH, got '{}'", it->second);
      auto reason = a.params.find("reason");
      plan.action.params = okta::Action::SetUserRisk{*level, reason == a.params.end() ? std::string() : reason->second};
      break;
    }
    case ActionKind::notify:
      return std::string("notify is not an Okta action");
  }
  return plan;
}

Outcome to_outcome(okta::OutcomeKind kind) {
  switch (kind) {
    case okta::OutcomeKind::success:
      return Outcome::success;
    case okta::OutcomeKind::already_in_state:
      return Outcome::already_in_state;
    case okta::OutcomeKind::not_found:
      return Outcome::not_found;
    case okta::OutcomeKind::forbidden:
      return Outcome::forbidden;
    case okta::OutcomeKind::invalid:
      return Outcome::invalid;
    case okta::OutcomeKind::rate_limited:
      return Outcome::rate_limited;
    case okta::OutcomeKind::transient:
      return Outcome::transient;
    case okta::OutcomeKind::unknown:
      return Outcome::unknown;
  }
  return Outcome::unknown;
}

std::string describe_request(const okta::Action& action) {
  const okta::Request req = okta::build_request(action);
  const auto q = req.target.find('?');
  return fmt::format("{} {}", std::string_view(boost::beast::http::to_string(req.method)),
                     std::string_view(req.target).substr(0, q));
}

namespace {

// The ids the executor acted on (resolved from names, or as the action gave them).
void record_ids(ExecutionResult& r, const okta::Action& action) {
  r.resolved_user_id = action.user_id;
  if (const auto* add = std::get_if<okta::Action::AddToGroup>(&action.params)) r.resolved_group_id = add->group_id;
  if (const auto* rm = std::get_if<okta::Action::RemoveFromGroup>(&action.params)) r.resolved_group_id = rm->group_id;
}

}  // namespace

ExecutionResult to_execution_result(okta::ActionOutcome outcome, const okta::Action& action) {
  ExecutionResult r;
  record_ids(r, action);
  r.outcome = to_outcome(outcome.kind);
  r.http_status = outcome.http_status;
  if (outcome.okta_error) {
    r.okta_error_code = outcome.okta_error->error_code;
    r.okta_error_summary = outcome.okta_error->error_summary;
  }
  r.summary = okta::describe(outcome);  // never holds the secret
  r.request = describe_request(action);
  // The transport answers transient for a non-idempotent request only when it was never written
  // (once written, a lost answer is unknown); an idempotent one may have been written and answered 5xx.
  r.possibly_sent = outcome.kind == okta::OutcomeKind::unknown ||
                    (outcome.kind == okta::OutcomeKind::transient && okta::build_request(action).idempotent);
  if (!outcome.secret.empty()) r.secret = std::string(outcome.secret.reveal());
  return r;
}

namespace {

ExecutionResult from_failure(const okta::Failure& f, std::string summary) {
  ExecutionResult r;
  r.outcome = to_outcome(f.kind);
  r.http_status = f.http_status;
  if (f.okta_error) {
    r.okta_error_code = f.okta_error->error_code;
    r.okta_error_summary = f.okta_error->error_summary;
  }
  r.summary = std::move(summary);
  return r;
}

}  // namespace

struct OktaActionExecutor::Job {
  OktaActionPlan plan;
  std::function<void(ExecutionResult)> done;
  bool possibly_sent = false;  // an earlier attempt of this action may have reached Okta
};

OktaActionExecutor::OktaActionExecutor(boost::asio::io_context& io, okta::Client& client) : io_(io), client_(client) {}

void OktaActionExecutor::execute(const PlannedAction& action, const Attempt& attempt,
                                 std::function<void(ExecutionResult)> done) {
  // possibly_sent: for lifecycle actions ActionRunner re-reads the user on ambiguous refusals and
  // the engine counts "already in state" after it as ours; an add_to_group takes a membership it
  // finds as its own (check_membership).
  if (action.kind == ActionKind::notify) {
    ExecutionResult r;
    r.outcome = Outcome::success;
    r.summary = "notify: recorded locally, no Okta call";
    done(std::move(r));
    return;
  }
  auto plan = plan_okta_action(action);
  if (!plan) {
    ExecutionResult r;
    r.outcome = Outcome::invalid;
    r.summary = fmt::format("{} not sent: {}", to_string(action.kind), plan.error());
    done(std::move(r));
    return;
  }
  auto job = std::make_shared<Job>(Job{std::move(*plan), std::move(done), attempt.possibly_sent});
  boost::asio::post(io_, [this, job]() mutable { resolve_user(std::move(job)); });
}

void OktaActionExecutor::resolve_user(std::shared_ptr<Job> job) {
  if (job->plan.user_name.empty()) return resolve_group(std::move(job));
  std::string name = job->plan.user_name;
  client_.identity().resolve(name, [this, job, name](okta::LookupResult<std::string> r) mutable {
    if (!r) {
      const auto& f = r.error();
      std::string summary = f.kind == okta::OutcomeKind::not_found
                                ? fmt::format("{} not sent: no Okta user has login or email '{}'",
                                              to_string(job->plan.action.kind()), name)
                                : fmt::format("{} not sent: resolving user '{}' failed: {}",
                                              to_string(job->plan.action.kind()), name, okta::describe(f));
      auto done = std::move(job->done);
      done(from_failure(f, std::move(summary)));
      return;
    }
    job->plan.action.user_id = std::move(*r);
    resolve_group(std::move(job));
  });
}

void OktaActionExecutor::resolve_group(std::shared_ptr<Job> job) {
  if (job->plan.group_name.empty()) return check_membership(std::move(job));
  std::string name = job->plan.group_name;
  client_.identity().resolve_group(name, [this, job, name](okta::LookupResult<okta::OktaGroup> r) mutable {
    if (!r) {
      const auto& f = r.error();
      std::string summary =
          f.kind == okta::OutcomeKind::not_found
              ? fmt::format("{} not sent: no Okta group is named '{}'", to_string(job->plan.action.kind()), name)
              : fmt::format("{} not sent: resolving group '{}' failed: {}", to_string(job->plan.action.kind()), name,
                            okta::describe(f));
      auto done = std::move(job->done);
      done(from_failure(f, std::move(summary)));
      return;
    }
    if (auto* add = std::get_if<okta::Action::AddToGroup>(&job->plan.action.params)) add->group_id = r->id;
    if (auto* rm = std::get_if<okta::Action::RemoveFromGroup>(&job->plan.action.params)) rm->group_id = r->id;
    check_membership(std::move(job));
  });
}

// Okta answers 204 to adding a member again, so the answer cannot tell whether oktaguard made the
// membership; a ttl would then remove one it did not make (a user permanently in the group). Read
// the user's groups first: already a member is already_in_state, which is never reverted.
void OktaActionExecutor::check_membership(std::shared_ptr<Job> job) {
  const auto* add = std::get_if<okta::Action::AddToGroup>(&job->plan.action.params);
  if (!add || okta::validate(job->plan.action)) return send(std::move(job));
  std::string group_id = add->group_id;
  std::string user_id = job->plan.action.user_id;
  client_.list_user_groups(user_id, [this, job, group_id](okta::LookupResult<std::vector<okta::OktaGroup>> r) mutable {
    if (!r) {
      auto done = std::move(job->done);
      done(from_failure(r.error(), fmt::format("add_to_group not sent: reading the user's groups failed: {}",
                                               okta::describe(r.error()))));
      return;
    }
    for (const okta::OktaGroup& g : *r) {
      if (g.id != group_id) continue;
      ExecutionResult already;
      // After an attempt that may have added the user (a timeout or 5xx once the PUT was out), the
      // membership is taken as that attempt's: this action's, whose ttl removes it.
      already.outcome = job->possibly_sent ? Outcome::success : Outcome::already_in_state;
      record_ids(already, job->plan.action);
      already.summary =
          job->possibly_sent
              ? fmt::format("add_to_group not sent again: the user is a member of group {} after an earlier attempt",
                            group_id)
              : fmt::format("add_to_group not sent: the user is already a member of group {}", group_id);
      auto done = std::move(job->done);
      done(std::move(already));
      return;
    }
    send(std::move(job));
  });
}

void OktaActionExecutor::send(std::shared_ptr<Job> job) {
  if (auto why = okta::validate(job->plan.action)) {
    ExecutionResult r;
    r.outcome = Outcome::invalid;
    r.summary = fmt::format("{} not sent: {}", to_string(job->plan.action.kind()), *why);
    auto done = std::move(job->done);
    done(std::move(r));
    return;
  }
  okta::Action action = job->plan.action;
  client_.execute(std::move(action), [job](okta::ActionOutcome outcome) {
    auto done = std::move(job->done);
    done(to_execution_result(std::move(outcome), job->plan.action));
  });
}

}  // namespace og::daemon
