// `oktaguard run --once` over file sources against the real Okta emulator process: the write-backs
// the emulator received are exactly the ones the shipped rules decide for an attack, and none for a
// benign user.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/run_command.h"
#include "tests/okta_emulator/emulator_process.h"

namespace og::test {
namespace {

namespace fs = std::filesystem;

const fs::path kRepo = OG_SOURCE_DIR;
constexpr std::string_view kAttacked = "00uc1umudIxtsadWL356";  // jack.naglieri@runpanther.io in the seed
constexpr std::string_view kBenign = "00uHomerSimpsonDuff1";    // homer.simpson@duff.com

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "og-pipeline-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path& p, std::string_view text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

// "METHOD path" of every write (non-GET) request the emulator received, from its request log.
std::multiset<std::string> writes(EmulatorProcess& emulator) {
  auto [status, body] = emulator.get("/__emulator/requests");
  EXPECT_EQ(status, 200u);
  std::multiset<std::string> out;
  std::size_t at = 0;
  while ((at = body.find("\"method\":\"", at)) != std::string::npos) {
    at += 10;
    std::string method = body.substr(at, body.find('"', at) - at);
    auto p = body.find("\"path\":\"", at);
    if (p == std::string::npos) break;
    p += 8;
    std::string path = body.substr(p, body.find('"', p) - p);
    if (method != "GET") out.insert(method + " " + path);
  }
  return out;
}

TEST(PipelineFileEmulator, AttackGetsStepUpAndBenignUserNothing) {
  TempDir dir;
  // The configuration accepts only https org URLs: the emulator serves TLS with a test CA.
  TestPki pki = make_test_pki(dir.path);
  EmulatorProcess emulator(
      EmulatorOptions{.seed = kRepo / "examples/demo/seed.json", .tls_cert = pki.cert, .tls_key = pki.key});
  write(dir.path / "okta-token", emulator.token());
  fs::permissions(dir.path / "okta-token", fs::perms::owner_read | fs::perms::owner_write);
  // A benign user signs in once, successfully.
  write(dir.path / "benign.ndjson",
        R"({"uuid":"b0000000-0000-0000-0000-000000000001","published":"2023-05-01T10:00:00.000Z",)"
        R"("eventType":"user.session.start","actor":{"id":"00uHomerSimpsonDuff1","type":"User",)"
        R"("alternateId":"homer.simpson@duff.com","displayName":"Homer"},"outcome":{"result":"SUCCESS"},)"
        R"("client":{"ipAddress":"198.51.100.7","geographicalContext":{"country":"United States"}},"severity":"INFO"})"
        "\n");
  std::string config = "sources:\n  files:\n";
  config += "    - { path: " + (kRepo / "examples/demo/events/brute_force_logins.ndjson").string() +
            ", source: okta, format: okta_system_log }\n";
  config += "    - { path: " + (dir.path / "benign.ndjson").string() + ", source: okta, format: okta_system_log }\n";
  config += "okta:\n  org_url: " + emulator.base_url() + "\n  ca_file: " + pki.ca.string() +
            "\n  auth:\n    ssws:\n      token_file: " + (dir.path / "okta-token").string() + "\n";
  config += "rules:\n  paths: [" + (kRepo / "rules").string() + "]\n  shards: 2\n";
  config += "response:\n  dry_run: false\n";
  config += "state_dir: " + dir.path.string() + "\nops:\n  listen: 127.0.0.1:0\nlog:\n  level: warn\n";
  write(dir.path / "oktaguard.yaml", config);

  std::string config_path = (dir.path / "oktaguard.yaml").string();
  std::vector<std::string_view> args{"--config", config_path, "--once"};
  std::ostringstream out, err;
  ASSERT_EQ(daemon::run_command(args, out, err), 0) << err.str();

  std::multiset<std::string> got = writes(emulator);
  for (const std::string& w : got)
    EXPECT_EQ(w.find(kBenign), std::string::npos) << "write-back for the benign user: " << w;
  std::string user = std::string(kAttacked);
  EXPECT_EQ(got.count("PUT /api/v1/groups/00gOktaguardStepUp01/users/" + user), 1u) << out.str() << err.str();
  EXPECT_EQ(got.count("POST /api/v1/users/" + user), 1u);
  EXPECT_TRUE(fs::exists(dir.path / "audit.jsonl"));
}

}  // namespace
}  // namespace og::test
