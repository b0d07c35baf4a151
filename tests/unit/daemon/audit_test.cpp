// The audit file under log rotation: lines written after the file was moved away (logrotate's
// default `create` mode) or removed land in a new file at the configured path, none are lost.

#include "daemon/audit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace og::daemon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AuditFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("og-audit-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(AuditFileTest, ALineAfterTheFileWasMovedAwayGoesToANewFileAtThePath) {
  const fs::path path = dir_ / "audit.jsonl";
  AuditLog log;
  ASSERT_TRUE(log.open(path, 0ms));
  log.write(R"({"n":1})");
  fs::rename(path, dir_ / "audit.jsonl.1");
  std::this_thread::sleep_for(1100ms);  // the path is checked at most once a second
  log.write(R"({"n":2})");
  log.write(R"({"n":3})");
  EXPECT_EQ(read_all(dir_ / "audit.jsonl.1"), "{\"n\":1}\n");
  EXPECT_EQ(read_all(path), "{\"n\":2}\n{\"n\":3}\n");

  fs::remove(path);
  std::this_thread::sleep_for(1100ms);
  log.write(R"({"n":4})");
  EXPECT_EQ(read_all(path), "{\"n\":4}\n");
}

TEST_F(AuditFileTest, ACopiedAndTruncatedFileKeepsBeingAppendedTo) {
  const fs::path path = dir_ / "audit.jsonl";
  AuditLog log;
  ASSERT_TRUE(log.open(path, 0ms));
  log.write(R"({"n":1})");
  fs::copy_file(path, dir_ / "audit.jsonl.1");
  fs::resize_file(path, 0);
  std::this_thread::sleep_for(1100ms);
  log.write(R"({"n":2})");
  EXPECT_EQ(read_all(path), "{\"n\":2}\n");
}

}  // namespace
}  // namespace og::daemon
