// FileWatcher on a real directory: in-place saves and rename-over saves are both seen.
#include "server/config_watch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "support/background.h"
#include "support/shared_data.h"

namespace thoth::server {
namespace {

using namespace std::chrono_literals;
using thoth::test::eventually;

TEST(FileWatcher, SeesInPlaceWritesAndRenamesOntoTheFile) {
  thoth::test::ScratchDir dir;
  const auto file = dir / "config" / "config.json";  // the directory does not exist yet
  std::atomic<int> changes{0};
  auto watch = FileWatcher::start(file, [&] { changes.fetch_add(1); });
  ASSERT_TRUE(watch.ok()) << watch.error();
  ASSERT_TRUE(std::filesystem::is_directory(file.parent_path()));

  std::ofstream(file) << "{}\n";
  ASSERT_TRUE(eventually([&] { return changes.load() >= 1; }, 30s));
  const int after_write = changes.load();

  // Another file beside it, then an editor-style save: a new file renamed over the old.
  std::ofstream(file.parent_path() / "other.json") << "{}\n";
  std::ofstream(file.parent_path() / ".config.json.swp") << "{\"a\": 1}\n";
  std::filesystem::rename(file.parent_path() / ".config.json.swp", file);
  ASSERT_TRUE(eventually([&] { return changes.load() > after_write; }, 30s));

  watch->reset();  // joins; nothing runs after this
  const int final_count = changes.load();
  std::ofstream(file) << "{}\n";
  EXPECT_EQ(changes.load(), final_count);
}

TEST(FileWatcher, AnUnusableDirectoryIsOneLine) {
  thoth::test::ScratchDir dir;
  std::ofstream(dir / "not-a-dir") << "x";
  auto watch = FileWatcher::start(dir / "not-a-dir" / "config.json", [] {});
  ASSERT_FALSE(watch.ok());
  EXPECT_EQ(watch.error().find('\n'), std::string::npos) << watch.error();
}

}  // namespace
}  // namespace thoth::server
