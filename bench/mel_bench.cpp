// The log-mel front end on 30 s of real speech (long-en.wav): milliseconds per 30 s window
// at 1 and 2 threads. A dictation's spectrogram is computed after the key is released, so
// this is latency the user waits through.
#include <benchmark/benchmark.h>
#include <sndfile.h>

#include <cstdio>
#include <vector>

#include "asr/mel.h"
#include "asr/model_file.h"
#include "asr/thread_pool.h"
#include "support/shared_data.h"

namespace {

std::vector<float> speech_30s() {
  const auto path = thoth::test::shared_file("speech/long-en.wav");
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f || info.samplerate != 16000 || info.channels != 1) {
    std::fprintf(stderr, "bench_mel: %s is not 16 kHz mono\n", path.c_str());
    std::exit(1);
  }
  std::vector<float> pcm(16000 * 30);
  pcm.resize(static_cast<size_t>(sf_readf_float(f, pcm.data(), static_cast<sf_count_t>(pcm.size()))));
  sf_close(f);
  return pcm;
}

void BM_Mel30s(benchmark::State& state) {
  static const auto pcm = speech_30s();
  static auto model = thoth::asr::ModelFile::open(thoth::test::shared_file("models/mini.en-f16.bin").string());
  if (!model) {
    state.SkipWithError(model.error().c_str());
    return;
  }
  thoth::asr::ThreadPool pool(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto mel = thoth::asr::compute_mel(pcm.data(), static_cast<int64_t>(pcm.size()), (*model)->mel_filters(), pool);
    benchmark::DoNotOptimize(mel.data.data());
  }
  state.counters["audio_s"] = static_cast<double>(pcm.size()) / 16000.0;
}
BENCHMARK(BM_Mel30s)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
