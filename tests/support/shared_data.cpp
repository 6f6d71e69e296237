#include "support/shared_data.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <stdexcept>

namespace thoth::test {

std::filesystem::path source_root() { return THOTH_SOURCE_DIR; }

std::filesystem::path shared_root() {
  if (const char* env = std::getenv("THOTH_SHARED"); env && *env) return env;
  return std::filesystem::path(THOTH_SOURCE_DIR).parent_path() / "shared";
}

std::filesystem::path shared_file(const std::string& relative) {
  auto p = shared_root() / relative;
  if (!std::filesystem::exists(p)) {
    ADD_FAILURE() << "shared test data missing: " << p << " (set THOTH_SHARED)";
    throw std::runtime_error("shared test data missing: " + p.string());
  }
  return p;
}

ScratchDir::ScratchDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int i = 0; i < 100; ++i) {
    auto candidate = base / ("thoth-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create scratch dir");
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path thoth_binary() {
  if (const char* env = std::getenv("THOTH_BIN"); env && *env) return env;
  return std::filesystem::path(THOTH_BINARY_DIR) / "src/cli/thoth";
}

}  // namespace thoth::test
