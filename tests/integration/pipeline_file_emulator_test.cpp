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

// A state directory, an emulator serving TLS (the configuration accepts only https org URLs) and a
// configuration that replays the given files through the shipped rules.
struct DaemonRun {
  TempDir dir;
  TestPki pki = make_test_pki(dir.path);
  EmulatorProcess emulator{
      EmulatorOptions{.seed = kRepo / "examples/demo/seed.json", .tls_cert = pki.cert, .tls_key = pki.key}};

  DaemonRun() {
    write(dir.path / "okta-token", emulator.token());
    fs::permissions(dir.path / "okta-token", fs::perms::owner_read | fs::perms::owner_write);
  }

  // More lines under `sources.files:` (alert files with their mapping) and under `okta:`.
  std::string extra_files, extra_okta;

  // Runs `oktaguard run --once` over `files`; returns its exit status, output in out/err.
  // `response`: more lines under `response:`, indented by two spaces.
  int run_once(const std::vector<fs::path>& files, std::string& out, std::string& err, std::string_view response = {}) {
    std::string config = "sources:\n  files:\n";
    for (const fs::path& f : files)
      config += "    - { path: " + f.string() + ", source: okta, format: okta_system_log }\n";
    config += extra_files;
    config += "okta:\n  org_url: " + emulator.base_url() + "\n  ca_file: " + pki.ca.string() +
              "\n  auth:\n    ssws:\n      token_file: " + (dir.path / "okta-token").string() + "\n";
    config += extra_okta;
    config += "rules:\n  paths: [" + (kRepo / "rules").string() + "]\n";
    config += "response:\n  dry_run: false\n";
    config += response;
    config += "state_dir: " + dir.path.string() + "\nops:\n  listen: 127.0.0.1:0\nlog:\n  level: warn\n";
    write(dir.path / "oktaguard.yaml", config);
    std::string config_path = (dir.path / "oktaguard.yaml").string();
    std::vector<std::string_view> args{"--config", config_path, "--once"};
    std::ostringstream o, e;
    int status = daemon::run_command(args, o, e);
    out = o.str();
    err = e.str();
    return status;
  }
};

TEST(PipelineFileEmulator, AttackGetsStepUpAndBenignUserNothing) {
  DaemonRun s;
  // A benign user signs in once, successfully.
  write(s.dir.path / "benign.ndjson",
        R"({"uuid":"b0000000-0000-0000-0000-000000000001","published":"2023-05-01T10:00:00.000Z",)"
        R"("eventType":"user.session.start","actor":{"id":"00uHomerSimpsonDuff1","type":"User",)"
        R"("alternateId":"homer.simpson@duff.com","displayName":"Homer"},"outcome":{"result":"SUCCESS"},)"
        R"("client":{"ipAddress":"198.51.100.7","geographicalContext":{"country":"United States"}},"severity":"INFO"})"
        "\n");
  std::string out, err;
  ASSERT_EQ(
      s.run_once({kRepo / "examples/demo/events/brute_force_logins.ndjson", s.dir.path / "benign.ndjson"}, out, err), 0)
      << err;

  std::multiset<std::string> got = writes(s.emulator);
  for (const std::string& w : got)
    EXPECT_EQ(w.find(kBenign), std::string::npos) << "write-back for the benign user: " << w;
  std::string user = std::string(kAttacked);
  EXPECT_EQ(got.count("PUT /api/v1/groups/00gOktaguardStepUp01/users/" + user), 1u) << out << err;
  EXPECT_EQ(got.count("POST /api/v1/users/" + user), 1u);
  EXPECT_TRUE(fs::exists(s.dir.path / "audit.jsonl"));
}

// What scripts/demo shows: the three demo files through the shipped rules end with the attacked
// user stepped up, sessions cleared and suspended, as `oktaguard replay` of the same files decides.
TEST(PipelineFileEmulator, DemoEventsEndInStepUpClearedSessionsAndSuspension) {
  DaemonRun s;
  std::string out, err;
  const fs::path events = kRepo / "examples/demo/events";
  ASSERT_EQ(s.run_once({events / "legit_logins.ndjson", events / "brute_force_logins.ndjson",
                        events / "takeover_then_admin_grant.ndjson"},
                       out, err),
            0)
      << err;
  std::multiset<std::string> got = writes(s.emulator);
  const std::string user(kAttacked);
  // Two incidents a day apart (replay decides 10 actions). Within the default 1 h cooldown the
  // second group add and session clearing repeat the first and are skipped; the second profile
  // write carries new values, so it is sent. scripts/demo sets `cooldown: 0s` and shows all of them.
  EXPECT_EQ(got.count("PUT /api/v1/groups/00gOktaguardStepUp01/users/" + user), 1u) << out << err;
  EXPECT_EQ(got.count("POST /api/v1/users/" + user), 2u);
  EXPECT_EQ(got.count("DELETE /api/v1/users/" + user + "/sessions"), 1u);
  EXPECT_EQ(got.count("POST /api/v1/users/" + user + "/lifecycle/suspend"), 1u);
  EXPECT_EQ(got.size(), 5u);
}

// Response exceptions name a group, a login or a user id; the write-backs name the user by Okta id.
// The daemon resolves each through Okta (group members, login owner) before deciding: the excepted
// user gets nothing, with the exception in the audit trail.
TEST(PipelineFileEmulator, ExceptionsByGroupAndLoginAreResolvedThroughOkta) {
  const fs::path events = kRepo / "examples/demo/events/brute_force_logins.ndjson";
  const std::string user(kAttacked);
  for (std::string_view exceptions : {"    groups: [00gSecurityTeamOkta1]\n",  // jack is a member in the seed
                                      "    groups: [Security Team]\n",         // the same group, by name
                                      "    logins: [Jack.Naglieri@runpanther.io]\n"}) {
    DaemonRun s;
    std::string out, err;
    ASSERT_EQ(s.run_once({events}, out, err, std::string("  exceptions:\n") + std::string(exceptions)), 0) << err;
    std::multiset<std::string> got = writes(s.emulator);
    EXPECT_TRUE(got.empty()) << exceptions << "write-backs despite the exception, first: " << *got.begin() << out
                             << err;
    std::ifstream audit(s.dir.path / "audit.jsonl");
    std::string text((std::istreambuf_iterator<char>(audit)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("exception: "), std::string::npos) << exceptions << text;
    EXPECT_NE(text.find(user), std::string::npos) << exceptions << text;
  }
  // The same run without the exception acts on the user: the exception, not the input, stopped it.
  DaemonRun s;
  std::string out, err;
  ASSERT_EQ(s.run_once({events}, out, err, "  exceptions:\n    groups: [00gBreakGlassAdmins1]\n"), 0) << err;
  EXPECT_EQ(writes(s.emulator).count("PUT /api/v1/groups/00gOktaguardStepUp01/users/" + user), 1u) << out << err;
}

// The demo's brute force: its failed sign-ins (NDJSON), and the successful sign-in it ends with.
struct BruteForce {
  std::string failures, success;
  long failed = 0;  // 0: the file is not shaped so
};

BruteForce split_brute_force() {
  std::ifstream in(kRepo / "examples/demo/events/brute_force_logins.ndjson");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  BruteForce out;
  if (lines.empty() || lines.back().find("\"SUCCESS\"") == std::string::npos) return out;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i)
    out.failures += lines[i] + "\n";
  out.success = lines.back() + "\n";
  out.failed = static_cast<long>(lines.size() - 1);
  return out;
}

// The failed sign-ins are replayed by one run, the success by the next: only a correlator state
// carried over through the snapshot joins them into brute_force_then_success.
TEST(PipelineFileEmulator, RestartKeepsWindowsThroughTheSnapshot) {
  DaemonRun s;
  const BruteForce attack = split_brute_force();
  ASSERT_GE(attack.failed, 5) << "the demo file starts with failed sign-ins and ends with a success";
  const std::string& failures = attack.failures;
  write(s.dir.path / "failures.ndjson", failures);
  write(s.dir.path / "success.ndjson", attack.success);

  std::string out, err;
  ASSERT_EQ(s.run_once({s.dir.path / "failures.ndjson"}, out, err), 0) << err;
  EXPECT_TRUE(writes(s.emulator).empty()) << "failures alone stay below the step-up threshold";
  ASSERT_TRUE(fs::exists(s.dir.path / "correlator.snapshot"));

  ASSERT_EQ(s.run_once({s.dir.path / "success.ndjson"}, out, err), 0) << err;
  std::multiset<std::string> got = writes(s.emulator);
  EXPECT_EQ(got.count("PUT /api/v1/groups/00gOktaguardStepUp01/users/" + std::string(kAttacked)), 1u) << out << err;

  // Without the snapshot the success alone is harmless: the same second run on a fresh state does nothing.
  DaemonRun fresh;
  write(fresh.dir.path / "success.ndjson", attack.success);
  ASSERT_EQ(fresh.run_once({fresh.dir.path / "success.ndjson"}, out, err), 0) << err;
  EXPECT_TRUE(writes(fresh.emulator).empty());
}

// A figure of the summary `run --once` prints ("events 9 acked 9 detections 1 ..."); -1 if absent.
long summary(const std::string& out, const std::string& name) {
  std::size_t at = out.rfind(name + " ");
  if (at == std::string::npos || (at > 0 && out[at - 1] != ' ' && out[at - 1] != '\n')) return -1;
  return std::stol(out.substr(at + name.size() + 1));
}

// A file source is read from its first line at every start, onto the restored state: the lines
// that state already holds are skipped, so failed sign-ins read twice do not count twice. A line
// appended since is applied.
TEST(PipelineFileEmulator, AFileReadAgainAfterARestartAddsOnlyItsNewLines) {
  DaemonRun s;
  const BruteForce attack = split_brute_force();
  ASSERT_GE(attack.failed, 5) << "the demo file starts with failed sign-ins and ends with a success";
  const std::string& failures = attack.failures;
  const fs::path file = s.dir.path / "signins.ndjson";
  write(file, failures);
  const long failed = attack.failed;

  std::string out, err;
  ASSERT_EQ(s.run_once({file}, out, err), 0) << err;
  EXPECT_EQ(summary(out, "events"), failed) << out;
  EXPECT_GT(summary(out, "detections"), 0) << out;
  EXPECT_TRUE(writes(s.emulator).empty()) << "failures alone stay below the step-up threshold";

  ASSERT_EQ(s.run_once({file}, out, err), 0) << err;
  EXPECT_EQ(summary(out, "events"), 0) << "the failures were applied again: " << out;
  EXPECT_EQ(summary(out, "detections"), 0) << out;
  EXPECT_TRUE(writes(s.emulator).empty());

  // The success appended to the same file completes brute_force_then_success with the failures the
  // state holds.
  write(file, failures + attack.success);
  ASSERT_EQ(s.run_once({file}, out, err), 0) << err;
  EXPECT_EQ(summary(out, "events"), 1) << out;
  EXPECT_EQ(writes(s.emulator).count("PUT /api/v1/groups/00gOktaguardStepUp01/users/" + std::string(kAttacked)), 1u)
      << out << err;
}

// A damaged snapshot never stops the daemon: it starts empty and keeps the file for inspection.
TEST(PipelineFileEmulator, UnreadableSnapshotIsSetAsideAndTheRunGoesOn) {
  DaemonRun s;
  write(s.dir.path / "correlator.snapshot", "OGSNAP1\n12\nshort");
  std::string out, err;
  ASSERT_EQ(s.run_once({kRepo / "examples/demo/events/brute_force_logins.ndjson"}, out, err), 0) << err;
  EXPECT_TRUE(fs::exists(s.dir.path / "correlator.snapshot.unreadable"));
  EXPECT_TRUE(fs::exists(s.dir.path / "correlator.snapshot"));  // the new one, written at the end
  EXPECT_EQ(writes(s.emulator).count("PUT /api/v1/groups/00gOktaguardStepUp01/users/" + std::string(kAttacked)), 1u);
}

// An alert waits for its user's Okta lookup, and every later event behind it (in event-time order).
// When Okta does not answer, the alert goes on unresolved after okta.identity.wait instead of holding
// detection for the client's timeouts and retries (15 s per try).
TEST(PipelineFileEmulator, AnUnansweredIdentityLookupHoldsEventsOnlyForIdentityWait) {
  DaemonRun s;
  ASSERT_EQ(s.emulator.post("/__emulator/config", R"({"fault-stall":1})").first, 200u);
  write(s.dir.path / "vpn.ndjson",
        R"({"event_id":"a3e1c2f0-6b5d-4c1e-8f37-95d2e0b4a7c6","time":"2026-05-12T10:20:11.5+02:00",)"
        R"("event":"auth.login","result":"failure","user":{"login":"carol@example.com"},)"
        R"("client":{"public_ip":"198.51.100.23"}})"
        "\n");
  s.extra_files = "    - path: " + (s.dir.path / "vpn.ndjson").string() +
                  "\n      source: vpn\n      format: alert\n"
                  "      mapping: { time: /time, user: /user/login, user_kind: login, alert_type: /event, "
                  "alert_type_prefix: 'vpn.', uuid: /event_id, source_ip: /client/public_ip }\n";
  s.extra_okta = "  identity:\n    wait: 1s\n";
  std::string out, err;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(s.run_once({kRepo / "examples/demo/events/legit_logins.ndjson"}, out, err), 0) << out << err;
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::seconds(14)) << "the run waited for the stalled lookup";
  EXPECT_NE(out.find("events 6 acked 6"), std::string::npos) << out << err;  // 5 sign-ins and the alert
  EXPECT_NE(out.find("unresolved 1"), std::string::npos) << out << err;
}

// An API token file holding two lines would put a second header line into every request (Beast does
// not refuse CR/LF in a header value): the daemon refuses to start, and says so without the token.
TEST(PipelineFileEmulator, ATokenFileWithTwoLinesStopsTheStart) {
  DaemonRun s;
  write(s.dir.path / "okta-token", "first-token-line\r\nX-Smuggled: second-token-line\n");
  std::string out, err;
  EXPECT_EQ(s.run_once({kRepo / "examples/demo/events/brute_force_logins.ndjson"}, out, err), 1) << out << err;
  const std::string all = out + err;
  EXPECT_NE(all.find("start okta client"), std::string::npos) << all;
  EXPECT_NE(all.find("holds more than one token"), std::string::npos) << all;
  EXPECT_EQ(all.find("second-token-line"), std::string::npos) << all;
  EXPECT_TRUE(writes(s.emulator).empty());
}

}  // namespace
}  // namespace og::test
