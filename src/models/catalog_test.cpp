#include "models/catalog.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "models/test_env.h"
#include "support/shared_data.h"

namespace thoth::models {
namespace {

using test::ScopedEnv;

TEST(Catalog, BuiltinTableMatchesTheSharedCatalogue) {
  std::ifstream in(thoth::test::shared_file("models/catalog.tsv"));
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = parse_catalog(text.str(), "catalog.tsv");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const auto& builtin = builtin_catalog();
  ASSERT_EQ(parsed->size(), builtin.size());
  for (std::size_t i = 0; i < builtin.size(); ++i) {
    EXPECT_EQ((*parsed)[i].name, builtin[i].name);
    EXPECT_EQ((*parsed)[i].file, builtin[i].file);
    EXPECT_EQ((*parsed)[i].bytes, builtin[i].bytes);
    EXPECT_EQ((*parsed)[i].sha256, builtin[i].sha256);
  }
}

TEST(Catalog, HasTheStandardModels) {
  const auto& c = builtin_catalog();
  for (const char* name : {"tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en",
                           "large-v3-turbo", "base.en-q5_1", "base.en-q8_0", "large-v3-turbo-q8_0"}) {
    const ModelEntry* e = find_entry(c, name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->file, "ggml-" + std::string(name) + ".bin");
  }
  EXPECT_EQ(find_entry(c, "ggml-base.en.bin"), find_entry(c, "base.en"));
  EXPECT_EQ(find_entry(c, "huge"), nullptr);
}

TEST(Catalog, UrlIsThePinnedPublisherRevisionUnlessOverridden) {
  const auto* e = find_entry(builtin_catalog(), "base.en");
  ASSERT_NE(e, nullptr);
  {
    ScopedEnv unset("THOTH_MODEL_BASE_URL", "");
    EXPECT_EQ(model_url(*e),
              "https://huggingface.co/ggerganov/whisper.cpp/resolve/5359861c739e955e79d9a303bcbc70fb988958b1/"
              "ggml-base.en.bin");
  }
  ScopedEnv mirror("THOTH_MODEL_BASE_URL", "http://127.0.0.1:8080/mirror/");
  EXPECT_EQ(model_url(*e), "http://127.0.0.1:8080/mirror/ggml-base.en.bin");
}

TEST(Catalog, OverrideFileReplacesTheBuiltinTable) {
  thoth::test::ScratchDir dir;
  std::ofstream(dir / "c.tsv") << "# a mirror\nname\tfile\tbytes\tsha256\n"
                               << "test\tggml-test.bin\t12\t" << std::string(64, 'a') << "\n";
  ScopedEnv env("THOTH_MODEL_CATALOG", (dir / "c.tsv").string());
  auto c = catalog();
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].name, "test");
  EXPECT_EQ((*c)[0].bytes, 12u);
}

TEST(Catalog, UnreadableOverrideNamesTheFile) {
  ScopedEnv env("THOTH_MODEL_CATALOG", "/nonexistent/catalog.tsv");
  auto c = catalog();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("/nonexistent/catalog.tsv"), std::string::npos);
}

TEST(Catalog, MalformedLinesAreRejectedWithTheirLocation) {
  const std::string sha(64, 'b');
  struct Case {
    std::string text, expect;
  } cases[] = {
      {"a\tb.bin\t12\n", "x.tsv:1: expected 4"},
      {"name\tfile\tbytes\tsha256\na\tb.bin\t-1\t" + sha + "\n", "x.tsv:2: bytes '-1'"},
      {"a\tb.bin\t12x\t" + sha + "\n", "bytes '12x'"},
      {"a\tb.bin\t0\t" + sha + "\n", "bytes '0'"},
      {"a\tb.bin\t12\tABC\n", "sha256 'ABC'"},
      {"a\tb.bin\t12\t" + std::string(64, 'G') + "\n", "sha256"},
      {"a\t../evil.bin\t12\t" + sha + "\n", "plain file name"},
      {"a\tb.bin\t12\t" + sha + "\na\tc.bin\t12\t" + sha + "\n", "x.tsv:2: duplicate model 'a'"},
      {"# only a comment\n", "no models"},
  };
  for (const auto& c : cases) {
    auto r = parse_catalog(c.text, "x.tsv");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().find(c.expect), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace thoth::models
