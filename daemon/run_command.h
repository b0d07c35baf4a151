#pragma once

#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/rule_set.h"
#include "daemon/config.h"
#include "okta_client/identity.h"

namespace og::daemon {

// `oktaguard run --config FILE [--once]`: the daemon. --once replays the configured files and exits
// when everything they produced is journaled (the demo, backfills). Exit 0 on a clean stop, 1 on a
// configuration or startup error, 2 on usage errors.
int run_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// How the Okta client turns alert user names into logins: okta.identity's windows_domains and
// default_login_domain.
okta::IdentityOptions identity_options(const OktaConfig& okta);

// The OAuth scopes requested with private_key_jwt when the configuration names none.
std::vector<std::string> okta_scopes_for(const correlator::RuleSet& rules);

// With private_key_jwt, the scopes `reloaded` rules' actions need that the running token was not
// requested with (the configured scopes, or those `running` rules needed at the start). A token's
// scopes are fixed when the daemon starts, so such a reload needs a restart. Empty with SSWS.
std::vector<std::string> scopes_missing_after_reload(const OktaConfig& okta, const correlator::RuleSet& running,
                                                     const correlator::RuleSet& reloaded);

}  // namespace og::daemon
