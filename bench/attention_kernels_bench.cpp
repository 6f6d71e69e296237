// The attention's element-wise kernels per variant, on Whisper-tiny sizes: the softmax
// exponentials of one encoder score row (1500 keys), flash attention's f16 accumulator update
// (64-wide head) and its scores (1536 keys x 64, in blocks). Each variant gives the scalar bits
// (matmul_test checks that); this prints how much faster the vector ones are, as ratios to
// scalar measured in the same process.
#include <algorithm>
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "asr/ggml_format.h"
#include "asr/kernels.h"
#include "asr/matmul.h"
#include "asr/thread_pool.h"

namespace {

using namespace thoth::asr;

struct Data {
  std::vector<float> scores, out;
  std::vector<uint16_t> keys, q, acc, v;
  Data() {
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.0f, 3.0f);
    scores.resize(1500);
    out.resize(1536);
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
    dot_f16_blocked(d.keys.data(), 1536 / 64, d.q.data(), 64, d.out.data());  // the padded cross-attention keys
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetItemsProcessed(state.iterations() * 1536);
}

// Beam search's five rows of a head in one pass over its keys (per row, as f16_scores_1536x64).
void BM_F16ScoresFiveRows(benchmark::State& state, std::string variant) {
  if (!use(state, variant)) return;
  auto& d = data();
  static std::vector<float> out(5 * 1536);
  const uint16_t* q[5] = {d.q.data(), d.acc.data(), d.v.data(), d.q.data(), d.acc.data()};
  float* o[5] = {out.data(), out.data() + 1536, out.data() + 3072, out.data() + 4608, out.data() + 6144};
  for (auto _ : state) {
    dot_f16_blocked(d.keys.data(), 1536 / 64, q, 5, 64, o);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 5 * 1536);
}

// Flash attention's accumulator updates for beam search's five rows of a head over its 1500
// cross-attention keys (64 wide), side by side in one call. "shared": the rows' keys as one
// run, so a variant may widen each value row once for all five; "listed": each row its own
// copy of the key list, so each widens its own (what every row did before the sharing).
void BM_OnlineSoftmaxFiveRows(benchmark::State& state, std::string variant, bool shared) {
  if (!use(state, variant)) return;
  constexpr int kRows = 5, kKeys = 1500, kDim = 64;
  static const auto values = [] {
    std::mt19937 rng(11);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<uint16_t> v(static_cast<size_t>(kKeys) * kDim);
    for (auto& h : v) h = fp32_to_fp16(g(rng));
    return v;
  }();
  auto& d = data();
  std::vector<std::vector<int32_t>> lists(kRows, std::vector<int32_t>(kKeys));
  for (auto& l : lists)
    for (int j = 0; j < kKeys; ++j) l[j] = j;
  std::vector<uint16_t> acc(static_cast<size_t>(kRows) * kDim);
  float m[kRows], sum[kRows];
  kernels::OnlineSoftmaxJob jobs[kRows];
  for (auto _ : state) {
    std::fill(acc.begin(), acc.end(), uint16_t{0});
    for (int r = 0; r < kRows; ++r) {
      m[r] = -INFINITY;
      sum[r] = 0.0f;
      jobs[r] = {d.scores.data(), shared ? nullptr : lists[r].data(), kKeys, values.data(), acc.data() + r * kDim,
                 &m[r], &sum[r]};
    }
    f16_online_softmax(jobs, kRows, kDim, kDim);
    benchmark::DoNotOptimize(acc.data());
  }
  state.SetItemsProcessed(state.iterations() * kRows * kKeys);
}

// The same over a 64 MB cache, one head's keys after another: what a decoder step sees, its
// caches evicted by the weights streamed since the last step.
void BM_F16ScoresStreamed(benchmark::State& state, std::string variant) {
  if (!use(state, variant)) return;
  constexpr int64_t kHeadHalves = 1536 * 64;
  static const std::vector<uint16_t> cache = [] {
    std::vector<uint16_t> c(size_t{32} << 20);
    for (size_t i = 0; i < c.size(); ++i) c[i] = fp32_to_fp16(static_cast<float>(i % 97) * 0.01f - 0.5f);
    return c;
  }();
  auto& d = data();
  const int64_t heads = static_cast<int64_t>(cache.size()) / kHeadHalves;
  int64_t h = 0;
  for (auto _ : state) {
    dot_f16_blocked(cache.data() + h * kHeadHalves, 1536 / 64, d.q.data(), 64, d.out.data());
    benchmark::DoNotOptimize(d.out.data());
    h = (h + 1) % heads;
  }
  state.SetItemsProcessed(state.iterations() * 1536);
  state.SetBytesProcessed(state.iterations() * kHeadHalves * 2);
}

// The encoder's tiled attention scores for one task of 48 query rows against one head's 1500
// keys (d = 64), on one thread: matmul() over the keys as f32 weight rows (a horizontal sum
// per 64-element dot) against f32_axpy chains over the keys transposed, 64-key tiles (what
// the tiled path runs: ggml's simd_gemm order). Compare the two lines of a variant.
struct ScoreData {
  static constexpr int64_t kRows = 48, kKeys = 1500, kDim = 64, kLdq = 384;
  std::vector<float> q, keys, keys_t, out;
  ScoreData() : q(kRows * kLdq), keys(kKeys * kDim), keys_t(kKeys * kDim), out(kRows * kKeys) {
    std::mt19937 rng(7);
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (auto& v : q) v = g(rng);
    for (int64_t j = 0; j < kKeys; ++j)
      for (int64_t i = 0; i < kDim; ++i) keys_t[i * kKeys + j] = keys[j * kDim + i] = g(rng);
  }
};
ScoreData& score_data() {
  static ScoreData d;
  return d;
}

void BM_ScoresMatmul(benchmark::State& state, std::string variant) {
  if (!use(state, variant)) return;
  auto& d = score_data();
  ThreadPool serial(1);
  const MatrixView k{TensorType::F32, d.keys.data(), ScoreData::kKeys, ScoreData::kDim, ScoreData::kDim * sizeof(float)};
  for (auto _ : state) {
    matmul(k, d.q.data(), ScoreData::kRows, ScoreData::kLdq, d.out.data(), ScoreData::kKeys, serial);
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetItemsProcessed(state.iterations() * ScoreData::kRows * ScoreData::kKeys);
}

void BM_ScoresAxpy(benchmark::State& state, std::string variant) {
  if (!use(state, variant)) return;
  auto& d = score_data();
  for (auto _ : state) {
    for (int64_t r = 0; r < ScoreData::kRows; ++r)
      for (int64_t j = 0; j < ScoreData::kKeys; j += 64) {
        const int64_t nt = std::min<int64_t>(64, ScoreData::kKeys - j);
        float* y = d.out.data() + r * ScoreData::kKeys + j;
        std::fill(y, y + nt, 0.0f);
        f32_axpy(y, d.keys_t.data() + j, ScoreData::kKeys, d.q.data() + r * ScoreData::kLdq, ScoreData::kDim, nt);
      }
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetItemsProcessed(state.iterations() * ScoreData::kRows * ScoreData::kKeys);
}

int register_all() {
  for (const char* variant : {"scalar", "avx2", "avx512"}) {
    benchmark::RegisterBenchmark((std::string("exp_row_1500/") + variant).c_str(), BM_ExpRow, variant);
    benchmark::RegisterBenchmark((std::string("f16_axpy_64/") + variant).c_str(), BM_F16Axpy, variant);
    benchmark::RegisterBenchmark((std::string("f16_scores_1536x64/") + variant).c_str(), BM_F16Scores, variant);
    benchmark::RegisterBenchmark((std::string("f16_scores_1536x64/five_rows/") + variant).c_str(), BM_F16ScoresFiveRows,
                                 variant);
    benchmark::RegisterBenchmark((std::string("f16_scores_1536x64/streamed/") + variant).c_str(), BM_F16ScoresStreamed,
                                 variant);
    benchmark::RegisterBenchmark((std::string("online_softmax_5x1500x64/listed/") + variant).c_str(),
                                 BM_OnlineSoftmaxFiveRows, variant, false);
    benchmark::RegisterBenchmark((std::string("online_softmax_5x1500x64/shared/") + variant).c_str(),
                                 BM_OnlineSoftmaxFiveRows, variant, true);
    benchmark::RegisterBenchmark((std::string("enc_scores_48x1500x64/matmul/") + variant).c_str(), BM_ScoresMatmul,
                                 variant);
    benchmark::RegisterBenchmark((std::string("enc_scores_48x1500x64/axpy/") + variant).c_str(), BM_ScoresAxpy,
                                 variant);
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
