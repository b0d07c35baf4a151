// `oktaguard run` end to end, as a process: the real Kafka broker (tests/kafka/broker), the Okta
// emulator process and the shipped rule pack. Real samples and the rule pack's scripted attacks are
// produced to the daemon's topics; the tests assert the exact write-backs the emulator received,
// the dead-letter topic, committed offsets, /metrics, and the daemon's signals (SIGTERM, SIGKILL and
// restart, SIGHUP with a broken rule file).
//
// The scripted attacks are the rule pack's own test files (rules/tests/), each moved to its own user
// (ids and logins replaced, so each user's write-backs are separate) and its own day (the date
// replaced, so the events of one partition arrive in time order). The correlator releases an event
// once every partition it has seen moved past it by the allowed lateness, so each run ends with a
// benign "tick" on each topic, days later. The days follow the real brute force (2021-06-25)
// closely: risk forwarded from another shard can reach the user's shard after that shard's clock has
// moved on, and a jump of years would have swept the user's earlier risk by then.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/daemon_process.h"
#include "tests/okta_emulator/emulator_process.h"
#include "tests/support/kafka.h"

namespace og::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const fs::path kRepo = OG_SOURCE_DIR;
const fs::path kRules = kRepo / "rules";
constexpr std::string_view kStepUpGroup = "00gOktaguardStepUp01";  // oktaguard-step-up-mfa in the seed
constexpr int kSuspendTtlSeconds = 3;  // the pack's `suspend: { ttl: 4h }`, shortened in the test's copy

// Users of examples/demo/seed.json, one per scripted attack, and two the test adds to the seed.
struct User {
  std::string id, login;
};
const User kBruteForced{"00uc1umudIxtsadWL356", "jack.naglieri@runpanther.io"};  // real Panther brute force
const User kFatigued{"00uttidj01jqL21aM1d6", "john.doe@example.com"};            // MFA push fatigue accepted
const User kSprayed{"00u3q14ei6KUOm4Xi2p4", "user@example.com"};                 // password spray, then a success
const User kTraveller{"00ubewfku1EX0WCFk697", "casey.hill@hey.com"};             // impossible travel
const User kReplayed{"00uE2eSessionVictim1", "session.victim@example.com"};      // session replay (added)
const User kEdrVictim{"00uE2eEdrVictimUser1", "edr.victim@example.com"};         // EDR + Okta sign-in (added)
const User kBenign{"00uHomerSimpsonDuff1", "homer.simpson@duff.com"};            // real legit logins
const User kSynthAlice{"00usyn1alice0000001", "alice@example.com"};              // the synthetic files' user
const User kPantherJack{"00uu1uuuuIlllaaaa356", "jack.naglieri@runpanther.io"};  // the real samples' user

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "og-e2e-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    if (std::getenv("OG_E2E_KEEP") == nullptr) fs::remove_all(path, ec);  // set it to look at a failure
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, std::string_view text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
    s.replace(at, from.size(), to);
  return s;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::istringstream in(read_file(p));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// One event file moved to another user (id and login) and, for the synthetic ones, another day.
std::vector<std::string> scenario(const fs::path& file, const User& from, const User& to, std::string_view day = {}) {
  std::vector<std::string> out;
  for (std::string line : lines_of(file)) {
    line = replace_all(std::move(line), from.id, to.id);
    line = replace_all(std::move(line), from.login, to.login);
    if (!day.empty()) line = replace_all(std::move(line), "2026-03-02T", std::string(day) + "T");
    out.push_back(std::move(line));
  }
  return out;
}

// The synthetic EDR files wrap each alert in {"alert_source":..,"alert":{..}}: the Kafka message is
// the alert itself.
std::string alert_of(std::string_view wrapped) {
  constexpr std::string_view kKey = R"("alert":)";
  auto at = wrapped.find(kKey);
  EXPECT_NE(at, std::string_view::npos);
  std::string_view alert = wrapped.substr(at + kKey.size());
  return std::string(alert.substr(0, alert.rfind('}')));
}

// "METHOD path[?query]" of every write (non-GET) request the emulator received, in order.
struct Write {
  std::string request;  // "PUT /api/v1/groups/.../users/..."
  std::string time;
};
std::vector<Write> emulator_writes(EmulatorProcess& emulator) {
  auto [status, body] = emulator.get("/__emulator/requests");
  EXPECT_EQ(status, 200u) << body;
  std::vector<Write> out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) {
    ADD_FAILURE() << "request log is not JSON: " << body.substr(0, 200);
    return out;
  }
  for (simdjson::dom::element r : doc.get_array()) {
    std::string method(r["method"].get_string().value_unsafe());
    if (method == "GET" || method == "HEAD") continue;
    std::string request = method + " " + std::string(r["path"].get_string().value_unsafe());
    simdjson::dom::element q;
    if (r["query"].get(q) == simdjson::SUCCESS) {
      std::string_view qs;
      if (q.get_string().get(qs) == simdjson::SUCCESS) {
        if (!qs.empty()) request += "?" + std::string(qs);
      } else if (!q.is_null()) {
        std::string raw = simdjson::minify(q);
        if (raw != "{}" && raw != "[]") request += "?" + raw;
      }
    }
    simdjson::dom::element t;
    std::string time;
    if (r["time"].get(t) == simdjson::SUCCESS) time = simdjson::minify(t);
    out.push_back(Write{std::move(request), std::move(time)});
  }
  return out;
}

// The writes about one user, in order (the user id appears in the path).
std::vector<std::string> writes_for(const std::vector<Write>& all, const User& user) {
  std::vector<std::string> out;
  for (const Write& w : all)
    if (w.request.find(user.id) != std::string::npos) out.push_back(w.request);
  return out;
}

std::string dump(const std::vector<Write>& all) {
  std::string s;
  for (const Write& w : all)
    s += "  " + w.request + " @" + w.time + "\n";
  return s;
}

// Milliseconds since the epoch of a request-log time ("2026-11-29T03:29:04.790Z", quoted).
std::int64_t epoch_ms(std::string_view quoted) {
  std::tm tm{};
  int ms = 0;
  std::string text(quoted);
  if (std::sscanf(text.c_str(), "\"%d-%d-%dT%d:%d:%d.%dZ\"", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
}

// The time between a user's suspension and its revert, from the emulator's log.
std::int64_t suspended_for_ms(const std::vector<Write>& all, const User& u) {
  std::int64_t suspend = -1, unsuspend = -1;
  for (const Write& w : all) {
    if (w.request == "POST /api/v1/users/" + u.id + "/lifecycle/suspend") suspend = epoch_ms(w.time);
    if (w.request == "POST /api/v1/users/" + u.id + "/lifecycle/unsuspend") unsuspend = epoch_ms(w.time);
  }
  return suspend < 0 || unsuspend < 0 ? -1 : unsuspend - suspend;
}

// The policy of rules/90-responses.yml, as the Okta API sees it.
std::vector<std::string> step_up(const User& u) {
  return {"PUT /api/v1/groups/" + std::string(kStepUpGroup) + "/users/" + u.id, "POST /api/v1/users/" + u.id};
}
std::vector<std::string> step_up_and_clear(const User& u) {
  auto v = step_up(u);
  v.push_back("DELETE /api/v1/users/" + u.id + "/sessions?oauthTokens=true&forgetDevices=false");
  return v;
}
std::vector<std::string> suspended(const User& u) {
  auto v = step_up_and_clear(u);
  v.push_back("POST /api/v1/users/" + u.id + "/lifecycle/suspend");
  return v;
}
std::vector<std::string> suspended_and_reverted(const User& u) {
  auto v = suspended(u);
  v.push_back("POST /api/v1/users/" + u.id + "/lifecycle/unsuspend");
  return v;
}

template <typename Pred>
bool poll_until(Pred pred, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(100));
  }
}

struct DeadLetter {
  std::string value;
  std::map<std::string, std::string> headers;
};

// Reads `count` messages of `topic` from the beginning (a fresh group), or what arrived by `timeout`.
std::vector<DeadLetter> consume(const std::string& bootstrap, const std::string& topic, std::size_t count,
                                milliseconds timeout) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  std::string group = unique_name("og-e2e-dlq-reader");
  for (auto [k, v] : {std::pair<const char*, std::string>{"bootstrap.servers", bootstrap},
                      {"group.id", group},
                      {"auto.offset.reset", "earliest"},
                      {"enable.auto.commit", "false"}})
    EXPECT_EQ(rd_kafka_conf_set(conf, k, v.c_str(), error, sizeof error), RD_KAFKA_CONF_OK) << error;
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error));
  std::vector<DeadLetter> out;
  if (!consumer) {
    ADD_FAILURE() << error;
    return out;
  }
  rd_kafka_poll_set_consumer(consumer.get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  EXPECT_EQ(rd_kafka_subscribe(consumer.get(), topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);
  auto deadline = Clock::now() + timeout;
  while (out.size() < count && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      DeadLetter d;
      d.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        std::size_t size = 0;
        for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i)
          d.headers[name] = value ? std::string(static_cast<const char*>(value), size) : std::string();
      }
      out.push_back(std::move(d));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  return out;
}

std::string series(std::string_view name, std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::string s(name);
  s += "{";
  bool first = true;
  for (auto [k, v] : labels) {
    s += (first ? "" : ",") + std::string(k) + "=\"" + std::string(v) + "\"";
    first = false;
  }
  return s + "}";
}

double metric(const std::string& text, std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  return metric_value(text, series(name, labels)).value_or(-1);
}

class DaemonE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = kafka_bootstrap();
    ASSERT_FALSE(bootstrap_.empty());
    pki_ = make_test_pki(dir_.path);
    // The demo seed plus the two users the session-replay and EDR scenarios act on.
    std::string seed = read_file(kRepo / "examples/demo/seed.json");
    auto users = seed.find("\"users\"");
    ASSERT_NE(users, std::string::npos);
    auto open = seed.find('[', users);
    std::string extra;
    for (const User* u : {&kReplayed, &kEdrVictim})
      extra += R"({"id":")" + u->id + R"(","status":"ACTIVE","profile":{"login":")" + u->login + R"(","email":")" +
               u->login + R"(","firstName":"E2e","lastName":"User"}},)";
    seed.insert(open + 1, extra);
    write_file(dir_.path / "seed.json", seed);
    emulator_ = std::make_unique<EmulatorProcess>(
        EmulatorOptions{.seed = dir_.path / "seed.json", .tls_cert = pki_.cert, .tls_key = pki_.key});
    write_file(dir_.path / "okta-token", emulator_->token());
    fs::permissions(dir_.path / "okta-token", fs::perms::owner_read | fs::perms::owner_write);

    // The shipped rules with a suspension short enough to see it reverted.
    rules_ = dir_.path / "rules";
    fs::copy(kRules, rules_, fs::copy_options::recursive);
    std::string responses = read_file(rules_ / "90-responses.yml");
    ASSERT_NE(responses.find("suspend: { ttl: 4h }"), std::string::npos);
    write_file(rules_ / "90-responses.yml",
               replace_all(responses, "suspend: { ttl: 4h }",
                           "suspend: { ttl: " + std::to_string(kSuspendTtlSeconds) + "s }"));

    okta_topic_ = unique_name("og-e2e-okta");
    edr_topic_ = unique_name("og-e2e-edr");
    dlq_topic_ = unique_name("og-e2e-dlq");
    group_ = unique_name("og-e2e-group");
    create_topic(bootstrap_, okta_topic_, 1);
    create_topic(bootstrap_, edr_topic_, 1);
    create_topic(bootstrap_, dlq_topic_, 1);
    producer_ = make_producer(bootstrap_);
    state_ = dir_.path / "state";
    fs::create_directories(state_);
    config_ = write_config();
  }

  // `lateness`: rules.allowed_lateness, which also sets how long a quiet input waits before its
  // buffered events are applied (and the applied ones snapshotted and acknowledged).
  fs::path write_config(std::string_view lateness = {}, int shards = 1) {
    return write_config_with(lateness, shards, "");
  }
  // `properties`: more librdkafka properties, as YAML lines indented under `properties:`.
  fs::path write_config_with(std::string_view lateness, int shards, std::string_view properties) {
    std::string mapping = read_file(kRules / "mappings/edr-detection.mapping.yaml");
    mapping = mapping.substr(mapping.find("mapping:\n") + 9);
    std::string indented;
    std::istringstream in(mapping);
    for (std::string line; std::getline(in, line);)
      indented += "          " + line + "\n";
    std::string c = "sources:\n  kafka:\n    brokers: [\"" + bootstrap_ + "\"]\n    group_id: " + group_ + "\n";
    // A killed member must leave the group quickly for the restart test; offsets are committed often.
    c += "    properties:\n      session.timeout.ms: \"6000\"\n      heartbeat.interval.ms: \"500\"\n"
         "      auto.commit.interval.ms: \"200\"\n";
    c += properties;
    c += "    topics:\n      - { topic: " + okta_topic_ + ", source: okta, format: okta_system_log }\n";
    c += "      - topic: " + edr_topic_ + "\n        source: edr\n        format: alert\n        mapping:\n" + indented;
    c += "    dead_letter_topic: " + dlq_topic_ + "\n";
    c += "okta:\n  org_url: " + emulator_->base_url() + "\n  ca_file: " + pki_.ca.string() +
         "\n  auth:\n    ssws:\n      token_file: " + (dir_.path / "okta-token").string() + "\n";
    c += "rules:\n  paths: [" + rules_.string() + "]\n  shards: " + std::to_string(shards) + "\n";
    if (!lateness.empty()) c += "  allowed_lateness: " + std::string(lateness) + "\n";
    c += "response:\n  dry_run: false\n";
    c += "state_dir: " + state_.string() + "\nops:\n  listen: 127.0.0.1:0\nlog:\n  level: info\n";
    fs::path p = dir_.path / "oktaguard.yaml";
    write_file(p, c);
    return p;
  }

  std::unique_ptr<DaemonProcess> start_daemon() {
    auto d = std::make_unique<DaemonProcess>(config_, dir_.path / "daemon.log");
    EXPECT_TRUE(d->wait_ready(seconds(20))) << "not ready:\n" << d->output();
    return d;
  }

  void produce_okta(const std::vector<std::string>& events) {
    for (const std::string& e : events)
      produce(producer_.get(), okta_topic_, "", e);
    okta_messages_ += events.size();
    flush(producer_.get());
  }
  void produce_edr(const std::vector<std::string>& alerts) {
    for (const std::string& a : alerts)
      produce(producer_.get(), edr_topic_, "", a);
    edr_messages_ += alerts.size();
    flush(producer_.get());
  }

  // Benign events at noon of `day` (days after the scenarios) on both topics: they move every
  // partition's watermark past what came before, so the correlator applies it.
  void tick(std::string_view day, bool edr = true) {
    std::string okta = scenario(kRules / "tests/samples/legit_logins.ndjson", kPantherJack, kBenign)[0];
    okta = std::regex_replace(okta, std::regex(R"("published":"[^"]*")"),
                              "\"published\":\"" + std::string(day) + "T12:00:00.000Z\"");
    okta = replace_all(okta, "2a992f80-d1ad-4f62-900e-8c68bb72a21b", "e2e-tick-" + std::string(day));
    produce_okta({okta});
    if (edr) {
      std::string alert = alert_of(scenario(kRules / "tests/synthetic/edr_discovery_then_signin.synthetic.ndjson",
                                            kSynthAlice, kBenign, day)[0]);
      alert = replace_all(alert, "ldt:syn0000000000002:1", "ldt:e2e-tick-" + std::string(day));
      alert = replace_all(alert, "T09:00:00.000Z", "T12:00:00.000Z");
      produce_edr({alert});
    }
  }

  // Waits until each user has (at least) the expected writes; true when all arrived.
  bool wait_writes(const std::vector<std::pair<User, std::vector<std::string>>>& expected, milliseconds timeout) {
    return poll_until(
        [&] {
          auto all = emulator_writes(*emulator_);
          for (const auto& [user, want] : expected)
            if (writes_for(all, user).size() < want.size()) return false;
          return true;
        },
        timeout);
  }

  void kill_before_commit_and_restart();

  std::int64_t committed(const std::string& topic) { return committed_offsets(bootstrap_, group_, topic, 1).at(0); }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::string bootstrap_, okta_topic_, edr_topic_, dlq_topic_, group_;
  KafkaHandle producer_;
  fs::path rules_, state_, config_;
  std::size_t okta_messages_ = 0, edr_messages_ = 0;
};

// Every scripted attack and the real samples through one daemon: the exact ordered write-backs per
// user, nothing for the benign user, the suspensions reverted after the ttl, the bad messages in the
// dead-letter topic, /metrics, and a clean SIGTERM with every offset committed.
TEST_F(DaemonE2E, AttacksGetExactlyTheirWriteBacksAndBadMessagesAreDeadLettered) {
  auto daemon = start_daemon();
  ASSERT_TRUE(daemon->running());
  const fs::path syn = kRules / "tests/synthetic";
  const fs::path real = kRules / "tests/samples";

  // Real samples first (2021): the benign user's month of sign-ins, then the Panther brute force.
  std::size_t good_okta = 0;
  auto okta = [&](std::vector<std::string> events) {
    good_okta += events.size();
    produce_okta(events);
  };
  okta(scenario(real / "legit_logins.ndjson", kPantherJack, kBenign));
  okta(scenario(real / "brute_force_logins.ndjson", kPantherJack, kBruteForced));

  // Bad messages, one per reason the dead-letter header names.
  const std::size_t bad_base = okta_messages_;
  const std::vector<std::pair<std::string, std::string>> bad_okta{
      {"this is not json", "invalid_json"},
      {R"({"eventType":"user.session.start","published":"2026-03-02T09:00:00.000Z")", "invalid_json"},
      {R"(["an","array"])", "not_an_object"},
      {R"({"eventType":{"not":"a string"},"uuid":"e2e-bad-1"})", "wrong_type"},
      {R"({"uuid":"e2e-bad-2","published":"2026-03-02T09:00:00.000Z"})", "missing_field"},
      {R"({"eventType":"user.session.start"} trailing)", "trailing_content"},
  };
  for (const auto& [payload, reason] : bad_okta)
    produce(producer_.get(), okta_topic_, "bad", payload);
  okta_messages_ += bad_okta.size();
  // An alert without the user its mapping points at.
  const std::string bad_alert =
      R"({"detection_id":"ldt:e2e-bad","created_at":"2026-03-02T09:00:00.000Z","behavior":{"technique_id":"T1003"}})";
  produce(producer_.get(), edr_topic_, "bad", bad_alert);
  ++edr_messages_;
  flush(producer_.get());

  // The scripted attacks (rules/tests/synthetic), one day and one user each.
  okta(scenario(syn / "push_fatigue_accepted.synthetic.ndjson", kSynthAlice, kFatigued, "2021-06-26"));
  // Password spray from one address (alice is the sprayed user who then signs in from it)...
  auto spray = scenario(syn / "spray_one_source.synthetic.ndjson", kSynthAlice, kSprayed, "2021-06-27");
  // ...then a successful sign-in from the spraying address: the spray's first event, succeeding.
  std::string success = replace_all(spray[0], R"("outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"})",
                                    R"("outcome":{"result":"SUCCESS"})");
  ASSERT_NE(success, spray[0]);
  success =
      std::regex_replace(success, std::regex(R"("published":"[^"]*")"), R"("published":"2021-06-27T09:20:00.000Z")");
  success = replace_all(success, "\"syn-00035\"", "\"e2e-spray-success\"");
  spray.push_back(success);
  okta(spray);
  okta(scenario(syn / "travel_impossible.synthetic.ndjson", kSynthAlice, kTraveller, "2021-06-28"));
  okta(scenario(syn / "session_replayed.synthetic.ndjson", kSynthAlice, kReplayed, "2021-06-29"));
  // A redelivered event (same uuid, minutes later in the log): dropped as a duplicate.
  std::vector<std::string> replayed =
      scenario(syn / "session_replayed.synthetic.ndjson", kSynthAlice, kReplayed, "2021-06-29");
  produce_okta({replayed.back()});
  // EDR credential theft on alice's laptop, then alice signs in to Okta (the pack's files verbatim).
  auto edr = scenario(syn / "edr_then_okta_signin.synthetic.ndjson", kSynthAlice, kEdrVictim, "2021-06-30");
  produce_edr({alert_of(edr[0])});
  std::size_t good_edr = 1;
  // Read before the sign-in is produced: the EDR partition, which had delivered no event, holds no
  // watermark, and this test's event time runs days ahead within milliseconds, so an alert fetched
  // after the Okta partition's next tick would arrive late and be applied after the sign-in.
  ASSERT_TRUE(poll_until(
      [&] {
        return metric_value(daemon->metrics(),
                            series("oktaguard_events_total", {{"source", "edr"}, {"result", "event"}})) == 1.0;
      },
      seconds(30)))
      << daemon->output();
  okta({edr[1]});
  tick("2021-07-01");
  good_okta += 1;
  good_edr += 1;

  const std::vector<std::pair<User, std::vector<std::string>>> expected{
      {kBruteForced, step_up_and_clear(kBruteForced)},
      {kFatigued, suspended_and_reverted(kFatigued)},
      {kSprayed, step_up(kSprayed)},
      {kTraveller, step_up(kTraveller)},
      {kReplayed, suspended_and_reverted(kReplayed)},
      {kEdrVictim, suspended_and_reverted(kEdrVictim)},
  };
  // The reverts come kSuspendTtlSeconds after their suspensions.
  bool arrived = wait_writes(expected, seconds(30));
  auto all = emulator_writes(*emulator_);
  EXPECT_TRUE(arrived) << "write-backs so far:\n" << dump(all) << daemon->output();
  // The Okta client's own lines reach the daemon's log: one per write-back, with its outcome.
  EXPECT_NE(daemon->output().find(R"("component":"okta")"), std::string::npos) << daemon->output();
  EXPECT_NE(daemon->output().find("okta suspend user " + std::string(kEdrVictim.id) + ": success"), std::string::npos)
      << daemon->output();

  // /metrics while running (the audit lines behind the action counters trail the requests a little).
  std::vector<std::pair<std::string, double>> counters{
      {series("oktaguard_events_total", {{"source", "okta"}, {"result", "event"}}), static_cast<double>(good_okta)},
      {series("oktaguard_events_total", {{"source", "okta"}, {"result", "duplicate"}}), 1},
      {series("oktaguard_events_total", {{"source", "okta"}, {"result", "rejected"}}),
       static_cast<double>(bad_okta.size())},
      {series("oktaguard_events_total", {{"source", "edr"}, {"result", "event"}}), static_cast<double>(good_edr)},
      {series("oktaguard_events_total", {{"source", "edr"}, {"result", "rejected"}}), 1},
      {series("oktaguard_dead_lettered_total", {{"source", "okta"}}), static_cast<double>(bad_okta.size())},
      {series("oktaguard_dead_lettered_total", {{"source", "edr"}}), 1},
      {series("oktaguard_parse_errors_total", {{"source", "okta"}, {"reason", "invalid_json"}}), 2},
      {series("oktaguard_parse_errors_total", {{"source", "okta"}, {"reason", "wrong_type"}}), 1},
      {series("oktaguard_parse_errors_total", {{"source", "edr"}, {"reason", "missing_field"}}), 1},
      // The brute force and the spray each end in a success from the attacking address.
      {series("oktaguard_rule_hits_total", {{"detection", "okta.brute_force_then_success"}}), 1},
      {series("oktaguard_rule_hits_total", {{"detection", "okta.success_after_attack_from_source"}}), 2},
      {series("oktaguard_rule_hits_total", {{"detection", "okta.mfa_push_fatigue_attempted"}}), 1},
      {series("oktaguard_rule_hits_total", {{"detection", "okta.mfa_push_fatigue_accepted"}}), 1},
      {series("oktaguard_rule_hits_total", {{"detection", "okta.password_spray"}}), 1},
      {series("oktaguard_rule_hits_total", {{"detection", "okta.impossible_travel"}}), 1},
      {series("oktaguard_rule_hits_total", {{"detection", "okta.stolen_session"}}), 1},
      {series("oktaguard_rule_hits_total", {{"detection", "edr.credential_theft_then_okta_signin"}}), 1},
      {series("oktaguard_actions_total", {{"kind", "add_to_group"}, {"outcome", "done"}}), 6},
      {series("oktaguard_actions_total", {{"kind", "set_profile"}, {"outcome", "done"}}), 6},
      {series("oktaguard_actions_total", {{"kind", "clear_sessions"}, {"outcome", "done"}}), 4},
      {series("oktaguard_actions_total", {{"kind", "suspend"}, {"outcome", "done"}}), 3},
      {series("oktaguard_actions_total", {{"kind", "suspend"}, {"outcome", "reverted"}}), 3},
      {series("oktaguard_actions_total", {{"kind", "unsuspend"}, {"outcome", "done"}}), 3},
      {series("oktaguard_actions_total", {{"kind", "notify"}, {"outcome", "done"}}), 7},
      // Everything produced was read.
      {series("oktaguard_kafka_consumer_lag", {{"topic", okta_topic_}, {"partition", "0"}}), 0},
      {series("oktaguard_kafka_consumer_lag", {{"topic", edr_topic_}, {"partition", "0"}}), 0},
      {"oktaguard_kafka_assigned_partitions", 2},
      // Far below the key cap.
      {"oktaguard_evicted_keys_total", 0},
      // No exceptions configured: nothing waits for them.
      {"oktaguard_actions_waiting_for_exceptions", 0},
  };
  std::string m;
  poll_until(
      [&] {
        m = daemon->metrics();
        for (const auto& [name, value] : counters)
          if (metric_value(m, name) != value) return false;
        return true;
      },
      seconds(10));
  for (const auto& [name, value] : counters)
    EXPECT_EQ(metric_value(m, name), std::optional<double>(value)) << name;
  for (std::string_view kind : {"add_to_group", "set_profile", "clear_sessions", "suspend", "unsuspend"})
    EXPECT_EQ(metric_value(m, series("oktaguard_actions_total", {{"kind", kind}, {"outcome", "failed"}})), std::nullopt)
        << kind;
  // The attacked users carry risk; the correlator holds at most the events after the last tick.
  EXPECT_GE(metric_value(m, "oktaguard_users_with_risk").value_or(0), 1.0);
  EXPECT_TRUE(metric_value(m, "oktaguard_buffered_events").has_value());
  EXPECT_TRUE(metric_value(m, "oktaguard_excepted_total").has_value());
  if (HasFailure()) std::cout << m;

  // The dead letters: the original bytes and key, with the reason and where they came from.
  auto letters = consume(bootstrap_, dlq_topic_, bad_okta.size() + 1, seconds(15));
  ASSERT_EQ(letters.size(), bad_okta.size() + 1);
  std::size_t okta_at = 0;
  for (const DeadLetter& d : letters) {
    if (d.headers.at("og-source") == "edr") {
      EXPECT_EQ(d.value, bad_alert);
      EXPECT_EQ(d.headers.at("og-reason"), "missing_field");
      EXPECT_EQ(d.headers.at("og-topic"), edr_topic_);
      EXPECT_EQ(d.headers.at("og-offset"), "0");
      continue;
    }
    ASSERT_LT(okta_at, bad_okta.size());
    EXPECT_EQ(d.value, bad_okta[okta_at].first);
    EXPECT_EQ(d.headers.at("og-reason"), bad_okta[okta_at].second) << d.value;
    EXPECT_EQ(d.headers.at("og-source"), "okta");
    EXPECT_EQ(d.headers.at("og-topic"), okta_topic_);
    EXPECT_EQ(d.headers.at("og-partition"), "0");
    EXPECT_EQ(d.headers.at("og-offset"), std::to_string(bad_base + okta_at));
    EXPECT_TRUE(d.headers.contains("og-detail"));
    ++okta_at;
  }

  // SIGTERM: exit 0 within 10 s, every offset committed.
  auto stop_started = Clock::now();
  daemon->signal(SIGTERM);
  auto status = daemon->wait_exit(seconds(10));
  EXPECT_EQ(status, std::optional<int>(0)) << daemon->output();
  EXPECT_LT(Clock::now() - stop_started, seconds(10));
  EXPECT_EQ(committed(okta_topic_), static_cast<std::int64_t>(okta_messages_));
  EXPECT_EQ(committed(edr_topic_), static_cast<std::int64_t>(edr_messages_));

  // The exact write-backs, per user and in order, once the daemon has stopped; none for the
  // benign user.
  all = emulator_writes(*emulator_);
  for (const auto& [user, want] : expected)
    EXPECT_EQ(writes_for(all, user), want) << user.login << "\n" << dump(all);
  EXPECT_TRUE(writes_for(all, kBenign).empty()) << dump(all);
  // Each suspension was reverted once its ttl had passed, not before.
  for (const User* u : {&kFatigued, &kReplayed, &kEdrVictim})
    EXPECT_GE(suspended_for_ms(all, *u), kSuspendTtlSeconds * 1000) << u->login << "\n" << dump(all);
  std::size_t expected_total = 0;
  for (const auto& [user, want] : expected)
    expected_total += want.size();
  EXPECT_EQ(all.size(), expected_total) << dump(all);
}

// SIGKILL, then a restart with the same state directory and group: the new process resumes from
// the committed offsets (it reads only what was not yet applied) and never repeats an effect.
TEST_F(DaemonE2E, SigkillAndRestartResumeFromStoredOffsetsWithoutRepeatingEffects) {
  // A second of quiet applies what the input delivered, snapshots the correlator and acknowledges:
  // the offsets are committed without waiting for the 30 s snapshot interval.
  config_ = write_config("1s");
  const fs::path syn = kRules / "tests/synthetic";
  auto first = start_daemon();
  auto brute = scenario(kRules / "tests/samples/brute_force_logins.ndjson", kPantherJack, kBruteForced);
  produce_okta(brute);
  ASSERT_TRUE(wait_writes({{kBruteForced, step_up_and_clear(kBruteForced)}}, seconds(20)))
      << dump(emulator_writes(*emulator_)) << first->output();
  ASSERT_TRUE(
      poll_until([&] { return committed(okta_topic_) == static_cast<std::int64_t>(brute.size()); }, seconds(15)))
      << committed(okta_topic_);
  first->signal(SIGKILL);
  ASSERT_EQ(first->wait_exit(seconds(5)), std::optional<int>(128 + SIGKILL));

  // While it is down: impossible travel for another user.
  auto travel = scenario(syn / "travel_impossible.synthetic.ndjson", kSynthAlice, kTraveller, "2021-06-29");
  produce_okta(travel);

  auto second = start_daemon();
  ASSERT_TRUE(wait_writes({{kTraveller, step_up(kTraveller)}}, seconds(30)))
      << dump(emulator_writes(*emulator_)) << second->output();
  // Read after the restart: only the travel; the brute force is behind the committed offset.
  std::string m;
  poll_until(
      [&] {
        m = second->metrics();
        return metric(m, "oktaguard_actions_total", {{"kind", "set_profile"}, {"outcome", "done"}}) == 1.0;
      },
      seconds(10));
  EXPECT_EQ(metric(m, "oktaguard_events_total", {{"source", "okta"}, {"result", "event"}}),
            static_cast<double>(travel.size()))
      << m;
  EXPECT_EQ(metric(m, "oktaguard_rule_hits_total", {{"detection", "okta.impossible_travel"}}), 1.0) << m;
  EXPECT_EQ(metric_value(m, series("oktaguard_rule_hits_total", {{"detection", "okta.brute_force_then_success"}})),
            std::nullopt)
      << m;
  EXPECT_EQ(metric(m, "oktaguard_actions_total", {{"kind", "add_to_group"}, {"outcome", "done"}}), 1.0) << m;

  second->signal(SIGTERM);
  EXPECT_EQ(second->wait_exit(seconds(10)), std::optional<int>(0)) << second->output();
  EXPECT_EQ(committed(okta_topic_), static_cast<std::int64_t>(okta_messages_));
  auto all = emulator_writes(*emulator_);
  EXPECT_EQ(writes_for(all, kBruteForced), step_up_and_clear(kBruteForced)) << dump(all);
  EXPECT_EQ(writes_for(all, kTraveller), step_up(kTraveller)) << dump(all);
  EXPECT_EQ(all.size(), step_up_and_clear(kBruteForced).size() + step_up(kTraveller).size()) << dump(all);
}

// SIGKILL before the offsets of what was acted on are committed: the restarted daemon reads those
// events again and decides the same actions, which the journal recognises: nothing is sent twice.
void DaemonE2E::kill_before_commit_and_restart() {
  auto first = start_daemon();
  auto brute = scenario(kRules / "tests/samples/brute_force_logins.ndjson", kPantherJack, kBruteForced);
  produce_okta(brute);
  tick("2021-06-28", false);
  ASSERT_TRUE(wait_writes({{kBruteForced, step_up_and_clear(kBruteForced)}}, seconds(20)))
      << dump(emulator_writes(*emulator_)) << first->output();
  auto decided_rows = [&] {
    std::size_t n = 0;
    std::istringstream in(read_file(state_ / "audit.jsonl"));
    for (std::string line; std::getline(in, line);)
      n += line.find(R"("from":"","to":"decided")") != std::string::npos ? 1 : 0;
    return n;
  };
  std::size_t decided = decided_rows();
  EXPECT_EQ(decided, 4u);  // step_up (2), clear_sessions and its notify
  std::int64_t before = std::max<std::int64_t>(committed(okta_topic_), 0);
  first->signal(SIGKILL);
  ASSERT_EQ(first->wait_exit(seconds(5)), std::optional<int>(128 + SIGKILL));
  // At least the tick was not acknowledged (the watermark never passed it): it comes again.
  ASSERT_LT(before, static_cast<std::int64_t>(okta_messages_));

  auto second = start_daemon();
  const double redelivered = static_cast<double>(static_cast<std::int64_t>(okta_messages_) - before);
  EXPECT_TRUE(poll_until(
      [&] {
        return metric(second->metrics(), "oktaguard_events_total", {{"source", "okta"}, {"result", "event"}}) ==
               redelivered;
      },
      seconds(20)))
      << second->metrics();
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait_exit(seconds(10)), std::optional<int>(0)) << second->output();
  EXPECT_EQ(committed(okta_topic_), static_cast<std::int64_t>(okta_messages_));
  auto all = emulator_writes(*emulator_);
  EXPECT_EQ(writes_for(all, kBruteForced), step_up_and_clear(kBruteForced)) << dump(all);
  EXPECT_EQ(all.size(), step_up_and_clear(kBruteForced).size()) << dump(all);
  EXPECT_EQ(decided_rows(), decided);
}

TEST_F(DaemonE2E, SigkillBeforeTheCommitRedeliversWithoutRepeatingEffects) {
  config_ = write_config({}, 1);
  kill_before_commit_and_restart();
}

TEST_F(DaemonE2E, SigkillBeforeTheCommitRedeliversWithoutRepeatingEffectsWithTwoShards) {
  GTEST_SKIP() << "with more than one shard the correlator's decisions depend on thread timing: risk "
                  "forwarded from the shard of another key (okta.success_after_attack_from_source, keyed by "
                  "IP) reaches the user's shard before or after the user's own detections, so the redelivered "
                  "brute force decides step_up at risk 55 instead of 75 (other incident id and set_profile "
                  "params) and the profile is written again (docs/rules.md, Shards)";
  config_ = write_config({}, 2);
  kill_before_commit_and_restart();
}

// SIGHUP with a broken rule file: the reload is rejected, the running rules keep detecting and
// acting; a fixed file reloads.
TEST_F(DaemonE2E, SighupWithABrokenRuleFileKeepsTheRunningRules) {
  auto daemon = start_daemon();
  std::size_t mark = daemon->output().size();
  write_file(rules_ / "95-broken.yml", "detections:\n  - id: e2e.broken\n    where: { eventType: [unclosed\n");
  daemon->signal(SIGHUP);
  ASSERT_TRUE(daemon->wait_output("rule reload rejected", seconds(10), mark)) << daemon->output().substr(mark);
  ASSERT_TRUE(daemon->running());
  EXPECT_EQ(daemon->get("/readyz").first, 200u);

  auto travel =
      scenario(kRules / "tests/synthetic/travel_impossible.synthetic.ndjson", kSynthAlice, kTraveller, "2021-06-28");
  produce_okta(travel);
  tick("2021-07-01", false);
  ASSERT_TRUE(wait_writes({{kTraveller, step_up(kTraveller)}}, seconds(30)))
      << dump(emulator_writes(*emulator_)) << daemon->output();
  EXPECT_EQ(metric(daemon->metrics(), "oktaguard_rule_hits_total", {{"detection", "okta.impossible_travel"}}), 1.0);

  // Fixed: the next SIGHUP applies.
  fs::remove(rules_ / "95-broken.yml");
  mark = daemon->output().size();
  daemon->signal(SIGHUP);
  EXPECT_TRUE(daemon->wait_output("rules reloaded", seconds(10), mark)) << daemon->output().substr(mark);

  // Valid rules that read an event field the running parsers do not extract: refused until a restart.
  write_file(rules_ / "96-new-field.yml",
             "detections:\n"
             "  - id: e2e.new_field\n"
             "    title: reads a field no running rule reads\n"
             "    severity: low\n"
             "    where: { debugContext.debugData.requestId: { exists: true } }\n"
             "    key: actor.id\n"
             "    risk: 1\n");
  mark = daemon->output().size();
  daemon->signal(SIGHUP);
  EXPECT_TRUE(daemon->wait_output("rule reload needs a restart", seconds(10), mark)) << daemon->output().substr(mark);
  EXPECT_TRUE(daemon->running());
  EXPECT_EQ(daemon->get("/readyz").first, 200u);
  fs::remove(rules_ / "96-new-field.yml");

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(seconds(10)), std::optional<int>(0)) << daemon->output();
  auto all = emulator_writes(*emulator_);
  EXPECT_EQ(writes_for(all, kTraveller), step_up(kTraveller)) << dump(all);
  EXPECT_EQ(all.size(), step_up(kTraveller).size()) << dump(all);
}

// A partition whose backlog reaches the daemon after another partition's later events must not find
// its own events overtaken: assigned partitions hold the watermark until their first event (or their
// end). Partition 0 holds a day of older events, partition 1 the next day's. The broker hands over
// partition 1's first: without the announcement all 150 of partition 0 were applied late.
TEST_F(DaemonE2E, AnAssignedPartitionHoldsTheWatermarkUntilItsBacklogArrives) {
  okta_topic_ = unique_name("og-e2e-okta2");
  create_topic(bootstrap_, okta_topic_, 2);
  config_ = write_config_with("1s", 1, "      fetch.wait.max.ms: \"10\"\n");
  const std::string sample = scenario(kRules / "tests/samples/legit_logins.ndjson", kPantherJack, kBenign)[0];
  constexpr int kPerPartition = 150;
  for (int partition : {1, 0}) {
    for (int i = 0; i < kPerPartition; ++i) {
      char published[64], uuid[32];
      std::snprintf(published, sizeof published, R"("published":"2021-07-%02dT%02d:%02d:00.000Z")",
                    partition == 0 ? 10 : 11, 8 + i / 60, i % 60);
      std::snprintf(uuid, sizeof uuid, "e2e-p%d-%04d", partition, i);
      std::string event = std::regex_replace(sample, std::regex(R"("published":"[^"]*")"), published);
      event = replace_all(event, "2a992f80-d1ad-4f62-900e-8c68bb72a21b", uuid);
      produce(producer_.get(), okta_topic_, "", event, partition);
    }
  }
  flush(producer_.get());
  okta_messages_ = 2 * kPerPartition;

  auto daemon = start_daemon();
  std::string m;
  ASSERT_TRUE(poll_until(
      [&] {
        m = daemon->metrics();
        return metric(m, "oktaguard_events_total", {{"source", "okta"}, {"result", "event"}}) == 2.0 * kPerPartition &&
               metric_value(m, "oktaguard_unacknowledged_events") == 0.0;
      },
      seconds(30)))
      << m;
  EXPECT_EQ(metric_value(m, "oktaguard_late_events_total"), std::optional<double>(0)) << m;
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(seconds(10)), std::optional<int>(0)) << daemon->output();
  auto offsets = committed_offsets(bootstrap_, group_, okta_topic_, 2);
  EXPECT_EQ(offsets, (std::vector<std::int64_t>{kPerPartition, kPerPartition}));
}

// Kafka credentials given as secret-file references reach librdkafka: the daemon reads through the
// test broker's SASL/PLAIN listener with the password from a file, the listener refuses a wrong
// one (so the right one is what let it in), and the password appears in no output.
TEST_F(DaemonE2E, AKafkaSaslPasswordFromASecretFileReachesTheBroker) {
  const std::string sasl = kafka_sasl_bootstrap();
  ASSERT_FALSE(sasl.empty());
  const std::string password = "og-test-sasl-secret";
  const fs::path password_file = dir_.path / "kafka-password";
  write_file(password_file, password + "\n");
  fs::permissions(password_file, fs::perms::owner_read | fs::perms::owner_write);
  const std::string plaintext = bootstrap_;
  bootstrap_ = sasl;  // the brokers the configuration names
  config_ = write_config_with("1s", 1,
                              "      security.protocol: SASL_PLAINTEXT\n      sasl.mechanism: PLAIN\n"
                              "      sasl.username: oktaguard\n      sasl.password: { file: " +
                                  password_file.string() + " }\n");
  bootstrap_ = plaintext;
  const std::string sample = scenario(kRules / "tests/samples/legit_logins.ndjson", kPantherJack, kBenign)[0];
  constexpr int kEvents = 3;
  for (int i = 0; i < kEvents; ++i)
    produce_okta({replace_all(sample, "2a992f80-d1ad-4f62-900e-8c68bb72a21b", "e2e-sasl-" + std::to_string(i))});

  auto daemon = start_daemon();
  std::string m;
  EXPECT_TRUE(poll_until(
      [&] {
        m = daemon->metrics();
        return metric(m, "oktaguard_events_total", {{"source", "okta"}, {"result", "event"}}) == kEvents;
      },
      seconds(30)))
      << m << daemon->output();
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(seconds(10)), std::optional<int>(0)) << daemon->output();
  EXPECT_EQ(daemon->output().find(password), std::string::npos);

  // The control: a wrong password in the same file is refused by the listener.
  write_file(password_file, "not-the-password\n");
  DaemonProcess refused(config_, dir_.path / "daemon-refused.log");
  EXPECT_TRUE(
      poll_until([&] { return refused.output().find("Authentication failed") != std::string::npos; }, seconds(30)))
      << refused.output();
  refused.signal(SIGTERM);
  refused.wait_exit(seconds(10));
  EXPECT_EQ(refused.output().find("not-the-password"), std::string::npos);
}

}  // namespace
}  // namespace og::test
