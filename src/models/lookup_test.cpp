#include "models/lookup.h"

#include <gtest/gtest.h>

#include <fstream>

#include "models/test_env.h"
#include "support/shared_data.h"

namespace thoth::models {
namespace {
namespace fs = std::filesystem;
using test::ScopedEnv;

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "lmgg";
}

struct LookupTest : ::testing::Test {
  thoth::test::ScratchDir dir;
  fs::path first = dir / "first", second = dir / "second", installed = dir / "data/models";
  std::vector<fs::path> dirs{first, second, installed};
  const std::vector<ModelEntry>& entries = builtin_catalog();
};

TEST_F(LookupTest, ExistingPathIsTakenAsIs) {
  touch(dir / "my model.bin");
  auto r = resolve_model((dir / "my model.bin").string(), dirs, entries);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (dir / "my model.bin").string());
}

TEST_F(LookupTest, MissingPathIsNamed) {
  auto r = resolve_model((dir / "nope.bin").string(), dirs, entries);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "model file not found: " + (dir / "nope.bin").string());
}

TEST_F(LookupTest, DirectoryIsNotAModel) {
  auto r = resolve_model(dir.path().string(), dirs, entries);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not a regular file"), std::string::npos) << r.error();
}

TEST_F(LookupTest, CatalogueNameIsFoundInSearchOrder) {
  touch(second / "ggml-base.en.bin");
  touch(installed / "ggml-base.en.bin");
  auto r = resolve_model("base.en", dirs, entries);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (second / "ggml-base.en.bin").string());

  touch(first / "ggml-base.en.bin");
  r = resolve_model("base.en", dirs, entries);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (first / "ggml-base.en.bin").string());
}

TEST_F(LookupTest, InstalledDirIsTheLastResort) {
  touch(installed / "ggml-tiny.en.bin");
  auto r = resolve_model("tiny.en", dirs, entries);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (installed / "ggml-tiny.en.bin").string());
  r = resolve_model("ggml-tiny.en.bin", dirs, entries);  // the file name works too
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (installed / "ggml-tiny.en.bin").string());
}

TEST_F(LookupTest, AnyFileInTheSearchDirsByNameWithOrWithoutBin) {
  auto shared = thoth::test::shared_file("models/mini.en-f16.bin").parent_path();
  std::vector<fs::path> with_shared{first, shared, installed};
  auto r = resolve_model("mini.en-f16.bin", with_shared, entries);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (shared / "mini.en-f16.bin").string());
  r = resolve_model("mini.en-f16", with_shared, entries);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (shared / "mini.en-f16.bin").string());
}

TEST_F(LookupTest, NoNamePrefersEarlierDirsThenSmallEnglishModels) {
  touch(installed / "ggml-base.en.bin");
  touch(second / "ggml-tiny.bin");
  touch(second / "ggml-small.en.bin");
  auto r = resolve_model("", dirs, entries);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (second / "ggml-small.en.bin").string());
}

TEST_F(LookupTest, PartialAndRejectedDownloadsAreNotModels) {
  touch(installed / "ggml-base.en.bin.part");
  touch(installed / "ggml-base.en.bin.bad");
  auto r = resolve_model("", dirs, entries);
  ASSERT_FALSE(r.ok());
  r = resolve_model("base.en", dirs, entries);
  ASSERT_FALSE(r.ok());
}

TEST_F(LookupTest, NothingAnywhereSaysWhichCommandFetchesOne) {
  auto r = resolve_model("", dirs, entries);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no Whisper model found"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("run: thoth models pull base.en"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find('\n'), std::string::npos);
}

TEST_F(LookupTest, MissingCatalogueModelSaysHowToPullIt) {
  auto r = resolve_model("tiny.en-q5_1", dirs, entries);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("run: thoth models pull tiny.en-q5_1"), std::string::npos) << r.error();
}

TEST_F(LookupTest, UnknownNameIsNamed) {
  auto r = resolve_model("enormous", dirs, entries);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("unknown model 'enormous'"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("thoth models list"), std::string::npos) << r.error();
}

TEST_F(LookupTest, ModelPathEnvironmentComesBeforeTheModelsDir) {
  ScopedEnv env("THOTH_MODEL_PATH", first.string() + "::" + second.string() + ":");
  EXPECT_EQ(model_search_dirs(installed), (std::vector<fs::path>{first, second, installed}));
}

TEST_F(LookupTest, DefaultsUseThothHomeAndModelPath) {
  ScopedEnv home("THOTH_HOME", (dir / "home").string());
  ScopedEnv path("THOTH_MODEL_PATH", first.string());
  ScopedEnv cat("THOTH_MODEL_CATALOG", "");
  EXPECT_EQ(models_dir().string().rfind((dir / "home/").string(), 0), 0u) << models_dir();
  touch(models_dir() / "ggml-base.bin");
  auto r = resolve_model("base");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (models_dir() / "ggml-base.bin").string());
  touch(first / "ggml-base.bin");
  r = resolve_model("");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (first / "ggml-base.bin").string());
}

TEST_F(LookupTest, PullTargetIsInTheModelsDirAndRefusesAFileOfAnotherSize) {
  ScopedEnv home("THOTH_HOME", (dir / "home").string());
  const ModelEntry entry{"tiny-test", "ggml-tiny-test.bin", 4, "00"};
  auto t = pull_target(entry);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t->dest, models_dir() / "ggml-tiny-test.bin");
  EXPECT_FALSE(t->installed);
  EXPECT_TRUE(fs::is_directory(models_dir()));

  touch(t->dest);  // 4 bytes: the catalogue's size
  t = pull_target(entry);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_TRUE(t->installed);

  std::ofstream(t->dest, std::ios::app) << "more";
  t = pull_target(entry);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("has 8 bytes instead of 4"), std::string::npos) << t.error();
  EXPECT_NE(t.error().find("thoth models rm tiny-test"), std::string::npos) << t.error();
}

}  // namespace
}  // namespace thoth::models
