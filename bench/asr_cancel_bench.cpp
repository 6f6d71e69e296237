// How soon a transcription returns after its cancel flag goes up while the encoder runs a
// 30 s window (mini.en-f16.bin, 2 threads), next to what that window's encoder costs in the
// same process: the ratio is the share of an encode that cancelling still waits for.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "asr/whisper.h"
#include "support/shared_data.h"

namespace {

using namespace thoth;
using Clock = std::chrono::steady_clock;

std::vector<float> noise(size_t n) {
  std::vector<float> v(n);
  uint32_t x = 7;
  for (float& s : v) {
    x = x * 1664525u + 1013904223u;
    s = (static_cast<float>(x >> 8) / 16777216.0f - 0.5f) * 0.5f;
  }
  return v;
}

void BM_CancelDuringEncode(benchmark::State& state) {
  auto model = asr::Model::load((test::shared_root() / "models/mini.en-f16.bin").string());
  if (!model) {
    state.SkipWithError(model.error().c_str());
    return;
  }
  asr::Session session(*model);
  const auto audio = noise(16000 * 30);
  asr::TranscribeOptions o;
  o.n_threads = 2;
  o.beam_size = 1;
  o.best_of = 1;
  o.temperature_fallback = false;
  auto full = session.transcribe(audio.data(), audio.size(), o);
  if (!full) {
    state.SkipWithError(full.error().c_str());
    return;
  }
  const double encode_ms = full->timings.encode_ms;
  double latency_sum = 0;
  int runs = 0;
  for (auto _ : state) {
    std::atomic<bool> cancel{false};
    Clock::time_point raised;
    std::thread stopper;
    o.cancel = &cancel;
    // Right before the window's encoder; the flag goes up a third of the way into it.
    o.on_progress = [&](float) {
      if (stopper.joinable()) return;
      stopper = std::thread([&] {
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(encode_ms / 3));
        raised = Clock::now();
        cancel.store(true);
      });
    };
    auto r = session.transcribe(audio.data(), audio.size(), o);
    const auto returned = Clock::now();
    if (stopper.joinable()) stopper.join();
    if (!r || !r->cancelled) {
      state.SkipWithError("the transcription was not cancelled");
      return;
    }
    latency_sum += std::chrono::duration<double, std::milli>(returned - raised).count();
    ++runs;
  }
  state.counters["cancel_latency_ms"] = latency_sum / runs;
  state.counters["window_encode_ms"] = encode_ms;
  state.counters["latency_over_encode"] = latency_sum / runs / encode_ms;
}
BENCHMARK(BM_CancelDuringEncode)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
