#include "daemon/run.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

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

}  // namespace
