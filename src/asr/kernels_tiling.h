// Register-blocking driver shared by the SIMD variants: walks a GemmTile in blocks of RM
// weight rows x RN activation rows, so each loaded activation vector serves RM weight rows
// and each converted weight vector serves RN activation rows.
//
// Everything here has internal linkage on purpose: each variant's file includes it and
// compiles its own copy with its own instruction-set flags. A shared (inline) definition
// would let the linker pick the AVX-512 copy for the AVX2 variant.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "asr/expf_flush.h"
#include "asr/kernels.h"

namespace thoth::asr::kernels {
namespace {

// The key dots' query rows (f16, d values each) widened to double once per call, into a
// buffer of the calling thread: the dots then broadcast each value from memory, with no
// conversion beside their FMAs. wide[r] stays valid until the thread's next call.
template <int R, class Half>
void widen_queries(const uint16_t* const* q, int64_t d, Half to_double, const double* (&wide)[R]) {
  thread_local std::vector<double> buf;
  buf.resize(static_cast<size_t>(R * d));
  for (int r = 0; r < R; ++r) {
    for (int64_t i = 0; i < d; ++i) buf[r * d + i] = to_double(q[r][i]);
    wide[r] = buf.data() + r * d;
  }
}

// rows.operator()<N>() for a decoder step's N = n activation rows (1..kInterleavedMaxRows).
template <class Rows>
void interleaved_rows_dispatch(int64_t n, Rows rows) {
  static_assert(kInterleavedMaxRows == 5, "covers 1..5 activation rows");
  switch (n) {
    case 1: return rows.template operator()<1>();
    case 2: return rows.template operator()<2>();
    case 3: return rows.template operator()<3>();
    case 4: return rows.template operator()<4>();
    case 5: return rows.template operator()<5>();
    default: return;
  }
}

// A decoder step's q5_1 product over interleaved records (gemv_q5_1_x4): rows<N>() for its N
// = t.n activation rows, after each row's per-block q8_1 scales (d_x, s_x; to_float converts
// an f16 field) are widened into scales: [row][block][2].
template <class Half, class Rows>
void gemv_interleaved_rows(const GemmTile& t, std::vector<float>& scales, Half to_float, Rows rows) {
  const int64_t nb = t.k / kQK;
  scales.resize(static_cast<size_t>(t.n) * 2 * nb);
  for (int64_t r = 0; r < t.n; ++r) {
    const auto* x = reinterpret_cast<const BlockQ8_1*>(t.x + r * t.x_stride);
    for (int64_t b = 0; b < nb; ++b) {
      scales[(r * nb + b) * 2] = to_float(x[b].d);
      scales[(r * nb + b) * 2 + 1] = to_float(x[b].s);
    }
  }
  interleaved_rows_dispatch(t.n, rows);
}

// K::block<RM, RN>(tile, r0, i0) computes outputs r0..r0+RM-1 of activation rows
// i0..i0+RN-1. Each output must be computed the same way whatever RM and RN are.
template <int RM, int RN, class K>
void weight_rows_pass(const GemmTile& t, int64_t i0) {
  int64_t r = 0;
  for (; r + RM <= t.m; r += RM) K::template block<RM, RN>(t, r, i0);
  for (; r < t.m; ++r) K::template block<1, RN>(t, r, i0);
}

// Few activation rows (decoder steps: one per sequence) against many weight rows: the
// product streams the weights from memory once, so each block first asks for the rows about
// kPrefetchBytes ahead, and a pass starts by asking for its first ones (the hardware
// prefetcher alone leaves the loads waiting on DRAM: a tiny.en step takes ~1.8x as long
// without). Into L2 (prefetcht1), not just L1 (prefetchnta): more misses in flight per core.
// The distance is in bytes, whole blocks of at least one: 4 KB measured 4-7 % faster f16
// decoder steps than 4 blocks (12-16 KB) and 8 blocks slower still (Zen 4, two threads);
// the quantized models' steps did not change.
constexpr int64_t kPrefetchBytes = 4096;

template <int RM, int RN, class K>
void streaming_rows_pass(const GemmTile& t) {
  const int64_t block = RM * static_cast<int64_t>(t.w_stride);
  const int64_t ahead = (kPrefetchBytes + block - 1) / block * block;
  const uint8_t* end = t.w + t.m * static_cast<int64_t>(t.w_stride);
  for (const uint8_t* p = t.w; p < t.w + ahead && p < end; p += 64) __builtin_prefetch(p, 0, 2);
  int64_t r = 0;
  for (; r + RM <= t.m; r += RM) {
    const uint8_t* p = t.w + r * static_cast<int64_t>(t.w_stride) + ahead;
    for (int64_t off = 0; off < block && p + off < end; off += 64) __builtin_prefetch(p + off, 0, 2);
    K::template block<RM, RN>(t, r, 0);
  }
  for (; r < t.m; ++r) K::template block<1, RN>(t, r, 0);
}

template <int RM, int RN, class K>
void activation_remainder(const GemmTile& t, int64_t i0, int64_t left) {
  if constexpr (RN > 0) {
    if (left == RN) weight_rows_pass<RM, RN, K>(t, i0);
    else activation_remainder<RM, RN - 1, K>(t, i0, left);
  }
}

// Activation rows S's blocks take at once: its kMaxRows if it says, else one.
template <class S>
constexpr int row_kernel_rows() {
  if constexpr (requires { S::kMaxRows; }) return S::kMaxRows;
  else return 1;
}

// A decoder step's n activation rows in one pass: S's if it takes n, else K's.
template <int RM, int N, class K, class S>
void decoder_rows_pass(const GemmTile& t) {
  if constexpr (row_kernel_rows<S>() >= N) streaming_rows_pass<RM, N, S>(t);
  // Five rows in blocks of two weight rows: 10 accumulators fit every variant's registers,
  // and the kernels' 4-row block reductions need not handle five activation rows.
  else if constexpr (N == 5) streaming_rows_pass<2, 5, K>(t);
  else streaming_rows_pass<RM, N, K>(t);
}

// S: the kernel for a decoder step's few activation rows (one for a greedy step; up to its
// kMaxRows, if it has one), K's by default. It may read the weights in another order than
// K's blocks do, never sum them in another (K's finish_tile, if any, then completes S's
// outputs as it does K's).
template <int RM, int RN, class K, class S = K>
void gemm_blocks(const GemmTile& t) {
  int64_t i = 0;
  // Decoder steps (one activation row per sequence, up to 5 for beam search): all rows in
  // one pass, so the weights are streamed from memory once whatever the beam width.
  switch (t.n) {
    case 1: return decoder_rows_pass<RM, 1, K, S>(t);
    case 2: return decoder_rows_pass<RM, 2, K, S>(t);
    case 3: return decoder_rows_pass<RM, 3, K, S>(t);
    case 4: return decoder_rows_pass<RM, 4, K, S>(t);
    case 5: return decoder_rows_pass<RM, 5, K, S>(t);
    default: break;
  }
  for (; i + RN <= t.n; i += RN) weight_rows_pass<RM, RN, K>(t, i);
  if (i < t.n) activation_remainder<RM, RN - 1, K>(t, i, t.n - i);
}

// The tile in blocks, then the kernel's pass over the finished tile if it has one.
template <int RM, int RN, class K, class S = K>
void gemm_tiled(const GemmTile& t) {
  gemm_blocks<RM, RN, K, S>(t);
  if constexpr (requires { K::finish_tile(t); }) K::finish_tile(t);
}

// Bytes of an f16 weight panel (TypeKernels::panel_bytes): each group of kPanelRows rows'
// elements up to the last step of 64, as f32.
inline size_t f16_panel_bytes(int64_t m, int64_t k) {
  return static_cast<size_t>((m + kPanelRows - 1) / kPanelRows * (k / 64 * 64) * kPanelRows) * sizeof(float);
}

// Bytes of a quantized weight panel whose groups of kPanelRows rows take block_bytes per block.
inline size_t quant_panel_bytes(int64_t m, int64_t k, int64_t block_bytes) {
  return static_cast<size_t>((m + kPanelRows - 1) / kPanelRows * (k / kQK) * block_bytes);
}

template <int RN, class Run>
void remainder_rows(int64_t i, int64_t left, Run& run) {
  if constexpr (RN > 0) {
    if (left == RN) run.template operator()<RN>(i);
    else remainder_rows<RN - 1>(i, left, run);
  }
}

// run.template operator()<RN>(i) for activation rows i .. i + RN - 1 of n: blocks of kRows,
// then one block of the rows left (RN a compile-time count, as the panel kernels need).
template <int kRows, class Run>
void row_blocks(int64_t n, Run&& run) {
  int64_t i = 0;
  for (; i + kRows <= n; i += kRows) run.template operator()<kRows>(i);
  if (i < n) remainder_rows<kRows - 1>(i, n - i, run);
}

// The f16 weights of a tile's rows past the last step of 64 (elements np .. k), transposed to
// [element][row] with rows padded to `stride` by zeros: what the kernels' finish_tile runs
// its side-by-side double chains over. Per thread, reused between tiles.
template <class Half>
const float* transposed_f16_tails(const GemmTile& t, int64_t np, int64_t stride, Half half) {
  const int64_t nt = t.k - np;
  thread_local std::vector<float> tails;
  tails.assign(static_cast<size_t>(nt * stride), 0.0f);
  for (int64_t r = 0; r < t.m; ++r) {
    const uint8_t* row = t.w + r * t.w_stride + 2 * np;  // at any address, as the file packs it
    for (int64_t e = 0; e < nt; ++e) {
      uint16_t h;
      std::memcpy(&h, row + 2 * e, 2);
      tails[e * stride + r] = half(h);
    }
  }
  return tails.data();
}

// The first pass of the register-held online softmax over a chunk of keys, for P jobs side by
// side (job p's len[p] <= kSoftmaxChunk scores at scores[p]; its chains interleaved with the
// others', so one job's compare and FMA latencies hide behind the rest's): the running max
// mx[p], each key's rescale factor ms (of the accumulator) and weight vs (of its value row),
// and the running sum sm[p], as the reference's flash attention computes them (libm expf; the
// sum's update contracted to one FMA, as in attend_one_chunk). The exponentials' arguments
// depend only on the running max, so they are all found first and exp (the variant's
// libm_expf_shifted) takes them at once.
constexpr int64_t kSoftmaxChunk = 128;

template <int P, class Exp>
inline void online_softmax_factors(const float* const* scores, const int64_t* len, float* mx, float* sm,
                                   float (*ms_out)[kSoftmaxChunk], float (*vs_out)[kSoftmaxChunk], Exp exp) {
  float arg[P][kSoftmaxChunk], e[P][kSoftmaxChunk];
  bool rise[P][kSoftmaxChunk];
  int64_t longest = 0;
  for (int p = 0; p < P; ++p) longest = len[p] > longest ? len[p] : longest;
  for (int64_t j = 0; j < longest; ++j)
    for (int p = 0; p < P; ++p) {
      if (j >= len[p]) continue;
      const float s = scores[p][j];
      const bool r = s > mx[p];  // false for NaN, which leaves the max as it is
      rise[p][j] = r;
      arg[p][j] = r ? mx[p] - s : s - mx[p];
      mx[p] = r ? s : mx[p];
    }
  for (int p = 0; p < P; ++p) exp(arg[p], 0.0f, e[p], len[p]);
  for (int64_t j = 0; j < longest; ++j)
    for (int p = 0; p < P; ++p) {
      if (j >= len[p]) continue;
      const float ms = rise[p][j] ? e[p][j] : 1.0f, vs = rise[p][j] ? 1.0f : e[p][j];
      ms_out[p][j] = ms;
      vs_out[p][j] = vs;
      sm[p] = std::fma(sm[p], ms, vs);
    }
}

}  // namespace
}  // namespace thoth::asr::kernels
