#pragma once

#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/rule_set.h"
#include "daemon/replay_events.h"

namespace og::daemon {

// `oktaguard rules check PATH... [--format text|json]`: compiles the rule files (directories load
// their *.yml/*.yaml) and prints every diagnostic. Exit codes: 0 valid (warnings allowed), 1 invalid,
// 2 usage.
//
// `oktaguard rules test PATH... [--mappings DIR]... [--format text|json]`: runs every test case of
// the loaded files (docs/rules.md §10) through a fresh one-shard engine holding the whole rule set,
// in event time, and prints one PASS/FAIL line per case and `N passed, N failed`. Cases with
// third-party alerts use the mappings their `mappings` key names; `--mappings` adds mapping files or
// directories (examples/alerts) and overrides a case's mapping of the same source.
// Exit codes: 0 all passed, 1 a case failed or the rules do not load, 2 usage.
int rules_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// `oktaguard replay --rules PATH [--rules PATH]... --events FILE|- [--events FILE]... [--mappings DIR]...
// [--from T] [--to T] [--format table|json]`: backtests rules on recorded events (NDJSON or a JSON
// array, as GET /api/v1/logs returns; several inputs are merged in event time, each reported with its
// parsed and skipped record counts) in shadow mode: every detection with its contributing event uuids, and
// per user the final risk and the actions that would have been taken and when. Never calls Okta.
// `--from`/`--to` keep events with from <= published < to; with `--to`, absence deadlines up to it
// fire. Exit codes: 0 done (unparseable records are counted and listed on stderr), 1 rules do not
// load or no input, 2 usage.
int replay_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// The outcome of one rule test case; `rules test` prints these, the gtests inspect them.
struct CaseResult {
  std::string file;
  std::string name;
  bool passed = false;
  std::vector<std::string> failures;    // why it failed, one line each
  std::vector<std::string> detections;  // ids that fired, in order
  std::vector<std::string> actions;     // action kinds decided, in order
  std::size_t duplicates = 0;           // events dropped for repeating a uuid, as the daemon drops them
};

// Runs one test case of `rules` (which must hold it). Exposed for tests.
CaseResult run_rule_test(const std::shared_ptr<const correlator::RuleSet>& rules, const correlator::RuleTest& test,
                         const AlertSources& alerts);

}  // namespace og::daemon
