#pragma once

// Turns the correlator's Decisions into the response engine's input. The correlator decides in
// event time and knows nothing of journals or Okta; the engine knows nothing of rules. This is the
// one place that fixes how a decision's fields become PlannedAction params, so the executor
// (daemon/response_okta.h) and the idempotency keys agree on them.
//
// Params by kind (values are text; booleans "true"/"false"):
//   add_to_group / remove_from_group  group=<Okta group id>  or  group_name=<exact group name>
//   clear_sessions                    oauth_tokens, forget_devices (only when true)
//   expire_password                   temp_password, revoke_sessions (only when true)
//   reset_password                    send_email (always: Okta's default is true), revoke_sessions
//   set_profile                       <attribute>=<value>, see profile_param_value()
//   set_user_risk                     level=LOW|MEDIUM|HIGH, reason=<Okta-safe text>
//   notify                            message (when the rule has one)

#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/decision.h"
#include "daemon/action_types.h"
#include "daemon/response.h"

namespace og::daemon {

struct DecisionAdapterOptions {
  // Responses (rule response ids) in shadow mode: their actions are journaled "would have", not sent.
  // The correlator's Decision carries no dry-run flag of its own.
  std::set<std::string, std::less<>> dry_run_responses;
  bool stop_on_failure = false;  // Response::stop_on_failure for every grouped response
};

ActionKind to_action_kind(correlator::ActionKind kind);

// A rendered profile value as a param: integers, decimals, true/false and null stay as they are, so
// the executor sends them with their JSON type (a template "{{ 100 - risk }}" renders "35" and must
// reach an integer attribute as 35, not "35"). Text that starts with a double quote is JSON-quoted so
// the executor does not read it as a JSON string literal; any other text is passed verbatim.
std::string profile_param_value(std::string_view rendered);

// Okta accepts risk reasons of [a-zA-Z0-9 whitespace - , .] up to 500 characters only; any other
// character (detection ids carry '_') becomes '-'.
std::string okta_risk_reason(std::string_view text);

// One decision -> one engine step. incident_id is the decision's deterministic id, so a redelivered
// event that re-decides the same thing yields the same idempotency key and the engine dedupes it.
PlannedAction to_planned_action(const correlator::Decision& decision, const DecisionAdapterOptions& options = {});

// Decisions of one response firing for one user (same response, user, incident time and tier) become
// one Response whose steps run in the rule's order (ordinal); groups keep the order of their first
// decision.
std::vector<Response> to_responses(std::span<const correlator::Decision> decisions,
                                   const DecisionAdapterOptions& options = {});

}  // namespace og::daemon
