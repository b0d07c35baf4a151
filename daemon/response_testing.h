#pragma once

// Test doubles for the response engine, shared by its unit tests, its crash driver and (later)
// daemon-level tests: a manual wall clock and an in-memory Okta that applies actions with Okta's
// effect semantics (a second suspend is "already in state", group add/remove are idempotent) and,
// like OktaActionExecutor, resolves the logins and group names it was told about to their ids.

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "daemon/action_types.h"

namespace og::daemon::testing {

class ManualClock final : public WallClock {
 public:
  explicit ManualClock(std::int64_t start_ms = 1'700'000'000'000) : ms_(start_ms) {}
  TimePoint now() const override { return from_ms(ms_.load()); }
  void advance(std::chrono::milliseconds d) { ms_ += d.count(); }
  std::int64_t ms() const { return ms_.load(); }

 private:
  std::atomic<std::int64_t> ms_;
};

struct FakeUser {
  bool suspended = false;
  std::set<std::string> groups;
  int sessions_cleared = 0;
  int password_expired = 0;
  int password_reset = 0;
  std::map<std::string, std::string> profile;
};

// Applies actions immediately (or, with defer = true, when complete_all() is called).
class FakeOkta final : public ActionExecutor {
 public:
  struct Call {
    PlannedAction action;
    Attempt attempt;
  };

  void execute(const PlannedAction& action, const Attempt& attempt,
               std::function<void(ExecutionResult)> done) override {
    std::unique_lock lock(mu_);
    calls_.push_back({action, attempt});
    if (defer_) {
      pending_.push_back({action, std::move(done)});
      return;
    }
    auto result = apply_locked(action);
    lock.unlock();
    done(std::move(result));
  }

  ExecutionResult apply_locked(const PlannedAction& a) {
    ExecutionResult r;
    r.request = describe_request(a);
    r.http_status = 200;
    r.resolved_user_id = resolve(logins_, a.user_id);
    if (a.kind == ActionKind::add_to_group || a.kind == ActionKind::remove_from_group) {
      r.resolved_group_id = a.params.contains("group")        ? a.params.at("group")
                            : a.params.contains("group_name") ? resolve(group_names_, a.params.at("group_name"))
                                                              : std::string();
    }
    if (auto it = forced_.find(a.user_id); it != forced_.end()) {
      r.outcome = it->second;
      r.http_status = it->second == Outcome::not_found ? 404 : it->second == Outcome::transient ? 503 : 400;
      r.okta_error_code = it->second == Outcome::not_found ? "E0000007" : "";
      r.okta_error_summary = it->second == Outcome::not_found ? "Not found: Resource not found: " + a.user_id : "";
      if (forced_times_[a.user_id] > 0 && --forced_times_[a.user_id] == 0) forced_.erase(it);
      return r;
    }
    auto& u = users_[r.resolved_user_id];
    r.outcome = Outcome::success;
    const std::string& group = r.resolved_group_id;
    switch (a.kind) {
      case ActionKind::suspend:
        if (u.suspended) r.outcome = Outcome::already_in_state;
        u.suspended = true;
        break;
      case ActionKind::unsuspend:
        if (!u.suspended) r.outcome = Outcome::already_in_state;
        u.suspended = false;
        break;
      case ActionKind::add_to_group:
        u.groups.insert(group);
        r.http_status = 204;
        break;
      case ActionKind::remove_from_group:
        u.groups.erase(group);
        r.http_status = 204;
        break;
      case ActionKind::clear_sessions:
        ++u.sessions_cleared;
        r.http_status = 204;
        break;
      case ActionKind::expire_password:
        ++u.password_expired;
        if (a.params.contains("temp_password")) r.secret = secret_;
        break;
      case ActionKind::reset_password:
        ++u.password_reset;
        r.secret = secret_;
        break;
      case ActionKind::set_profile:
        for (const auto& [k, v] : a.params)
          u.profile[k] = v;
        break;
      case ActionKind::set_user_risk:
      case ActionKind::notify:
        break;
    }
    r.summary = "ok";
    return r;
  }

  std::string describe_request(const PlannedAction& a) const {
    return "POST /api/v1/users/" + resolve(logins_, a.user_id) + "/" + std::string(to_string(a.kind));
  }

  void set_defer(bool d) {
    std::lock_guard lock(mu_);
    defer_ = d;
  }
  std::size_t complete_all() {
    std::vector<std::pair<PlannedAction, std::function<void(ExecutionResult)>>> pending;
    std::vector<ExecutionResult> results;
    {
      std::lock_guard lock(mu_);
      pending.swap(pending_);
      for (auto& [a, _] : pending)
        results.push_back(apply_locked(a));
    }
    for (std::size_t i = 0; i < pending.size(); ++i)
      pending[i].second(std::move(results[i]));
    return pending.size();
  }
  // The next `times` calls for this user answer `outcome` (times 0: always).
  void force(const std::string& user, Outcome outcome, int times = 0) {
    std::lock_guard lock(mu_);
    forced_[user] = outcome;
    forced_times_[user] = times;
  }
  // An action naming the user by `login` acts on user `id`, as Okta's lookup would resolve it.
  void set_login(const std::string& login, const std::string& id) {
    std::lock_guard lock(mu_);
    logins_[login] = id;
  }
  // A group action naming the group by `name` acts on group `id`.
  void set_group_name(const std::string& name, const std::string& id) {
    std::lock_guard lock(mu_);
    group_names_[name] = id;
  }
  void set_secret(std::string s) {
    std::lock_guard lock(mu_);
    secret_ = std::move(s);
  }
  FakeUser user(const std::string& id) {
    std::lock_guard lock(mu_);
    return users_[id];
  }
  void set_user(const std::string& id, FakeUser u) {
    std::lock_guard lock(mu_);
    users_[id] = std::move(u);
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::size_t call_count() {
    std::lock_guard lock(mu_);
    return calls_.size();
  }

 private:
  static std::string resolve(const std::map<std::string, std::string>& names, const std::string& name) {
    auto it = names.find(name);
    return it == names.end() ? name : it->second;
  }

  std::mutex mu_;
  bool defer_ = false;
  std::vector<Call> calls_;
  std::vector<std::pair<PlannedAction, std::function<void(ExecutionResult)>>> pending_;
  std::map<std::string, FakeUser> users_;
  std::map<std::string, std::string> logins_;
  std::map<std::string, std::string> group_names_;
  std::map<std::string, Outcome> forced_;
  std::map<std::string, int> forced_times_;
  std::string secret_ = "Tmp-Secret-9f8e7d";
};

}  // namespace og::daemon::testing
