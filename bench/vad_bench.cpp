// Silero VAD speed on one thread: real-time factor over ../shared/speech/long-en.wav (43.9 s)
// for each kernel variant this CPU runs, and the cost of one 32 ms chunk on a live stream.
#include <benchmark/benchmark.h>
#include <sndfile.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "asr/vad.h"
#include "asr/vad_kernels.h"
#include "support/shared_data.h"

namespace {

using namespace thoth::asr;

struct Fixture {
  std::shared_ptr<const VadModel> model;
  std::vector<float> pcm;
  std::string error;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture f;
    const auto root = thoth::test::shared_root();
    auto model = VadModel::load((root / "models/silero-v6.2.0-ggml.bin").string());
    if (!model) {
      f.error = model.error();
      return f;
    }
    f.model = *model;
    const std::string wav = (root / "speech/long-en.wav").string();
    SF_INFO info{};
    SNDFILE* s = sf_open(wav.c_str(), SFM_READ, &info);
    if (!s || info.samplerate != kVadSampleRate || info.channels != 1) {
      f.error = wav + ": cannot read as 16 kHz mono";
      if (s) sf_close(s);
      return f;
    }
    f.pcm.resize(static_cast<size_t>(info.frames));
    f.pcm.resize(static_cast<size_t>(sf_readf_float(s, f.pcm.data(), info.frames)));
    sf_close(s);
    return f;
  }();
  return f;
}

std::map<std::string, double>& realtime_factors() {
  static std::map<std::string, double> m;
  return m;
}

void BM_VadLongEn(benchmark::State& state, const vad_detail::VadKernels* kernels) {
  const Fixture& f = fixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const double audio_s = static_cast<double>(f.pcm.size()) / kVadSampleRate;
  for (auto _ : state) {
    auto probs = vad_detail::probabilities_with(*kernels, *f.model, f.pcm.data(), f.pcm.size());
    benchmark::DoNotOptimize(probs.data());
  }
  // Audio seconds processed per wall second = the real-time factor.
  state.counters["x_real_time"] = benchmark::Counter(audio_s * static_cast<double>(state.iterations()),
                                                     benchmark::Counter::kIsRate);
}

void BM_VadChunk(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  VadStream stream(f.model);
  size_t at = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stream.process(f.pcm.data() + at));
    at = (at + kVadChunkSamples + kVadChunkSamples <= f.pcm.size()) ? at + kVadChunkSamples : 0;
  }
  state.SetLabel(std::string("32 ms chunk, ") + vad_kernel_name());
}

// Prints the figure the issue asks for after the table.
class RtfReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      auto it = run.counters.find("x_real_time");
      if (it != run.counters.end() && !run.error_occurred) realtime_factors()[run.benchmark_name()] = it->second;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("vad/long-en/baseline", BM_VadLongEn, &vad_detail::vad_kernels_baseline())
      ->Unit(benchmark::kMillisecond)
      ->MinTime(1.0);
  if (const auto* avx2 = vad_detail::vad_kernels_avx2()) {
    benchmark::RegisterBenchmark("vad/long-en/avx2+fma", BM_VadLongEn, avx2)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  }
  benchmark::RegisterBenchmark("vad/stream-chunk", BM_VadChunk)->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  RtfReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  for (const auto& [name, rtf] : realtime_factors()) {
    std::printf("%s: Silero VAD v6.2.0, one thread: %.0fx real time\n", name.c_str(), rtf);
  }
  benchmark::Shutdown();
  return 0;
}
