#include "asr/mel.h"

#include <gtest/gtest.h>

#include <cmath>

#include "asr/golden_cases.h"
#include "asr/model_file.h"
#include "asr/thread_pool.h"

namespace thoth::asr {
namespace {

using test::golden_cases_with;

// Every golden case's mel: the reference's padding, frame counts and values.
TEST(MelTest, MatchesReferenceOnEveryGoldenCase) {
  const auto cases = golden_cases_with("mel.f32");
  ASSERT_GE(cases.size(), 8u);
  ThreadPool pool(2);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto model = ModelFile::open(thoth::test::shared_file("models/" + c.model + ".bin").string());
    ASSERT_TRUE(model) << model.error();
    const auto oracle = test::read_json(c.dir / "oracle.json");
    const auto audio = test::read_wav_16k_mono(thoth::test::shared_file("speech/" + c.audio + ".wav"));
    ASSERT_EQ(static_cast<int64_t>(audio.size()), oracle["n_samples"].get<int64_t>());
    const MelSpectrogram mel = compute_mel(audio.data(), static_cast<int64_t>(audio.size()), (*model)->mel_filters(), pool);
    ASSERT_EQ(mel.n_mel, oracle["n_mel"].get<int>());
    ASSERT_EQ(mel.n_len, oracle["n_len"].get<int>());
    ASSERT_EQ(mel.n_len_org, oracle["n_len_org"].get<int>());
    const auto golden = test::read_f32(c.dir / "mel.f32");
    ASSERT_EQ(golden.size(), mel.data.size());
    double max_diff = 0, max_diff_all = 0;
    for (int j = 0; j < mel.n_mel; ++j) {
      for (int i = 0; i < mel.n_len; ++i) {
        const size_t k = static_cast<size_t>(j) * mel.n_len + i;
        const double d = std::fabs(static_cast<double>(mel.data[k]) - golden[k]);
        if (i < mel.n_len_org) max_diff = std::max(max_diff, d);
        max_diff_all = std::max(max_diff_all, d);
      }
    }
    std::printf("mel %-20s max |diff| %.3g over audio frames, %.3g over all\n", c.name.c_str(), max_diff, max_diff_all);
    EXPECT_LE(max_diff, 2e-3);
  }
}

TEST(MelTest, ThreadCountDoesNotChangeTheResult) {
  auto model = ModelFile::open(thoth::test::shared_file("models/mini.en-f16.bin").string());
  ASSERT_TRUE(model);
  std::vector<float> audio(16000 * 3);
  for (size_t i = 0; i < audio.size(); ++i) audio[i] = 0.3f * std::sin(0.05f * static_cast<float>(i));
  ThreadPool one(1), three(3);
  const auto a = compute_mel(audio.data(), static_cast<int64_t>(audio.size()), (*model)->mel_filters(), one);
  const auto b = compute_mel(audio.data(), static_cast<int64_t>(audio.size()), (*model)->mel_filters(), three);
  EXPECT_EQ(a.data, b.data);
}

TEST(MelTest, ShortAndEmptyAudio) {
  auto model = ModelFile::open(thoth::test::shared_file("models/mini.en-f16.bin").string());
  ASSERT_TRUE(model);
  ThreadPool pool(2);
  const auto empty = compute_mel(nullptr, 0, (*model)->mel_filters(), pool);
  EXPECT_EQ(empty.n_len, 3000);
  EXPECT_EQ(empty.n_len_org, 0);
  for (float v : empty.data) EXPECT_TRUE(std::isfinite(v));
  std::vector<float> tiny(1600, 0.1f);  // 0.1 s
  const auto short_mel = compute_mel(tiny.data(), 1600, (*model)->mel_filters(), pool);
  EXPECT_EQ(short_mel.n_len, (1600 + 480000) / 160);
  EXPECT_EQ(short_mel.n_len_org, 1 + (1600 + 200 - 400) / 160);
  for (float v : short_mel.data) EXPECT_TRUE(std::isfinite(v));
  std::vector<float> few(37, 0.5f);  // shorter than the reflective pad
  const auto few_mel = compute_mel(few.data(), 37, (*model)->mel_filters(), pool);
  for (float v : few_mel.data) EXPECT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace thoth::asr
