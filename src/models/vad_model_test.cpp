#include "models/vad_model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "models/test_env.h"
#include "support/shared_data.h"

namespace thoth::models {
namespace {

TEST(ResolveVadModel, OrderOfLookup) {
  thoth::test::ScratchDir home, extra;
  test::ScopedEnv h("THOTH_HOME", home.path().string());
  test::ScopedEnv v("THOTH_VAD_MODEL", "");
  test::ScopedEnv m("THOTH_MODEL_PATH", "");

  auto none = resolve_vad_model();
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no VAD model found"), std::string::npos) << none.error();
  EXPECT_NE(none.error().find((home.path() / "models").string()), std::string::npos) << none.error();

  std::filesystem::create_directories(home / "models");
  { std::ofstream(home / "models" / "silero-v6.2.0-ggml.bin") << "x"; }
  EXPECT_EQ(*resolve_vad_model(), (home / "models" / "silero-v6.2.0-ggml.bin").string());

  // THOTH_MODEL_PATH dirs come before the models dir.
  { std::ofstream(extra / "ggml-silero-v6.2.0.bin") << "x"; }
  test::ScopedEnv m2("THOTH_MODEL_PATH", extra.path().string());
  EXPECT_EQ(*resolve_vad_model(), (extra / "ggml-silero-v6.2.0.bin").string());

  {
    test::ScopedEnv v2("THOTH_VAD_MODEL", "/somewhere/vad.bin");
    EXPECT_EQ(*resolve_vad_model(), "/somewhere/vad.bin");
    EXPECT_EQ(*resolve_vad_model("/given.bin"), "/given.bin");
  }
}

}  // namespace
}  // namespace thoth::models
