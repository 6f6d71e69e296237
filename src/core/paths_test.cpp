#include "core/paths.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "support/shared_data.h"

namespace thoth::paths {
namespace {

namespace fs = std::filesystem;

// Sets the XDG variables for one test and restores them afterwards.
class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kVars) {
      const char* old = std::getenv(v);
      saved_.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
      ::unsetenv(v);
    }
    ::setenv("HOME", (scratch_ / "home").c_str(), 1);
  }
  void TearDown() override {
    for (auto& [name, value] : saved_) {
      if (value) ::setenv(name, value->c_str(), 1);
      else ::unsetenv(name);
    }
  }
  static constexpr const char* kVars[] = {"THOTH_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                                          "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "HOME"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
  test::ScratchDir scratch_;
};

mode_t mode_of(const fs::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST_F(PathsTest, DefaultsFollowXdgUnderHome) {
  fs::path home = scratch_ / "home";
  EXPECT_EQ(config_file(), home / ".config/thoth/config.json");
  EXPECT_EQ(templates_dir(), home / ".config/thoth/templates");
  EXPECT_EQ(data_dir(), home / ".local/share/thoth");
  EXPECT_EQ(models_dir(), home / ".local/share/thoth/models");
  EXPECT_EQ(recordings_dir(), home / ".local/share/thoth/recordings");
  EXPECT_EQ(history_db(), home / ".local/share/thoth/history.db");
  EXPECT_EQ(cache_dir(), home / ".cache/thoth");
  EXPECT_EQ(runtime_dir(), fs::path("/tmp/thoth-" + std::to_string(getuid())));
}

TEST_F(PathsTest, XdgVariablesWinAndRelativeOnesAreIgnored) {
  ::setenv("XDG_CONFIG_HOME", "/cfg", 1);
  ::setenv("XDG_DATA_HOME", "/dat", 1);
  ::setenv("XDG_CACHE_HOME", "relative/cache", 1);  // invalid per the spec
  ::setenv("XDG_RUNTIME_DIR", "/run/user/42", 1);
  EXPECT_EQ(config_file(), fs::path("/cfg/thoth/config.json"));
  EXPECT_EQ(data_dir(), fs::path("/dat/thoth"));
  EXPECT_EQ(cache_dir(), scratch_ / "home/.cache/thoth");
  EXPECT_EQ(runtime_dir(), fs::path("/run/user/42/thoth"));
}

TEST_F(PathsTest, ThothHomeHoldsEverything) {
  ::setenv("XDG_CONFIG_HOME", "/cfg", 1);
  ::setenv("XDG_RUNTIME_DIR", "/run/user/42", 1);
  ::setenv("THOTH_HOME", (scratch_ / "th").c_str(), 1);
  fs::path h = scratch_ / "th";
  EXPECT_EQ(config_file(), h / "config.json");
  EXPECT_EQ(models_dir(), h / "models");
  EXPECT_EQ(history_db(), h / "history.db");
  EXPECT_EQ(recordings_dir(), h / "recordings");
  EXPECT_EQ(cache_dir(), h / "cache");
  EXPECT_EQ(runtime_dir(), h / "run");
}

TEST_F(PathsTest, RelativeThothHomeIsMadeAbsolute) {
  ::setenv("THOTH_HOME", "some/dir", 1);
  EXPECT_TRUE(config_dir().is_absolute());
  EXPECT_EQ(config_dir(), fs::current_path() / "some/dir");
}

TEST_F(PathsTest, EnsureDirCreatesPrivateDirectories) {
  auto dir = scratch_ / "a/b/c";
  auto made = ensure_dir(dir, "data dir");
  ASSERT_TRUE(made.ok()) << made.error();
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(mode_of(scratch_ / "a"), 0700u);
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_TRUE(ensure_dir(dir, "data dir").ok()) << "existing dir is fine";
}

TEST_F(PathsTest, EnsureDirBlockedByAFile) {
  std::ofstream(scratch_ / "file") << "x";
  auto made = ensure_dir(scratch_ / "file/thoth", "data dir");
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error(), "cannot create data dir " + (scratch_ / "file/thoth").string() + ": " +
                              (scratch_ / "file").string() +
                              " is not a directory (set THOTH_HOME to a writable directory)");
}

TEST_F(PathsTest, EnsureDirOnReadOnlyFilesystem) {
  // /proc refuses new entries even to root, so this case fails for real on any machine.
  auto made = ensure_dir("/proc/thoth-test/data", "data dir");
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().find("cannot create data dir /proc/thoth-test/data"), std::string::npos)
      << made.error();
  EXPECT_NE(made.error().find("THOTH_HOME"), std::string::npos) << made.error();
}

TEST_F(PathsTest, RuntimeDirIsPrivate) {
  ::setenv("THOTH_HOME", scratch_.path().c_str(), 1);
  ASSERT_TRUE(fs::create_directory(scratch_ / "run"));
  ::chmod((scratch_ / "run").c_str(), 0755);
  auto dir = ensure_runtime_dir();
  ASSERT_TRUE(dir.ok()) << dir.error();
  EXPECT_EQ(mode_of(*dir), 0700u);
}

TEST_F(PathsTest, RuntimeDirSymlinkIsRefused) {
  ::setenv("THOTH_HOME", scratch_.path().c_str(), 1);
  fs::create_directory(scratch_ / "elsewhere");
  fs::create_directory_symlink(scratch_ / "elsewhere", scratch_ / "run");
  auto dir = ensure_runtime_dir();
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().find("belongs to another user"), std::string::npos) << dir.error();
}

TEST_F(PathsTest, WriteFileAtomicIsPrivateAndReplaces) {
  auto file = scratch_ / "config.json";
  std::ofstream(file) << "old content that is longer";
  ::chmod(file.c_str(), 0644);
  ASSERT_TRUE(write_file_atomic(file, "{\"new\": 1}\n").ok());
  auto back = read_file(file);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, "{\"new\": 1}\n");
  EXPECT_EQ(mode_of(file), 0600u);
  // No temporary files left beside it.
  int entries = 0;
  for (auto& e : fs::directory_iterator(scratch_.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(PathsTest, WriteFileAtomicIntoMissingDirectory) {
  auto r = write_file_atomic(scratch_ / "missing/config.json", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find((scratch_ / "missing/config.json").string()), std::string::npos);
}

TEST_F(PathsTest, ReadMissingFileNamesIt) {
  auto r = read_file(scratch_ / "none.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "cannot read " + (scratch_ / "none.json").string() +
                           ": No such file or directory");
}

}  // namespace
}  // namespace thoth::paths
