#include "daemon/state_snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace og::daemon {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "og-snapshot-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(StateSnapshot, RoundTripsBinaryBlobsAndReplacesTheOldFile) {
  TempDir dir;
  fs::path file = dir.path / "correlator.snapshot";
  std::vector<std::string> first{std::string("a\0b\n12\nEND\n", 11), "", std::string(100000, '\xff')};
  ASSERT_TRUE(save_state_snapshot(file, first));
  auto loaded = load_state_snapshot(file);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(*loaded, first);

  std::vector<std::string> second{"x"};
  ASSERT_TRUE(save_state_snapshot(file, second));
  EXPECT_EQ(*load_state_snapshot(file), second);
  EXPECT_FALSE(fs::exists(dir.path / "correlator.snapshot.tmp"));
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

TEST(StateSnapshot, MissingFileIsEmptyAndDamagedFilesAreErrors) {
  TempDir dir;
  auto missing = load_state_snapshot(dir.path / "none");
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->empty());

  fs::path file = dir.path / "s";
  ASSERT_TRUE(save_state_snapshot(file, {"0123456789", "abc"}));
  std::string whole;
  {
    std::ifstream in(file, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Every proper prefix of a valid file is rejected: a cut-short write is never taken for state.
  for (std::size_t n = 0; n < whole.size(); ++n) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << whole.substr(0, n);
    auto r = load_state_snapshot(file);
    EXPECT_FALSE(r) << "prefix of " << n << " bytes";
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "{\"not\":\"a snapshot\"}";
  auto foreign = load_state_snapshot(file);
  ASSERT_FALSE(foreign);
  EXPECT_NE(foreign.error().find("not an oktaguard state snapshot"), std::string::npos);
}

TEST(StateSnapshot, UnwritableDirectoryIsAnErrorNamingThePath) {
  auto r = save_state_snapshot("/proc/og-no-such-dir/correlator.snapshot", {"x"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("/proc/og-no-such-dir/correlator.snapshot.tmp"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace og::daemon
