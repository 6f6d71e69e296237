// Test access to ../shared (models, golden outputs, speech) and scratch dirs.
#pragma once
#include <filesystem>
#include <string>

namespace thoth::test {

// Root of the source tree (README, setup.sh, ...).
std::filesystem::path source_root();

// Root of the shared data: $THOTH_SHARED, else ../shared beside the repo root.
std::filesystem::path shared_root();

// Path of a file under the shared root. Fails the current test (fatal) when it is missing:
// a test whose data is missing fails, it never skips.
std::filesystem::path shared_file(const std::string& relative);

// A fresh empty directory under the system temp dir, removed when the object dies.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Absolute path of the built `thoth` executable (for CLI tests).
std::filesystem::path thoth_binary();

}  // namespace thoth::test
