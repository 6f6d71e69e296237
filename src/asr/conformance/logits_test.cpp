// Logits conformance: the whole network (mel, encoder, cross-attention, decoder) against the
// reference's logits for every golden case: same arg-max, max |diff| within the README's
// tolerance (0.05 for f32/f16, 0.5 for quantized models), and the reference's top five.
// The logits oracle ran without flash attention, so these runs do too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "asr/golden_cases.h"
#include "asr/mel.h"
#include "asr/model_file.h"
#include "asr/network.h"
#include "asr/thread_pool.h"

namespace thoth::asr {
namespace {

struct LogitsRun {
  std::vector<float> logits;
  std::vector<float> encoder;
};

LogitsRun run_case(const test::GoldenCase& c, ThreadPool& pool, bool flash = false) {
  auto model = ModelFile::open(thoth::test::shared_file("models/" + c.model + ".bin").string());
  EXPECT_TRUE(model) << model.error();
  if (!model) return {};
  const auto oracle = test::read_json(c.dir / "oracle.json");
  const auto audio = test::read_wav_16k_mono(thoth::test::shared_file("speech/" + c.audio + ".wav"));
  const MelSpectrogram mel = compute_mel(audio.data(), static_cast<int64_t>(audio.size()), (*model)->mel_filters(), pool);
  WhisperNetwork net(*model, 1, pool, flash);
  net.encode(mel, 0);
  const auto prompt = oracle["prompt"].get<std::vector<int32_t>>();
  LogitsRun run;
  run.logits.resize(net.n_vocab());
  const DecodeItem item{0, prompt.data(), static_cast<int>(prompt.size()), 0, run.logits.data()};
  net.decode(std::span<const DecodeItem>(&item, 1));
  const auto& hp = (*model)->hparams();
  run.encoder.assign(net.encoder_output(), net.encoder_output() + static_cast<size_t>(hp.n_audio_ctx) * hp.n_audio_state);
  return run;
}

TEST(ConformanceLogitsTest, EveryGoldenCaseMatchesTheReference) {
  const auto cases = test::golden_cases_with("logits.f32");
  ASSERT_GE(cases.size(), 8u);
  ThreadPool pool(2);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto oracle = test::read_json(c.dir / "oracle.json");
    const auto golden = test::read_f32(c.dir / "logits.f32");
    ASSERT_EQ(static_cast<int>(golden.size()), oracle["n_vocab"].get<int>());
    const LogitsRun run = run_case(c, pool);
    ASSERT_EQ(run.logits.size(), golden.size());
    double max_diff = 0, sum_diff = 0;
    for (size_t i = 0; i < golden.size(); ++i) {
      const double d = std::fabs(static_cast<double>(run.logits[i]) - golden[i]);
      max_diff = std::max(max_diff, d);
      sum_diff += d;
    }
    const auto argmax = [](const std::vector<float>& v) {
      return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
    };
    const bool quantized = c.model.find("-q") != std::string::npos;
    const double tolerance = quantized ? 0.5 : 0.05;
    std::printf("logits %-20s max |diff| %.3e  mean %.3e  (tolerance %.2f)\n", c.name.c_str(), max_diff,
                sum_diff / golden.size(), tolerance);
    EXPECT_EQ(argmax(run.logits), argmax(golden));
    EXPECT_LE(max_diff, tolerance);
    // The reference's five best tokens, in order, with their logits.
    std::vector<int> order(run.logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](int a, int b) { return run.logits[a] > run.logits[b]; });
    const auto top5 = oracle["top5"];
    for (int k = 0; k < 5; ++k) {
      EXPECT_EQ(order[k], top5[k][0].get<int>()) << "rank " << k;
      EXPECT_NEAR(run.logits[top5[k][0].get<int>()], top5[k][1].get<double>(), tolerance) << "rank " << k;
    }
  }
}

// The transcripts come from whisper-cli, which runs flash attention: its path is checked
// through the reference's first-token probabilities. After [sot] the greedy run emitted one
// token and the beam run another, each with its probability from the same distribution, so
// their log ratio is the difference of those two logits in the reference's flash run.
TEST(ConformanceLogitsTest, FlashAttentionMatchesTranscriptFirstTokenOdds) {
  for (const std::string name : {"mini.en-f32-jfk", "mini.en-f16-jfk"}) {
    SCOPED_TRACE(name);
    const auto dir = thoth::test::shared_root() / "golden" / name;
    const auto greedy = test::read_json(dir / "greedy.json")["transcription"][0]["tokens"][0];
    const auto beam = test::read_json(dir / "beam5.json")["transcription"][0]["tokens"][0];
    const int a = greedy["id"].get<int>(), b = beam["id"].get<int>();
    ASSERT_NE(a, b);
    const double ref_gap = std::log(greedy["p"].get<double>() / beam["p"].get<double>());

    auto model = ModelFile::open(thoth::test::shared_file("models/" + name.substr(0, name.rfind('-')) + ".bin").string());
    ASSERT_TRUE(model);
    ThreadPool pool(2);
    const auto audio = test::read_wav_16k_mono(thoth::test::shared_file("speech/jfk.wav"));
    const MelSpectrogram mel = compute_mel(audio.data(), static_cast<int64_t>(audio.size()), (*model)->mel_filters(), pool);
    std::vector<float> gaps;
    for (bool flash : {true, false}) {
      WhisperNetwork net(*model, 1, pool, flash);
      net.encode(mel, 0);
      const int32_t sot = (*model)->special().sot;
      std::vector<float> logits(net.n_vocab());
      const DecodeItem item{0, &sot, 1, 0, logits.data()};
      net.decode(std::span<const DecodeItem>(&item, 1));
      gaps.push_back(logits[a] - logits[b]);
    }
    std::printf("first-token log odds %s: reference %.4f, flash %.4f, plain %.4f\n", name.c_str(), ref_gap, gaps[0],
                gaps[1]);
    EXPECT_NEAR(gaps[0], ref_gap, 0.01);
    EXPECT_GT(gaps[0] * ref_gap, 0.0);  // the same token wins, so greedy picks what the reference picked
  }
}

// The thread count changes how work is split, never the numbers.
TEST(ConformanceLogitsTest, ThreadCountDoesNotChangeLogits) {
  const auto cases = test::golden_cases_with("logits.f32");
  ASSERT_FALSE(cases.empty());
  const auto& c = *std::find_if(cases.begin(), cases.end(), [](const auto& g) { return g.name == "mini.en-q8_0-jfk"; });
  ThreadPool one(1), three(3);
  for (bool flash : {false, true}) {
    const LogitsRun a = run_case(c, one, flash), b = run_case(c, three, flash);
    EXPECT_EQ(a.encoder, b.encoder);
    EXPECT_EQ(a.logits, b.logits);
  }
}

}  // namespace
}  // namespace thoth::asr
