// Hands-free endpointing: scripted probabilities for the rules, real speech for the whole.
#include "asr/vad_endpoint.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "asr/vad_test_util.h"
#include "support/shared_data.h"

namespace thoth::asr {
namespace {

using Kind = SpeechEndpointer::Event::Kind;
using Events = std::vector<SpeechEndpointer::Event>;

std::shared_ptr<const VadModel> model() {
  static const std::shared_ptr<const VadModel> m = [] {
    auto r = VadModel::load(thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string());
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : nullptr;
  }();
  return m;
}

// Runs scripted probabilities (one per 512-sample chunk) through the decision logic.
Events decide(int n, std::initializer_list<std::tuple<int, int, float>> runs, EndpointParams params = {},
              bool flush = false) {
  std::vector<float> p(static_cast<size_t>(n), 0.0f);
  for (const auto& [from, to, v] : runs) {
    for (int i = from; i < to; ++i) p[static_cast<size_t>(i)] = v;
  }
  SpeechEndpointer ep(model(), params);
  Events events;
  for (float v : p) ep.feed_probability(v, events);
  if (flush) ep.flush(events);
  return events;
}

std::string show(const Events& events) {
  std::string s;
  for (const auto& e : events) {
    s.append(e.kind == Kind::kStart ? "start@" : "end@").append(std::to_string(e.sample)).append(" ");
  }
  return s;
}

TEST(SpeechEndpointer, SilenceStartsNothing) { EXPECT_TRUE(decide(200, {}).empty()); }

TEST(SpeechEndpointer, StartWithPaddingEndAfterSilence) {
  // Speech in chunks [10, 40): confirmed after 250 ms (chunk 17), reported from chunk 10 minus
  // 300 ms; ended once 1.2 s of silence followed (chunk 77), 100 ms after the last speech.
  const Events e = decide(200, {{10, 40, 0.9f}});
  ASSERT_EQ(e.size(), 2u) << show(e);
  EXPECT_EQ(e[0].kind, Kind::kStart);
  EXPECT_EQ(e[0].sample, 10 * 512 - 4800);
  EXPECT_EQ(e[1].kind, Kind::kEnd);
  EXPECT_EQ(e[1].sample, 40 * 512 + 1600);
}

TEST(SpeechEndpointer, BlipsAndPauses) {
  EXPECT_TRUE(decide(200, {{10, 15, 0.9f}}).empty()) << "160 ms is a click, not speech";
  // A 960 ms pause does not end the dictation; the silence after it does.
  const Events e = decide(200, {{10, 40, 0.9f}, {70, 100, 0.9f}});
  ASSERT_EQ(e.size(), 2u) << show(e);
  EXPECT_EQ(e[1].sample, 100 * 512 + 1600);
  // With a shorter end silence the same pause splits it in two.
  EndpointParams quick;
  quick.end_silence_ms = 500;
  EXPECT_EQ(decide(200, {{10, 40, 0.9f}, {70, 100, 0.9f}}, quick).size(), 4u);
  // Unsure chunks (between the thresholds) neither end speech nor count as silence.
  EXPECT_EQ(decide(120, {{10, 40, 0.9f}, {40, 120, 0.4f}}).size(), 1u);
}

TEST(SpeechEndpointer, FlushClosesOpenSpeech) {
  const Events e = decide(100, {{50, 100, 0.9f}}, {}, true);
  ASSERT_EQ(e.size(), 2u) << show(e);
  EXPECT_EQ(e[1].kind, Kind::kEnd);
  EXPECT_EQ(e[1].sample, 100 * 512);  // clamped to what was heard
}

TEST(SpeechEndpointer, BlockSizeDoesNotMatter) {
  ASSERT_TRUE(model());
  const auto pcm = test::read_wav_16k_mono(thoth::test::shared_file("speech/jfk.wav").string());
  EndpointParams p;
  p.end_silence_ms = 300;  // jfk.wav has pauses of about a second: several dictations
  SpeechEndpointer whole(model(), p);
  Events reference;
  whole.feed(pcm.data(), pcm.size(), reference);
  whole.flush(reference);
  ASSERT_GE(reference.size(), 4u) << show(reference);
  for (size_t block : {size_t{1}, size_t{100}, size_t{777}, size_t{5000}}) {
    SpeechEndpointer ep(model(), p);
    Events got;
    for (size_t at = 0; at < pcm.size(); at += block) ep.feed(pcm.data() + at, std::min(block, pcm.size() - at), got);
    ep.flush(got);
    EXPECT_EQ(show(got), show(reference)) << "block " << block;
  }
  EXPECT_EQ(whole.position(), static_cast<int64_t>(pcm.size()));
}

TEST(SpeechEndpointer, NoiseStartsNothing) {
  ASSERT_TRUE(model());
  const auto noise = test::read_wav_16k_mono(thoth::test::shared_file("speech/noise.wav").string());
  SpeechEndpointer ep(model(), {});
  Events e;
  ep.feed(noise.data(), noise.size(), e);
  ep.flush(e);
  EXPECT_TRUE(e.empty()) << show(e);
}

void run(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }

TEST(SpeechEndpointer, SpeechPauseSpeechGivesTwoDictations) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto p = [&](const char* name) {
    std::string quoted = "'";
    return quoted.append((dir / name).string()).append("'");
  };
  run("espeak-ng -v en-us -s 150 -w " + p("a.wav") + " 'Please open the door.'");
  run("espeak-ng -v en-us -s 150 -w " + p("b.wav") + " 'Thank you very much.'");
  run("sox " + p("a.wav") + " -r 16000 -c 1 -b 16 " + p("a16.wav") + " pad 1 3");
  run("sox " + p("b.wav") + " -r 16000 -c 1 -b 16 " + p("b16.wav") + " pad 0 2");
  run("sox " + p("a16.wav") + " " + p("b16.wav") + " " + p("both.wav"));
  const auto a = test::read_wav_16k_mono((dir / "a16.wav").string());
  const auto pcm = test::read_wav_16k_mono((dir / "both.wav").string());
  const int64_t second = static_cast<int64_t>(a.size());  // b.wav starts here

  SpeechEndpointer ep(model(), {});
  Events e;
  for (size_t at = 0; at < pcm.size(); at += 160) ep.feed(pcm.data() + at, std::min<size_t>(160, pcm.size() - at), e);
  ep.flush(e);
  ASSERT_EQ(e.size(), 4u) << show(e);
  EXPECT_EQ(e[0].kind, Kind::kStart);
  EXPECT_EQ(e[1].kind, Kind::kEnd);
  EXPECT_EQ(e[2].kind, Kind::kStart);
  EXPECT_EQ(e[3].kind, Kind::kEnd);
  // First dictation: from before the first word (1 s in, less the padding) to before the pause's end.
  EXPECT_GT(e[0].sample, 16000 - 8000);
  EXPECT_LE(e[0].sample, 16000);
  EXPECT_LT(e[1].sample, second - 16000);
  // Second: starts at most a little after b.wav begins (padding keeps its first syllable).
  EXPECT_LE(e[2].sample, second + 3200);
  EXPECT_GT(e[2].sample, second - 8000);
  EXPECT_LE(e[3].sample, static_cast<int64_t>(pcm.size()));
}

}  // namespace
}  // namespace thoth::asr
