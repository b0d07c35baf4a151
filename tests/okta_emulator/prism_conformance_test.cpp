// Conformance with the real contract: every operation oktaguard's client performs goes through
// Prism in proxy mode (`--errors`, validating requests and responses against
// oktaguard-subset.yaml) to the emulator. Any validation violation in either direction fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/okta_emulator/emulator_process.h"
#include "tests/okta_emulator/json.h"

extern char** environ;

namespace og::test {
namespace {

using emulator::Json;

const std::filesystem::path kPrismDir = std::filesystem::path(OG_SOURCE_DIR) / "tests/okta_emulator/prism";
const std::filesystem::path kSpec = std::filesystem::path(OG_SHARED_DATA_DIR) / "okta-openapi/oktaguard-subset.yaml";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class Prism {
 public:
  Prism(std::uint16_t upstream_port, std::filesystem::path log) : log_(std::move(log)) {
    port_ = free_port();
    std::vector<std::string> args{(kPrismDir / "node_modules/.bin/prism").string(),
                                  "proxy",
                                  "--errors",
                                  "-h",
                                  "127.0.0.1",
                                  "-p",
                                  std::to_string(port_),
                                  kSpec.string(),
                                  "http://127.0.0.1:" + std::to_string(upstream_port)};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start prism");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      if (slurp(log_).find("Prism is listening") != std::string::npos) return;
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("prism exited: " + slurp(log_));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("prism did not start within 90 s: " + slurp(log_));
  }
  ~Prism() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
  }
  std::uint16_t port() const { return port_; }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// The lines of Prism's log that report a contract violation.
// Prism logs through signale: "[time] › [COMPONENT] [method path] <badge> <label> <message>". Judge a
// line by its badge and label only: the startup route list prints faker-generated sample URLs whose
// random words ("error", ...) must not count as findings.
std::vector<std::string> violations(const std::string& log) {
  // ✖ or ⚠, then the label, with any colour codes between.
  static const std::regex finding("(\xE2\x9C\x96|\xE2\x9A\xA0)(\\s|\x1b\\[[0-9;]*m)+(error|fatal|warning)\\b");
  std::vector<std::string> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (std::regex_search(line, finding) || line.find("Violation:") != std::string::npos) out.push_back(line);
  return out;
}

std::string next_link(const EmulatorProcess::Reply& r) {
  auto link = r.header("link");
  auto pos = link.find("rel=\"next\"");
  if (pos == std::string::npos) return {};
  auto s = link.rfind('<', pos), e = link.rfind('>', pos);
  auto url = link.substr(s + 1, e - s - 1);
  return url.substr(url.find("/api/"));
}

TEST(OktaEmulatorConformance, LogClassifierReadsTheLevelNotTheWords) {
  const std::string log =
      "[2:53:41 AM] \xE2\x80\xBA [CLI] \xE2\x84\xB9  info      GET        "
      "http://127.0.0.1:49297/api/v1/users?search=sed&sortOrder=error&fields=violation\n"
      "[2:53:41 AM] \xE2\x80\xBA [CLI] \xE2\x84\xB9  info      DELETE     "
      "http://127.0.0.1:49297/api/v1/groups/error/users/doloribus\n"
      "[2:53:42 AM] \xE2\x80\xBA     [VALIDATOR] \xE2\x9C\x96  error     Violation: response.body must have "
      "required property 'id'\n"
      "[2:53:42 AM] \xE2\x80\xBA     [HTTP SERVER] get /api/v1/users \xE2\x9A\xA0  warning   Request "
      "terminated\n"
      "[2:53:42 AM] \xE2\x80\xBA     [HTTP SERVER] get /api/v1/users \xE2\x84\xB9  info      Request received\n";
  auto bad = violations(log);
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].find("[VALIDATOR]"), std::string::npos);
  EXPECT_NE(bad[1].find("Request terminated"), std::string::npos);
}

TEST(OktaEmulatorConformance, EveryClientOperationThroughPrismValidates) {
  auto prism_bin = kPrismDir / "node_modules/.bin/prism";
  ASSERT_TRUE(std::filesystem::exists(prism_bin))
      << "Prism is not installed at " << prism_bin
      << ": run scripts/bootstrap (it runs `npm ci --prefix tests/okta_emulator/prism`).";
  ASSERT_TRUE(std::filesystem::exists(kSpec)) << kSpec;

  EmulatorProcess emu({.seed = std::filesystem::path(OG_SOURCE_DIR) / "tests/okta_emulator/seed-demo.json"});
  auto log = std::filesystem::temp_directory_path() / ("og-prism-" + std::to_string(::getpid()) + ".log");
  Prism prism(emu.port(), log);

  struct Case {
    std::string method, target, body;
    unsigned status;
  };
  const std::string u = "/api/v1/users/";
  const std::string jack = "00uc1umudIxtsadWL356", homer = "00uHomerSimpsonDuff1", john = "00uttidj01jqL21aM1d6";
  std::vector<Case> cases = {
      {"GET", u + jack, "", 200},
      {"GET", u + "jack.naglieri%40runpanther.io", "", 200},
      {"GET", u + "00uNoSuchUser0000000", "", 404},
      {"GET", "/api/v1/users?search=profile.login+eq+%22homer.simpson%40duff.com%22", "", 200},
      {"GET", "/api/v1/users?search=profile.email+eq+%22john.doe%40example.com%22+or+id+eq+%22" + jack + "%22", "",
       200},
      {"GET", "/api/v1/users?search=status+eq+%22ACTIVE%22+and+profile.lastName+eq+%22say+%5C%22hi%5C%22+%5C%5C%22", "",
       200},
      {"GET", "/api/v1/users?filter=status+eq+%22SUSPENDED%22", "", 200},
      {"GET", "/api/v1/users?q=hom&limit=5", "", 200},
      {"POST", u + homer, R"({"profile":{"uebaHealth":40,"riskLevel":"high"}})", 200},
      {"POST", u + homer, R"({"profile":{"uebaHealth":"forty"}})", 400},
      {"POST", u + homer, R"({"profile":{"notInSchema":1}})", 400},
      {"POST", u + homer + "/lifecycle/suspend", "", 200},
      {"POST", u + homer + "/lifecycle/suspend", "", 403},
      {"POST", u + homer + "/lifecycle/unsuspend", "", 200},
      {"POST", u + homer + "/lifecycle/unsuspend", "", 403},
      {"POST", u + "00uNoSuchUser0000000/lifecycle/suspend", "", 404},
      {"POST", u + john + "/lifecycle/expire_password", "", 200},
      {"POST", u + john + "/lifecycle/expire_password_with_temp_password?revokeSessions=true", "", 200},
      {"POST", u + "00uSuspendedUser0001/lifecycle/expire_password_with_temp_password", "", 403},
      {"POST", u + jack + "/lifecycle/reset_password?sendEmail=false&revokeSessions=true", "", 200},
      {"POST", u + "00u3q14ei6KUOm4Xi2p4/lifecycle/reset_password?sendEmail=true", "", 200},
      {"DELETE", u + homer + "/sessions?oauthTokens=true&forgetDevices=false", "", 204},
      {"DELETE", u + "00uNoSuchUser0000000/sessions", "", 404},
      {"GET", u + homer + "/risk", "", 200},
      {"PUT", u + homer + "/risk", R"({"riskLevel":"HIGH","riskReason":"oktaguard detection"})", 201},
      {"PUT", u + homer + "/risk", R"({"riskLevel":"MEDIUM"})", 200},
      {"GET", u + homer + "/risk", "", 200},
      {"GET", u + jack + "/groups", "", 200},
      {"GET", "/api/v1/groups?q=Step", "", 200},
      {"GET", "/api/v1/groups?search=type+eq+%22OKTA_GROUP%22&limit=2", "", 200},
      {"GET", "/api/v1/groups/00gStepUpMfaOktaGrp1", "", 200},
      {"GET", "/api/v1/groups/00gNoSuchGroup000000", "", 404},
      {"PUT", "/api/v1/groups/00gStepUpMfaOktaGrp1/users/" + homer, "", 204},
      {"DELETE", "/api/v1/groups/00gStepUpMfaOktaGrp1/users/" + homer, "", 204},
      {"PUT", "/api/v1/groups/00gAdEngineeringApp1/users/" + homer, "", 403},
      {"PUT", "/api/v1/groups/00gStepUpMfaOktaGrp1/users/00uNoSuchUser0000000", "", 404},
      {"GET", "/api/v1/logs?since=2020-01-01T00:00:00.000Z&limit=3", "", 200},
      {"GET", "/api/v1/logs?since=2020-01-01T00:00:00.000Z&until=2100-01-01T00:00:00.000Z&sortOrder=DESCENDING", "",
       200},
      {"GET", "/api/v1/logs?filter=eventType+eq+%22user.lifecycle.suspend%22&since=2020-01-01T00:00:00.000Z", "", 200},
  };
  const std::vector<std::pair<std::string, std::string>> auth{{"Authorization", "SSWS " + emu.token()},
                                                              {"Accept", "application/json"}};
  std::vector<std::string> pages;  // next links to follow
  for (const auto& c : cases) {
    auto r = http_exchange(prism.port(), false, c.method, c.target, c.body, auth);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << "\n" << r.body;
    if (auto next = next_link(r); !next.empty() && c.target.find("/logs") == std::string::npos) pages.push_back(next);
  }
  // Pagination: follow the users and groups next links through Prism too.
  auto r = http_exchange(prism.port(), false, "GET", "/api/v1/users?limit=3", {}, auth);
  ASSERT_EQ(r.status, 200u);
  int followed = 0;
  for (auto next = next_link(r); !next.empty() && followed < 10; next = next_link(r), ++followed) {
    r = http_exchange(prism.port(), false, "GET", next, {}, auth);
    ASSERT_EQ(r.status, 200u) << next;
  }
  EXPECT_GE(followed, 2);  // 9 users not DEPROVISIONED in the demo org, 3 per page
  for (const auto& next : pages)
    EXPECT_EQ(http_exchange(prism.port(), false, "GET", next, {}, auth).status, 200u);
  // A test sign-in: its user.session.start event goes through Prism with the rest of the log.
  ASSERT_EQ(emu.post("/__emulator/users/" + homer + "/sessions", "").first, 201u);
  // Polling the log: the next link is always there.
  r = http_exchange(prism.port(), false, "GET", "/api/v1/logs?since=2020-01-01T00:00:00.000Z&limit=2", {}, auth);
  ASSERT_EQ(r.status, 200u);
  for (int i = 0; i < 8 && !next_link(r).empty(); ++i) {
    r = http_exchange(prism.port(), false, "GET", next_link(r), {}, auth);
    ASSERT_EQ(r.status, 200u);
  }
  EXPECT_FALSE(next_link(r).empty());
  EXPECT_EQ(Json::parse(r.body)->as_array().size(), 0u);  // caught up
  // Rate limiting: the 429 answer validates too.
  ASSERT_EQ(emu.post("/__emulator/config", R"({"rate-limit":{"groups-id":1}})").first, 200u);
  http_exchange(prism.port(), false, "GET", "/api/v1/groups/00gStepUpMfaOktaGrp1", {}, auth);
  r = http_exchange(prism.port(), false, "GET", "/api/v1/groups/00gStepUpMfaOktaGrp1", {}, auth);
  EXPECT_EQ(r.status, 429u);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let Prism flush its log
  auto text = slurp(log);
  auto bad = violations(text);
  EXPECT_TRUE(bad.empty()) << "Prism reported contract violations:\n"
                           << [&] {
                                std::string s;
                                for (const auto& l : bad)
                                  s += l + "\n";
                                return s;
                              }();
  // Every request reached the emulator (none was answered by Prism itself).
  auto requests = Json::parse(emu.get("/__emulator/requests").second);
  ASSERT_TRUE(requests);
  EXPECT_GE(requests->as_array().size(), cases.size());
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace og::test
