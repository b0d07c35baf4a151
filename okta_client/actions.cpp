#include "okta_client/actions.h"

#include <cmath>
#include <memory>
#include <vector>

namespace og::okta {

std::string_view to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::suspend:
      return "suspend";
    case ActionKind::unsuspend:
      return "unsuspend";
    case ActionKind::clear_sessions:
      return "clear_sessions";
    case ActionKind::expire_password:
      return "expire_password";
    case ActionKind::reset_password:
      return "reset_password";
    case ActionKind::set_profile:
      return "set_profile";
    case ActionKind::add_to_group:
      return "add_to_group";
    case ActionKind::remove_from_group:
      return "remove_from_group";
    case ActionKind::set_user_risk:
      return "set_user_risk";
  }
  return "unknown";
}

std::string_view to_string(RiskLevel level) {
  switch (level) {
    case RiskLevel::low:
      return "LOW";
    case RiskLevel::medium:
      return "MEDIUM";
    case RiskLevel::high:
      return "HIGH";
  }
  return "HIGH";
}

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string_view flag(bool b) {
  return b ? "true" : "false";
}

std::string json_value(const ProfileValue& v) {
  return std::visit(Overloaded{
                        [](std::nullptr_t) { return std::string("null"); },
                        [](bool b) { return std::string(flag(b)); },
                        [](std::int64_t i) { return fmt::format("{}", i); },
                        // Shortest text that reads back as the same double.
                        [](double d) { return fmt::format("{}", d); },
                        [](const std::string& s) { return json_quote(s); },
                    },
                    v);
}

// Okta ids are alphanumeric (00u..., 00g...). Anything else is refused before it reaches a path, and
// so is "me", which Okta reads as the API token's own user.
bool is_okta_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  if (id.size() == 2 && (id[0] | 0x20) == 'm' && (id[1] | 0x20) == 'e') return false;
  for (char c : id) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

bool is_risk_reason_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' || c == '\t' ||
         c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '-' || c == ',' || c == '.';
}

std::string user_path(const std::string& user_id) {
  return "/api/v1/users/" + percent_encode(user_id);
}

}  // namespace

std::string profile_update_body(const ProfileAttrs& attrs) {
  std::string body = R"({"profile":{)";
  bool first = true;
  for (const auto& [name, value] : attrs) {
    if (!first) body.push_back(',');
    first = false;
    body += json_quote(name);
    body.push_back(':');
    body += json_value(value);
  }
  body += "}}";
  return body;
}

std::string Action::canonical() const {
  std::string out = fmt::format("{};user={}", to_string(kind()), json_quote(user_id));
  std::visit(
      Overloaded{
          [](const Suspend&) {},
          [](const Unsuspend&) {},
          [&](const ClearSessions& p) {
            out += fmt::format(";oauth_tokens={};forget_devices={}", flag(p.oauth_tokens), flag(p.forget_devices));
          },
          [&](const ExpirePassword& p) {
            out += fmt::format(";temp_password={};revoke_sessions={}", flag(p.temp_password), flag(p.revoke_sessions));
          },
          [&](const ResetPassword& p) {
            out += fmt::format(";send_email={};revoke_sessions={}", flag(p.send_email), flag(p.revoke_sessions));
          },
          [&](const SetProfile& p) {
            // The body is canonical already: sorted keys, one spelling per value.
            out += ";attrs=" + profile_update_body(p.attrs);
          },
          [&](const AddToGroup& p) { out += ";group=" + json_quote(p.group_id); },
          [&](const RemoveFromGroup& p) { out += ";group=" + json_quote(p.group_id); },
          [&](const SetUserRisk& p) {
            out += fmt::format(";level={};reason={}", to_string(p.level), json_quote(p.reason));
          },
      },
      params);
  return out;
}

std::optional<std::string> validate(const Action& action) {
  if (!is_okta_id(action.user_id)) return std::string("user id is not an Okta id");
  return std::visit(Overloaded{
                        [](const Action::ExpirePassword& p) -> std::optional<std::string> {
                          if (p.revoke_sessions && !p.temp_password) {
                            return "expire_password has no revokeSessions parameter; add a clear_sessions action";
                          }
                          return std::nullopt;
                        },
                        [](const Action::SetProfile& p) -> std::optional<std::string> {
                          if (p.attrs.empty()) return "set_profile without attributes";
                          for (const auto& [name, value] : p.attrs) {
                            if (name.empty()) return "empty profile attribute name";
                            if (const auto* d = std::get_if<double>(&value); d && !std::isfinite(*d)) {
                              return fmt::format("profile attribute {} is not a finite number", json_quote(name));
                            }
                          }
                          return std::nullopt;
                        },
                        [](const Action::AddToGroup& p) -> std::optional<std::string> {
                          if (!is_okta_id(p.group_id)) return "group id is not an Okta id";
                          return std::nullopt;
                        },
                        [](const Action::RemoveFromGroup& p) -> std::optional<std::string> {
                          if (!is_okta_id(p.group_id)) return "group id is not an Okta id";
                          return std::nullopt;
                        },
                        [](const Action::SetUserRisk& p) -> std::optional<std::string> {
                          if (p.reason.size() > 500) return "risk reason longer than 500 characters";
                          for (char c : p.reason) {
                            if (!is_risk_reason_char(c)) {
                              return "risk reason may hold only letters, digits, spaces, '-', ',' and '.'";
                            }
                          }
                          return std::nullopt;
                        },
                        [](const auto&) -> std::optional<std::string> { return std::nullopt; },
                    },
                    action.params);
}

Request build_request(const Action& action) {
  Request r;
  r.priority = Priority::enforcement;
  const std::string user = user_path(action.user_id);
  std::visit(Overloaded{
                 [&](const Action::Suspend&) {
                   r.method = http::verb::post;
                   r.target = user + "/lifecycle/suspend";
                   r.idempotent = false;
                 },
                 [&](const Action::Unsuspend&) {
                   r.method = http::verb::post;
                   r.target = user + "/lifecycle/unsuspend";
                   r.idempotent = false;
                 },
                 [&](const Action::ClearSessions& p) {
                   r.method = http::verb::delete_;
                   r.target = fmt::format("{}/sessions?oauthTokens={}&forgetDevices={}", user, flag(p.oauth_tokens),
                                          flag(p.forget_devices));
                   r.idempotent = true;
                 },
                 [&](const Action::ExpirePassword& p) {
                   r.method = http::verb::post;
                   r.target = p.temp_password ? fmt::format(
                                                    "{}/lifecycle/expire_password_with_temp_password"
                                                    "?revokeSessions={}",
                                                    user, flag(p.revoke_sessions))
                                              : user + "/lifecycle/expire_password";
                   r.idempotent = false;
                 },
                 [&](const Action::ResetPassword& p) {
                   r.method = http::verb::post;
                   r.target = fmt::format("{}/lifecycle/reset_password?sendEmail={}&revokeSessions={}", user,
                                          flag(p.send_email), flag(p.revoke_sessions));
                   r.idempotent = false;
                 },
                 [&](const Action::SetProfile& p) {
                   // POST is Okta's partial update; PUT would null every attribute not sent.
                   r.method = http::verb::post;
                   r.target = user;
                   r.body = profile_update_body(p.attrs);
                   r.idempotent = true;  // the same partial update twice leaves the same profile
                 },
                 [&](const Action::AddToGroup& p) {
                   r.method = http::verb::put;
                   r.target = fmt::format("/api/v1/groups/{}/users/{}", percent_encode(p.group_id),
                                          percent_encode(action.user_id));
                   r.idempotent = true;
                 },
                 [&](const Action::RemoveFromGroup& p) {
                   r.method = http::verb::delete_;
                   r.target = fmt::format("/api/v1/groups/{}/users/{}", percent_encode(p.group_id),
                                          percent_encode(action.user_id));
                   r.idempotent = true;
                 },
                 [&](const Action::SetUserRisk& p) {
                   r.method = http::verb::put;
                   r.target = user + "/risk";
                   r.body = p.reason.empty() ? fmt::format(R"({{"riskLevel":"{}"}})", to_string(p.level))
                                             : fmt::format(R"({{"riskLevel":"{}","riskReason":{}}})",
                                                           to_string(p.level), json_quote(p.reason));
                   r.idempotent = true;
                 },
             },
             action.params);
  return r;
}

namespace {

// What a re-read of the user's status means for a lifecycle action.
struct StateRule {
  bool applies = false;
  // After an unknown outcome: the change is visible.
  std::vector<std::string_view> done;
  // After an unknown outcome: the change is not visible and the operation is allowed: resend.
  std::vector<std::string_view> resend;
  // After a 400/403 refusal: the user is already where the action wanted them. `refused_unless`
  // inverts the test: already in state unless the status is one of these.
  std::vector<std::string_view> refused_already;
  std::vector<std::string_view> refused_unless;
};

bool contains(const std::vector<std::string_view>& v, std::string_view s) {
  for (auto x : v) {
    if (x == s) return true;
  }
  return false;
}

StateRule state_rule(const Action& a) {
  switch (a.kind()) {
    case ActionKind::suspend:
      // Okta suspends only ACTIVE users. Refused for a suspended or deactivated user, there is
      // nothing left to suspend; refused for a locked-out, password-expired or recovering user, that
      // user can sign in again once unlocked or reset: the suspension failed and must say so.
      return {true, {"SUSPENDED"}, {"ACTIVE"}, {"SUSPENDED", "DEPROVISIONED"}, {}};
    case ActionKind::unsuspend:
      // Okta unsuspends only SUSPENDED users; any other status means the suspension is already gone.
      return {true, {"ACTIVE"}, {"SUSPENDED"}, {}, {"SUSPENDED"}};
    case ActionKind::expire_password: {
      const auto& p = std::get<Action::ExpirePassword>(a.params);
      // With a temporary password the caller wants the new secret: an expired user is not "done".
      if (p.temp_password) return {true, {"PASSWORD_EXPIRED"}, {"ACTIVE"}, {}, {}};
      return {true, {"PASSWORD_EXPIRED"}, {"ACTIVE"}, {"PASSWORD_EXPIRED"}, {}};
    }
    case ActionKind::reset_password:
      return {true, {"RECOVERY"}, {"ACTIVE"}, {}, {}};
    default:
      return {};
  }
}

class Operation : public std::enable_shared_from_this<Operation> {
 public:
  Operation(SendFn send, const ActionOptions& options, Action action, ActionRunner::Done done)
      : send_(std::move(send)),
        options_(options),
        action_(std::move(action)),
        done_(std::move(done)),
        rule_(state_rule(action_)) {}

  void start() {
    if (auto why = validate(action_)) {
      ActionOutcome o;
      o.kind = OutcomeKind::invalid;
      o.detail = std::move(*why);
      finish(std::move(o));
      return;
    }
    send_action();
  }

 private:
  void send_action() {
    Request req = build_request(action_);
    const bool idempotent = req.idempotent;
    send_(std::move(req), [self = shared_from_this(), idempotent](boost::system::result<Response, TransportFailure> r) {
      self->on_action_answer(std::move(r), idempotent);
    });
  }

  void on_action_answer(boost::system::result<Response, TransportFailure> r, bool idempotent) {
    ActionOutcome o;
    Failure f;
    if (r.has_value()) {
      attempts_ += r->attempts;
      f = classify_status(r->status, r->body, idempotent);
      if (f.kind == OutcomeKind::success) {
        o.kind = OutcomeKind::success;
        o.http_status = r->status;
        take_secret(*r, o);
        finish(std::move(o));
        return;
      }
    } else {
      attempts_ += r.error().attempts;
      f = classify_transport_failure(r.error(), idempotent);
    }
    o.kind = f.kind;
    o.http_status = f.http_status;
    o.okta_error = std::move(f.okta_error);
    o.detail = std::move(f.detail);

    const bool refused = o.kind == OutcomeKind::invalid || o.kind == OutcomeKind::forbidden;
    if (rule_.applies && (o.kind == OutcomeKind::unknown || refused)) {
      reread(std::move(o));
      return;
    }
    finish(std::move(o));
  }

  void take_secret(const Response& r, ActionOutcome& o) {
    std::string_view member;
    if (const auto* p = std::get_if<Action::ExpirePassword>(&action_.params); p && p->temp_password) {
      member = "tempPassword";
    } else if (const auto* q = std::get_if<Action::ResetPassword>(&action_.params); q && !q->send_email) {
      member = "resetPasswordUrl";
    }
    if (member.empty()) return;
    auto secret = parse_string_member(r.body, member);
    if (secret) {
      o.secret = Secret(std::move(*secret));
    } else {
      o.detail = fmt::format("2xx answer without {}", member);
    }
  }

  // Okta's own answer cannot tell "already there" from "not allowed", nor whether a request whose
  // answer was lost was applied: the user's status can.
  void reread(ActionOutcome pending) {
    Request get;
    get.method = http::verb::get;
    get.target = user_path(action_.user_id);
    get.priority = Priority::enforcement;
    get.idempotent = true;
    auto shared_pending = std::make_shared<ActionOutcome>(std::move(pending));
    send_(std::move(get),
          [self = shared_from_this(), shared_pending](boost::system::result<Response, TransportFailure> r) {
            self->on_reread(std::move(*shared_pending), std::move(r));
          });
  }

  void on_reread(ActionOutcome o, boost::system::result<Response, TransportFailure> r) {
    if (!r.has_value() || r->status != 200) {
      if (r.has_value() && r->status == 404) {
        o.kind = OutcomeKind::not_found;
        o.http_status = 404;
        o.okta_error = parse_okta_error(r->body);
        o.detail = "user not found on re-read";
      } else {
        o.detail += "; re-read of the user failed";
      }
      finish(std::move(o));
      return;
    }
    auto user = parse_user(r->body);
    if (!user) {
      o.detail += "; re-read answer is not a user";
      finish(std::move(o));
      return;
    }
    const std::string& status = user->status;
    o.observed_status = status;
    if (o.kind == OutcomeKind::unknown) {
      if (contains(rule_.done, status)) {
        o.kind = OutcomeKind::success;
        o.verified_by_reread = true;
        o.okta_error.reset();
        o.http_status = 0;
        if (has_secret_output()) o.detail = "applied, but the answer (and its secret) was lost";
      } else if (contains(rule_.resend, status) && resends_ < options_.max_resends_after_reread) {
        ++resends_;
        log(LogLevel::warning, fmt::format("okta {} user {}: outcome unknown, user still {}, resending",
                                           to_string(action_.kind()), action_.user_id, status));
        send_action();
        return;
      }
      finish(std::move(o));
      return;
    }
    // A refusal (400/403).
    const bool already = contains(rule_.refused_already, status) ||
                         (!rule_.refused_unless.empty() && !contains(rule_.refused_unless, status));
    if (already) {
      o.kind = OutcomeKind::already_in_state;
      o.verified_by_reread = true;
    }
    finish(std::move(o));
  }

  bool has_secret_output() const {
    if (const auto* p = std::get_if<Action::ExpirePassword>(&action_.params)) return p->temp_password;
    if (const auto* q = std::get_if<Action::ResetPassword>(&action_.params)) return !q->send_email;
    return false;
  }

  void log(LogLevel level, const std::string& line) {
    if (options_.log) options_.log(level, line);
  }

  void finish(ActionOutcome o) {
    o.attempts = attempts_;
    const LogLevel level = o.done() ? LogLevel::info : LogLevel::warning;
    log(level, fmt::format("okta {} user {}: {}", to_string(action_.kind()), action_.user_id, describe(o)));
    auto done = std::move(done_);
    done(std::move(o));
  }

  SendFn send_;
  ActionOptions options_;
  Action action_;
  ActionRunner::Done done_;
  StateRule rule_;
  int attempts_ = 0;
  int resends_ = 0;
};

}  // namespace

ActionRunner::ActionRunner(SendFn send, ActionOptions options) : send_(std::move(send)), options_(std::move(options)) {}

void ActionRunner::execute(Action action, Done done) {
  std::make_shared<Operation>(send_, options_, std::move(action), std::move(done))->start();
}

}  // namespace og::okta
