// Key-release-to-text latency of a 5 s utterance, per stage: stop + drain + resample,
// transcribe (our engine, mini.en-f16.bin), filter, output (typed into an Xvfb window).
// Real capture from a PulseAudio null-sink monitor fed with speech.
#include <benchmark/benchmark.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "pipeline/capture_recorder.h"
#include "pipeline/engine_transcriber.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage_adapters.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"
#include "support/x_server.h"

namespace {

using namespace thoth;

void BM_KeyReleaseToText_5s(benchmark::State& state) {
  std::string error;
  auto pulse = test::PulseServer::start(&error);
  auto x = pulse ? test::XvfbServer::start(&error) : nullptr;
  auto window = x ? test::TypedTextRecorder::start(x->display(), &error) : nullptr;
  if (!window) {
    state.SkipWithError(error.c_str());
    return;
  }
  asr::TranscribeOptions opts;
  opts.n_threads = 2;
  auto engine = pipeline::EngineTranscriber::load((test::shared_root() / "models/mini.en-f16.bin").string(), opts);
  auto filter = text::TextFilter::create({});
  if (!engine || !filter) {
    state.SkipWithError("cannot load the engine or the filter");
    return;
  }
  test::ScratchDir dir;
  pipeline::Stages stages;
  stages.recorder = std::make_shared<pipeline::CaptureRecorder>(test::PulseServer::kMonitor);
  stages.transcriber = *engine;
  stages.filter = std::make_shared<pipeline::TextFilterStage>(std::move(*filter));
  stages.output = pipeline::x11_output(x->display());
  pipeline::EventBus bus;
  pipeline::Pipeline p(std::move(stages), {(dir / "rec").string()}, bus);
  pipeline::StageTimings sum;
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (!p.start()) break;
    const pid_t player = pulse->play_async(test::shared_root() / "speech/long-en.wav");
    // 5 s of speech reach the recording (the monitor delivers in blocks, so count audio).
    std::this_thread::sleep_for(std::chrono::milliseconds(5000));
    state.ResumeTiming();
    (void)p.stop();  // the key release
    auto r = p.wait();
    state.PauseTiming();
    kill(player, SIGTERM);
    test::PulseServer::wait_player(player);
    if (!r || r->final_state != pipeline::PipelineState::Completed) {
      state.SkipWithError(r ? r->error.c_str() : "no result");
      break;
    }
    state.SetIterationTime(r->timings.total_ms / 1e3);
    sum.drain_ms += r->timings.drain_ms;
    sum.transcribe_ms += r->timings.transcribe_ms;
    sum.filter_ms += r->timings.filter_ms;
    sum.output_ms += r->timings.output_ms;
    sum.total_ms += r->timings.total_ms;
    state.counters["audio_s"] = r->audio_seconds;
    ++n;
    state.ResumeTiming();
  }
  if (n > 0) {
    state.counters["stop_drain_resample_ms"] = sum.drain_ms / n;
    state.counters["transcribe_ms"] = sum.transcribe_ms / n;
    state.counters["filter_ms"] = sum.filter_ms / n;
    state.counters["output_ms"] = sum.output_ms / n;
    state.counters["total_ms"] = sum.total_ms / n;
  }
}
BENCHMARK(BM_KeyReleaseToText_5s)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
