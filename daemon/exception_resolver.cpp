#include "daemon/exception_resolver.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace og::daemon {
namespace {

// Not found, or a name Okta could not hold (not an Okta id, a login that cannot be searched for):
// asking again will not change the answer.
bool no_such_user(const okta::Failure& f) {
  return f.kind == okta::OutcomeKind::not_found || f.kind == okta::OutcomeKind::invalid;
}

// Okta ids are 20 characters, letters and digits, beginning "00"; a group's begins "00g".
bool is_group_id(std::string_view value) {
  return value.size() == 20 && value.starts_with("00g") &&
         std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

std::vector<std::string> names_of(const okta::OktaUser& u) {
  std::vector<std::string> out;
  if (!u.login.empty()) out.push_back(u.login);
  if (!u.email.empty()) out.push_back(u.email);
  return out;
}

}  // namespace

void resolve_exceptions(const ExceptionTargets& targets, const ExceptionLookups& lookups, const ExceptionSink& sink,
                        const ExceptionLogFn& log) {
  for (const std::string& group : targets.groups) {
    // The entry keeps the name it was written with: the guard looks the group up by it.
    auto members = [group, sink, log](okta::LookupResult<std::vector<okta::OktaUser>> r) {
      if (!r) {
        log(LogLevel::error,
            fmt::format("exception group {}: members not resolved ({}); actions for users it might hold wait", group,
                        okta::describe(r.error())));
        return;
      }
      std::vector<std::string> ids, names;
      for (const okta::OktaUser& u : *r) {
        ids.push_back(u.id);
        for (const std::string& n : names_of(u))
          names.push_back(n);
      }
      sink.group_members(group, std::move(ids), std::move(names));
    };
    if (is_group_id(group)) {
      lookups.group_members(group, std::move(members));
      continue;
    }
    lookups.group_by_name(group, [group, lookups, log, members](okta::LookupResult<okta::OktaGroup> r) mutable {
      if (!r) {
        log(LogLevel::error,
            fmt::format("exception group '{}': no group of that name resolved ({}); actions for users it might "
                        "hold wait",
                        group, okta::describe(r.error())));
        return;
      }
      lookups.group_members(r->id, std::move(members));
    });
  }
  for (const std::string& user : targets.users) {
    lookups.user_by_id(user, [user, sink, log](okta::LookupResult<okta::OktaUser> r) {
      if (!r && no_such_user(r.error())) {
        log(LogLevel::warn, fmt::format("exception user {}: Okta has no such user ({}); the entry protects nobody",
                                        user, okta::describe(r.error())));
        sink.user_names(user, {});
      } else if (!r) {
        log(LogLevel::error,
            fmt::format("exception user {}: login and email not resolved ({}); actions naming a login or email wait",
                        user, okta::describe(r.error())));
      } else {
        sink.user_names(user, names_of(*r));
      }
    });
  }
  for (const std::string& login : targets.logins) {
    lookups.user_by_login(login, [login, sink, log](okta::LookupResult<okta::OktaUser> r) {
      if (!r && no_such_user(r.error())) {
        log(LogLevel::warn, fmt::format("exception login {}: Okta has no such user ({}); the entry protects nobody",
                                        login, okta::describe(r.error())));
        sink.login_owner(login, "", {});
      } else if (!r) {
        log(LogLevel::error,
            fmt::format("exception login {}: user not resolved ({}); actions naming an id or email wait", login,
                        okta::describe(r.error())));
      } else {
        sink.login_owner(login, r->id, names_of(*r));
      }
    });
  }
}

}  // namespace og::daemon
