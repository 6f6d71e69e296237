// The attention's element-wise kernels per variant, on Whisper-tiny sizes: the softmax
// exponentials of one encoder score row (1500 keys), flash attention's f16 accumulator update
// (64-wide head) and its scores (1500 keys x 64). Each variant gives the scalar bits
// (matmul_test checks that); this prints how much faster the vector ones are, as ratios to
// scalar measured in the same process.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "asr/ggml_format.h"
#include "asr/matmul.h"

namespace {

using namespace thoth::asr;

struct Data {
  std::vector<float> scores, out;
  std::vector<uint16_t> keys, q, acc, v;
  Data() {
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.0f, 3.0f);
    scores.resize(1500);
    out.resize(1500);
    for (auto& s : scores) s = g(rng);
    keys.resize(1500 * 384);
    for (auto& h : keys) h = fp32_to_fp16(g(rng));
    for (int i = 0; i < 64; ++i) {
      q.push_back(fp32_to_fp16(g(rng) * 0.1f));
      acc.push_back(fp32_to_fp16(g(rng)));
      v.push_back(fp32_to_fp16(g(rng)));
    }
  }
};
Data& data() {
  static Data d;
  return d;
}

bool use(benchmark::State& state, const std::string& variant) {
  if (!select_kernels(variant).ok()) {
    state.SkipWithError("variant not available on this machine");
    return false;
  }
  return true;
}

void BM_ExpRow(benchmark::State& state, std::string variant) {
  if (!use(state, variant)) return;
  auto& d = data();
  for (auto _ : state) {
    exp_shifted(d.scores.data(), 4.0f, d.out.data(), 1500);
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetItemsProcessed(state.iterations() * 1500);
}

void BM_F16Axpy(benchmark::State& state, std::string variant) {
  if (!use(state, variant)) return;
  auto& d = data();
  for (auto _ : state) {
    f16_axpy(d.acc.data(), d.v.data(), 0.999f, 64);
    benchmark::DoNotOptimize(d.acc.data());
  }
  state.SetItemsProcessed(state.iterations() * 64);
}

void BM_F16Scores(benchmark::State& state, std::string variant) {
  if (!use(state, variant)) return;
  auto& d = data();
  for (auto _ : state) {
    dot_f16_rows(d.keys.data(), 384, 1500, d.q.data(), 64, d.out.data());
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetItemsProcessed(state.iterations() * 1500);
}

int register_all() {
  for (const char* variant : {"scalar", "avx2", "avx512"}) {
    benchmark::RegisterBenchmark((std::string("exp_row_1500/") + variant).c_str(), BM_ExpRow, variant);
    benchmark::RegisterBenchmark((std::string("f16_axpy_64/") + variant).c_str(), BM_F16Axpy, variant);
    benchmark::RegisterBenchmark((std::string("f16_scores_1500x64/") + variant).c_str(), BM_F16Scores, variant);
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
