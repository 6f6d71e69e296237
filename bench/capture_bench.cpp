// Capture start latency: from Capture::start() being called to the first captured sample
// arriving in the audio callback. Runs against its own PulseAudio server with two inputs:
// a clocked null source (behaves like a microphone) and the monitor of a null sink (what
// the end-to-end tests record from), idle and while something plays into it.
#include <benchmark/benchmark.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "audio/capture.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"

namespace {

using thoth::test::PulseServer;

PulseServer* server() {
  static std::unique_ptr<PulseServer> s = [] {
    std::string error;
    auto p = PulseServer::start(&error);
    if (!p) {
      std::fprintf(stderr, "capture_bench: %s\n", error.c_str());
      std::exit(1);
    }
    // A microphone-like input: a clocked source whose latency follows what the client asks.
    if (std::system("pactl load-module module-null-source source_name=mic rate=48000 channels=1 >/dev/null") != 0) {
      std::fprintf(stderr, "capture_bench: cannot load module-null-source\n");
      std::exit(1);
    }
    return p;
  }();
  return s.get();
}

void measure(benchmark::State& state, const char* device, bool playing) {
  PulseServer* pulse = server();
  thoth::test::ScratchDir dir;
  pid_t player = -1;
  if (playing) player = pulse->play_async(thoth::test::shared_root() / "speech/long-en.wav");
  double worst = 0, sum = 0;
  int n = 0;
  for (auto _ : state) {
    auto cap = thoth::audio::Capture::start({device, (dir / "b.wav").string(), nullptr});
    if (!cap) {
      state.SkipWithError(cap.error().c_str());
      break;
    }
    while (!(*cap)->has_first_sample()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    const auto rec = (*cap)->stop();
    const double s = rec.start_latency_ms / 1e3;
    state.SetIterationTime(s);
    worst = std::max(worst, rec.start_latency_ms);
    sum += rec.start_latency_ms;
    ++n;
  }
  if (player > 0) {
    kill(player, SIGTERM);
    PulseServer::wait_player(player);
  }
  state.counters["mean_ms"] = n ? sum / n : 0;
  state.counters["worst_ms"] = worst;
}

// The daemon's case: the stream is kept open (WarmCapture), a dictation only begins writing.
// From the start request to the first live block; the pre-roll (if any) is older still.
void BM_StartLatency_WarmStream(benchmark::State& state) {
  server();
  thoth::test::ScratchDir dir;
  auto warm = thoth::audio::WarmCapture::open("mic", 0);
  if (!warm) {
    state.SkipWithError(warm.error().c_str());
    return;
  }
  // Warm means delivering: wait for the stream's first blocks before measuring.
  (void)(*warm)->begin((dir / "w.wav").string(), nullptr);
  while (!(*warm)->has_first_sample()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (void)(*warm)->end();
  double worst = 0, sum = 0;
  int n = 0;
  for (auto _ : state) {
    if (auto r = (*warm)->begin((dir / "w.wav").string(), nullptr); !r) {
      state.SkipWithError(r.error().c_str());
      break;
    }
    while (!(*warm)->has_first_sample()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    const auto rec = (*warm)->end();
    state.SetIterationTime(rec.start_latency_ms / 1e3);
    worst = std::max(worst, rec.start_latency_ms);
    sum += rec.start_latency_ms;
    ++n;
  }
  state.counters["mean_ms"] = n ? sum / n : 0;
  state.counters["worst_ms"] = worst;
}

void BM_StartLatency_NullSource(benchmark::State& s) { measure(s, "mic", false); }
void BM_StartLatency_Monitor_Playing(benchmark::State& s) { measure(s, "virt.monitor", true); }
void BM_StartLatency_Monitor_Idle(benchmark::State& s) { measure(s, "virt.monitor", false); }

BENCHMARK(BM_StartLatency_WarmStream)->UseManualTime()->Iterations(20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StartLatency_NullSource)->UseManualTime()->Iterations(20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StartLatency_Monitor_Playing)->UseManualTime()->Iterations(20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StartLatency_Monitor_Idle)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
