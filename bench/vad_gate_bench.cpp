// What VAD gating saves the engine, against the same engine ungated in the same process:
//  - a dictation with a long pause (jfk.wav, 25 s of silence, jfk.wav: 47 s, two 30 s windows
//    ungated, one gated): the engine's front end (mel + encode) gated / ungated, and the VAD's
//    own cost;
//  - noise.wav (5 s): the whole call gated (VAD only, the engine is not run) / ungated.
// Decode time is printed but not compared: the shared model has random weights, so how many
// tokens it emits (and so the decode time) has nothing to do with the audio.
#include <benchmark/benchmark.h>
#include <sndfile.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "asr/vad_gate.h"
#include "support/shared_data.h"

namespace {

using namespace thoth::asr;

std::vector<float> read_wav(const std::string& path) {
  SF_INFO info{};
  SNDFILE* s = sf_open(path.c_str(), SFM_READ, &info);
  std::vector<float> pcm;
  if (!s || info.samplerate != kVadSampleRate || info.channels != 1) {
    if (s) sf_close(s);
    return pcm;
  }
  pcm.resize(static_cast<size_t>(info.frames));
  pcm.resize(static_cast<size_t>(sf_readf_float(s, pcm.data(), info.frames)));
  sf_close(s);
  return pcm;
}

struct Fixture {
  std::shared_ptr<const Model> whisper;
  std::shared_ptr<const VadModel> vad;
  std::vector<float> paused, noise;
  std::string error;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture f;
    const auto root = thoth::test::shared_root();
    auto w = Model::load((root / "models/mini.en-f16.bin").string());
    auto v = VadModel::load((root / "models/silero-v6.2.0-ggml.bin").string());
    if (!w || !v) {
      f.error = !w ? w.error() : v.error();
      return f;
    }
    f.whisper = *w;
    f.vad = *v;
    const auto jfk = read_wav((root / "speech/jfk.wav").string());
    f.noise = read_wav((root / "speech/noise.wav").string());
    if (jfk.empty() || f.noise.empty()) {
      f.error = "cannot read speech/jfk.wav or speech/noise.wav as 16 kHz mono";
      return f;
    }
    f.paused = jfk;
    f.paused.insert(f.paused.end(), 25 * kVadSampleRate, 0.0f);
    f.paused.insert(f.paused.end(), jfk.begin(), jfk.end());
    return f;
  }();
  return f;
}

std::map<std::string, std::map<std::string, double>>& figures() {
  static std::map<std::string, std::map<std::string, double>> m;
  return m;
}

void BM_Transcribe(benchmark::State& state, bool noise, bool gated) {
  const Fixture& f = fixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const std::vector<float>& pcm = noise ? f.noise : f.paused;
  TranscribeOptions o;
  o.beam_size = 1;
  o.temperature_fallback = false;
  o.n_threads = 2;
  GatedTranscript last;
  for (auto _ : state) {
    Session session(f.whisper);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = transcribe_gated(session, gated ? f.vad : nullptr, VadParams{}, pcm.data(), pcm.size(), o);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (!r) {
      state.SkipWithError(r.error().c_str());
      return;
    }
    last = std::move(*r);
  }
  auto& fig = figures()[std::string(noise ? "noise" : "paused") + (gated ? "/gated" : "/ungated")];
  fig["audio_s"] = double(pcm.size()) / kVadSampleRate;
  fig["engine_s"] = double(last.engine_samples) / kVadSampleRate;
  fig["vad_ms"] = last.vad_ms;
  fig["front_end_ms"] = last.transcript.timings.mel_ms + last.transcript.timings.encode_ms;
  fig["decode_ms"] = last.transcript.timings.decode_ms;
  for (const auto& [k, v] : fig) state.counters[k] = v;
}

}  // namespace

int main(int argc, char** argv) {
  for (bool noise : {false, true})
    for (bool gated : {false, true})
      benchmark::RegisterBenchmark(
          (std::string("transcribe/") + (noise ? "noise-5s" : "jfk-pause25s-jfk") + (gated ? "/gated" : "/ungated"))
              .c_str(),
          BM_Transcribe, noise, gated)
          ->UseManualTime()
          ->Iterations(2)
          ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  auto& f = figures();
  if (f.count("paused/gated") && f.count("paused/ungated")) {
    const auto& g = f["paused/gated"];
    const auto& u = f["paused/ungated"];
    std::printf("pause: engine heard %.1f of %.1f s; mel+encode gated/ungated = %.2f (%.0f vs %.0f ms); VAD %.0f ms\n",
                g.at("engine_s"), g.at("audio_s"), g.at("front_end_ms") / u.at("front_end_ms"), g.at("front_end_ms"),
                u.at("front_end_ms"), g.at("vad_ms"));
  }
  if (f.count("noise/gated") && f.count("noise/ungated"))
    std::printf("noise: engine not run gated; VAD %.0f ms vs ungated mel+encode+decode %.0f ms\n",
                f["noise/gated"].at("vad_ms"),
                f["noise/ungated"].at("front_end_ms") + f["noise/ungated"].at("decode_ms"));
  benchmark::Shutdown();
  return 0;
}
