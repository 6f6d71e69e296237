// VAD gating: what reaches the engine and how its times map back to the recording.
#include "asr/vad_gate.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

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

// ---- transcribe_gated: the real engine (random-weight mini model) behind the VAD ----

std::shared_ptr<const Model> whisper() {
  static const std::shared_ptr<const Model> m = [] {
    auto r = Model::load(thoth::test::shared_file("models/mini.en-f16.bin").string());
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : nullptr;
  }();
  return m;
}

TranscribeOptions quick() {
  TranscribeOptions o;
  o.beam_size = 1;
  o.temperature_fallback = false;
  o.n_threads = 2;
  return o;
}

// The real engine, counting its calls and keeping what it was given and what it returned.
struct RecordingEngine {
  Session session{whisper()};
  int calls = 0;
  std::vector<float> heard;
  Transcript returned;
  TranscribeFn fn() {
    return [this](const float* pcm, size_t n) {
      ++calls;
      heard.assign(pcm, pcm + n);
      auto t = session.transcribe(pcm, n, quick());
      if (t) returned = *t;
      return t;
    };
  }
};

TEST(TranscribeGated, NoiseGivesNoTextAndNeverRunsTheEngine) {
  ASSERT_TRUE(model());
  ASSERT_TRUE(whisper());
  const auto noise = test::read_wav_16k_mono(thoth::test::shared_file("speech/noise.wav").string());
  RecordingEngine engine;
  auto r = transcribe_gated(model(), VadParams{}, noise.data(), noise.size(), engine.fn());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->gated);
  EXPECT_TRUE(r->no_speech);
  EXPECT_TRUE(r->speech.empty());
  EXPECT_EQ(r->engine_samples, 0);
  EXPECT_TRUE(r->transcript.segments.empty());
  EXPECT_EQ(r->transcript.text(), "");
  EXPECT_EQ(engine.calls, 0);

  // Ungated, the same noise does reach the engine (which is why the gate exists).
  auto ungated = transcribe_gated(nullptr, VadParams{}, noise.data(), noise.size(), engine.fn());
  ASSERT_TRUE(ungated.ok()) << ungated.error();
  EXPECT_FALSE(ungated->gated);
  EXPECT_FALSE(ungated->no_speech);
  EXPECT_EQ(engine.calls, 1);
  EXPECT_EQ(engine.heard.size(), noise.size());
}

TEST(TranscribeGated, SilenceGivesNoTextThroughTheSession) {
  ASSERT_TRUE(model());
  ASSERT_TRUE(whisper());
  thoth::test::ScratchDir dir;
  const std::string wav = (dir / "silence.wav").string();
  run("sox -n -r 16000 -c 1 -b 16 '" + wav + "' trim 0 5");
  const auto silence = test::read_wav_16k_mono(wav);
  ASSERT_EQ(silence.size(), 5u * kVadSampleRate);
  Session session(whisper());
  auto r = transcribe_gated(session, model(), VadParams{}, silence.data(), silence.size(), quick());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->no_speech);
  EXPECT_TRUE(r->transcript.segments.empty());
  EXPECT_EQ(r->transcript.language, "en");
  EXPECT_EQ(r->transcript.timings.encode_ms, 0);  // the engine never ran
}

TEST(TranscribeGated, CancelStopsBeforeTheEngine) {
  ASSERT_TRUE(model());
  const auto speech = test::read_wav_16k_mono(thoth::test::shared_file("speech/jfk.wav").string());
  int calls = 0;
  const TranscribeFn engine = [&](const float*, size_t) -> Result<Transcript> {
    ++calls;
    return Transcript{};
  };
  std::atomic<bool> cancel{true};
  auto r = transcribe_gated(model(), VadParams{}, speech.data(), speech.size(), engine, &cancel);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->transcript.cancelled);
  EXPECT_FALSE(r->no_speech);
  EXPECT_EQ(calls, 0);
  // Not cancelled, the same call finds the speech (the same segments as gate_speech) and runs it.
  cancel = false;
  r = transcribe_gated(model(), VadParams{}, speech.data(), speech.size(), engine, &cancel);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->transcript.cancelled);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r->speech, vad_detect_speech(model(), speech.data(), speech.size(), VadParams{}));
  EXPECT_FALSE(r->speech.empty());
}

TEST(TranscribeGated, BadParamsAreAnError) {
  ASSERT_TRUE(model());
  const std::vector<float> pcm(16000, 0.0f);
  VadParams p;
  p.threshold = 1.5f;
  int calls = 0;
  auto r = transcribe_gated(model(), p, pcm.data(), pcm.size(), [&](const float*, size_t) -> Result<Transcript> {
    ++calls;
    return Transcript{};
  });
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(calls, 0);
}

// Speech, 8 s of silence, speech: the engine hears both sentences without the pause, and its
// times come back in the recording's time.
TEST(TranscribeGated, LongPauseIsCutAndTimesAreOriginal) {
  ASSERT_TRUE(model());
  ASSERT_TRUE(whisper());
  thoth::test::ScratchDir dir;
  const auto p = [&](const char* name) {
    std::string quoted = "'";  // appended, not operator+: GCC 12 warns falsely (-Wrestrict) on that
    return quoted.append((dir / name).string()).append("'");
  };
  run("espeak-ng -v en-us -s 150 -w " + p("a.wav") + " 'The quick brown fox jumps over the lazy dog.'");
  run("espeak-ng -v en-us -s 150 -w " + p("b.wav") + " 'Tomorrow we will climb the highest mountain.'");
  run("sox " + p("a.wav") + " -r 16000 -c 1 -b 16 " + p("a16.wav") + " pad 0 8");
  run("sox " + p("b.wav") + " -r 16000 -c 1 -b 16 " + p("b16.wav"));
  run("sox " + p("a16.wav") + " " + p("b16.wav") + " " + p("both.wav"));
  const auto a = test::read_wav_16k_mono((dir / "a16.wav").string());
  const auto pcm = test::read_wav_16k_mono((dir / "both.wav").string());
  const int64_t second_onset_ms = static_cast<int64_t>(a.size()) * 1000 / kVadSampleRate;
  const int64_t pause_start_ms = second_onset_ms - 8000;

  RecordingEngine engine;
  auto r = transcribe_gated(model(), VadParams{}, pcm.data(), pcm.size(), engine.fn());
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_FALSE(r->no_speech);
  EXPECT_EQ(engine.calls, 1);
  // Both sentences were found and the engine got them with the pause (nearly all) cut.
  ASSERT_GE(r->speech.size(), 2u);
  EXPECT_LT(r->speech.front().end_ms(), pause_start_ms + 500);
  EXPECT_GT(r->speech.back().start_ms(), second_onset_ms - 500);
  EXPECT_EQ(r->engine_samples, static_cast<int64_t>(engine.heard.size()));
  EXPECT_LT(static_cast<double>(engine.heard.size()), static_cast<double>(pcm.size()) - 7.0 * kVadSampleRate);

  // What the engine heard is exactly the gated audio, and the transcript is the engine's own
  // with every time mapped back through the gate: nothing else changed.
  const GatedAudio g = gate_speech(model(), pcm.data(), pcm.size(), VadParams{});
  ASSERT_EQ(engine.heard, g.samples);
  const Transcript& raw = engine.returned;
  const Transcript& got = r->transcript;
  ASSERT_FALSE(raw.segments.empty());
  EXPECT_FALSE(got.text().empty());
  EXPECT_EQ(got.text(), raw.text());
  ASSERT_EQ(got.segments.size(), raw.segments.size());
  for (size_t i = 0; i < got.segments.size(); ++i) {
    const auto& gs = got.segments[i];
    const auto& rs = raw.segments[i];
    EXPECT_EQ(gs.start_ms, g.to_original_ms(rs.start_ms));
    EXPECT_EQ(gs.end_ms, g.to_original_ms(rs.end_ms));
    EXPECT_GE(gs.end_ms, gs.start_ms);
    ASSERT_EQ(gs.tokens.size(), rs.tokens.size());
    for (size_t k = 0; k < gs.tokens.size(); ++k) {
      EXPECT_EQ(gs.tokens[k].text, rs.tokens[k].text);
      EXPECT_EQ(gs.tokens[k].start_ms, g.to_original_ms(rs.tokens[k].start_ms));
      EXPECT_EQ(gs.tokens[k].end_ms, g.to_original_ms(rs.tokens[k].end_ms));
    }
  }
  // The engine's times run over the whole gated audio; in the original, the transcript's end
  // lies past the pause, in the second sentence, and nothing starts before the first.
  EXPECT_GT(raw.segments.back().end_ms, g.spans.front().length * 1000 / kVadSampleRate + 100);
  EXPECT_GE(got.segments.back().end_ms, second_onset_ms);
  EXPECT_LE(got.segments.back().end_ms, static_cast<int64_t>(pcm.size()) * 1000 / kVadSampleRate);
  EXPECT_GE(got.segments.front().start_ms, r->speech.front().start_ms());
}

}  // namespace
}  // namespace thoth::asr
