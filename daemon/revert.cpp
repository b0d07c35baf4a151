#include "daemon/revert.h"

#include <algorithm>

namespace og::daemon {
namespace {

std::int64_t ttl_ms(const PlannedAction& a) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(a.ttl).count();
}

}  // namespace

RevertPlan plan_revert(const ActionRecord& a, std::int64_t effective_ms,
                       const std::vector<ActionRecord>& cooldown_followers, const std::optional<ActionRecord>& prior) {
  RevertPlan plan;
  if (!inverse_kind(a.action.kind) || a.action.ttl.count() <= 0 || a.revert_of != 0) return plan;
  if (a.state == ActionState::already_in_state) {
    // superseded: that revert was dropped in favour of a newer decision, this one: still ours.
    bool prior_pending =
        prior && (prior->revert_state == RevertState::scheduled || prior->revert_state == RevertState::started ||
                  prior->revert_state == RevertState::superseded);
    bool prior_permanent = prior && prior->action.ttl.count() == 0 && prior->revert_state == RevertState::none;
    if (prior_permanent) {
      plan.note = "not reverting: earlier permanent decision #" + std::to_string(prior->id) + " holds this state";
      return plan;
    }
    if (!prior_pending && !a.possibly_sent) {
      plan.note = "not reverting: the user was already in this state before oktaguard acted";
      return plan;
    }
  }
  plan.schedule = true;
  plan.due_ms = effective_ms + ttl_ms(a.action);
  for (const auto& f : cooldown_followers) {
    if (f.action.ttl.count() == 0) {
      plan.schedule = false;
      plan.note = "not reverting: later decision #" + std::to_string(f.id) + " wanted it permanent";
      return plan;
    }
    if (f.decided_ms + ttl_ms(f.action) > plan.due_ms) {
      plan.due_ms = f.decided_ms + ttl_ms(f.action);
      plan.note = "revert extended by later decision #" + std::to_string(f.id);
    }
  }
  return plan;
}

std::optional<std::string> absorb_follower(ActionRecord& prev, const ActionRecord& follower) {
  if (prev.revert_state != RevertState::scheduled) return std::nullopt;
  if (follower.action.ttl.count() == 0) {
    prev.revert_state = RevertState::superseded;
    return "revert cancelled: later decision #" + std::to_string(follower.id) + " wants it permanent";
  }
  std::int64_t due = follower.decided_ms + ttl_ms(follower.action);
  if (due <= prev.revert_due_ms) return std::nullopt;
  prev.revert_due_ms = due;
  return "revert extended by later decision #" + std::to_string(follower.id);
}

std::optional<std::string> revert_blocked(const ActionRecord& /*a*/, const std::optional<ActionRecord>& newer) {
  if (!newer) return std::nullopt;
  // A failed one with a ttl would have ended too: the earlier revert stands in for its revert.
  const bool may_have_held =
      newer->state == ActionState::failed && newer->possibly_sent && newer->action.ttl.count() == 0;
  if (!is_effective(newer->state) && !may_have_held) return std::nullopt;
  return "revert superseded: newer decision #" + std::to_string(newer->id) + " (" +
         std::string(to_string(newer->state)) + ") for the same action";
}

}  // namespace og::daemon
