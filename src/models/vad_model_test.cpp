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

TEST(ResolveVadModel, ConfigSettingNameOrPath) {
  thoth::test::ScratchDir home, extra;
  test::ScopedEnv h("THOTH_HOME", home.path().string());
  test::ScopedEnv v("THOTH_VAD_MODEL", "");
  test::ScopedEnv m("THOTH_MODEL_PATH", extra.path().string());

  // The default name means the ordinary lookup, which finds nothing yet.
  auto none = resolve_vad_model_setting(kVadModelName);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no VAD model found"), std::string::npos) << none.error();
  { std::ofstream(extra / "ggml-silero-v6.2.0.bin") << "x"; }
  EXPECT_EQ(*resolve_vad_model_setting(kVadModelName), (extra / "ggml-silero-v6.2.0.bin").string());
  EXPECT_EQ(*resolve_vad_model_setting(""), (extra / "ggml-silero-v6.2.0.bin").string());

  // Other names are file names in the model dirs, with or without .bin.
  { std::ofstream(extra / "my-vad.bin") << "x"; }
  EXPECT_EQ(*resolve_vad_model_setting("my-vad"), (extra / "my-vad.bin").string());
  EXPECT_EQ(*resolve_vad_model_setting("my-vad.bin"), (extra / "my-vad.bin").string());
  auto missing = resolve_vad_model_setting("other-vad");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("'other-vad' not found in " + extra.path().string()), std::string::npos)
      << missing.error();

  // Paths are taken as they are (load reports a missing file).
  EXPECT_EQ(*resolve_vad_model_setting("/somewhere/vad.bin"), "/somewhere/vad.bin");
}

}  // namespace
}  // namespace thoth::models
