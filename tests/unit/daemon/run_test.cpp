#include "daemon/run.h"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>

#include "correlator/rule_set.h"
#include "daemon/run_command.h"

namespace {

int run_with(std::initializer_list<const char*> words) {
  std::vector<std::string> storage(words.begin(), words.end());
  std::vector<char*> argv;
  for (std::string& s : storage)
    argv.push_back(s.data());
  return og::daemon::run(static_cast<int>(argv.size()), argv.data());
}

TEST(DaemonRun, VersionSucceedsAndUnknownCommandsFail) {
  EXPECT_EQ(run_with({"oktaguard", "version"}), 0);
  EXPECT_EQ(run_with({"oktaguard", "no-such-command"}), 2);
  EXPECT_EQ(run_with({"oktaguard"}), 2);
}

TEST(DaemonRun, ConfigCheckValidatesTheShippedExample) {
  const std::string example = std::string(OG_SOURCE_DIR) + "/examples/oktaguard.yaml";
  EXPECT_EQ(run_with({"oktaguard", "config", "check", "--no-file-checks", example.c_str()}), 0);
  EXPECT_EQ(run_with({"oktaguard", "config", "check", "/nonexistent/oktaguard.yaml"}), 1);
  EXPECT_EQ(run_with({"oktaguard", "config"}), 2);
}

// With private_key_jwt and no scopes configured, the token request asks for what the rules' actions
// need: okta.userRisk.manage (PUT /api/v1/users/{id}/risk) only when a response sets user risk.
TEST(DaemonRun, OAuthScopesFollowTheActionsTheRulesCanTake) {
  auto shipped = og::correlator::load_rules({std::filesystem::path(OG_SOURCE_DIR) / "rules"});
  ASSERT_TRUE(shipped.ok());
  EXPECT_EQ(og::daemon::okta_scopes_for(*shipped.rules),
            (std::vector<std::string>{"okta.users.manage", "okta.groups.manage", "okta.users.read"}));

  const auto dir = std::filesystem::path(::testing::TempDir()) / ("og-scopes-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "risk.yml") << "detections:\n"
                                     "  - id: t.any\n"
                                     "    title: any\n"
                                     "    severity: high\n"
                                     "    risk: 50\n"
                                     "    where: { eventType: user.session.start }\n"
                                     "    key: actor.id\n"
                                     "responses:\n"
                                     "  - id: t.risk\n"
                                     "    when: { detection: t.any }\n"
                                     "    do:\n"
                                     "      - set_user_risk: { level: HIGH }\n";
  auto risky = og::correlator::load_rules({dir});
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(risky.ok()) << og::correlator::render_text(risky.diagnostics);
  EXPECT_EQ(
      og::daemon::okta_scopes_for(*risky.rules),
      (std::vector<std::string>{"okta.users.manage", "okta.groups.manage", "okta.users.read", "okta.userRisk.manage"}));

  // A token's scopes are fixed at the start: a SIGHUP that brings in set_user_risk needs a restart,
  // unless the configuration already asks for the scope. Nothing to ask of an SSWS token.
  og::daemon::OktaConfig okta;
  okta.auth = og::daemon::OktaConfig::Auth::private_key_jwt;
  EXPECT_EQ(og::daemon::scopes_missing_after_reload(okta, *shipped.rules, *risky.rules),
            std::vector<std::string>{"okta.userRisk.manage"});
  EXPECT_TRUE(og::daemon::scopes_missing_after_reload(okta, *risky.rules, *shipped.rules).empty());
  okta.scopes = og::daemon::okta_scopes_for(*risky.rules);
  EXPECT_TRUE(og::daemon::scopes_missing_after_reload(okta, *shipped.rules, *risky.rules).empty());
  okta.auth = og::daemon::OktaConfig::Auth::ssws;
  okta.scopes.clear();
  EXPECT_TRUE(og::daemon::scopes_missing_after_reload(okta, *shipped.rules, *risky.rules).empty());
}

// okta.identity's domains reach the client: an EDR alert naming CORP\jdoe resolves as the login
// jdoe@corp.example.com, and a bare name takes the default domain.
TEST(DaemonRun, IdentityDomainsFromTheConfigurationTurnWindowsNamesIntoLogins) {
  og::daemon::OktaConfig okta;
  okta.windows_domains = {{"CORP", "corp.example.com"}};
  okta.default_login_domain = "example.com";
  const og::okta::IdentityOptions options = og::daemon::identity_options(okta);
  EXPECT_EQ(og::okta::normalise_name("CORP\\jdoe", options).key, "jdoe@corp.example.com");
  EXPECT_EQ(og::okta::normalise_name("corp\\JDoe", options).key, "jdoe@corp.example.com");
  EXPECT_EQ(og::okta::normalise_name("OTHER\\amy", options).key, "amy@example.com");
  EXPECT_EQ(og::okta::normalise_name("bob", options).key, "bob@example.com");
}

}  // namespace
