// AVX-512 (F, BW, VL, DQ) + VNNI kernels, compiled with those flags only and chosen at run
// time when the CPU has them and the OS saves the ZMM state. Activations use the scalar
// table's conversions, so only float summation order differs from the scalar path.
#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__) && defined(__AVX512VNNI__)
// GCC 12's AVX-512 headers start several intrinsics from _mm512_undefined_*(), which its
// own -Wuninitialized then reports at every inlined use: not a defect of this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "asr/kernels.h"
#include "asr/kernels_tiling.h"

namespace thoth::asr::kernels {
namespace {

inline float half(uint16_t h) { return _cvtsh_ss(h); }

// Fixed-order horizontal sum (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized).
inline float hsum(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// hsum() of 16 registers at once, each sum taking hsum's pairs in hsum's order (so the same
// bits): lane 4q + l of the result is hsum(v[q + 4l]). 30 shuffles and 15 adds instead of
// 16 x 8 operations.
inline __m512 hsum16(const __m512 (&v)[16]) {
  __m512 h[8], s[4], t[2];
  for (int i = 0; i < 8; ++i)  // lanes i and i + 8 of each: quads 0-1 from v[2i], 2-3 from v[2i+1]
    h[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  for (int i = 0; i < 4; ++i)  // lanes i and i + 4: quad q holds v[4i + q]'s four sums
    s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(h[2 * i], h[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(h[2 * i], h[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  for (int i = 0; i < 2; ++i)  // lanes i and i + 2, two registers' quads interleaved
    t[i] = _mm512_add_ps(_mm512_shuffle_ps(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_ps(t[0], t[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(t[0], t[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// hsum16 of activation rows j0 .. j0 + 3 (those below RN) of a block of 4 weight rows (RN >= 3:
// the batch blocks; the decoder's few rows keep the plain hsum).
template <int RN>
inline __m512 block4_sums(const __m512 (&acc)[4][RN], int j0 = 0) {
  __m512 v[16];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) v[j + 4 * i] = j0 + j < RN ? acc[i][j0 + j < RN ? j0 + j : 0] : _mm512_setzero_ps();
  return hsum16(v);  // quad j: the 4 weight rows of activation row j0 + j
}

inline void store_quads(__m512 sums, float* y, int64_t ldy, int quads) {
  // Through memory: _mm512_extractf32x4_ps needs an immediate, which j is only once unrolled.
  alignas(64) float out[16];
  _mm512_store_ps(out, sums);
  for (int j = 0; j < quads; ++j) std::memcpy(y + j * ldy, out + 4 * j, 4 * sizeof(float));
}

// ---- f32 / f16 weights: ggml_vec_dot_f32 / _f16 (see the scalar table) ---------------------
// Four 16-lane accumulators per output over steps of 64, computed as four passes (offsets 0,
// 32, 16, 48 of each step) so the register blocking keeps one accumulator per output.

// An activation vector for all of a block's weight rows, held in a register: left to itself,
// GCC folds the load into every FMA as a memory operand (beam search's 2x5 blocks then did
// as many loads as FMAs).
inline __m512 load_activation(const float* p) {
  __m512 v = _mm512_loadu_ps(p);
  asm("" : "+v"(v));
  return v;
}

struct F32Weights {
  static constexpr bool kTileTail = false;
  static __m512 load(const uint8_t* row, int64_t j) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + j);
  }
  static float at(const uint8_t* row, int64_t j) { return reinterpret_cast<const float*>(row)[j]; }
  // Past the last full step: one FMA per element into the float sum.
  static float tail(const uint8_t* row, const float* x, int64_t np, int64_t k, float s) {
    for (int64_t j = np; j < k; ++j) s = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(at(row, j)), _mm_set_ss(x[j]), _mm_set_ss(s)));
    return s;
  }
};

// The f16 panel kernel's activation rows at a time (TypeKernels::panel_x_block): 24
// accumulators, the weight vector and a free register.
constexpr int kPanelBlockRows = 6;

// Past the last full step the f16 product adds each exact product in double, element after
// element: a latency-bound chain per output. The blocks store the steps' sums; one pass over
// the finished tile then runs 32 outputs' chains side by side (weight rows in the lanes), the
// tile's weight tails transposed once for all its activation rows.
struct F16Weights {
  static constexpr bool kTileTail = true;
  static __m512 load(const uint8_t* row, int64_t j) {
    return _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + j)));
  }
  static float tail(const uint8_t*, const float*, int64_t, int64_t, float s) { return s; }  // see finish_tile

  static void finish_tile(const GemmTile& t) {
    const int64_t np = t.k / 64 * 64, nt = t.k - np;
    if (nt == 0) return;
    const int64_t stride = (t.m + 7) / 8 * 8;
    const float* tails = transposed_f16_tails(t, np, stride, [](uint16_t h) { return half(h); });
    for (int64_t j = 0; j < t.n; ++j) {
      const float* x = t.panel != nullptr
                           ? reinterpret_cast<const float*>(t.x) + panel_x_offset(j, np, t.n, t.k, kPanelBlockRows)
                           : reinterpret_cast<const float*>(t.x + j * t.x_stride) + np;
      float* y = t.y + j * t.ldy;
      for (int64_t r0 = 0; r0 < t.m; r0 += 32) {
        __m512d acc[4];
        __mmask8 lanes[4];
        for (int c = 0; c < 4; ++c) {
          const int64_t left = t.m - r0 - 8 * c;
          lanes[c] = left >= 8 ? __mmask8(0xff) : left <= 0 ? __mmask8(0) : static_cast<__mmask8>((1u << left) - 1);
          acc[c] = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes[c], y + r0 + 8 * c));
        }
        for (int64_t e = 0; e < nt; ++e) {
          const __m256 xv = _mm256_set1_ps(x[e]);
          const float* te = tails + e * stride + r0;
          for (int c = 0; c < 4; ++c)
            if (lanes[c]) acc[c] = _mm512_add_pd(acc[c], _mm512_cvtps_pd(_mm256_mul_ps(_mm256_loadu_ps(te + 8 * c), xv)));
        }
        for (int c = 0; c < 4; ++c) _mm256_mask_storeu_ps(y + r0 + 8 * c, lanes[c], _mm512_cvtpd_ps(acc[c]));
      }
    }
  }
};

template <class W>
struct FloatKernel {
  static void finish_tile(const GemmTile& t) {
    if constexpr (W::kTileTail) W::finish_tile(t);
  }

  // One of the four accumulators of every output of the block: lanes offset .. offset + 15
  // of each step of 64.
  template <int RM, int RN>
  [[gnu::always_inline]] static inline void pass(const uint8_t* const (&w)[RM], const float* const (&x)[RN],
                                                 int64_t np, int offset, __m512 (&acc)[RM][RN]) {
    for (int i = 0; i < RM; ++i)
      for (int j = 0; j < RN; ++j) acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = offset; k < np; k += 64) {
      __m512 wv[RM];
      for (int i = 0; i < RM; ++i) wv[i] = W::load(w[i], k);
      for (int j = 0; j < RN; ++j) {
        const __m512 xv = load_activation(x[j] + k);
        for (int i = 0; i < RM; ++i) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
      }
    }
  }

  // Accumulators at offset and offset + 32 in one loop.
  template <int RM, int RN>
  [[gnu::always_inline]] static inline void pass2(const uint8_t* const (&w)[RM], const float* const (&x)[RN],
                                                  int64_t np, int offset, __m512 (&a)[RM][RN], __m512 (&b)[RM][RN]) {
    for (int i = 0; i < RM; ++i)
      for (int j = 0; j < RN; ++j) a[i][j] = b[i][j] = _mm512_setzero_ps();
    for (int64_t k = offset; k < np; k += 64) {
      __m512 wv[RM];
      for (int i = 0; i < RM; ++i) wv[i] = W::load(w[i], k);
      for (int j = 0; j < RN; ++j) {
        const __m512 xv = load_activation(x[j] + k);
        for (int i = 0; i < RM; ++i) a[i][j] = _mm512_fmadd_ps(wv[i], xv, a[i][j]);
      }
      for (int i = 0; i < RM; ++i) wv[i] = W::load(w[i], k + 32);
      for (int j = 0; j < RN; ++j) {
        const __m512 xv = load_activation(x[j] + k + 32);
        for (int i = 0; i < RM; ++i) b[i][j] = _mm512_fmadd_ps(wv[i], xv, b[i][j]);
      }
    }
  }

  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    const uint8_t* w[RM];
    const float* x[RN];
    for (int i = 0; i < RM; ++i) w[i] = t.w + (r0 + i) * t.w_stride;
    for (int j = 0; j < RN; ++j) x[j] = reinterpret_cast<const float*>(t.x + (i0 + j) * t.x_stride);
    const int64_t np = t.k / 64 * 64;
    __m512 sums[RM][RN];
    if constexpr (RM * RN <= 12) {
      // Twelve outputs: accumulator 1 waits in memory, 0 + 2 in registers beside the last
      // pass's own (sums = (a0 + a2) + (a1 + a3)).
      alignas(64) float even[RM][RN][16];
      __m512 acc[RM][RN], acc2[RM][RN];
      pass2(w, x, np, 0, acc, acc2);
      for (int i = 0; i < RM; ++i)
        for (int j = 0; j < RN; ++j) _mm512_store_ps(even[i][j], _mm512_add_ps(acc[i][j], acc2[i][j]));
      pass2(w, x, np, 16, acc, acc2);
      for (int i = 0; i < RM; ++i)
        for (int j = 0; j < RN; ++j)
          sums[i][j] = _mm512_add_ps(_mm512_load_ps(even[i][j]), _mm512_add_ps(acc[i][j], acc2[i][j]));
    } else {
      // Accumulators 0 + 2 and 1 + 3 wait in memory between passes: held in registers beside
      // the pass's own they would not fit, and the compiler's spills inside the loop cost more.
      alignas(64) float even[RM][RN][16], odd[RM][RN][16];
      for (int p = 0; p < 4; ++p) {
        static constexpr int kOffset[4] = {0, 32, 16, 48};  // accumulators 0, 2, 1, 3
        __m512 acc[RM][RN];
        pass(w, x, np, kOffset[p], acc);
        for (int i = 0; i < RM; ++i)
          for (int j = 0; j < RN; ++j) {
            if (p == 0) _mm512_store_ps(even[i][j], acc[i][j]);
            else if (p == 1) _mm512_store_ps(even[i][j], _mm512_add_ps(_mm512_load_ps(even[i][j]), acc[i][j]));
            else if (p == 2) _mm512_store_ps(odd[i][j], acc[i][j]);
            else sums[i][j] = _mm512_add_ps(_mm512_load_ps(even[i][j]), _mm512_add_ps(_mm512_load_ps(odd[i][j]), acc[i][j]));
          }
      }
    }
    if constexpr (RM == 4 && RN >= 3) {
      // Sixteen sums reduced together (hsum's bits), four activation rows at a time (an f16
      // tail past the last step follows in finish_tile).
      if (np == t.k || W::kTileTail) {
        for (int j0 = 0; j0 < RN; j0 += 4)
          store_quads(block4_sums<RN>(sums, j0), t.y + (i0 + j0) * t.ldy + r0, t.ldy, RN - j0 < 4 ? RN - j0 : 4);
        return;
      }
    }
    for (int j = 0; j < RN; ++j)
      for (int i = 0; i < RM; ++i)
        t.y[(i0 + j) * t.ldy + r0 + i] = W::tail(w[i], x[j], np, t.k, hsum(sums[i][j]));
  }
};

// FloatKernel's sums for one activation row, each weight row read once from front to back:
// FloatKernel walks a row in strided passes (two or four, accumulator offsets apart, the
// register blocking of its batches), which leaves a streamed row's cache lines partly used
// between passes. Here the four accumulators of each of RM rows advance side by side; each
// is the same FMA chain over the same elements, combined as FloatKernel combines its passes
// ((offset 0 + offset 32) + (offset 16 + offset 48)), so every output keeps its bits.
template <class W>
struct FloatRowKernel {
  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    static_assert(RN == 1, "one activation row");
    const uint8_t* w[RM];
    for (int i = 0; i < RM; ++i) w[i] = t.w + (r0 + i) * t.w_stride;
    const float* x = reinterpret_cast<const float*>(t.x + i0 * t.x_stride);
    const int64_t np = t.k / 64 * 64;
    __m512 acc[RM][4];
    for (int i = 0; i < RM; ++i)
      for (int q = 0; q < 4; ++q) acc[i][q] = _mm512_setzero_ps();
    for (int64_t k = 0; k < np; k += 64) {
      for (int q = 0; q < 4; ++q) {
        const __m512 xv = _mm512_loadu_ps(x + k + 16 * q);
        for (int i = 0; i < RM; ++i) acc[i][q] = _mm512_fmadd_ps(W::load(w[i], k + 16 * q), xv, acc[i][q]);
      }
    }
    for (int i = 0; i < RM; ++i) {
      const __m512 even = _mm512_add_ps(acc[i][0], acc[i][2]), odd = _mm512_add_ps(acc[i][1], acc[i][3]);
      t.y[i0 * t.ldy + r0 + i] = W::tail(w[i], x, np, t.k, hsum(_mm512_add_ps(even, odd)));
    }
  }
};

// ---- f16 batches from a panel ---------------------------------------------------------------
// FloatKernel's sums turned around for batches: lane r of a vector is weight row r of a group
// of kPanelRows. Lane l of an output's accumulator q (elements 64t + 16q + l, t = 0, 1, ...)
// becomes a vector of the group's 16 partial sums, each grown by the same FMA chain as in
// FloatKernel, the activation element broadcast; they combine as FloatKernel combines its
// lanes ((q0 + q2) + (q1 + q3), then hsum's pairs across l), only between vectors. Same bits,
// without a conversion in the loop (the panel holds the weights as f32, built once per
// product) or a horizontal sum per output.
//
// A group's panel is [l][j][16 rows] for element 16j + l of the first np = k / 64 * 64 (the
// 16 x 16 blocks of the rows transposed); convert_block_f16_panel stores activation rows in
// the same [l][j] order (a block's rows side by side), so for each l the kernel walks both forward.

// r[i] = lane i of each of r[0..15] (a 16 x 16 block transposed).
inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
}

void f16_build_panel(const uint8_t* w, size_t w_stride, int64_t m, int64_t k, int64_t g0, int64_t g1,
                     float* panel) {
  const int64_t np = k / 64 * 64, steps = np / 16;
  for (int64_t g = g0; g < g1; ++g) {
    float* group = panel + g * np * kPanelRows;
    for (int64_t j = 0; j < steps; ++j) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        const int64_t row = g * kPanelRows + i;
        r[i] = row < m ? F16Weights::load(w + row * static_cast<int64_t>(w_stride), 16 * j) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int l = 0; l < 16; ++l) _mm512_store_ps(group + (l * steps + j) * kPanelRows, r[l]);
    }
  }
}

// Activation rows i0 .. i0 + RN - 1 against a group's panel: outputs of the group's rows (those
// in `rows`) for each.
template <int RN>
void panel_block(const GemmTile& t, const float* group, int64_t g, int64_t i0, __mmask16 rows) {
  const int64_t steps = t.k / 64 * 4;
  // The block's rows side by side (panel_x_offset): one pointer for all of them, so each
  // broadcast folds into its FMA without an index register (which would split the FMA in two).
  const float* xb = reinterpret_cast<const float*>(t.x + i0 * t.x_stride);
  alignas(64) float lanes[16][RN][16];
  for (int l = 0; l < 16; ++l) {
    __m512 acc[4][RN];
    for (int q = 0; q < 4; ++q)
      for (int c = 0; c < RN; ++c) acc[q][c] = _mm512_setzero_ps();
    const float* p = group + l * steps * kPanelRows;
    const float* xl = xb + l * steps * RN;
    for (int64_t j = 0; j < steps; j += 4, p += 4 * kPanelRows, xl += 4 * RN)
      for (int q = 0; q < 4; ++q) {
        const __m512 wv = _mm512_load_ps(p + q * kPanelRows);
        for (int c = 0; c < RN; ++c) acc[q][c] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xl[q * RN + c]), acc[q][c]);
      }
    for (int c = 0; c < RN; ++c)
      _mm512_store_ps(lanes[l][c],
                      _mm512_add_ps(_mm512_add_ps(acc[0][c], acc[2][c]), _mm512_add_ps(acc[1][c], acc[3][c])));
  }
  for (int c = 0; c < RN; ++c) {  // hsum's pairs: l + 8, then + 4, + 2, + 1
    __m512 h[8];
    for (int i = 0; i < 8; ++i) h[i] = _mm512_add_ps(_mm512_load_ps(lanes[i][c]), _mm512_load_ps(lanes[i + 8][c]));
    for (int i = 0; i < 4; ++i) h[i] = _mm512_add_ps(h[i], h[i + 4]);
    for (int i = 0; i < 2; ++i) h[i] = _mm512_add_ps(h[i], h[i + 2]);
    _mm512_mask_storeu_ps(t.y + (i0 + c) * t.ldy + g * kPanelRows, rows, _mm512_add_ps(h[0], h[1]));
  }
}

void gemm_f16_panel(const GemmTile& t) {
  const int64_t np = t.k / 64 * 64;
  for (int64_t g = 0; g * kPanelRows < t.m; ++g) {
    const float* group = t.panel + g * np * kPanelRows;
    const int64_t left = t.m - g * kPanelRows;
    const __mmask16 rows = left >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << left) - 1);
    row_blocks<kPanelBlockRows>(t.n, [&]<int RN>(int64_t i) { panel_block<RN>(t, group, g, i, rows); });
  }
  F16Weights::finish_tile(t);
}

// ---- quantized weights: two 32-value blocks per register, VNNI dot products ---------------
// Lanes 0-7 hold block b's integer sums (four consecutive products each), lanes 8-15 block
// b+1's; each half is scaled by its own d_w * d_x and accumulated into eight float lanes in
// block order, as ggml's AVX2 vec_dot (the reference's) does. An odd last block has no partner.

inline __m256i nibbles(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

inline __m512i pair(__m256i a, __m256i b) {
  return _mm512_inserti64x4(_mm512_inserti64x4(_mm512_setzero_si512(), a, 0), b, 1);
}

inline __m512 pair_scale(float a, float b) {
  return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

// The two f16 fields every block starts with (d, then m or s; for blocks without them the
// second lane is junk nobody reads), of blocks a and a + 1 (zeros when there is no partner):
// lanes {a.d, a.second, (a+1).d, (a+1).second}. One conversion instead of four.
template <class Block>
inline __m128 head_pair(const Block* a, bool has_b) {
  uint32_t lo, hi = 0;
  std::memcpy(&lo, a, sizeof lo);
  if (has_b) std::memcpy(&hi, a + 1, sizeof hi);
  return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>((static_cast<uint64_t>(hi) << 32) | lo)));
}

// pair_scale(lane 0, lane 2) of a head_pair.
inline __m512 pair_scale(__m128 heads) {
  return _mm512_permutexvar_ps(_mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0),
                               _mm512_castps128_ps512(heads));
}

// acc = fma(scale, sums, acc) for block b (lanes 0-7), then for block b+1 (lanes 8-15).
inline void accumulate(__m256& acc, __m512 scale, __m512 sums, bool has_b) {
  acc = _mm256_fmadd_ps(_mm512_castps512_ps256(scale), _mm512_castps512_ps256(sums), acc);
  if (has_b) acc = _mm256_fmadd_ps(_mm512_extractf32x8_ps(scale, 1), _mm512_extractf32x8_ps(sums, 1), acc);
}

inline uint32_t qh_bits(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;
}

struct Q4_0 { using W = BlockQ4_0; using XBlock = BlockQ8_0; static constexpr int kOffset = 8;
  static constexpr bool kMin = false; static constexpr bool kFifth = false; };
struct Q4_1 { using W = BlockQ4_1; using XBlock = BlockQ8_1; static constexpr int kOffset = 0;
  static constexpr bool kMin = true; static constexpr bool kFifth = false; };
struct Q5_0 { using W = BlockQ5_0; using XBlock = BlockQ8_0; static constexpr int kOffset = 16;
  static constexpr bool kMin = false; static constexpr bool kFifth = true; };
struct Q5_1 { using W = BlockQ5_1; using XBlock = BlockQ8_1; static constexpr int kOffset = 0;
  static constexpr bool kMin = true; static constexpr bool kFifth = true; };

template <class Q>
struct UnsignedQuantKernel {
  using WB = typename Q::W;
  using XB = typename Q::XBlock;

  // Levels (0..15 or 0..31) of blocks a and b; b may be null (zero partner).
  static __m512i levels(const WB* a, const WB* b) {
    const __m256i zero = _mm256_setzero_si256();
    __m512i v = pair(nibbles(a->qs), b ? nibbles(b->qs) : zero);
    if constexpr (Q::kFifth) {
      const uint64_t bits = qh_bits(a->qh) | (b ? static_cast<uint64_t>(qh_bits(b->qh)) << 32 : 0);
      v = _mm512_or_si512(v, _mm512_maskz_set1_epi8(bits, 0x10));
    }
    return v;
  }

  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    static_assert(sizeof(WB) >= 4 && sizeof(XB) >= 4, "head_pair reads two f16 fields");
    __m256 acc[RM][RN];
    // Sum of m_w * s_x per output, lane i of msum[j] (weight row i, activation row j).
    __m128 msum[RN];
    for (int j = 0; j < RN; ++j) {
      msum[j] = _mm_setzero_ps();
      for (int i = 0; i < RM; ++i) acc[i][j] = _mm256_setzero_ps();
    }
    const int64_t nb = t.k / kQK;
    for (int64_t b = 0; b < nb; b += 2) {
      const bool has_b = b + 1 < nb;
      __m512i wv[RM];
      __m512 dw[RM];
      __m128 m_first = _mm_setzero_ps(), m_second = _mm_setzero_ps();  // m of blocks b, b + 1 per row
      {
        __m128 heads[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
        for (int i = 0; i < RM; ++i) {
          const WB* blk = reinterpret_cast<const WB*>(t.w + (r0 + i) * t.w_stride) + b;
          wv[i] = levels(blk, has_b ? blk + 1 : nullptr);
          heads[i] = head_pair(blk, has_b);
          dw[i] = pair_scale(heads[i]);
        }
        if constexpr (Q::kMin) {
          // {d, m, d', m'} of rows 0-3 -> {m of each row} and {m' of each row}.
          m_first = _mm_movehl_ps(_mm_unpacklo_ps(heads[2], heads[3]), _mm_unpacklo_ps(heads[0], heads[1]));
          m_second = _mm_movehl_ps(_mm_unpackhi_ps(heads[2], heads[3]), _mm_unpackhi_ps(heads[0], heads[1]));
        }
      }
      for (int j = 0; j < RN; ++j) {
        const XB* xb = reinterpret_cast<const XB*>(t.x + (i0 + j) * t.x_stride) + b;
        const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[0].qs));
        const __m256i xbv = has_b ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[1].qs))
                                  : _mm256_setzero_si256();
        const __m512i xv = pair(xa, xbv);
        const __m128 x_heads = head_pair(xb, has_b);
        const __m512 dx = pair_scale(x_heads);
        __m512i offset_sum = _mm512_setzero_si512();
        if constexpr (Q::kOffset != 0)
          offset_sum = _mm512_dpbusd_epi32(offset_sum, _mm512_set1_epi8(Q::kOffset), xv);
        for (int i = 0; i < RM; ++i) {
          __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[i], xv);
          if constexpr (Q::kOffset != 0) p = _mm512_sub_epi32(p, offset_sum);
          accumulate(acc[i][j], _mm512_mul_ps(dw[i], dx), _mm512_cvtepi32_ps(p), has_b);
        }
        if constexpr (Q::kMin) {  // block b's term, then b + 1's, each rounded as the scalar sum
          msum[j] = _mm_add_ps(msum[j], _mm_mul_ps(m_first, _mm_shuffle_ps(x_heads, x_heads, 0x55)));
          if (has_b) msum[j] = _mm_add_ps(msum[j], _mm_mul_ps(m_second, _mm_shuffle_ps(x_heads, x_heads, 0xff)));
        }
      }
    }
    for (int j = 0; j < RN; ++j) {
      alignas(16) float ms[4];
      _mm_store_ps(ms, msum[j]);
      for (int i = 0; i < RM; ++i) t.y[(i0 + j) * t.ldy + r0 + i] = hsum(acc[i][j]) + ms[i];
    }
  }
};

struct Q8_0Kernel {
  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    __m256 acc[RM][RN];
    for (int i = 0; i < RM; ++i)
      for (int j = 0; j < RN; ++j) acc[i][j] = _mm256_setzero_ps();
    const int64_t nb = t.k / kQK;
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int64_t b = 0; b < nb; b += 2) {
      const bool has_b = b + 1 < nb;
      __m512i wv[RM], wsum[RM];
      __m512 dw[RM];
      for (int i = 0; i < RM; ++i) {
        const auto* blk = reinterpret_cast<const BlockQ8_0*>(t.w + (r0 + i) * t.w_stride) + b;
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[0].qs));
        const __m256i c = has_b ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[1].qs))
                                : _mm256_setzero_si256();
        wv[i] = pair(a, c);
        // VNNI multiplies unsigned by signed: use x + 128 and take back 128 * sum(w).
        wsum[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, wv[i]);
        dw[i] = pair_scale(head_pair(blk, has_b));
      }
      for (int j = 0; j < RN; ++j) {
        const auto* xb = reinterpret_cast<const BlockQ8_0*>(t.x + (i0 + j) * t.x_stride) + b;
        const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[0].qs));
        const __m256i xc = has_b ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[1].qs))
                                 : _mm256_setzero_si256();
        const __m512i xu = _mm512_xor_si512(pair(xa, xc), bias);
        const __m512 dx = pair_scale(head_pair(xb, has_b));
        for (int i = 0; i < RM; ++i) {
          const __m512i p =
              _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), xu, wv[i]), wsum[i]);
          accumulate(acc[i][j], _mm512_mul_ps(dw[i], dx), _mm512_cvtepi32_ps(p), has_b);
        }
      }
    }
    for (int j = 0; j < RN; ++j)
      for (int i = 0; i < RM; ++i) t.y[(i0 + j) * t.ldy + r0 + i] = hsum(acc[i][j]);
  }
};

// ---- quantized batches from a panel --------------------------------------------------------
// The batch kernels' sums turned around as the f16 panel turns FloatKernel's: lane r of a
// vector is weight row r of a group of kPanelRows, and each of a block's eight integer lanes
// (four consecutive products) is a VNNI dot of the rows' four levels with the activation's
// four values broadcast. Per row the same integer sums, d_w * d_x and m_w * s_x products, FMA
// chain per lane and msum order as UnsignedQuantKernel / Q8_0Kernel; the eight lanes combine
// in hsum's pairs between vectors. The levels are unpacked once per product, not once per
// block of activation rows.
//
// A group's panel, block after block: eight vectors of levels (lane r: row r's levels of
// elements 4j .. 4j + 3 as bytes, j = 0..7), then d_w of the 16 rows as f32, then m_w (types
// with a minimum). Levels are unsigned: q4/q5 as stored (the offset of q4_0 / q5_0 taken back
// from the integer sums), q8_0 plus 128 (128 * sum(x) taken back).

struct Q8_0Panel { using W = BlockQ8_0; using XBlock = BlockQ8_0; static constexpr int kOffset = 128;
  static constexpr bool kMin = false; static constexpr bool kFifth = false; };

template <class Q>
struct QuantPanel {
  using W = typename Q::W;
  using XB = typename Q::XBlock;
  static constexpr bool kQ8 = std::is_same_v<W, BlockQ8_0>;
  static constexpr int64_t kBlockBytes = (8 + 1 + (Q::kMin ? 1 : 0)) * 64;

  static size_t bytes(int64_t m, int64_t k) { return quant_panel_bytes(m, k, kBlockBytes); }

  static __m256i levels(const W& blk) {
    if constexpr (kQ8) {
      return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs)), _mm256_set1_epi8(static_cast<char>(0x80)));
    } else {
      __m256i v = nibbles(blk.qs);
      if constexpr (Q::kFifth) v = _mm256_or_si256(v, _mm256_maskz_set1_epi8(qh_bits(blk.qh), 0x10));
      return v;
    }
  }

  static void build(const uint8_t* w, size_t w_stride, int64_t m, int64_t k, int64_t g0, int64_t g1, float* panel) {
    const int64_t nb = k / kQK;
    auto* out = reinterpret_cast<uint8_t*>(panel);
    for (int64_t g = g0; g < g1; ++g)
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* pb = out + (g * nb + b) * kBlockBytes;
        alignas(64) uint32_t lv[8][kPanelRows] = {};
        alignas(64) float d[kPanelRows] = {}, mins[kPanelRows] = {};
        for (int r = 0; r < kPanelRows && g * kPanelRows + r < m; ++r) {
          const W& blk = reinterpret_cast<const W*>(w + (g * kPanelRows + r) * static_cast<int64_t>(w_stride))[b];
          alignas(32) uint32_t row[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(row), levels(blk));
          for (int j = 0; j < 8; ++j) lv[j][r] = row[j];
          d[r] = half(blk.d);
          if constexpr (Q::kMin) mins[r] = half(blk.m);
        }
        std::memcpy(pb, lv, sizeof lv);
        std::memcpy(pb + 8 * 64, d, sizeof d);
        if constexpr (Q::kMin) std::memcpy(pb + 9 * 64, mins, sizeof mins);
      }
  }

  // Activation rows i0 .. i0 + RN - 1 against a group's panel.
  template <int RN>
  static void block(const GemmTile& t, const uint8_t* group, int64_t g, int64_t i0, __mmask16 rows) {
    const int64_t nb = t.k / kQK;
    const XB* x[RN];
    for (int c = 0; c < RN; ++c) x[c] = reinterpret_cast<const XB*>(t.x + (i0 + c) * t.x_stride);
    __m512 acc[RN][8], msum[RN];
    for (int c = 0; c < RN; ++c) {
      msum[c] = _mm512_setzero_ps();
      for (int j = 0; j < 8; ++j) acc[c][j] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* pb = group + b * kBlockBytes;
      const __m512 dw = _mm512_load_ps(reinterpret_cast<const float*>(pb + 8 * 64));
      __m512 scale[RN];
      alignas(32) int32_t offset[RN][8];  // the offset's share of each lane, negated
      for (int c = 0; c < RN; ++c) {
        scale[c] = _mm512_mul_ps(dw, _mm512_set1_ps(half(x[c][b].d)));
        if constexpr (Q::kMin)
          msum[c] = _mm512_add_ps(msum[c], _mm512_mul_ps(_mm512_load_ps(reinterpret_cast<const float*>(pb + 9 * 64)),
                                                         _mm512_set1_ps(half(x[c][b].s))));
        if constexpr (Q::kOffset != 0) {
          const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[c][b].qs));
          _mm256_store_si256(reinterpret_cast<__m256i*>(offset[c]),
                             _mm256_sub_epi32(_mm256_setzero_si256(),
                                              _mm256_dpbusd_epi32(_mm256_setzero_si256(),
                                                                  _mm256_set1_epi8(static_cast<char>(Q::kOffset)), xv)));
        }
      }
      // Each lane's start broadcast from memory (a load): left to itself, GCC kept the
      // offsets in registers and took each lane out with two shuffles on the FMA port.
      if constexpr (Q::kOffset != 0) asm volatile("" : : "m"(offset) : "memory");
      for (int j = 0; j < 8; ++j) {
        const __m512i lv = _mm512_load_si512(pb + j * 64);
        for (int c = 0; c < RN; ++c) {
          int32_t xq;
          std::memcpy(&xq, x[c][b].qs + 4 * j, sizeof xq);
          const __m512i start = Q::kOffset != 0 ? _mm512_set1_epi32(offset[c][j]) : _mm512_setzero_si512();
          const __m512i sums = _mm512_dpbusd_epi32(start, lv, _mm512_set1_epi32(xq));
          acc[c][j] = _mm512_fmadd_ps(scale[c], _mm512_cvtepi32_ps(sums), acc[c][j]);
        }
      }
    }
    for (int c = 0; c < RN; ++c) {  // hsum's pairs over the eight lanes: j + 4, then + 2, + 1
      const __m512 s04 = _mm512_add_ps(acc[c][0], acc[c][4]), s26 = _mm512_add_ps(acc[c][2], acc[c][6]);
      const __m512 s15 = _mm512_add_ps(acc[c][1], acc[c][5]), s37 = _mm512_add_ps(acc[c][3], acc[c][7]);
      __m512 sum = _mm512_add_ps(_mm512_add_ps(s04, s26), _mm512_add_ps(s15, s37));
      if constexpr (!kQ8) sum = _mm512_add_ps(sum, msum[c]);  // as UnsignedQuantKernel, also without m
      _mm512_mask_storeu_ps(t.y + (i0 + c) * t.ldy + g * kPanelRows, rows, sum);
    }
  }

  // Three activation rows at a time: 24 accumulators, three scales and the levels.
  static constexpr int kBlockRows = 3;

  static void gemm(const GemmTile& t) {
    const int64_t group_bytes = (t.k / kQK) * kBlockBytes;
    for (int64_t g = 0; g * kPanelRows < t.m; ++g) {
      const uint8_t* group = reinterpret_cast<const uint8_t*>(t.panel) + g * group_bytes;
      const int64_t left = t.m - g * kPanelRows;
      const __mmask16 rows = left >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << left) - 1);
      row_blocks<kBlockRows>(t.n, [&]<int RN>(int64_t i) { block<RN>(t, group, g, i, rows); });
    }
  }
};

// ---- quantized weights, one activation row (decoder steps) ---------------------------------
// The kernels above, per output, to the bit: the same integer sums, the same d_w * d_x (and
// m_w * s_x) products, the same FMA chain per lane and msum order. What changes is how they
// are reached, in fewer instructions per block (their per-row scale and level assembly made
// the decoder's products compute-bound): each weight row's two blocks come in one 64-byte
// load (masked to the blocks near a row's end, so nothing past the matrix is read); the d
// (and m) fields of four rows' two blocks are gathered by word permutes into one vector,
// converted and multiplied by the activation's once for the four rows; two rows' chains
// share a register, so a conversion, a scale permute and an FMA serve both.

// Float lanes {d of block b, rows 0-3; d of b + 1, rows 0-3; m of b, rows 0-3; m of b + 1,
// rows 0-3} (m: the second f16 field, junk for blocks without one) of raw pair loads whose
// block b starts at word 0 and block b + 1 at word kPartner. Rows past RM repeat row 0.
template <int kPartner, int RM>
inline __m512 row_heads(const __m512i (&raw)[RM]) {
  const __m512i& r1 = raw[RM > 1 ? 1 : 0];
  const __m512i& r2 = raw[RM > 2 ? 2 : 0];
  const __m512i& r3 = raw[RM > 3 ? 3 : 0];
  __m256i fields;
  if constexpr (kPartner + 1 < 16) {
    const __m256i pick = _mm256_setr_epi16(0, 16, kPartner, 16 + kPartner, 1, 17, kPartner + 1, 17 + kPartner, 0,
                                           0, 0, 0, 0, 0, 0, 0);
    const __m256i t01 = _mm256_permutex2var_epi16(_mm512_castsi512_si256(raw[0]), pick, _mm512_castsi512_si256(r1));
    const __m256i t23 = _mm256_permutex2var_epi16(_mm512_castsi512_si256(r2), pick, _mm512_castsi512_si256(r3));
    fields = _mm256_permutex2var_epi16(
        t01, _mm256_setr_epi16(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), t23);
  } else {
    const __m512i pick = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          33 + kPartner, kPartner + 1, 33, 1, 32 + kPartner, kPartner, 32, 0);
    const __m512i t01 = _mm512_permutex2var_epi16(raw[0], pick, r1);
    const __m512i t23 = _mm512_permutex2var_epi16(r2, pick, r3);
    fields = _mm512_castsi512_si256(_mm512_permutex2var_epi16(
        t01,
        _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 39, 38, 7, 6, 37, 36, 5, 4, 35, 34, 3, 2, 33,
                         32, 1, 0),
        t23));
  }
  return _mm512_cvtph_ps(fields);
}

// The factors of row_heads' lanes from an activation head_pair {d, s, d', s'}.
inline __m512 row_head_factors(__m128 x_heads) {
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 1, 1, 1, 1, 3, 3, 3, 3),
                               _mm512_castps128_ps512(x_heads));
}

// The weight-side part of a row kernel for q4_0 / q4_1 / q5_0 / q5_1: the levels of a pair
// load, as UnsignedQuantKernel::levels gives them (zeros for a missing partner).
template <class Q>
struct UnsignedRowBlocks {
  using W = typename Q::W;
  using XBlock = typename Q::XBlock;
  static constexpr bool kMin = Q::kMin;
  static_assert(sizeof(W) % 2 == 0 && offsetof(W, qs) % 2 == 0, "blocks and their qs are word-aligned");

  // The integer sums start at minus the offset's share: the same sums as the offset taken
  // back from each.
  static __m512i start(__m512i xv) {
    const __m512i zero = _mm512_setzero_si512();
    if constexpr (Q::kOffset == 0) return zero;
    else return _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(Q::kOffset), xv));
  }

  // A word permute puts block b's 16 qs bytes into 128-bit lanes 0 and 1, b + 1's into lanes
  // 2 and 3; lanes 1 and 3 then keep the high nibbles (elements 16-31).
  template <bool kPair>
  [[gnu::always_inline]] static inline __m512i levels(__m512i raw, const W* a) {
    constexpr int q0 = offsetof(W, qs) / 2, q1 = q0 + sizeof(W) / 2;
    const __m512i index = _mm512_set_epi16(q1 + 7, q1 + 6, q1 + 5, q1 + 4, q1 + 3, q1 + 2, q1 + 1, q1, q1 + 7,
                                           q1 + 6, q1 + 5, q1 + 4, q1 + 3, q1 + 2, q1 + 1, q1, q0 + 7, q0 + 6, q0 + 5,
                                           q0 + 4, q0 + 3, q0 + 2, q0 + 1, q0, q0 + 7, q0 + 6, q0 + 5, q0 + 4, q0 + 3,
                                           q0 + 2, q0 + 1, q0);
    const __m512i q = _mm512_permutexvar_epi16(index, raw);
    const __m512i v = _mm512_mask_srli_epi16(q, 0xff00ff00u, q, 4);
    __m512i fifth = _mm512_setzero_si512();
    if constexpr (Q::kFifth) {
      const uint64_t bits = qh_bits(a->qh) | (kPair ? static_cast<uint64_t>(qh_bits(a[1].qh)) << 32 : 0);
      fifth = _mm512_maskz_mov_epi8(bits, _mm512_set1_epi8(0x10));
    }
    return _mm512_ternarylogic_epi32(v, _mm512_set1_epi8(0x0f), fifth, 0xea);  // (v & 0x0f) | fifth
  }
};

// q8_0: VNNI multiplies unsigned by signed; w + 128 against x less 128 * sum(x) (once for all
// rows) gives the same integer sums as Q8_0Kernel's x + 128 against w less 128 * sum(w). The
// qs come in their own loads (a pair is 68 bytes).
struct Q8_0RowBlocks {
  using W = BlockQ8_0;
  using XBlock = BlockQ8_0;
  static constexpr bool kMin = false;

  static __m512i start(__m512i xv) {
    const __m512i zero = _mm512_setzero_si512();
    return _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(static_cast<char>(0x80)), xv));
  }

  template <bool kPair>
  [[gnu::always_inline]] static inline __m512i levels(__m512i, const W* a) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[0].qs));
    const __m256i hi = kPair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[1].qs)) : _mm256_setzero_si256();
    return _mm512_xor_si512(pair(lo, hi), _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

// The products of up to kMaxRows activation rows (a decoder step's: one per sequence) with
// up to four weight rows, two blocks per step: the weights' levels and scales are assembled
// once per step for every activation row.
template <class B>
struct QuantRowKernel {
  using W = typename B::W;
  using XB = typename B::XBlock;
  static constexpr int kMaxRows = 5;  // beam search's sequences
  static constexpr int kBytes = sizeof(W);
  // Blocks from b on that a 64-byte load at block b stays within (of its row).
  static constexpr int kLoadBlocks = (64 + kBytes - 1) / kBytes;
  static_assert(kLoadBlocks >= 2, "a step's load covers the pair's d fields");

  // A step's weights: their levels per row and row_heads' lanes.
  template <int RM>
  struct Fetched {
    __m512i levels[RM];
    __m512 heads;
  };

  // kInside: the 64-byte loads stay within the rows; otherwise they are masked to the blocks.
  template <int RM, bool kPair, bool kInside>
  [[gnu::always_inline]] static inline Fetched<RM> fetch(const uint8_t* const (&w)[RM], int64_t b) {
    constexpr __mmask64 kBlocks = kPair ? ~0ull >> (2 * kBytes >= 64 ? 0 : 64 - 2 * kBytes) : ~0ull >> (64 - kBytes);
    __m512i raw[RM];  // the pair's first 64 bytes (or its bytes only, masked) per row
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i)
      raw[i] = kInside ? _mm512_loadu_si512(w[i] + b * kBytes) : _mm512_maskz_loadu_epi8(kBlocks, w[i] + b * kBytes);
    Fetched<RM> f;
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) f.levels[i] = B::template levels<kPair>(raw[i], reinterpret_cast<const W*>(w[i]) + b);
    f.heads = row_heads<kBytes / 2>(raw);
    return f;
  }

  // One activation row's step. Rows i and i + 1 in one register's chains (lanes 0-7 and
  // 8-15; a missing row RM repeats row 0, its sums unused).
  template <int RM, bool kPair>
  [[gnu::always_inline]] static inline void apply(const Fetched<RM>& f, const XB* x, int64_t b,
                                                  __m512 (&acc)[(RM + 1) / 2], __m128& msum) {
    // row_heads' lanes times the activation's d (and s)
    const __m512 scales = _mm512_mul_ps(f.heads, row_head_factors(head_pair(x + b, kPair)));
    const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i xc = kPair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b + 1].qs))
                             : _mm256_setzero_si256();
    const __m512i xv = pair(xa, xc);
    const __m512i start = B::start(xv);
    __m512i p[RM];
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) p[i] = _mm512_dpbusd_epi32(start, f.levels[i], xv);
#pragma GCC unroll 2
    for (int i = 0; i < RM; i += 2) {
      const __m512i p1 = p[i + 1 < RM ? i + 1 : 0];
      // Block b's sums of both rows, then block b + 1's, each with its rows' scales.
      const __m512 sa = _mm512_cvtepi32_ps(_mm512_shuffle_i64x2(p[i], p1, _MM_SHUFFLE(1, 0, 1, 0)));
      const __m512 scale_a = _mm512_permutexvar_ps(
          _mm512_setr_epi32(i, i, i, i, i, i, i, i, i + 1, i + 1, i + 1, i + 1, i + 1, i + 1, i + 1, i + 1), scales);
      acc[i / 2] = _mm512_fmadd_ps(scale_a, sa, acc[i / 2]);
      if constexpr (kPair) {
        const __m512 sb = _mm512_cvtepi32_ps(_mm512_shuffle_i64x2(p[i], p1, _MM_SHUFFLE(3, 2, 3, 2)));
        const __m512 scale_b = _mm512_permutexvar_ps(
            _mm512_setr_epi32(i + 4, i + 4, i + 4, i + 4, i + 4, i + 4, i + 4, i + 4, i + 5, i + 5, i + 5, i + 5, i + 5,
                              i + 5, i + 5, i + 5),
            scales);
        acc[i / 2] = _mm512_fmadd_ps(scale_b, sb, acc[i / 2]);
      }
    }
    if constexpr (B::kMin) {  // block b's terms, then b + 1's, each rounded as the scalar sum
      msum = _mm_add_ps(msum, _mm512_extractf32x4_ps(scales, 2));
      if constexpr (kPair) msum = _mm_add_ps(msum, _mm512_extractf32x4_ps(scales, 3));
    }
  }

  template <int RM, int RN, bool kPair, bool kInside>
  [[gnu::always_inline]] static inline void step(const uint8_t* const (&w)[RM], const XB* const (&x)[RN], int64_t b,
                                                 __m512 (&acc)[RN][(RM + 1) / 2], __m128 (&msum)[RN]) {
    const Fetched<RM> f = fetch<RM, kPair, kInside>(w, b);
#pragma GCC unroll 5
    for (int j = 0; j < RN; ++j) apply<RM, kPair>(f, x[j], b, acc[j], msum[j]);
  }

  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    static_assert(RN <= kMaxRows && RM <= 4, "up to kMaxRows activation rows, up to four weight rows");
    const uint8_t* w[RM];
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) w[i] = t.w + (r0 + i) * t.w_stride;
    const XB* x[RN];
#pragma GCC unroll 5
    for (int j = 0; j < RN; ++j) x[j] = reinterpret_cast<const XB*>(t.x + (i0 + j) * t.x_stride);
    __m512 acc[RN][(RM + 1) / 2];
    __m128 msum[RN];  // lane i: row i's sum of m_w * s_x
#pragma GCC unroll 5
    for (int j = 0; j < RN; ++j) {
      msum[j] = _mm_setzero_ps();
#pragma GCC unroll 2
      for (int i = 0; i < (RM + 1) / 2; ++i) acc[j][i] = _mm512_setzero_ps();
    }
    const int64_t nb = t.k / kQK;
    int64_t b = 0;
    for (; b + kLoadBlocks <= nb; b += 2) step<RM, RN, true, true>(w, x, b, acc, msum);
    for (; b + 1 < nb; b += 2) step<RM, RN, true, false>(w, x, b, acc, msum);
    if (b < nb) step<RM, RN, false, false>(w, x, b, acc, msum);
    for (int j = 0; j < RN; ++j) {
      alignas(16) float ms[4];
      _mm_store_ps(ms, msum[j]);
      // + ms[i] also without m fields: as UnsignedQuantKernel (a -0 sum becomes +0), while
      // Q8_0Kernel stores the sum as it is.
#pragma GCC unroll 4
      for (int i = 0; i < RM; ++i) {
        const float sum =
            hsum(i % 2 ? _mm512_extractf32x8_ps(acc[j][i / 2], 1) : _mm512_castps512_ps256(acc[j][i / 2]));
        t.y[(i0 + j) * t.ldy + r0 + i] = std::is_same_v<W, BlockQ8_0> ? sum : sum + ms[i];
      }
    }
  }
};

void gemm_f32(const GemmTile& t) { gemm_tiled<4, 4, FloatKernel<F32Weights>, FloatRowKernel<F32Weights>>(t); }
void gemm_f16(const GemmTile& t) {
  if (t.panel != nullptr) return gemm_f16_panel(t);
  gemm_tiled<4, 3, FloatKernel<F16Weights>, FloatRowKernel<F16Weights>>(t);
}
template <class Q, int RM, int RN, class K, class S>
void gemm_quant(const GemmTile& t) {
  if (t.panel != nullptr) return QuantPanel<Q>::gemm(t);
  gemm_tiled<RM, RN, K, S>(t);
}
void gemm_q4_0(const GemmTile& t) { gemm_quant<Q4_0, 4, 3, UnsignedQuantKernel<Q4_0>, QuantRowKernel<UnsignedRowBlocks<Q4_0>>>(t); }
void gemm_q4_1(const GemmTile& t) { gemm_quant<Q4_1, 4, 3, UnsignedQuantKernel<Q4_1>, QuantRowKernel<UnsignedRowBlocks<Q4_1>>>(t); }
void gemm_q5_0(const GemmTile& t) { gemm_quant<Q5_0, 4, 4, UnsignedQuantKernel<Q5_0>, QuantRowKernel<UnsignedRowBlocks<Q5_0>>>(t); }
// The four outputs of an interleaved group from its lanes' sums s (lane 4 i + j: row i's
// lane j and 4 + j added): (s[4i] + s[4i+2]) + (s[4i+1] + s[4i+3]), hsum's pairs, in one
// vector (lane i), where taking the lanes out one by one cost a fifth of a q8_0 step.
inline __m128 group_sums(__m512 s) {
  const __m512 t = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(1, 0, 3, 2)));  // lanes j and j + 2
  const __m512 u = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));  // then j and j + 1
  const __m512i firsts = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(firsts, u));
}

// q5_1 rows from their interleaved records (BlockQ5_1x4), NX activation rows: a group's four
// rows share every vector. Lane 4 i + j of the low and high sums is row i's integer lane j
// and 4 + j of UnsignedQuantKernel's eight (elements 4 j.. and 16 + 4 j..); each lane takes
// its FMA with d_w * d_x block by block, and the row's result the same additions in the same
// order as the row kernels (QuantAccumulator::result), so the bits are theirs.
template <int NX>
void gemv_q5_1_x4_rows(const GemmTile& t, const std::vector<float>& scales) {
  const int64_t nb = t.k / kQK, groups = t.m / 4;
  const BlockQ8_1* x[NX];
  for (int r = 0; r < NX; ++r) x[r] = reinterpret_cast<const BlockQ8_1*>(t.x + r * t.x_stride);
  const __m512i low4 = _mm512_set1_epi8(0x0f), fifth = _mm512_set1_epi8(0x10);
  const __m512i by_row = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const auto* rec = reinterpret_cast<const BlockQ5_1x4*>(t.interleaved);
  for (int64_t g = 0; g < groups; ++g, rec += nb) {
    __m512 acc_lo[NX], acc_hi[NX];
    __m128 msum[NX];
    for (int r = 0; r < NX; ++r) {
      acc_lo[r] = acc_hi[r] = _mm512_setzero_ps();
      msum[r] = _mm_setzero_ps();
    }
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ5_1x4& q = rec[b];
      const __m512i v = _mm512_loadu_si512(q.qs);
      __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      lo = _mm512_mask_add_epi8(lo, _cvtu64_mask64(q.qh_lo), lo, fifth);
      hi = _mm512_mask_add_epi8(hi, _cvtu64_mask64(q.qh_hi), hi, fifth);
      const __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q.d)));  // d0-3, m0-3
      const __m512 d_w = _mm512_permutexvar_ps(by_row, _mm512_castps256_ps512(dm));
      const __m128 m_w = _mm256_extractf128_ps(dm, 1);
#pragma GCC unroll 5
      for (int r = 0; r < NX; ++r) {
        const int8_t* qx = x[r][b].qs;
        const __m512i x_lo = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qx)));
        const __m512i x_hi = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qx + 16)));
        const __m512 p_lo = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, x_lo));
        const __m512 p_hi = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, x_hi));
        const float* sc = &scales[(r * nb + b) * 2];
        const __m512 d = _mm512_mul_ps(d_w, _mm512_set1_ps(sc[0]));
        acc_lo[r] = _mm512_fmadd_ps(d, p_lo, acc_lo[r]);
        acc_hi[r] = _mm512_fmadd_ps(d, p_hi, acc_hi[r]);
        msum[r] = _mm_add_ps(msum[r], _mm_mul_ps(m_w, _mm_set1_ps(sc[1])));
      }
    }
    for (int r = 0; r < NX; ++r)
      _mm_storeu_ps(t.y + r * t.ldy + 4 * g, _mm_add_ps(group_sums(_mm512_add_ps(acc_lo[r], acc_hi[r])), msum[r]));
  }
}

void gemv_q5_1_x4(const GemmTile& t) {
  thread_local std::vector<float> scales;  // per activation row and block: d_x, s_x
  gemv_interleaved_rows(t, scales, [](uint16_t h) { return half(h); },
                        [&]<int N>() { gemv_q5_1_x4_rows<N>(t, scales); });
}

void gemm_q5_1(const GemmTile& t) { gemm_quant<Q5_1, 4, 4, UnsignedQuantKernel<Q5_1>, QuantRowKernel<UnsignedRowBlocks<Q5_1>>>(t); }

// An activation block's part of a q8_0 group product: -128 * (x[4j] + .. + x[4j + 3]) for
// j < 8 (the integer sums' starts), and d_x.
struct Q8_0Terms {
  int32_t start[8];
  float d_x;
};

// q8_0 rows from their interleaved records (BlockQ8_0x4), NX activation rows, in
// gemv_q5_1_x4_rows' lanes and order: the integer sums are Q8_0Kernel's (levels plus 128
// against x, started from terms[r][b].start), so every output is the row kernels'.
template <int NX>
void gemv_q8_0_x4_rows(const GemmTile& t, const Q8_0Terms* terms) {
  const int64_t nb = t.k / kQK, groups = t.m / 4;
  const BlockQ8_0* x[NX];
  for (int r = 0; r < NX; ++r) x[r] = reinterpret_cast<const BlockQ8_0*>(t.x + r * t.x_stride);
  const __m512i by_row = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const auto* rec = reinterpret_cast<const BlockQ8_0x4*>(t.interleaved);
  for (int64_t g = 0; g < groups; ++g, rec += nb) {
    __m512 acc_lo[NX], acc_hi[NX];
    for (int r = 0; r < NX; ++r) acc_lo[r] = acc_hi[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8_0x4& q = rec[b];
      const __m512i lo = _mm512_loadu_si512(q.lo), hi = _mm512_loadu_si512(q.hi);
      const __m512 d_w = _mm512_permutexvar_ps(
          by_row, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q.d)))));
#pragma GCC unroll 5
      for (int r = 0; r < NX; ++r) {
        const int8_t* qx = x[r][b].qs;
        const Q8_0Terms& tb = terms[r * nb + b];
        const __m512i x_lo = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qx)));
        const __m512i x_hi = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qx + 16)));
        const __m512i start_lo = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tb.start)));
        const __m512i start_hi =
            _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tb.start + 4)));
        const __m512 p_lo = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start_lo, lo, x_lo));
        const __m512 p_hi = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start_hi, hi, x_hi));
        const __m512 d = _mm512_mul_ps(d_w, _mm512_set1_ps(tb.d_x));
        acc_lo[r] = _mm512_fmadd_ps(d, p_lo, acc_lo[r]);
        acc_hi[r] = _mm512_fmadd_ps(d, p_hi, acc_hi[r]);
      }
    }
    for (int r = 0; r < NX; ++r)
      _mm_storeu_ps(t.y + r * t.ldy + 4 * g, group_sums(_mm512_add_ps(acc_lo[r], acc_hi[r])));
  }
}

void gemv_q8_0_x4(const GemmTile& t) {
  thread_local std::vector<Q8_0Terms> terms;  // [activation row][block]
  const int64_t nb = t.k / kQK;
  terms.resize(static_cast<size_t>(t.n * nb));
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t r = 0; r < t.n; ++r) {
    const auto* x = reinterpret_cast<const BlockQ8_0*>(t.x + r * t.x_stride);
    for (int64_t b = 0; b < nb; ++b) {
      Q8_0Terms& tb = terms[r * nb + b];
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
      const __m256i zero = _mm256_setzero_si256();
      const __m256i start = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, bias, xv));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(tb.start), start);
      tb.d_x = half(x[b].d);
    }
  }
  interleaved_rows_dispatch(t.n, [&]<int N>() { gemv_q8_0_x4_rows<N>(t, terms.data()); });
}

void gemm_q8_0(const GemmTile& t) { gemm_quant<Q8_0Panel, 4, 3, Q8_0Kernel, QuantRowKernel<Q8_0RowBlocks>>(t); }

// ---- attention element-wise loops: the scalar table's arithmetic, 16 lanes at a time --------

inline __m512 v_expf(__m512 x) {
  const __m512 r = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
  const __m512 n = _mm512_sub_ps(z, r);
  // -n as the scalar code negates it (fnmadd would keep a NaN's sign).
  const __m512 neg_n = _mm512_xor_ps(n, _mm512_set1_ps(-0.0f));
  const __m512 b = _mm512_fmadd_ps(neg_n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                   _mm512_fmadd_ps(neg_n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  const __m512 res = _mm512_scalef_ps(j, n);
  const __mmask16 over192 = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
  if (over192 == 0) return res;
  const __mmask16 non_positive = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
  const __m512 alt = _mm512_mask_blend_ps(non_positive, _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
  return _mm512_mask_blend_ps(over192, res, alt);
}

void exp_shifted(const float* x, float shift, float* out, int64_t n) {
  const __m512 sh = _mm512_set1_ps(shift);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(out + j, v_expf(_mm512_sub_ps(_mm512_loadu_ps(x + j), sh)));
  if (j < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1);
    _mm512_mask_storeu_ps(out + j, m, v_expf(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), sh)));
  }
}

// expf as glibc (2.27 on) computes it, 16 lanes at a time: x * 32/ln2 = k + r, 2^(k/32) from
// a table, 2^(r/32) by a cubic, in double, with the same operations and roundings as its
// x86-64 FMA build (the FMAs where that build has them), so each lane gets libm's bits. Lanes
// outside its fast path (near under- and overflow, inf, NaN) call libm itself.
// kExp2Table[i]: 2^(i/32) rounded to double, minus i << 47 (adding k << 47 then scales by 2^(k/32)).
alignas(64) constexpr uint64_t kExp2Table[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540};

inline __m256 libm_expf8(__m256 x) {
  const __m512d xd = _mm512_cvtps_pd(x);
  const __m512d inv_ln2_n = _mm512_set1_pd(0x1.71547652b82fep+5), shift = _mm512_set1_pd(0x1.8p+52);
  __m512d kd = _mm512_fmadd_pd(xd, inv_ln2_n, shift);
  const __m512i ki = _mm512_castpd_si512(kd);
  kd = _mm512_sub_pd(kd, shift);
  const __m512d r = _mm512_fmsub_pd(inv_ln2_n, xd, kd);
  const auto* tab = reinterpret_cast<const __m512i*>(kExp2Table);
  const __m512i lo = _mm512_permutex2var_epi64(_mm512_load_si512(tab), ki, _mm512_load_si512(tab + 1));
  const __m512i hi = _mm512_permutex2var_epi64(_mm512_load_si512(tab + 2), ki, _mm512_load_si512(tab + 3));
  __m512i t = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(ki, _mm512_set1_epi64(16)), lo, hi);
  t = _mm512_add_epi64(t, _mm512_slli_epi64(ki, 47));
  const __m512d z = _mm512_fmadd_pd(r, _mm512_set1_pd(0x1.c6af84b912394p-20), _mm512_set1_pd(0x1.ebfce50fac4f3p-13));
  const __m512d r2 = _mm512_mul_pd(r, r);
  __m512d y = _mm512_fmadd_pd(r, _mm512_set1_pd(0x1.62e42ff0c52d6p-6), _mm512_set1_pd(1.0));
  y = _mm512_fmadd_pd(z, r2, y);
  return _mm512_cvtpd_ps(_mm512_mul_pd(y, _mm512_castsi512_pd(t)));
}

void libm_expf_shifted(const float* x, float shift, float* out, int64_t n) {
  const __m512 sh = _mm512_set1_ps(shift);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - j)) - 1);
    const __m512 v = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), sh);
    // libm's fast path: |x| < 88, and after its range checks -0x1.9d1d9ep6 <= x <= -88 too.
    // Below -104 expf_flush gives 0; the rest (under/overflow edges, inf, NaN) is libm's.
    const __mmask16 fast = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-0x1.9d1d9ep6f), _CMP_GE_OQ) &
                           _mm512_cmp_ps_mask(v, _mm512_set1_ps(88.0f), _CMP_LT_OQ);
    const __mmask16 zero = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-104.0f), _CMP_LT_OQ);
    const __mmask16 slow = m & ~fast & ~zero;
    const __m256 lo = libm_expf8(_mm512_castps512_ps256(v)), hi = libm_expf8(_mm512_extractf32x8_ps(v, 1));
    const __m512 e = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    _mm512_mask_storeu_ps(out + j, m, _mm512_maskz_mov_ps(static_cast<__mmask16>(~zero), e));
    if (slow != 0) {
      alignas(64) float vs[16];
      _mm512_store_ps(vs, v);
      for (int l = 0; l < 16; ++l)
        if (slow >> l & 1) out[j + l] = expf_flush(vs[l]);
    }
  }
}

// libm_expf_shifted if it agrees with this process's libm (a libm with another expf than
// glibc's would not), else the loop over libm.
using ExpFn = void (*)(const float* x, float shift, float* out, int64_t n);
ExpFn libm_expf_choice() {
  static const ExpFn fn = libm_expf_agrees(libm_expf_shifted) ? libm_expf_shifted : libm_expf_shifted_loop;
  return fn;
}

constexpr int kRoundNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

void f16_axpy(uint16_t* acc, const uint16_t* v, float s, int64_t n) {
  const __m512 sv = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 a = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, acc + i));
    const __m512 b = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, v + i));
    _mm256_mask_storeu_epi16(acc + i, m, _mm512_cvtps_ph(_mm512_fmadd_ps(b, sv, a), kRoundNearest));
  }
}

// Sixteen lanes of y at a time stay in a register through the whole chain.
// V registers of y side by side: independent FMA chains, so the loop is not bound by one
// chain's latency (each element's chain is still the same, in the same order).
template <int V>
inline void f32_axpy_lanes(float* y, const float* x, int64_t x_stride, const float* s, int64_t count) {
  __m512 acc[V];
  for (int v = 0; v < V; ++v) acc[v] = _mm512_loadu_ps(y + 16 * v);
  for (int64_t c = 0; c < count; ++c) {
    const __m512 sv = _mm512_set1_ps(s[c]);
    const float* xr = x + c * x_stride;
    for (int v = 0; v < V; ++v) acc[v] = _mm512_fmadd_ps(_mm512_loadu_ps(xr + 16 * v), sv, acc[v]);
  }
  for (int v = 0; v < V; ++v) _mm512_storeu_ps(y + 16 * v, acc[v]);
}

void f32_axpy(float* y, const float* x, int64_t x_stride, const float* s, int64_t count, int64_t n) {
  int64_t i0 = 0;
  for (; i0 + 64 <= n; i0 += 64) f32_axpy_lanes<4>(y + i0, x + i0, x_stride, s, count);
  for (; i0 + 32 <= n; i0 += 32) f32_axpy_lanes<2>(y + i0, x + i0, x_stride, s, count);
  for (int64_t i = i0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 acc = _mm512_maskz_loadu_ps(m, y + i);
    for (int64_t c = 0; c < count; ++c)
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + c * x_stride + i), _mm512_set1_ps(s[c]), acc);
    _mm512_mask_storeu_ps(y + i, m, acc);
  }
}

// f32_axpy for R rows over the same x (query rows against one key or value tile): each x
// register loaded once feeds every row's chains; R x V accumulators stay in registers.
template <int R, int V>
inline void f32_axpy_rows_lanes(float* const* y, const float* const* s, int64_t off, const float* x, int64_t x_stride,
                                int64_t count) {
  __m512 a[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) a[r][v] = _mm512_loadu_ps(y[r] + off + 16 * v);
  for (int64_t c = 0; c < count; ++c) {
    const float* xr = x + c * x_stride;  // x is already at off
    __m512 xv[V];
    for (int v = 0; v < V; ++v) xv[v] = _mm512_loadu_ps(xr + 16 * v);
    for (int r = 0; r < R; ++r) {
      const __m512 sv = _mm512_set1_ps(s[r][c]);
      for (int v = 0; v < V; ++v) a[r][v] = _mm512_fmadd_ps(xv[v], sv, a[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(y[r] + off + 16 * v, a[r][v]);
}

template <int V>
void f32_axpy_rows_at(float* const* y, const float* const* s, int nr, int64_t off, const float* x, int64_t x_stride,
                      int64_t count) {
  switch (nr) {
    case 1: return f32_axpy_rows_lanes<1, V>(y, s, off, x, x_stride, count);
    case 2: return f32_axpy_rows_lanes<2, V>(y, s, off, x, x_stride, count);
    case 3: return f32_axpy_rows_lanes<3, V>(y, s, off, x, x_stride, count);
    case 4: return f32_axpy_rows_lanes<4, V>(y, s, off, x, x_stride, count);
    case 5: return f32_axpy_rows_lanes<5, V>(y, s, off, x, x_stride, count);
    default: return f32_axpy_rows_lanes<6, V>(y, s, off, x, x_stride, count);
  }
}
static_assert(kAxpyRows == 6, "f32_axpy_rows_at covers 1..6 rows");

void f32_axpy_rows(float* const* y, const float* const* s, int nr, const float* x, int64_t x_stride, int64_t count,
                   int64_t n) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) f32_axpy_rows_at<4>(y, s, nr, i, x + i, x_stride, count);
  for (; i + 16 <= n; i += 16) f32_axpy_rows_at<1>(y, s, nr, i, x + i, x_stride, count);
  if (i < n)
    for (int r = 0; r < nr; ++r) f32_axpy(y[r] + i, x + i, x_stride, s[r], count, n - i);
}

bool softmax_tile(float* kq, int64_t nt, float scale, float* m, float* sum, float* ms) {
  const __m512 neg_inf = _mm512_set1_ps(-INFINITY), sc = _mm512_set1_ps(scale);
  __m512 v[4], mx = neg_inf;
  __mmask16 lanes[4];
  const int groups = static_cast<int>((nt + 15) / 16);
  for (int g = 0; g < groups; ++g) {
    const int64_t left = nt - 16 * g;
    lanes[g] = left >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << left) - 1);
    // Lanes past the tile are its -INFINITY padding.
    v[g] = _mm512_mul_ps(_mm512_mask_loadu_ps(neg_inf, lanes[g], kq + 16 * g), sc);
    mx = _mm512_max_ps(mx, v[g]);
  }
  const float tile_max = _mm512_reduce_max_ps(mx);
  if (tile_max == -INFINITY) {
    for (int g = 0; g < groups; ++g) _mm512_mask_storeu_ps(kq + 16 * g, lanes[g], v[g]);
    return false;
  }
  const float m_new = std::fmax(*m, tile_max);
  *ms = 1.0f;
  if (m_new > *m) {
    *ms = expf(*m - m_new);
    *sum *= *ms;
  }
  *m = m_new;
  const __m512 shift = _mm512_set1_ps(m_new);
  double tile_sum = 0.0;
  for (int g = 0; g < groups; ++g) {
    const __m512 e = v_expf(_mm512_sub_ps(v[g], shift));
    _mm512_mask_storeu_ps(kq + 16 * g, lanes[g], e);
    tile_sum += static_cast<double>(_mm512_reduce_add_ps(e));
  }
  *sum = static_cast<float>(static_cast<double>(*sum) + tile_sum);
  return true;
}

void f16_scale(uint16_t* acc, float s, int64_t n) {
  const __m512 sv = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 a = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, acc + i));
    _mm256_mask_storeu_epi16(acc + i, m, _mm512_cvtps_ph(_mm512_mul_ps(a, sv), kRoundNearest));
  }
}

// One chunk of keys' accumulator updates for P jobs side by side: one job's chain of
// conversions and FMA per key is latency-bound, P of them overlap. The accumulators stay in
// registers for the whole chunk (rounded to f16 and back after each update, which is exactly
// what storing and reloading them would do) and in acc between chunks: with them live across
// the factors' libm calls (every vector register is caller-saved), GCC kept them in memory
// for every update. Jobs shorter than the longest simply stop. kShared: every job reads the
// same value rows (beam search's rows of one head over the same keys), so each row is
// widened once for all of them.
template <int V, int P, bool kShared>
[[gnu::noinline]] void online_softmax_update(float* acc, const uint16_t* const* v, const int32_t* const* rows,
                                             const int64_t* len, const float (*ms)[kSoftmaxChunk],
                                             const float (*vs)[kSoftmaxChunk], int64_t stride) {
  __m512 a[P][V];
  int64_t longest = 0;
  for (int p = 0; p < P; ++p) {
    for (int i = 0; i < V; ++i) a[p][i] = _mm512_loadu_ps(acc + (p * V + i) * 16);
    longest = len[p] > longest ? len[p] : longest;
  }
  for (int64_t j = 0; j < longest; ++j) {
    __m512 shared[kShared ? V : 1];
    if constexpr (kShared) {
      const uint16_t* vrow = v[0] + (rows[0] ? rows[0][j] : j) * stride;
#pragma GCC unroll 8
      for (int i = 0; i < V; ++i)
        shared[i] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(vrow + 16 * i)));
    }
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      if (!kShared && j >= len[p]) continue;
      const uint16_t* vrow = v[p] + (rows[p] ? rows[p][j] : j) * stride;
      // A factor of exactly 1 leaves an f16 value as it is: skipping it changes no bit.
      if (ms[p][j] != 1.0f) {
        const __m512 msv = _mm512_set1_ps(ms[p][j]);
#pragma GCC unroll 8
        for (int i = 0; i < V; ++i)
          a[p][i] = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_mul_ps(a[p][i], msv), kRoundNearest));
      }
      const __m512 vsv = _mm512_set1_ps(vs[p][j]);
#pragma GCC unroll 8
      for (int i = 0; i < V; ++i) {
        const __m512 b = kShared ? shared[i]
                                 : _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(vrow + 16 * i)));
        a[p][i] = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_fmadd_ps(b, vsv, a[p][i]), kRoundNearest));
      }
    }
  }
  for (int p = 0; p < P; ++p)
    for (int i = 0; i < V; ++i) _mm512_storeu_ps(acc + (p * V + i) * 16, a[p][i]);
}

// P jobs over heads up to 128 wide: per chunk of keys, first the factors (the running max,
// both exponentials and the sum, which do not depend on the accumulators), then the updates.
template <int V, int P>
void online_softmax_regs(const OnlineSoftmaxJob* jobs, int64_t stride) {
  alignas(64) float acc[P * V * 16];
  float mx[P], sm[P];
  const uint16_t* v[P];
  const int32_t* rows[P];
  int64_t longest = 0;
  for (int p = 0; p < P; ++p) {
    for (int i = 0; i < V; ++i)
      _mm512_store_ps(acc + (p * V + i) * 16,
                      _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(jobs[p].acc + 16 * i))));
    mx[p] = *jobs[p].m;
    sm[p] = *jobs[p].sum;
    longest = jobs[p].n > longest ? jobs[p].n : longest;
  }
  // The same value rows for every job: the same base, the same keys (one list, or none).
  bool shared = P > 1;
  for (int p = 1; p < P; ++p)
    shared = shared && jobs[p].v == jobs[0].v && jobs[p].n == jobs[0].n && jobs[p].rows == jobs[0].rows;
  float ms_buf[P][kSoftmaxChunk], vs_buf[P][kSoftmaxChunk];
  for (int64_t j0 = 0; j0 < longest; j0 += kSoftmaxChunk) {
    int64_t len[P];
    const float* scores[P];
    for (int p = 0; p < P; ++p) {
      const int64_t at = j0 < jobs[p].n ? j0 : jobs[p].n;  // a finished job stays at its end
      len[p] = jobs[p].n - at < kSoftmaxChunk ? jobs[p].n - at : kSoftmaxChunk;
      scores[p] = jobs[p].scores + at;
      v[p] = jobs[p].rows ? jobs[p].v : jobs[p].v + at * stride;
      rows[p] = jobs[p].rows ? jobs[p].rows + at : nullptr;
    }
    online_softmax_factors<P>(scores, len, mx, sm, ms_buf, vs_buf, libm_expf_choice());
    if (shared) online_softmax_update<V, P, true>(acc, v, rows, len, ms_buf, vs_buf, stride);
    else online_softmax_update<V, P, false>(acc, v, rows, len, ms_buf, vs_buf, stride);
  }
  for (int p = 0; p < P; ++p) {
    for (int i = 0; i < V; ++i)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(jobs[p].acc + 16 * i),
                          _mm512_cvtps_ph(_mm512_load_ps(acc + (p * V + i) * 16), kRoundNearest));
    *jobs[p].m = mx[p];
    *jobs[p].sum = sm[p];
  }
}

// Jobs in groups of up to five, beam search's rows of a head (at most 20 accumulator
// registers, and a value row's V beside them).
template <int V>
void online_softmax_groups(const OnlineSoftmaxJob* jobs, int count, int64_t stride) {
  constexpr int kMaxJobs = 20 / V < 5 ? 20 / V : 5;
  for (; count >= kMaxJobs; jobs += kMaxJobs, count -= kMaxJobs) online_softmax_regs<V, kMaxJobs>(jobs, stride);
  switch (count) {
    case 4: if constexpr (kMaxJobs > 4) return online_softmax_regs<V, 4>(jobs, stride); break;
    case 3: if constexpr (kMaxJobs > 3) return online_softmax_regs<V, 3>(jobs, stride); break;
    case 2: if constexpr (kMaxJobs > 2) return online_softmax_regs<V, 2>(jobs, stride); break;
    case 1: return online_softmax_regs<V, 1>(jobs, stride);
    default: break;
  }
}

void f16_online_softmax(const OnlineSoftmaxJob* jobs, int count, int64_t stride, int64_t d) {
  switch (d) {
    case 64: return online_softmax_groups<4>(jobs, count, stride);
    case 32: return online_softmax_groups<2>(jobs, count, stride);
    case 128: return online_softmax_groups<8>(jobs, count, stride);
    default:
      for (int i = 0; i < count; ++i) f16_online_softmax_generic(*avx512_table(), jobs[i], stride, d);
  }
}

// R query rows over G groups of eight keys at a time (a block's 64, or half of it), in
// double lanes, so each key's sum keeps its order and the independent sums hide the FMAs'
// latency; a key vector widened once serves every row. fma(k, q, sum) rounds exactly as
// sum + f32(k * q): the product of two f16 values is exact in float and in double.
template <int R, int G>
void dot_f16_keys(const uint16_t* keys, const double* const* q, int64_t d, float* const* out, int64_t at) {
  __m512d acc[R][G];
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) acc[r][g] = _mm512_setzero_pd();
  for (int64_t i = 0; i < d; ++i) {
    const uint16_t* k = keys + i * kKeyBlock;
    __m512d kv[G];
    for (int g = 0; g < G; ++g)
      kv[g] = _mm512_cvtps_pd(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + 8 * g))));
    for (int r = 0; r < R; ++r) {
      const __m512d qv = _mm512_set1_pd(q[r][i]);
      for (int g = 0; g < G; ++g) acc[r][g] = _mm512_fmadd_pd(kv[g], qv, acc[r][g]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) _mm256_storeu_ps(out[r] + at + 8 * g, _mm512_cvtpd_ps(acc[r][g]));
}

// One row: a block's 64 keys in eight registers. Several: half a block at a time (four
// registers per row).
template <int R>
void dot_f16_blocks(const uint16_t* blocks, int64_t n_blocks, const uint16_t* const* q, int64_t d, float* const* out) {
  const double* qd[R];
  widen_queries<R>(q, d, [](uint16_t h) { return static_cast<double>(half(h)); }, qd);
  for (int64_t b = 0; b < n_blocks; ++b, blocks += kKeyBlock * d) {
    if constexpr (R == 1) {
      dot_f16_keys<1, kKeyBlock / 8>(blocks, qd, d, out, b * kKeyBlock);
    } else {
      dot_f16_keys<R, kKeyBlock / 16>(blocks, qd, d, out, b * kKeyBlock);
      dot_f16_keys<R, kKeyBlock / 16>(blocks + kKeyBlock / 2, qd, d, out, b * kKeyBlock + kKeyBlock / 2);
    }
  }
}
static_assert(kDotQueries == 5, "dot_f16_blocked covers 1..5 rows");

void dot_f16_blocked(const uint16_t* blocks, int64_t n_blocks, const uint16_t* const* q, int nq, int64_t d,
                     float* const* out) {
  switch (nq) {
    case 1: return dot_f16_blocks<1>(blocks, n_blocks, q, d, out);
    case 2: return dot_f16_blocks<2>(blocks, n_blocks, q, d, out);
    case 3: return dot_f16_blocks<3>(blocks, n_blocks, q, d, out);
    case 4: return dot_f16_blocks<4>(blocks, n_blocks, q, d, out);
    case 5: return dot_f16_blocks<5>(blocks, n_blocks, q, d, out);
    default: return;
  }
}

// The scalar table's convert_row_f16 (round to nearest even through f16 and back); the
// hardware conversions give the same bits for every input, NaN payloads included.
void convert_row_f16_simd(const float* x, void* dst, int64_t k) {
  auto* out = static_cast<float*>(dst);
  for (int64_t i = 0; i < k; i += 16) {
    const __mmask16 m = k - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (k - i)) - 1);
    _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), kRoundNearest)));
  }
}

// Rows x[0], x[ldx], ... as one block of the panel kernel's activations (panel_x_offset):
// convert_row_f16_simd's values, value 16j + l of row c (of the first np) at
// (l * steps + j) * rows + c, scattered from each run of 16 converted together.
void convert_block_f16_panel(const float* x, int64_t ldx, int rows, void* dst, int64_t k) {
  auto* out = static_cast<float*>(dst);
  const int64_t np = k / 64 * 64, steps = np / 16;
  const __m512i lanes = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(static_cast<int>(steps * rows)));
  for (int c = 0; c < rows; ++c) {
    const float* xr = x + c * ldx;
    for (int64_t j = 0; j < steps; ++j)
      _mm512_i32scatter_ps(out + j * rows + c, lanes,
                           _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(xr + 16 * j), kRoundNearest)), 4);
    convert_row_f16_simd(xr + np, out + np * rows + c * (k - np), k - np);
  }
}

// The scalar table's q8 activation blocks, 32 values in two registers: the same maximum
// (NaN lanes never win: maxps keeps its second operand), the same multiplier 127 / amax, the
// product rounded half-to-even by cvtps2dq (NaN and overflow: INT32_MIN) and saturated to
// int8, the sum of the unsaturated values wrapping as the scalar one does.
template <class Block>
void convert_row_q8_simd(const float* x, void* dst, int64_t k) {
  auto* out = static_cast<Block*>(dst);
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < k / kQK; ++b, x += kQK) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    __m512 mx = _mm512_max_ps(_mm512_and_ps(v0, abs_mask), _mm512_setzero_ps());
    mx = _mm512_max_ps(_mm512_and_ps(v1, abs_mask), mx);
    const float amax = _mm512_reduce_max_ps(mx);
    const float d = amax / 127.0f;
    out[b].d = fp32_to_fp16(d);
    const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id)), q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs + 16), _mm512_cvtsepi32_epi8(q1));
    if constexpr (std::is_same_v<Block, BlockQ8_1>) {
      // Vector adds all the way (they wrap; the header's reduce ends in a signed scalar add).
      const __m512i s16 = _mm512_add_epi32(q0, q1);
      const __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(s16), _mm512_extracti64x4_epi64(s16, 1));
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
      s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
      const int32_t sum = _mm_cvtsi128_si32(s4);
      out[b].s = fp32_to_fp16(d * static_cast<float>(sum));
    }
  }
}

// The scalar gelu_f16, 16 lanes at a time: the f16 keys by VCVTPS2PH (fp32_to_fp16's bits),
// the table entries gathered 32 bits at a time (the low half is the entry).
void gelu_f16(float* x, int64_t n, const uint16_t* table) {
  const __m512 lo = _mm512_set1_ps(-10.0f), hi = _mm512_set1_ps(10.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512i keys = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(v, kRoundNearest));
    const __m512i entries = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, keys, table, 2);
    const __m512 g = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(entries));
    __m512 r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_LT_OQ), v, g);  // NaN, >= 10: v
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LE_OQ), r, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(x + i, m, r);
  }
}

// VCVTPS2PH rounds and quiets NaNs exactly as fp32_to_fp16 does.
void to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(y + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), kRoundNearest));
  }
}

KernelTable make_avx512() {
  KernelTable t;
  t.name = "avx512";
  t.f32 = {nullptr, nullptr, gemm_f32};
  t.f16 = {x_row_bytes_f32, convert_row_f16_simd, gemm_f16, f16_panel_bytes, f16_build_panel, nullptr, nullptr,
           convert_block_f16_panel, kPanelBlockRows};
  const auto q8_0 = convert_row_q8_simd<BlockQ8_0>;
  const auto q8_1 = convert_row_q8_simd<BlockQ8_1>;
  t.q4_0 = {x_row_bytes_q8_0, q8_0, gemm_q4_0, QuantPanel<Q4_0>::bytes, QuantPanel<Q4_0>::build, q8_0};
  t.q4_1 = {x_row_bytes_q8_1, q8_1, gemm_q4_1, QuantPanel<Q4_1>::bytes, QuantPanel<Q4_1>::build, q8_1};
  t.q5_0 = {x_row_bytes_q8_0, q8_0, gemm_q5_0, QuantPanel<Q5_0>::bytes, QuantPanel<Q5_0>::build, q8_0};
  t.q5_1 = {x_row_bytes_q8_1, q8_1, gemm_q5_1, QuantPanel<Q5_1>::bytes, QuantPanel<Q5_1>::build, q8_1, gemv_q5_1_x4};
  t.q8_0 = {x_row_bytes_q8_0, q8_0, gemm_q8_0, QuantPanel<Q8_0Panel>::bytes, QuantPanel<Q8_0Panel>::build, q8_0,
            gemv_q8_0_x4};
  t.q4_0_repacked = {x_row_bytes_q8_0, q8_0, gemm_q4_0_repacked_avx2};
  t.exp_shifted = exp_shifted;
  t.libm_expf_shifted = libm_expf_choice();
  t.f16_axpy = f16_axpy;
  t.f32_axpy = f32_axpy;
  t.f32_axpy_rows = f32_axpy_rows;
  t.softmax_tile = softmax_tile;
  t.f16_online_softmax = f16_online_softmax;
  t.to_f16 = to_f16;
  t.gelu_f16 = gelu_f16;
  t.f16_scale = f16_scale;
  t.dot_f16_blocked = dot_f16_blocked;
  return t;
}

}  // namespace

const KernelTable* avx512_table() {
  static const KernelTable table = make_avx512();
  return &table;
}

}  // namespace thoth::asr::kernels

#else  // not built for x86-64 with AVX-512: the variant is absent from this binary
#include "asr/kernels.h"
namespace thoth::asr::kernels {
const KernelTable* avx512_table() { return nullptr; }
}  // namespace thoth::asr::kernels
#endif
