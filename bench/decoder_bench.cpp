// The decoder's per-token cost on a model of the real shapes (default: the random-weight
// tiny.en f16 that bench/run-reference-shapes.sh makes in build/bench-models; another with
// THOTH_BENCH_MODEL): one step of 1 sequence and of 5 (beam search) with the self-attention
// cache nearly full, the logits product alone, and the model's load. Prints ms per step and the
// logits product's streaming rate in GB/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "asr/matmul.h"
#include "asr/mel.h"
#include "asr/model_file.h"
#include "asr/network.h"
#include "asr/thread_pool.h"
#include "asr/whisper.h"

namespace {

using namespace thoth::asr;

// THOTH_BENCH_THREADS overrides (1 shows the kernels without the pool's hand-offs).
int threads() {
  const char* env = std::getenv("THOTH_BENCH_THREADS");
  return env && *env ? std::atoi(env) : 2;
}

std::shared_ptr<const ModelFile> model() {
  static std::shared_ptr<const ModelFile> m = [] {
    const char* env = std::getenv("THOTH_BENCH_MODEL");
    const std::string path = env && *env ? env : "build/bench-models/tiny.en-f16.bin";
    auto r = ModelFile::open(path);
    if (!r) {
      std::fprintf(stderr, "decoder_bench: %s (make it with bench/run-reference-shapes.sh or set THOTH_BENCH_MODEL)\n",
                   r.error().c_str());
      std::exit(1);
    }
    return *r;
  }();
  return m;
}

ThreadPool& pool() {
  static ThreadPool p(threads());
  return p;
}

// A network with one window encoded (a tone) and every sequence's cache filled with a prompt
// to `tokens` short of the text context.
struct Prepared {
  std::unique_ptr<WhisperNetwork> net;
  int prompt = 0;
  std::vector<int32_t> ids;
};

Prepared prepare(int n_seqs, int tokens) {
  Prepared p;
  auto file = model();
  const Hparams& hp = file->hparams();
  p.net = std::make_unique<WhisperNetwork>(file, n_seqs, pool());
  std::vector<float> pcm(30 * 16000);
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = 0.3f * static_cast<float>(i % 100) / 100.0f;
  const MelSpectrogram mel = compute_mel(pcm.data(), static_cast<int64_t>(pcm.size()), file->mel_filters(), pool());
  p.net->encode(mel, 0);
  p.prompt = hp.n_text_ctx - tokens;
  p.ids.resize(hp.n_text_ctx);
  for (size_t i = 0; i < p.ids.size(); ++i) p.ids[i] = static_cast<int32_t>((i * 7919 + 220) % 50000);
  std::vector<float> logits(hp.n_vocab);
  DecodeItem item{0, p.ids.data(), p.prompt, 0, logits.data()};
  p.net->decode({&item, 1});
  for (int s = 1; s < n_seqs; ++s) p.net->copy_sequence(0, s, p.prompt);
  return p;
}

// One decoder step of n_seqs sequences, each one token, over a cache of about
// n_text_ctx - 8 .. n_text_ctx cells; the cache is rewound every 8 steps.
void bm_step(benchmark::State& state) {
  const int n_seqs = static_cast<int>(state.range(0));
  constexpr int kSteps = 8;
  Prepared p = prepare(n_seqs, kSteps);
  const int n_vocab = p.net->n_vocab();
  std::vector<float> logits(static_cast<size_t>(n_seqs) * n_vocab);
  std::vector<DecodeItem> items(n_seqs);
  int step = 0;
  for (auto _ : state) {
    for (int s = 0; s < n_seqs; ++s)
      items[s] = DecodeItem{s, &p.ids[p.prompt + step], 1, p.prompt + step, &logits[static_cast<size_t>(s) * n_vocab]};
    p.net->decode(items);
    benchmark::DoNotOptimize(logits.data());
    step = (step + 1) % kSteps;
  }
}

// The logits product alone: n rows against the whole token embedding.
void bm_logits(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto file = model();
  const TensorView* t = file->tensor("decoder.token_embedding.weight");
  const MatrixView w{t->type, t->data, t->ne[1], t->ne[0], row_bytes(t->type, t->ne[0])};
  std::vector<float> x(static_cast<size_t>(n) * w.cols, 0.01f), y(static_cast<size_t>(n) * w.rows);
  for (auto _ : state) {
    matmul(w, x.data(), n, w.cols, y.data(), w.rows, pool());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.rows * w.row_stride) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// Model load (map, validate, aligned copies of misaligned tensors) from the page cache.
void bm_load(benchmark::State& state) {
  const std::string path = model()->path();
  for (auto _ : state) {
    auto m = Model::load(path);
    if (!m) {
      state.SkipWithError(m.error().c_str());
      return;
    }
    benchmark::DoNotOptimize(m->get());
  }
}

}  // namespace

BENCHMARK(bm_load)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(bm_step)->Arg(1)->Arg(5)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(bm_logits)->Arg(1)->Arg(5)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);

BENCHMARK_MAIN();
