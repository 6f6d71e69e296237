// The hands-free listener's decisions on real speech (espeak-ng through sox) and the real
// Silero VAD: the positions it asks the service to record from, and when it stops.
#include "input/hands_free.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "audio/audio_file.h"
#include "support/shared_data.h"

namespace thoth::input {
namespace {

using Outcome = HandsFreeTarget::StartOutcome;

std::shared_ptr<const asr::VadModel> model() {
  static const std::shared_ptr<const asr::VadModel> m = [] {
    auto r = asr::VadModel::load(thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string());
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : nullptr;
  }();
  return m;
}

// Records what the listener asks for. `refuse`/`retry` script the service's answers.
struct Target final : HandsFreeTarget {
  std::mutex mutex;
  std::vector<int64_t> starts;      // from_position of each accepted start
  std::vector<int64_t> stops;       // stream position fed when each stop came
  std::vector<int64_t> stop_until;  // ...and the position each recording is to end at
  int start_calls = 0;
  int retry_first = 0;              // answer kRetry to this many calls
  bool refuse = false;
  bool is_recording = false;
  int64_t fed = 0;                  // set by the feeder

  Outcome start(int64_t from) override {
    std::lock_guard lock(mutex);
    ++start_calls;
    if (refuse) return Outcome::kRefused;
    if (retry_first > 0) {
      --retry_first;
      return Outcome::kRetry;
    }
    starts.push_back(from);
    is_recording = true;
    return Outcome::kStarted;
  }
  void stop(int64_t until_position) override {
    std::lock_guard lock(mutex);
    stops.push_back(fed);
    stop_until.push_back(until_position);
    is_recording = false;
  }
  bool recording() override {
    std::lock_guard lock(mutex);
    return is_recording;
  }
};

void run(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }

std::vector<float> load(const std::filesystem::path& path) {
  auto pcm = audio::load_audio_16k_mono(path.string());
  EXPECT_TRUE(pcm.ok()) << pcm.error();
  return pcm.ok() ? *pcm : std::vector<float>{};
}

// First and last sample louder than -40 dBFS: where the words are.
std::pair<int64_t, int64_t> voiced_span(const std::vector<float>& pcm) {
  int64_t first = -1, last = -1;
  for (size_t i = 0; i < pcm.size(); ++i) {
    if (std::fabs(pcm[i]) > 0.01f) {
      if (first < 0) first = int64_t(i);
      last = int64_t(i);
    }
  }
  return {first, last};
}

// 1 s silence, "Please open the door.", 2 s pause, "Thank you very much.", 2 s silence.
struct TwoUtterances {
  std::vector<float> pcm;
  std::pair<int64_t, int64_t> a, b;  // voiced spans in pcm
};

TwoUtterances make_two_utterances(const thoth::test::ScratchDir& dir) {
  const auto q = [&](const char* name) {
    std::string quoted = "'";  // built up piecewise: GCC 12 warns falsely on "'" + string
    quoted += (dir / name).string();
    quoted += "'";
    return quoted;
  };
  run("espeak-ng -v en-us -s 150 -w " + q("a.wav") + " 'Please open the door.'");
  run("espeak-ng -v en-us -s 150 -w " + q("b.wav") + " 'Thank you very much.'");
  run("sox " + q("a.wav") + " -r 16000 -c 1 -b 16 " + q("a16.wav"));
  run("sox " + q("b.wav") + " -r 16000 -c 1 -b 16 " + q("b16.wav"));
  auto a = load(dir / "a16.wav");
  auto b = load(dir / "b16.wav");
  TwoUtterances t;
  t.pcm.assign(16000, 0.0f);
  const int64_t a_at = int64_t(t.pcm.size());
  t.pcm.insert(t.pcm.end(), a.begin(), a.end());
  t.pcm.insert(t.pcm.end(), 32000, 0.0f);
  const int64_t b_at = int64_t(t.pcm.size());
  t.pcm.insert(t.pcm.end(), b.begin(), b.end());
  t.pcm.insert(t.pcm.end(), 32000, 0.0f);
  auto sa = voiced_span(a), sb = voiced_span(b);
  t.a = {a_at + sa.first, a_at + sa.second};
  t.b = {b_at + sb.first, b_at + sb.second};
  return t;
}

// Feeds `pcm` through the ring 20 ms at a time, as the capture writer does, draining after
// each block on this thread (deterministic; the thread is exercised separately).
void feed(HandsFreeListener& listener, audio::RingBuffer& ring, Target& target, const std::vector<float>& pcm) {
  for (size_t at = 0; at < pcm.size(); at += 320) {
    const size_t n = std::min<size_t>(320, pcm.size() - at);
    ASSERT_EQ(ring.write(pcm.data() + at, n), n);
    {
      std::lock_guard lock(target.mutex);
      target.fed += int64_t(n);
    }
    listener.drain();
  }
}

Config::HandsFree defaults() { return Config::HandsFree{}; }

TEST(HandsFreeListener, SpeechPauseSpeechGivesTwoDictationsWithPadding) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto t = make_two_utterances(dir);
  ASSERT_GT(t.a.first, 0);
  ASSERT_GT(t.b.first, 0);
  auto ring = std::make_shared<audio::RingBuffer>(1 << 16);
  Target target;
  const int64_t origin = 12345;  // positions are the stream's, not the listener's
  const auto params = endpoint_params_from_config(defaults());
  HandsFreeListener listener(model(), params, target, ring, origin);
  feed(listener, *ring, target, t.pcm);

  ASSERT_EQ(target.starts.size(), 2u);
  ASSERT_EQ(target.stops.size(), 2u);
  const int64_t pad = 300 * 16;
  // Each recording reaches back past the onset of its speech by about the padding (the VAD
  // finds an onset a few chunks after the first faint sound): at least 100 ms of it is kept.
  EXPECT_LE(target.starts[0] - origin, t.a.first - 1600);
  EXPECT_GE(target.starts[0] - origin, t.a.first - pad - 4 * 512);
  EXPECT_LE(target.starts[1] - origin, t.b.first - 1600);
  EXPECT_GE(target.starts[1] - origin, t.b.first - pad - 4 * 512);
  // Each stops after auto_stop_ms (1.2 s) of silence following its words: after the words,
  // before the next speech.
  EXPECT_GE(target.stops[0], t.a.second + 1200 * 16);
  EXPECT_LT(target.stops[0], t.b.first);
  EXPECT_GE(target.stops[1], t.b.second + 1200 * 16);
  EXPECT_LT(target.stops[1], t.b.second + 1800 * 16);
  // ...and each recording is to end where its words did, plus the padding (the VAD finds the
  // end within a few chunks of the last faint sound), not where the silence was noticed.
  ASSERT_EQ(target.stop_until.size(), 2u);
  EXPECT_GE(target.stop_until[0] - origin, t.a.second + 100 * 16);
  EXPECT_LE(target.stop_until[0] - origin, t.a.second + pad + 4 * 512);
  EXPECT_GE(target.stop_until[1] - origin, t.b.second + 100 * 16);
  EXPECT_LE(target.stop_until[1] - origin, t.b.second + pad + 4 * 512);
  const auto f = listener.figures();
  EXPECT_EQ(f.starts, 2u);
  EXPECT_EQ(f.stops, 2u);
  EXPECT_EQ(f.position, origin + int64_t(t.pcm.size()));
}

TEST(HandsFreeListener, AutoStopFollowsTheConfig) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto t = make_two_utterances(dir);
  auto ring = std::make_shared<audio::RingBuffer>(1 << 16);
  Target target;
  auto config = defaults();
  config.auto_stop_ms = 2500;  // longer than the 2 s pause: one dictation holds both
  HandsFreeListener listener(model(), endpoint_params_from_config(config), target, ring, 0);
  feed(listener, *ring, target, t.pcm);
  ASSERT_EQ(target.starts.size(), 1u);
  ASSERT_EQ(target.stops.size(), 0u) << "only 2 s of silence follow the second utterance";
}

TEST(HandsFreeListener, SilenceAndNoiseStartNothing) {
  ASSERT_TRUE(model());
  auto ring = std::make_shared<audio::RingBuffer>(1 << 16);
  Target target;
  HandsFreeListener listener(model(), endpoint_params_from_config(defaults()), target, ring, 0);
  feed(listener, *ring, target, std::vector<float>(16000 * 3, 0.0f));
  feed(listener, *ring, target, load(thoth::test::shared_file("speech/noise.wav")));
  EXPECT_EQ(target.start_calls, 0);
  EXPECT_TRUE(target.stops.empty());
}

TEST(HandsFreeListener, SpeechDuringAnotherDictationIsLeftAlone) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto t = make_two_utterances(dir);
  auto ring = std::make_shared<audio::RingBuffer>(1 << 16);
  Target target;
  target.refuse = true;  // a hotkey dictation runs throughout
  HandsFreeListener listener(model(), endpoint_params_from_config(defaults()), target, ring, 0);
  feed(listener, *ring, target, t.pcm);
  EXPECT_EQ(target.start_calls, 2) << "asked once per utterance, not once per chunk";
  EXPECT_TRUE(target.starts.empty());
  EXPECT_TRUE(target.stops.empty()) << "never stops a dictation it did not start";
  EXPECT_EQ(listener.figures().ignored, 2u);
}

TEST(HandsFreeListener, RetriedStartKeepsTheOnset) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto t = make_two_utterances(dir);
  auto ring = std::make_shared<audio::RingBuffer>(1 << 16);
  Target target;
  target.retry_first = 10;  // the previous dictation is still transcribing for ~200 ms
  HandsFreeListener listener(model(), endpoint_params_from_config(defaults()), target, ring, 0);
  feed(listener, *ring, target, t.pcm);
  ASSERT_EQ(target.starts.size(), 2u);
  EXPECT_LE(target.starts[0], t.a.first - 1600) << "the retried start still reaches back before the onset";
  EXPECT_EQ(target.stops.size(), 2u);
}

TEST(HandsFreeListener, SpeechWaitingForItsStartIsNeverLost) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto t = make_two_utterances(dir);
  auto ring = std::make_shared<audio::RingBuffer>(1 << 16);
  Target target;
  // The previous dictation takes ~6 s to transcribe: both utterances come and go meanwhile.
  target.retry_first = 300;
  HandsFreeListener listener(model(), endpoint_params_from_config(defaults()), target, ring, 0);
  feed(listener, *ring, target, t.pcm);
  // One dictation from before the first onset holds both; it is stopped as soon as started.
  ASSERT_EQ(target.starts.size(), 1u);
  EXPECT_LE(target.starts[0], t.a.first - 1600);
  ASSERT_EQ(target.stops.size(), 1u);
  EXPECT_GT(target.stops[0], t.b.second);
  // Its recording ends with the second utterance, not the first.
  ASSERT_EQ(target.stop_until.size(), 1u);
  EXPECT_GE(target.stop_until[0], t.b.second + 100 * 16);
  EXPECT_LE(target.stop_until[0], t.b.second + 300 * 16 + 4 * 512);
}

TEST(HandsFreeListener, StoppedBySomeoneElseIsNotStoppedAgain) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto t = make_two_utterances(dir);
  auto ring = std::make_shared<audio::RingBuffer>(1 << 16);
  Target target;
  HandsFreeListener listener(model(), endpoint_params_from_config(defaults()), target, ring, 0);
  // The first utterance starts a dictation; the user stops it by hand mid-sentence.
  const size_t mid = size_t(t.a.first + 8000);
  feed(listener, *ring, target, {t.pcm.begin(), t.pcm.begin() + std::ptrdiff_t(mid)});
  ASSERT_EQ(target.starts.size(), 1u);
  {
    std::lock_guard lock(target.mutex);
    target.is_recording = false;
  }
  feed(listener, *ring, target, {t.pcm.begin() + std::ptrdiff_t(mid), t.pcm.end()});
  // The rest of that sentence starts nothing; the next utterance starts and ends its own.
  ASSERT_EQ(target.starts.size(), 2u);
  EXPECT_GT(target.starts[1], t.a.second);
  EXPECT_EQ(target.stops.size(), 1u);
  EXPECT_GT(target.stops[0], t.b.second);
}

TEST(HandsFreeListener, ThreadListensAndJoins) {
  ASSERT_TRUE(model());
  thoth::test::ScratchDir dir;
  const auto t = make_two_utterances(dir);
  auto ring = std::make_shared<audio::RingBuffer>(1 << 18);
  Target target;
  HandsFreeListener listener(model(), endpoint_params_from_config(defaults()), target, ring, 0);
  listener.start();
  // Faster than real time, as a writer catching up would; the ring holds 16 s.
  for (size_t at = 0; at < t.pcm.size(); at += 1600) {
    const size_t n = std::min<size_t>(1600, t.pcm.size() - at);
    while (ring->capacity() - ring->available() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(ring->write(t.pcm.data() + at, n), n);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (listener.figures().position < int64_t(t.pcm.size()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  listener.stop();
  EXPECT_EQ(listener.figures().position, int64_t(t.pcm.size()));
  EXPECT_EQ(target.starts.size(), 2u);
  EXPECT_EQ(target.stops.size(), 2u);
  listener.stop();  // idempotent
}

}  // namespace
}  // namespace thoth::input
