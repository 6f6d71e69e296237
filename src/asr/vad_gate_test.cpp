// VAD gating: what reaches the engine and how its times map back to the recording.
#include "asr/vad_gate.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "asr/vad_test_util.h"
#include "support/shared_data.h"

namespace thoth::asr {
namespace {

std::shared_ptr<const VadModel> model() {
  static const std::shared_ptr<const VadModel> m = [] {
    auto r = VadModel::load(thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string());
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : nullptr;
  }();
  return m;
}

std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);  // exact up to 2^24
  return v;
}

// Every gated sample inside a span is the original sample the mapping names.
void expect_exact_copy(const GatedAudio& g, const std::vector<float>& original) {
  for (const auto& s : g.spans) {
    for (int64_t k = s.gated_start; k < s.gated_start + s.length; ++k) {
      const int64_t o = g.to_original_sample(k);
      ASSERT_GE(o, 0);
      ASSERT_LT(o, static_cast<int64_t>(original.size()));
      ASSERT_EQ(g.samples[static_cast<size_t>(k)], original[static_cast<size_t>(o)]) << "gated sample " << k;
    }
  }
}

void expect_monotonic(const GatedAudio& g) {
  int64_t prev = -1;
  for (int64_t k = 0; k <= static_cast<int64_t>(g.samples.size()) + 1000; k += 7) {
    const int64_t o = g.to_original_sample(k);
    ASSERT_GE(o, prev) << "at gated sample " << k;
    ASSERT_LE(o, g.original_samples);
    prev = o;
  }
}

TEST(VadGate, NoSegmentsNoAudio) {
  const auto pcm = ramp(16000);
  const GatedAudio g = gate_audio(pcm.data(), pcm.size(), {}, VadParams{});
  EXPECT_FALSE(g.has_speech());
  EXPECT_TRUE(g.samples.empty());
  EXPECT_EQ(g.to_original_ms(500), 500);
}

TEST(VadGate, CopiesSpeechJoinsWithSilenceAndMapsBack) {
  const auto pcm = ramp(10 * 16000);
  // 1.00-2.00 s and 5.00-6.50 s; overlap 0.1 s goes after the first only.
  const GatedAudio g = gate_audio(pcm.data(), pcm.size(), {{100, 200}, {500, 650}}, VadParams{});
  ASSERT_EQ(g.spans.size(), 2u);
  EXPECT_EQ(g.spans[0].original_start, 16000);
  EXPECT_EQ(g.spans[0].length, 17600);  // 1.1 s
  EXPECT_EQ(g.spans[1].gated_start, 17600 + kGateSilenceSamples);
  EXPECT_EQ(g.spans[1].original_start, 80000);
  EXPECT_EQ(g.spans[1].length, 24000);
  EXPECT_EQ(g.samples.size(), 17600u + kGateSilenceSamples + 24000u);
  for (int k = 0; k < kGateSilenceSamples; ++k) ASSERT_EQ(g.samples[17600 + k], 0.0f);
  expect_exact_copy(g, pcm);
  expect_monotonic(g);
  // Times: the start of the second sentence in the gated audio is 5.00 s in the original.
  EXPECT_EQ(g.to_original_ms(0), 1000);
  EXPECT_EQ(g.to_original_ms((17600 + kGateSilenceSamples) / 16), 5000);
  EXPECT_EQ(g.to_original_ms((17600 + kGateSilenceSamples + 24000) / 16), 6500);
  // The joining silence stands for the pause 2.10-5.00 s.
  EXPECT_EQ(g.to_original_ms((17600 + kGateSilenceSamples / 2) / 16), 2100 + (5000 - 2100) / 2);
  // Past the end: clamped to the recording.
  EXPECT_EQ(g.to_original_ms(1000000), 10000);
}

TEST(VadGate, OverlapNeverRepeatsAudio) {
  const auto pcm = ramp(4 * 16000);
  // The next segment starts 50 ms after this one ends: the 100 ms overlap stops there.
  const GatedAudio g = gate_audio(pcm.data(), pcm.size(), {{100, 200}, {205, 300}}, VadParams{});
  ASSERT_EQ(g.spans.size(), 2u);
  EXPECT_EQ(g.spans[0].original_start + g.spans[0].length, 205 * 160);
  EXPECT_EQ(g.spans[1].original_start, 205 * 160);
  expect_exact_copy(g, pcm);
  expect_monotonic(g);
  // Segments past the audio's end are clipped.
  const GatedAudio clipped = gate_audio(pcm.data(), pcm.size(), {{350, 900}}, VadParams{});
  ASSERT_EQ(clipped.spans.size(), 1u);
  EXPECT_EQ(clipped.spans[0].original_start + clipped.spans[0].length, 4 * 16000);
}

TEST(VadGate, NoiseAndSilenceGiveNothing) {
  ASSERT_TRUE(model());
  const auto noise = test::read_wav_16k_mono(thoth::test::shared_file("speech/noise.wav").string());
  EXPECT_FALSE(gate_speech(model(), noise.data(), noise.size(), VadParams{}).has_speech());
  const std::vector<float> silence(10 * kVadSampleRate, 0.0f);
  const GatedAudio g = gate_speech(model(), silence.data(), silence.size(), VadParams{});
  EXPECT_FALSE(g.has_speech());
  EXPECT_TRUE(g.samples.empty());
}

void run(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }

TEST(VadGate, LongPausesAreCutAndTimesMapBack) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto p = [&](const char* name) {
    std::string quoted = "'";
    return quoted.append((dir / name).string()).append("'");
  };
  // Two sentences: 2 s of silence before, 4 s between, 1 s after.
  run("espeak-ng -v en-us -s 150 -w " + p("a.wav") + " 'Hello there, this is the first sentence.'");
  run("espeak-ng -v en-us -s 150 -w " + p("b.wav") + " 'And after a long pause, here is the second one.'");
  run("sox " + p("a.wav") + " -r 16000 -c 1 -b 16 " + p("a16.wav") + " pad 2 4");
  run("sox " + p("b.wav") + " -r 16000 -c 1 -b 16 " + p("b16.wav") + " pad 0 1");
  run("sox " + p("a16.wav") + " " + p("b16.wav") + " " + p("both.wav"));
  const auto a = test::read_wav_16k_mono((dir / "a16.wav").string());
  const auto pcm = test::read_wav_16k_mono((dir / "both.wav").string());
  const int64_t second_onset = static_cast<int64_t>(a.size());  // where b.wav begins

  const GatedAudio g = gate_speech(model(), pcm.data(), pcm.size(), VadParams{});
  ASSERT_TRUE(g.has_speech());
  ASSERT_GE(g.spans.size(), 2u);
  // The engine sees far less than the recording: the 2 s lead and most of the 4 s pause are gone.
  EXPECT_LT(static_cast<double>(g.samples.size()), static_cast<double>(pcm.size()) - 5.0 * kVadSampleRate);
  expect_exact_copy(g, pcm);
  expect_monotonic(g);

  // Speech starts about 2 s in (espeak adds a little silence of its own).
  EXPECT_GT(g.to_original_ms(0), 1800);
  EXPECT_LT(g.to_original_ms(0), 2400);
  // A span starts where the second sentence does, and maps back there.
  bool found = false;
  for (const auto& s : g.spans) {
    if (std::llabs(s.original_start - second_onset) < kVadSampleRate / 2) {
      found = true;
      EXPECT_EQ(g.to_original_sample(s.gated_start), s.original_start);
    }
  }
  EXPECT_TRUE(found) << "no span near the second sentence at " << second_onset;
  // No span inside the long pause.
  for (const auto& s : g.spans) {
    const int64_t pause_from = second_onset - 4 * kVadSampleRate + kVadSampleRate / 2;
    const int64_t pause_to = second_onset - kVadSampleRate / 2;
    EXPECT_FALSE(s.original_start > pause_from && s.original_start < pause_to) << "span at " << s.original_start;
  }
}

}  // namespace
}  // namespace thoth::asr
