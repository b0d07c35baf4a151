#include "daemon/guard.h"

#include <algorithm>
#include <cctype>

namespace og::daemon {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
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

void ExceptionList::set_group_members(const std::string& group_id, std::vector<std::string> user_ids,
                                      TimePoint refreshed, const std::vector<std::string>& logins) {
  auto& g = groups_[group_id];
  g.members = std::set<std::string>(user_ids.begin(), user_ids.end());
  g.member_logins.clear();
  for (const std::string& l : logins)
    if (!l.empty()) g.member_logins.insert(lower(l));
  g.refreshed = refreshed;
}

void ExceptionList::set_login_owner(const std::string& login, std::string user_id, TimePoint refreshed) {
  login_owners_[lower(login)] = OtherName{std::move(user_id), refreshed};
}

void ExceptionList::set_user_login(const std::string& user_id, const std::string& login, TimePoint refreshed) {
  user_logins_[user_id] = OtherName{lower(login), refreshed};
}

std::vector<std::string> ExceptionList::users() const {
  std::set<std::string> out;
  for (const auto& e : entries_)
    if (e.type == ExceptionEntry::Type::user) out.insert(e.value);
  return {out.begin(), out.end()};
}

std::vector<std::string> ExceptionList::logins() const {
  std::set<std::string> out;
  for (const auto& e : entries_)
    if (e.type == ExceptionEntry::Type::login) out.insert(e.value);
  return {out.begin(), out.end()};
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
      if (auto it = older.user_logins_.find(e.value); it != older.user_logins_.end())
        user_logins_.try_emplace(e.value, it->second);
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

ExceptionList::Match ExceptionList::check(const std::string& user_id, const std::string& login, TimePoint now) const {
  std::string login_lc = lower(login);
  // An action whose user is named only by a login (an alert not resolved yet) carries it as its id.
  const bool id_is_login = !login.empty() && user_id == login;
  std::string unresolved;
  for (const auto& e : entries_) {
    if (!live(e, now)) continue;
    std::string note = e.note.empty() ? "" : " (" + e.note + ")";
    switch (e.type) {
      case ExceptionEntry::Type::user: {
        if (e.value == user_id) return {Match::Kind::excepted, "exception: user " + e.value + note};
        if (!id_is_login) break;  // an Okta id against an Okta id: the comparison decided
        auto it = user_logins_.find(e.value);
        if (it == user_logins_.end()) {
          unresolved = "login of user " + e.value;
        } else if (!it->second.value.empty() && it->second.value == login_lc) {
          return {Match::Kind::excepted, "exception: user " + e.value + " (login " + login_lc + ")" + note};
        }
        break;
      }
      case ExceptionEntry::Type::login: {
        if (!login_lc.empty() && e.value == login_lc)
          return {Match::Kind::excepted, "exception: login " + e.value + note};
        if (!login_lc.empty()) break;  // a login against a login: the comparison decided
        auto it = login_owners_.find(e.value);
        if (it == login_owners_.end()) {
          unresolved = "user of login " + e.value;
        } else if (!it->second.value.empty() && it->second.value == user_id) {
          return {Match::Kind::excepted, "exception: login " + e.value + " (user " + user_id + ")" + note};
        }
        break;
      }
      case ExceptionEntry::Type::group: {
        auto it = groups_.find(e.value);
        if (it == groups_.end() || !it->second.refreshed) {
          unresolved = "members of group " + e.value;
        } else if (it->second.members.contains(user_id) ||
                   (!login_lc.empty() && it->second.member_logins.contains(login_lc))) {
          return {Match::Kind::excepted, "exception: member of group " + e.value + note};
        }
        break;
      }
    }
  }
  if (!unresolved.empty()) return {Match::Kind::unresolved, "exceptions unresolved: " + unresolved};
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
