#pragma once

// Revert policy, kept pure so the ordering rules are tested on their own:
// - a revert runs ttl after the action took effect, extended by later repeats that were skipped for
//   cooldown (their own ttl counts from their decision), cancelled by a later permanent one;
// - an "already in state" answer is only reverted when the state is ours: a resumed send that may have
//   landed, or an earlier action of ours whose revert is pending or was superseded. Otherwise someone else (an
//   admin) put the user there and an auto-revert would undo their decision;
// - at due time a newer decision for the same action (pending, effective or held) supersedes it: a
//   revert never undoes a newer decision.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/journal.h"

namespace og::daemon {

struct RevertPlan {
  bool schedule = false;
  std::int64_t due_ms = 0;
  std::string note;
};

// `a` has just become effective at effective_ms. `prior` is the newest earlier effective action of
// ours for the same (user, kind, params), if any.
RevertPlan plan_revert(const ActionRecord& a, std::int64_t effective_ms,
                       const std::vector<ActionRecord>& cooldown_followers, const std::optional<ActionRecord>& prior);

// A repeat of `prev` was skipped for cooldown: extend (or cancel) prev's scheduled revert. Returns a
// note when prev changed.
std::optional<std::string> absorb_follower(ActionRecord& prev, const ActionRecord& follower);

// At due time and again before the revert is sent: the reason the revert of `a` must not run, if any.
// Only a newer decision that took effect (or, permanent, may have: it failed after a send whose
// outcome is unknown) takes the state over. One still pending is waited for (the revert queues
// behind it in the user's order); one held, skipped or failed never reached Okta and changes nothing.
std::optional<std::string> revert_blocked(const ActionRecord& a, const std::optional<ActionRecord>& newer);

}  // namespace og::daemon
