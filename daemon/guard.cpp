#include "daemon/guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "okta_client/identity.h"

namespace og::daemon {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

bool live(const ExceptionEntry& e, TimePoint now) {
  return !e.expires || now < *e.expires;
}

}  // namespace

void ExceptionList::add(ExceptionEntry entry) {
  if (entry.type == ExceptionEntry::Type::login) entry.value = lower(entry.value);
  if (entry.type == ExceptionEntry::Type::group) groups_.try_emplace(entry.value);
  entries_.push_back(std::move(entry));
}

namespace {

std::set<std::string> lowered(const std::vector<std::string>& names) {
  std::set<std::string> out;
  for (const std::string& n : names)
    if (!n.empty()) out.insert(lower(n));
  return out;
}

}  // namespace

void ExceptionList::set_group_members(const std::string& group_id, std::vector<std::string> user_ids,
                                      TimePoint refreshed, const std::vector<std::string>& names) {
  auto& g = groups_[group_id];
  g.members = std::set<std::string>(user_ids.begin(), user_ids.end());
  g.member_names = lowered(names);
  g.refreshed = refreshed;
}

void ExceptionList::set_login_owner(const std::string& login, std::string user_id, TimePoint refreshed,
                                    const std::vector<std::string>& names) {
  login_owners_[lower(login)] = Resolved{std::move(user_id), lowered(names), refreshed};
}

void ExceptionList::set_user_names(const std::string& user_id, const std::vector<std::string>& names,
                                   TimePoint refreshed) {
  user_names_[user_id] = Resolved{"", lowered(names), refreshed};
}

void ExceptionList::keep_resolved(const ExceptionList& older) {
  for (auto& [id, g] : groups_) {
    auto it = older.groups_.find(id);
    if (it != older.groups_.end() && it->second.refreshed && !g.refreshed) g = it->second;
  }
  for (const auto& e : entries_) {
    if (e.type == ExceptionEntry::Type::login) {
      if (auto it = older.login_owners_.find(e.value); it != older.login_owners_.end())
        login_owners_.try_emplace(e.value, it->second);
    } else if (e.type == ExceptionEntry::Type::user) {
      if (auto it = older.user_names_.find(e.value); it != older.user_names_.end())
        user_names_.try_emplace(e.value, it->second);
    }
  }
}

std::vector<std::string> ExceptionList::groups() const {
  std::vector<std::string> out;
  for (const auto& [id, _] : groups_)
    out.push_back(id);
  return out;
}

std::optional<TimePoint> ExceptionList::refreshed(const std::string& group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? std::nullopt : it->second.refreshed;
}

ExceptionList::Match ExceptionList::check(const std::string& raw_user_id, const std::string& login,
                                          TimePoint now) const {
  // An action whose "id" is not shaped as an Okta id names its user by login or email (an alert not
  // resolved yet, or a mapping that put an email where the id goes), which the executor resolves
  // before acting. Names are compared as the executor reads them: trimmed, lower-cased.
  const std::string user_id(trim(raw_user_id));
  const bool id_is_login = !okta_id_shaped(user_id);
  auto normalised = [](const std::string& raw) {
    okta::NormalisedName n = okta::normalise_name(raw, {});
    return n.kind == okta::NameKind::login ? n.key : lower(trim(raw));
  };
  const std::string login_lc = !login.empty() ? normalised(login) : id_is_login ? normalised(user_id) : "";
  std::string unresolved;
  for (const auto& e : entries_) {
    if (!live(e, now)) continue;
    std::string note = e.note.empty() ? "" : " (" + e.note + ")";
    switch (e.type) {
      case ExceptionEntry::Type::user: {
        if (e.value == user_id) return {Match::Kind::excepted, "exception: user " + e.value + note};
        auto it = user_names_.find(e.value);
        if (it == user_names_.end()) {
          if (id_is_login) unresolved = "names of user " + e.value;  // an id against an id: decided
        } else if (!login_lc.empty() && it->second.names.contains(login_lc)) {
          return {Match::Kind::excepted, "exception: user " + e.value + " (" + login_lc + ")" + note};
        }
        break;
      }
      case ExceptionEntry::Type::login: {
        if (!login_lc.empty() && e.value == login_lc)
          return {Match::Kind::excepted, "exception: login " + e.value + note};
        auto it = login_owners_.find(e.value);
        if (it == login_owners_.end()) {
          // An action carrying an Okta id and a login was decided by the login; one carrying only
          // an id, or only a name (which may be the user's email), needs the login's owner.
          if (login_lc.empty() || id_is_login) unresolved = "user of login " + e.value;
        } else if (!it->second.user_id.empty() && it->second.user_id == user_id) {
          return {Match::Kind::excepted, "exception: login " + e.value + " (user " + user_id + ")" + note};
        } else if (!login_lc.empty() && it->second.names.contains(login_lc)) {
          return {Match::Kind::excepted, "exception: login " + e.value + " (" + login_lc + ")" + note};
        }
        break;
      }
      case ExceptionEntry::Type::group: {
        auto it = groups_.find(e.value);
        if (it == groups_.end() || !it->second.refreshed) {
          unresolved = "members of group " + e.value;
        } else if (it->second.members.contains(user_id) ||
                   (!login_lc.empty() && it->second.member_names.contains(login_lc))) {
          return {Match::Kind::excepted, "exception: member of group " + e.value + note};
        }
        break;
      }
    }
  }
  if (!unresolved.empty()) return {Match::Kind::unresolved, fmt::format("{}: {}", kExceptionsUnresolved, unresolved)};
  return {};
}

std::chrono::seconds cooldown_for(const GuardConfig& config, ActionKind kind) {
  auto it = config.cooldowns.find(kind);
  return it == config.cooldowns.end() ? config.default_cooldown : it->second;
}

GuardVerdict evaluate_guard(const GuardConfig& config, const ExceptionList& exceptions, const PlannedAction& action,
                            TimePoint now) {
  // Exceptions first: even in shadow mode the audit should say the user is protected.
  auto match = exceptions.check(action.user_id, action.login, now);
  if (match.kind == ExceptionList::Match::Kind::excepted) return {GuardVerdict::Kind::skip, match.why, false};
  if (config.dry_run) return {GuardVerdict::Kind::skip, "dry_run: global", true};
  if (action.dry_run) return {GuardVerdict::Kind::skip, "dry_run: response", true};
  for (const auto& d : action.detection_ids) {
    if (config.shadow_detections.contains(d)) return {GuardVerdict::Kind::skip, "dry_run: detection " + d, true};
  }
  if (match.kind == ExceptionList::Match::Kind::unresolved) return {GuardVerdict::Kind::defer, match.why, false};
  return {};
}

}  // namespace og::daemon
