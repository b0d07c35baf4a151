#include "daemon/response.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "daemon/revert.h"

namespace og::daemon {

struct ResponseEngine::Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Submission> submissions;
  std::deque<std::pair<std::int64_t, ExecutionResult>> results;
  ExceptionList exceptions;
  // Set when exceptions are replaced or resolved: actions waiting for them are checked at once.
  bool exceptions_changed = false;
  bool kill_override = false;
  bool stop = false;
};

namespace {

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

void scrub(std::string& text, const std::string& secret) {
  if (secret.empty()) return;
  for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "[redacted]");
  }
}

std::string response_key_for(const Response& response) {
  if (response.steps.size() < 2) return {};
  // The key of a response is the key of its first step plus the step count: stable on redelivery.
  return response.steps.front().idempotency_key() + "/" + std::to_string(response.steps.size());
}

constexpr std::string_view kManualRevert = "manual revert";
// How long answers the journal could not record wait before they are tried again.
constexpr std::chrono::milliseconds kUnjournaledRetry{1000};

}  // namespace

ResponseEngine::ResponseEngine(ResponseConfig config, ActionExecutor& executor, const WallClock& clock)
    : config_(std::move(config)),
      executor_(executor),
      clock_(clock),
      breaker_(config_.breaker),
      inbox_(std::make_shared<Inbox>()) {}

JResult<std::unique_ptr<ResponseEngine>> ResponseEngine::open(ResponseConfig config, ActionExecutor& executor,
                                                              const WallClock& clock) {
  if (config.kill_switch_file.empty()) config.kill_switch_file = config.state_dir / "killswitch";
  if (config.audit_file.empty()) config.audit_file = config.state_dir / "audit.jsonl";
  std::unique_ptr<ResponseEngine> engine(new ResponseEngine(std::move(config), executor, clock));
  auto journal = Journal::open(engine->config_.state_dir, Journal::Mode::writer);
  if (!journal) return journal.error();
  engine->journal_ = std::move(*journal);
  auto audit = engine->audit_.open(engine->config_.audit_to_file ? engine->config_.audit_file : "",
                                   engine->config_.audit_sync_interval);
  if (!audit) return audit.error();
  if (auto r = engine->recover(); !r) return r.error();
  return engine;
}

ResponseEngine::~ResponseEngine() {
  stop(std::chrono::milliseconds(0));
}

JResult<void> ResponseEngine::recover() {
  const std::int64_t now = to_ms(clock_.now());
  const std::int64_t window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.breaker.window).count();
  breaker_.restore(journal_->load_breaker(), journal_->destructive_sent_since(now - window_ms));
  if (auto r = journal_->begin(); !r) return r.error();
  std::size_t resumed = 0;
  for (auto& r : journal_->unfinished()) {
    if (r.state != ActionState::sending) continue;
    // It may or may not have reached Okta before the crash: send again, flagged so the executor
    // verifies and an "already in state" answer counts as ours.
    r.possibly_sent = true;
    r.next_attempt_ms = 0;
    transition(r, ActionState::decided, "resumed after restart: may have been sent", now);
    ++resumed;
  }
  if (!commit_or_rollback("recover")) return std::string("journal: cannot recover unfinished actions");
  flush_audit();
  if (breaker_.tripped()) log("warn", "blast-radius breaker is tripped (persisted): " + breaker_.record().reason);
  if (resumed) log("info", fmt::format("resuming {} actions that were being sent at the last stop", resumed));
  return {};
}

void ResponseEngine::log(std::string_view level, const std::string& message) {
  if (config_.log) {
    config_.log(level, message);
  } else {
    std::fprintf(stderr, "oktaguard response [%.*s] %s\n", static_cast<int>(level.size()), level.data(),
                 message.c_str());
  }
}

void ResponseEngine::add_audit_sink(AuditSinkFn sink) {
  audit_.add_sink(std::move(sink));
}
void ResponseEngine::set_secret_sink(SecretSinkFn sink) {
  secret_sink_ = std::move(sink);
}

void ResponseEngine::submit(Response response, Journaled journaled) {
  {
    std::lock_guard lock(inbox_->mu);
    inbox_->submissions.push_back({std::move(response), std::move(journaled)});
  }
  inbox_->cv.notify_one();
}

// Changes the exceptions and wakes the engine, which checks the actions waiting for them at once.
template <typename Change>
void ResponseEngine::change_exceptions(Change&& change) {
  {
    std::lock_guard lock(inbox_->mu);
    change(inbox_->exceptions);
    inbox_->exceptions_changed = true;
  }
  inbox_->cv.notify_one();
}

void ResponseEngine::set_exceptions(ExceptionList exceptions) {
  // What the daemon resolved for the old list (group members, the other name of users and logins)
  // stays for the entries the new list keeps; anything new waits for its resolution, the safe side.
  change_exceptions([&](ExceptionList& current) {
    exceptions.keep_resolved(current);
    current = std::move(exceptions);
  });
}

void ResponseEngine::set_group_members(const std::string& group_id, std::vector<std::string> user_ids,
                                       const std::vector<std::string>& names) {
  change_exceptions([&](ExceptionList& e) { e.set_group_members(group_id, std::move(user_ids), clock_.now(), names); });
}

void ResponseEngine::set_login_owner(const std::string& login, std::string user_id,
                                     const std::vector<std::string>& names) {
  change_exceptions([&](ExceptionList& e) { e.set_login_owner(login, std::move(user_id), clock_.now(), names); });
}

void ResponseEngine::set_user_names(const std::string& user_id, const std::vector<std::string>& names) {
  change_exceptions([&](ExceptionList& e) { e.set_user_names(user_id, names, clock_.now()); });
}

void ResponseEngine::set_kill_switch(bool on) {
  {
    std::lock_guard lock(inbox_->mu);
    inbox_->kill_override = on;
  }
  inbox_->cv.notify_one();
}

EngineStats ResponseEngine::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void ResponseEngine::start() {
  thread_ = std::jthread([this](std::stop_token st) {
    while (!st.stop_requested()) {
      bool progress = run_once();
      if (progress) continue;
      std::unique_lock lock(inbox_->mu);
      inbox_->cv.wait_for(lock, config_.poll_interval, [&] {
        return inbox_->stop || !inbox_->submissions.empty() || !inbox_->results.empty() || inbox_->exceptions_changed;
      });
      if (inbox_->stop) break;
    }
  });
}

void ResponseEngine::stop(std::chrono::milliseconds grace) {
  if (!thread_.joinable()) {
    flush_audit();
    audit_.sync();
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline && stats().in_flight > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard lock(inbox_->mu);
    inbox_->stop = true;
  }
  thread_.request_stop();
  inbox_->cv.notify_all();
  thread_.join();
  audit_.sync();
}

void ResponseEngine::transition(ActionRecord& r, ActionState to, std::string text, std::int64_t now) {
  std::string from(r.id && r.updated_ms ? to_string(r.state) : "");
  r.state = to;
  r.updated_ms = now;
  if (auto res = journal_->update_action(r); !res) {
    log("error", res.error());
    std::lock_guard lock(stats_mu_);
    ++stats_.journal_errors;
  }
  (void)journal_->add_transition({r.id, now, from, std::string(to_string(to)), text});
  pending_audit_.push_back(audit_action_line(r, from, to_string(to), text, now));
}

void ResponseEngine::note(ActionRecord& r, std::string text, std::int64_t now) {
  r.updated_ms = now;
  (void)journal_->update_action(r);
  (void)journal_->add_transition({r.id, now, std::string(to_string(r.state)), std::string(to_string(r.state)), text});
  pending_audit_.push_back(audit_action_line(r, to_string(r.state), to_string(r.state), text, now));
}

void ResponseEngine::audit_event(std::string_view event, const std::string& detail, std::int64_t now) {
  pending_audit_.push_back(audit_event_line(event, detail, now));
}

void ResponseEngine::flush_audit() {
  for (const auto& line : pending_audit_)
    audit_.write(line);
  pending_audit_.clear();
}

bool ResponseEngine::commit_or_rollback(std::string_view what) {
  if (auto r = journal_->commit(); !r) {
    log("error", fmt::format("journal commit failed ({}): {}", what, r.error()));
    journal_->rollback();
    pending_audit_.clear();
    std::lock_guard lock(stats_mu_);
    ++stats_.journal_errors;
    return false;
  }
  return true;
}

bool ResponseEngine::check_kill_switch(std::int64_t now) {
  bool override_on = false;
  {
    std::lock_guard lock(inbox_->mu);
    override_on = inbox_->kill_override;
  }
  // The configured file, and `oktaguard actions killswitch on`'s file in the state directory, which
  // does not read the configuration: either stops write-back.
  std::error_code ec;
  const std::filesystem::path command_file = config_.state_dir / "killswitch";
  const bool by_file = std::filesystem::exists(config_.kill_switch_file, ec);
  const bool by_command = !by_file && std::filesystem::exists(command_file, ec);
  bool on = override_on || by_file || by_command;
  if (on == kill_switch_) return false;
  kill_switch_ = on;
  std::string detail = !on           ? "cleared"
                       : override_on ? "engaged by operator command"
                                     : "engaged by " + (by_file ? config_.kill_switch_file : command_file).string();
  log(on ? "warn" : "info", "kill switch " + detail);
  audit_event(on ? "kill_switch_engaged" : "kill_switch_cleared", detail, now);
  flush_audit();
  std::lock_guard lock(stats_mu_);
  stats_.kill_switch = on;
  return true;
}

bool ResponseEngine::run_once() {
  const std::int64_t now = to_ms(clock_.now());
  bool progress = check_kill_switch(now);
  auto steady = std::chrono::steady_clock::now();
  if (last_command_poll_ms_ < 0 || steady - last_command_poll_ >= config_.poll_interval) {
    last_command_poll_ = steady;
    last_command_poll_ms_ = now;
    progress |= process_commands(now);
  }
  if (breaker_.maybe_rearm(now)) {
    if (journal_->begin()) {
      (void)journal_->save_breaker(breaker_.record());
      audit_event("breaker_rearmed", "cool-down elapsed", now);
      if (commit_or_rollback("breaker rearm")) flush_audit();
    }
    log("info", "blast-radius breaker re-armed after its cool-down");
    progress = true;
  }
  progress |= process_submissions(now);
  progress |= process_results(now);
  progress |= process_reverts(now);
  progress |= dispatch(now);
  if (now - last_prune_ms_ >= 60'000) prune(now);
  bool input_waiting;
  {
    std::lock_guard lock(inbox_->mu);
    input_waiting = !inbox_->submissions.empty() || !inbox_->results.empty();
  }
  {
    std::lock_guard lock(stats_mu_);
    stats_.in_flight = in_flight_.size();
    stats_.breaker_tripped = breaker_.tripped();
    // An action waiting for its exceptions to resolve, or an answer for the journal, is work to come.
    stats_.idle =
        !progress && !input_waiting && in_flight_.empty() && !waiting_for_exceptions_ && unjournaled_results_.empty();
    ++stats_.passes;
  }
  return progress;
}

bool ResponseEngine::wait_settled(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // The pass running now may have begun before the caller's last submission was taken in: only a
  // pass that starts after this one counts.
  const std::uint64_t first = stats().passes + 2;
  while (std::chrono::steady_clock::now() < deadline) {
    EngineStats s = stats();
    if (s.passes >= first && s.idle) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool ResponseEngine::run_until_idle(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool progress = run_once();
    bool busy;
    {
      std::lock_guard lock(inbox_->mu);
      busy = !inbox_->submissions.empty() || !inbox_->results.empty();
    }
    if (!progress && !busy && in_flight_.empty()) return true;
    if (!progress) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

bool ResponseEngine::process_commands(std::int64_t now) {
  auto commands = journal_->pending_commands();
  if (commands.empty()) return false;
  for (const auto& c : commands) {
    if (!journal_->begin()) return false;
    std::string result;
    if (c.kind == "release") {
      if (breaker_.tripped()) {
        breaker_.release(now, "released by operator");
        (void)journal_->save_breaker(breaker_.record());
        result = "breaker re-armed";
        log("info", "blast-radius breaker released by operator");
      } else {
        result = "breaker was not tripped";
      }
      audit_event("breaker_release", result, now);
    } else if (c.kind == "revert") {
      std::int64_t id = 0;
      try {
        id = std::stoll(c.arg);
      } catch (...) {
        id = 0;
      }
      auto a = journal_->get(id);
      result = a ? start_revert(*a, now, true) : fmt::format("no action #{}", c.arg);
      audit_event("manual_revert", fmt::format("#{}: {}", c.arg, result), now);
    } else {
      result = "unknown command " + c.kind;
    }
    (void)journal_->finish_command(c.id, now, result);
    if (commit_or_rollback("command")) flush_audit();
  }
  return true;
}

bool ResponseEngine::process_submissions(std::int64_t now) {
  std::deque<Submission> batch;
  ExceptionList exceptions;
  {
    std::lock_guard lock(inbox_->mu);
    if (inbox_->submissions.empty()) return false;
    batch.swap(inbox_->submissions);
    exceptions = inbox_->exceptions;
  }
  std::vector<SubmitResult> results(batch.size());
  if (auto r = journal_->begin(); !r) {
    for (std::size_t i = 0; i < batch.size(); ++i)
      batch[i].journaled({false, r.error(), {}});
    return true;
  }
  EngineStats delta;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& sub = batch[i];
    auto& res = results[i];
    res.ok = true;
    std::string response_key = response_key_for(sub.response);
    for (std::size_t step = 0; step < sub.response.steps.size(); ++step) {
      auto& a = sub.response.steps[step];
      ++delta.submitted;
      ActionRecord r;
      r.idem_key = a.idempotency_key();
      if (auto existing = journal_->find_by_key(r.idem_key)) {
        // A redelivered event, or the same incident decided again: never a second action.
        res.action_ids.push_back(*existing);
        ++delta.deduplicated;
        continue;
      }
      auto cooldown = cooldown_for(config_.guard, a.kind);
      std::optional<ActionRecord> previous;
      if (cooldown.count() > 0) {
        previous =
            journal_->latest_active(a, now - std::chrono::duration_cast<std::chrono::milliseconds>(cooldown).count());
      }
      auto verdict = evaluate_guard(config_.guard, exceptions, a, from_ms(now));
      r.action = a;
      r.state = ActionState::decided;
      r.response_key = response_key;
      r.step = static_cast<int>(step);
      r.stop_on_failure = sub.response.stop_on_failure;
      r.decided_ms = now;
      if (verdict.kind != GuardVerdict::Kind::skip && previous) r.cooldown_of = previous->id;
      auto id = journal_->insert_action(r);
      if (!id) {
        res.ok = false;
        res.error = id.error();
        break;
      }
      r.id = *id;
      res.action_ids.push_back(r.id);
      ++delta.decided;
      transition(r, ActionState::decided,
                 fmt::format("risk {:.0f}; detections {}", a.risk, json_string_array(a.detection_ids)), now);
      if (verdict.kind == GuardVerdict::Kind::skip) {
        r.reason = verdict.reason;
        transition(r, ActionState::skipped, verdict.reason, now);
        ++delta.skipped;
        continue;
      }
      if (previous) {
        r.reason = fmt::format("cooldown: repeats #{} within {}s", previous->id, cooldown.count());
        transition(r, ActionState::skipped, r.reason, now);
        if (auto changed = absorb_follower(*previous, r)) note(*previous, *changed, now);
        ++delta.skipped;
        continue;
      }
      if (verdict.kind == GuardVerdict::Kind::defer) {
        r.reason = verdict.reason;
        (void)journal_->update_action(r);
      }
    }
  }
  bool committed = commit_or_rollback("decisions");
  if (committed) flush_audit();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!committed) results[i] = {false, "journal commit failed", {}};
    if (batch[i].journaled) batch[i].journaled(results[i]);
  }
  if (committed) {
    std::lock_guard lock(stats_mu_);
    stats_.submitted += delta.submitted;
    stats_.decided += delta.decided;
    stats_.deduplicated += delta.deduplicated;
    stats_.skipped += delta.skipped;
  }
  return true;
}

void ResponseEngine::on_revert_finished(const ActionRecord& revert, std::int64_t now) {
  auto parent = journal_->get(revert.revert_of);
  if (!parent) return;
  if (is_effective(revert.state)) {
    parent->revert_state = RevertState::done;
    transition(*parent, ActionState::reverted, fmt::format("reverted by #{}", revert.id), now);
  } else {
    parent->revert_state = RevertState::cancelled;
    note(*parent, fmt::format("revert #{} ended {}: {}", revert.id, to_string(revert.state), revert.reason), now);
  }
}

void ResponseEngine::on_effective(ActionRecord& r, std::int64_t now) {
  if (r.revert_of) {
    on_revert_finished(r, now);
    return;
  }
  if (!inverse_kind(r.action.kind) || r.action.ttl.count() <= 0) return;
  auto plan = plan_revert(r, now, journal_->cooldown_followers(r.id), journal_->prior_effective(r));
  if (plan.schedule) {
    r.revert_state = RevertState::scheduled;
    r.revert_due_ms = plan.due_ms;
    note(r, plan.note.empty() ? fmt::format("revert scheduled in {}s", (plan.due_ms - now) / 1000) : plan.note, now);
  } else if (!plan.note.empty()) {
    note(r, plan.note, now);
  }
}

bool ResponseEngine::process_results(std::int64_t now) {
  std::deque<std::pair<std::int64_t, ExecutionResult>> batch;
  if (!unjournaled_results_.empty() && now >= unjournaled_retry_ms_) batch.swap(unjournaled_results_);
  {
    std::lock_guard lock(inbox_->mu);
    std::move(inbox_->results.begin(), inbox_->results.end(), std::back_inserter(batch));
    inbox_->results.clear();
  }
  if (batch.empty()) return false;
  // The journal refused them (a full disk, a read-only state directory): kept here, out of the inbox
  // the thread waits on, and tried again after a pause rather than in a loop that logs each failure.
  auto keep_for_later = [&] {
    std::move(batch.begin(), batch.end(), std::back_inserter(unjournaled_results_));
    unjournaled_retry_ms_ = now + kUnjournaledRetry.count();
  };
  if (!journal_->begin()) {
    keep_for_later();
    return false;
  }
  EngineStats delta;
  // Restored when the commit fails: the rows are still `sending`, and the answers, not journaled,
  // must be processed again rather than lost (the user's later actions wait behind those rows).
  std::map<std::int64_t, std::string> taken;
  for (auto& [id, result] : batch) {
    if (auto it = in_flight_.find(id); it != in_flight_.end()) taken.insert(in_flight_.extract(it));
    auto rec = journal_->get(id);
    if (!rec) {
      wipe(result.secret);
      continue;
    }
    auto& r = *rec;
    // Defence in depth: whatever an executor put in its text, the secret never reaches the journal.
    scrub(result.summary, result.secret);
    scrub(result.request, result.secret);
    scrub(result.okta_error_summary, result.secret);
    if (!result.secret.empty()) {
      if (secret_sink_) {
        secret_sink_(r, result.secret);
      } else {
        ++delta.secrets_discarded;
      }
      wipe(result.secret);
    }
    r.request = result.request;
    // Who the action turned out to be about: later decisions naming them the other way match it.
    if (!result.resolved_user_id.empty()) r.resolved_user_id = result.resolved_user_id;
    if (!result.resolved_group_id.empty()) r.resolved_group_id = result.resolved_group_id;
    r.outcome = std::string(to_string(result.outcome));
    r.http_status = result.http_status;
    r.okta_error_code = result.okta_error_code;
    r.okta_error_summary = result.okta_error_summary;
    r.result_summary = result.summary;
    switch (result.outcome) {
      case Outcome::success:
        r.reason.clear();
        transition(r, ActionState::done, "", now);
        ++delta.done;
        on_effective(r, now);
        break;
      case Outcome::already_in_state:
        r.reason.clear();
        transition(r, ActionState::already_in_state, "", now);
        ++delta.already_in_state;
        on_effective(r, now);
        break;
      case Outcome::not_found:
      case Outcome::forbidden:
      case Outcome::invalid:
        r.reason = result.okta_error_summary.empty() ? std::string(to_string(result.outcome))
                                                     : result.okta_error_code + " " + result.okta_error_summary;
        transition(r, ActionState::failed, r.reason, now);
        ++delta.failed;
        if (r.revert_of) on_revert_finished(r, now);
        break;
      case Outcome::rate_limited:
      case Outcome::transient:
      case Outcome::unknown:
        // An unknown outcome may have been applied, as may a failure the executor says may have
        // reached Okta: the next attempt must know. One never sent must not claim what it finds.
        if (result.outcome == Outcome::unknown || result.possibly_sent) r.possibly_sent = true;
        // A revert does not give up: a user left suspended (or in a step-up group) because Okta
        // was out of reach for a minute is worse than a retry every couple of minutes.
        if (r.attempts < config_.max_attempts || r.revert_of) {
          auto backoff = config_.retry_base.count() << std::min(r.attempts - 1, 6);
          r.next_attempt_ms = now + backoff;
          transition(r, ActionState::decided,
                     fmt::format("{}: retry {} in {}ms", to_string(result.outcome), r.attempts + 1, backoff), now);
          ++delta.retried;
        } else {
          r.reason = fmt::format("gave up after {} attempts ({})", r.attempts, to_string(result.outcome));
          transition(r, ActionState::failed, r.reason, now);
          ++delta.failed;
          if (r.revert_of) on_revert_finished(r, now);
        }
        break;
    }
  }
  if (!commit_or_rollback("results")) {
    in_flight_.merge(taken);
    keep_for_later();
    return false;
  }
  flush_audit();
  std::lock_guard lock(stats_mu_);
  stats_.done += delta.done;
  stats_.already_in_state += delta.already_in_state;
  stats_.failed += delta.failed;
  stats_.retried += delta.retried;
  stats_.secrets_discarded += delta.secrets_discarded;
  return true;
}

std::string ResponseEngine::start_revert(ActionRecord& a, std::int64_t now, bool manual) {
  if (a.revert_of) return "a revert is not itself revertible";
  if (!is_effective(a.state)) return fmt::format("action #{} is {}, not in effect", a.id, to_string(a.state));
  auto inv = inverse(a.action);
  if (!inv) return fmt::format("{} has no inverse", to_string(a.action.kind));
  if (a.revert_state == RevertState::started) return fmt::format("revert #{} already started", a.revert_action_id);
  inv->dry_run = false;
  ActionRecord r;
  r.idem_key = inv->idempotency_key();
  if (auto existing = journal_->find_by_key(r.idem_key)) {
    // A revert that ended failed (refused, or an older journal's retries ran out) or skipped
    // (superseded by a newer decision) is tried again, under its own key, when asked for again: it
    // must not answer "already journaled" and do nothing.
    if (auto row = journal_->get(*existing);
        row && (row->state == ActionState::failed || row->state == ActionState::skipped)) {
      row->attempts = 0;
      row->next_attempt_ms = 0;
      row->reason = manual ? std::string(kManualRevert) : std::string();
      transition(*row, ActionState::decided,
                 fmt::format("{} revert of #{}: trying the failed revert again", manual ? "manual" : "scheduled", a.id),
                 now);
      a.revert_state = RevertState::started;
      a.revert_action_id = *existing;
      note(a, fmt::format("revert #{} tried again", *existing), now);
      std::lock_guard lock(stats_mu_);
      ++stats_.reverts_started;
      return fmt::format("revert #{} started again", *existing);
    }
    a.revert_state = RevertState::started;
    a.revert_action_id = *existing;
    note(a, fmt::format("revert #{} already journaled", *existing), now);
    return fmt::format("revert #{} already journaled", *existing);
  }
  r.action = std::move(*inv);
  r.resolved_user_id = a.resolved_user_id;
  r.resolved_group_id = a.resolved_group_id;
  r.state = ActionState::decided;
  r.decided_ms = now;
  r.revert_of = a.id;
  if (manual) r.reason = std::string(kManualRevert);
  auto id = journal_->insert_action(r);
  if (!id) return "journal: " + id.error();
  r.id = *id;
  transition(r, ActionState::decided,
             manual ? fmt::format("manual revert of #{}", a.id) : fmt::format("scheduled revert of #{}", a.id), now);
  a.revert_state = RevertState::started;
  a.revert_action_id = r.id;
  note(a, fmt::format("{} revert started: #{}", manual ? "manual" : "scheduled", r.id), now);
  std::lock_guard lock(stats_mu_);
  ++stats_.reverts_started;
  return fmt::format("revert #{} started", r.id);
}

bool ResponseEngine::process_reverts(std::int64_t now) {
  // Under the kill switch reverts wait (stay scheduled) rather than being held: they must still run
  // once write-back resumes, or users would stay suspended forever.
  if (kill_switch_) return false;
  auto due = journal_->due_reverts(now);
  if (due.empty()) return false;
  if (!journal_->begin()) return false;
  for (auto& a : due) {
    // A newer decision still pending is not yet a reason: the revert queues behind it (per-user order)
    // and is checked again just before it is sent.
    if (auto blocked = revert_blocked(a, journal_->newer_decision(a))) {
      a.revert_state = RevertState::superseded;
      note(a, *blocked, now);
      std::lock_guard lock(stats_mu_);
      ++stats_.reverts_superseded;
      continue;
    }
    start_revert(a, now, false);
  }
  if (commit_or_rollback("reverts")) flush_audit();
  return true;
}

bool ResponseEngine::dispatch(std::int64_t now) {
  // Moved out of the inbox on every pass (left there, it would keep waking this thread) into
  // recheck_exceptions_, which stays set until a pass has looked at every row.
  {
    std::lock_guard lock(inbox_->mu);
    if (std::exchange(inbox_->exceptions_changed, false)) recheck_exceptions_ = true;
  }
  if (in_flight_.size() >= config_.max_in_flight) return false;
  auto rows = journal_->unfinished();
  {
    std::size_t waiting = 0;
    for (const auto& r : rows)
      if (r.state == ActionState::decided && r.reason.starts_with(kExceptionsUnresolved)) ++waiting;
    std::lock_guard lock(stats_mu_);
    stats_.backlog = rows.size();
    stats_.waiting_for_exceptions = waiting;
    waiting_for_exceptions_ = waiting > 0;
  }
  if (rows.empty()) {
    recheck_exceptions_ = false;
    return false;
  }
  ExceptionList exceptions;
  {
    std::lock_guard lock(inbox_->mu);
    exceptions = inbox_->exceptions;
  }
  // Per-user order is by Okta id where the row knows it: a revert of a suspension by login queues
  // behind a pending decision for the same user by id.
  auto user_of = [](const ActionRecord& r) -> const std::string& {
    return r.resolved_user_id.empty() ? r.action.user_id : r.resolved_user_id;
  };
  std::set<std::string> users_waiting;
  for (const auto& [id, user] : in_flight_)
    users_waiting.insert(user);
  std::vector<ActionRecord> to_send;
  bool began = false;
  bool changed = false;
  EngineStats delta;
  auto ensure_tx = [&] {
    if (!began) began = static_cast<bool>(journal_->begin());
    return began;
  };
  const bool exceptions_changed = recheck_exceptions_;
  bool looked_at_every_row = true;
  for (auto& r : rows) {
    if (in_flight_.size() + to_send.size() >= config_.max_in_flight) {
      looked_at_every_row = false;
      break;
    }
    if (r.state != ActionState::decided || in_flight_.contains(r.id)) {
      users_waiting.insert(user_of(r));
      continue;
    }
    // Per-user order: a later action for a user waits for every earlier one (suspend before its revert).
    const bool recheck = exceptions_changed && r.reason.starts_with(kExceptionsUnresolved);
    if (users_waiting.contains(user_of(r)) || (r.next_attempt_ms > now && !recheck)) {
      users_waiting.insert(user_of(r));
      continue;
    }
    if (!r.response_key.empty() && r.step > 0) {
      auto [pending, failed] = journal_->earlier_steps(r.response_key, r.step);
      if (pending) {
        users_waiting.insert(user_of(r));
        continue;
      }
      if (failed && r.stop_on_failure) {
        if (!ensure_tx()) {
          looked_at_every_row = false;
          break;
        }
        r.reason = "previous step failed or was held";
        transition(r, ActionState::skipped, r.reason, now);
        ++delta.skipped;
        changed = true;
        continue;
      }
    }
    if (!ensure_tx()) {
      looked_at_every_row = false;
      break;
    }
    if (r.revert_of != 0 && r.reason != kManualRevert) {
      // A decision made after this revert was scheduled but before it is sent still wins.
      if (auto parent = journal_->get(r.revert_of)) {
        if (auto blocked = revert_blocked(*parent, journal_->newer_decision(*parent))) {
          r.reason = *blocked;
          transition(r, ActionState::skipped, *blocked, now);
          parent->revert_state = RevertState::superseded;
          note(*parent, *blocked, now);
          changed = true;
          continue;
        }
      }
    }
    if (r.revert_of == 0) {
      auto match = exceptions.check(r.action.user_id, r.action.login, from_ms(now));
      if (match.kind == ExceptionList::Match::Kind::excepted) {
        r.reason = match.why;
        transition(r, ActionState::skipped, r.reason, now);
        ++delta.skipped;
        changed = true;
        continue;
      }
      if (match.kind == ExceptionList::Match::Kind::unresolved) {
        r.next_attempt_ms =
            now + std::chrono::duration_cast<std::chrono::milliseconds>(config_.exception_retry).count();
        if (r.reason != match.why) {
          r.reason = match.why;
          note(r, "waiting: " + match.why, now);
        } else {
          (void)journal_->update_action(r);
        }
        users_waiting.insert(user_of(r));
        changed = true;
        continue;
      }
      // Resolved since: the reason must not keep marking the action as waiting for exceptions.
      if (r.reason.starts_with(kExceptionsUnresolved)) r.reason.clear();
      // Dry-run may have been turned on (a restart) since this action was decided, while it waited
      // for a retry, an exception group or the previous step: it is not sent now either. One that
      // may have reached Okta before the restart is left to complete, so its effect stays tracked.
      if (!r.possibly_sent) {
        auto verdict = evaluate_guard(config_.guard, ExceptionList{}, r.action, from_ms(now));
        if (verdict.kind == GuardVerdict::Kind::skip) {
          r.reason = verdict.reason;
          transition(r, ActionState::skipped, verdict.reason, now);
          ++delta.skipped;
          changed = true;
          continue;
        }
      }
    }
    if (kill_switch_) {
      // A revert, or an action that may already have reached Okta, waits rather than being held:
      // held, its effect would never be reverted.
      if (r.revert_of || r.possibly_sent) {
        users_waiting.insert(user_of(r));
        continue;
      }
      r.reason = "kill_switch";
      transition(r, ActionState::held, "kill switch engaged: not sent", now);
      ++delta.held;
      ++delta.held_kill_switch;
      changed = true;
      continue;
    }
    // One that may already have reached Okta was admitted when first sent: completing it is not a
    // new destructive send, and held it would keep its effect without a revert.
    if (is_destructive(r.action.kind) && !r.possibly_sent) {
      auto admission = breaker_.admit(r.id, now);
      if (admission.tripped_now) {
        (void)journal_->save_breaker(breaker_.record());
        audit_event("breaker_tripped", breaker_.record().reason, now);
        log("error", "blast-radius breaker tripped: " + breaker_.record().reason +
                         "; destructive actions are held until `oktaguard actions release` or the cool-down");
        ++delta.breaker_trips;
      }
      if (!admission.allowed) {
        r.reason = "breaker: " + breaker_.record().reason;
        transition(r, ActionState::held, "blast-radius breaker tripped: not sent", now);
        ++delta.held;
        ++delta.held_breaker;
        changed = true;
        continue;
      }
    }
    ++r.attempts;
    r.sent_ms = now;
    transition(r, ActionState::sending, fmt::format("attempt {}", r.attempts), now);
    users_waiting.insert(user_of(r));
    to_send.push_back(r);
    changed = true;
  }
  if (looked_at_every_row) recheck_exceptions_ = false;
  if (!began) return changed;
  // Committed (synced) before anything is sent: a crash from here on finds the row "sending".
  if (!commit_or_rollback("dispatch")) return false;
  flush_audit();
  {
    std::lock_guard lock(stats_mu_);
    stats_.skipped += delta.skipped;
    stats_.held += delta.held;
    stats_.held_breaker += delta.held_breaker;
    stats_.held_kill_switch += delta.held_kill_switch;
    stats_.breaker_trips += delta.breaker_trips;
    stats_.sent += to_send.size();
  }
  for (auto& r : to_send) {
    in_flight_.emplace(r.id, user_of(r));
    ActionExecutor::Attempt attempt{r.id, r.idem_key, r.attempts, r.possibly_sent};
    std::weak_ptr<Inbox> weak = inbox_;
    std::int64_t id = r.id;
    executor_.execute(r.action, attempt, [weak, id](ExecutionResult result) {
      auto inbox = weak.lock();
      if (!inbox) {
        wipe(result.secret);
        return;  // the engine is gone; the row stays "sending" and resumes at the next start
      }
      {
        std::lock_guard lock(inbox->mu);
        inbox->results.emplace_back(id, std::move(result));
      }
      inbox->cv.notify_one();
    });
  }
  return changed;
}

void ResponseEngine::prune(std::int64_t now) {
  last_prune_ms_ = now;
  auto cutoff = now - std::chrono::duration_cast<std::chrono::milliseconds>(config_.retention).count();
  if (!journal_->begin()) return;
  auto deleted = journal_->prune(cutoff, config_.max_rows);
  if (!deleted) {
    log("error", deleted.error());
    journal_->rollback();
    return;
  }
  if (commit_or_rollback("prune") && *deleted > 0) {
    log("info", fmt::format("journal retention: pruned {} actions", *deleted));
  }
}

}  // namespace og::daemon
