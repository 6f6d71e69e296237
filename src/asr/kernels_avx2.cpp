// AVX2 + FMA + F16C kernels (compiled with those flags only; chosen at run time).
// Activations use the scalar table's conversions, so only float summation order differs.
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "asr/kernels.h"
#include "asr/kernels_tiling.h"

namespace thoth::asr::kernels {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half(uint16_t h) { return _cvtsh_ss(h); }

// ---- f32 / f16 weights: ggml_vec_dot_f32 / _f16 as its AVX-512 build runs them ----------
// (see the scalar table): four 16-lane accumulators per output over steps of 64, each 16-lane
// accumulator as two 8-lane halves, computed in eight passes (one per half accumulator) so
// the register blocking keeps one register per output; the halves then meet in the order of
// _mm512_reduce_add_ps (lane l + lane l + 8 first).

struct F32Weights {
  static constexpr bool kTileTail = false;
  static __m256 load(const uint8_t* row, int64_t j) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + j);
  }
  static float at(const uint8_t* row, int64_t j) { return reinterpret_cast<const float*>(row)[j]; }
  static float tail(const uint8_t* row, const float* x, int64_t np, int64_t k, float s) {
    for (int64_t j = np; j < k; ++j) s = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(at(row, j)), _mm_set_ss(x[j]), _mm_set_ss(s)));
    return s;
  }
};

// The f16 panel kernel's activation rows at a time (TypeKernels::panel_x_block): twelve
// accumulators, the weight vector and the broadcasts.
constexpr int kPanelBlockRows = 3;

// The tail past the last step of 64 (exact products added in double, element after element)
// as the AVX-512 table runs it: after the tile's blocks, 16 outputs' chains side by side.
struct F16Weights {
  static constexpr bool kTileTail = true;
  static __m256 load(const uint8_t* row, int64_t j) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + j)));
  }
  static float tail(const uint8_t*, const float*, int64_t, int64_t, float s) { return s; }  // see finish_tile

  static void finish_tile(const GemmTile& t) {
    const int64_t np = t.k / 64 * 64, nt = t.k - np;
    if (nt == 0) return;
    const int64_t stride = (t.m + 15) / 16 * 16;
    const float* tails = transposed_f16_tails(t, np, stride, [](uint16_t h) { return half(h); });
    alignas(32) float out[16];
    for (int64_t j = 0; j < t.n; ++j) {
      const float* x = t.panel != nullptr
                           ? reinterpret_cast<const float*>(t.x) + panel_x_offset(j, np, t.n, t.k, kPanelBlockRows)
                           : reinterpret_cast<const float*>(t.x + j * t.x_stride) + np;
      float* y = t.y + j * t.ldy;
      for (int64_t r0 = 0; r0 < t.m; r0 += 16) {
        const int64_t rows = t.m - r0 < 16 ? t.m - r0 : 16;
        std::memcpy(out, y + r0, static_cast<size_t>(rows) * sizeof(float));
        __m256d acc[4];
        for (int c = 0; c < 4; ++c) acc[c] = _mm256_cvtps_pd(_mm_load_ps(out + 4 * c));
        for (int64_t e = 0; e < nt; ++e) {
          const __m128 xv = _mm_set1_ps(x[e]);
          const float* te = tails + e * stride + r0;
          for (int c = 0; c < 4; ++c) acc[c] = _mm256_add_pd(acc[c], _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(te + 4 * c), xv)));
        }
        for (int c = 0; c < 4; ++c) _mm_store_ps(out + 4 * c, _mm256_cvtpd_ps(acc[c]));
        std::memcpy(y + r0, out, static_cast<size_t>(rows) * sizeof(float));
      }
    }
  }
};

template <class W>
struct FloatKernel {
  static void finish_tile(const GemmTile& t) {
    if constexpr (W::kTileTail) W::finish_tile(t);
  }

  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    const uint8_t* w[RM];
    const float* x[RN];
    for (int i = 0; i < RM; ++i) w[i] = t.w + (r0 + i) * t.w_stride;
    for (int j = 0; j < RN; ++j) x[j] = reinterpret_cast<const float*>(t.x + (i0 + j) * t.x_stride);
    const int64_t np = t.k / 64 * 64;
    // [half][output]: accumulators 0 + 2 and 1 + 3 of lanes 0-7 (half 0) and 8-15 (half 1),
    // in memory between passes: sixteen registers hold only the pass's own.
    alignas(32) float even[2][RM][RN][8], odd[2][RM][RN][8];
    for (int pass = 0; pass < 8; ++pass) {
      const int a = pass / 2, h = pass % 2;  // accumulator order 0, 2, 1, 3
      static constexpr int kAcc[4] = {0, 2, 1, 3};
      __m256 acc[RM][RN];
      for (int i = 0; i < RM; ++i)
        for (int j = 0; j < RN; ++j) acc[i][j] = _mm256_setzero_ps();
      for (int64_t k = kAcc[a] * 16 + h * 8; k < np; k += 64) {
        __m256 wv[RM];
        for (int i = 0; i < RM; ++i) wv[i] = W::load(w[i], k);
        for (int j = 0; j < RN; ++j) {
          // In a register for all RM rows: GCC would fold the load into every FMA.
          __m256 xv = _mm256_loadu_ps(x[j] + k);
          asm("" : "+x"(xv));
          for (int i = 0; i < RM; ++i) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
        }
      }
      for (int i = 0; i < RM; ++i)
        for (int j = 0; j < RN; ++j) {
          float* e = even[h][i][j];
          float* o = odd[h][i][j];
          if (a == 0) _mm256_store_ps(e, acc[i][j]);
          else if (a == 1) _mm256_store_ps(e, _mm256_add_ps(_mm256_load_ps(e), acc[i][j]));
          else if (a == 2) _mm256_store_ps(o, acc[i][j]);
          else _mm256_store_ps(o, _mm256_add_ps(_mm256_load_ps(o), acc[i][j]));
        }
    }
    for (int j = 0; j < RN; ++j)
      for (int i = 0; i < RM; ++i) {
        const __m256 lo = _mm256_add_ps(_mm256_load_ps(even[0][i][j]), _mm256_load_ps(odd[0][i][j]));
        const __m256 hi = _mm256_add_ps(_mm256_load_ps(even[1][i][j]), _mm256_load_ps(odd[1][i][j]));
        t.y[(i0 + j) * t.ldy + r0 + i] = W::tail(w[i], x[j], np, t.k, hsum(_mm256_add_ps(lo, hi)));
      }
  }
};

// FloatKernel's sums for one activation row, each weight row read once from front to back:
// FloatKernel's eight strided passes (its batches' register blocking) leave a streamed row's
// cache lines partly used between passes. Here a row's eight half accumulators (accumulator
// a, half h at 2a + h) advance side by side, each the same FMA chain over the same elements,
// and meet as FloatKernel's passes do, so every output keeps its bits. Rows one after
// another: eight accumulators are half the registers.
template <class W>
struct FloatRowKernel {
  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    static_assert(RN == 1, "one activation row");
    const float* x = reinterpret_cast<const float*>(t.x + i0 * t.x_stride);
    const int64_t np = t.k / 64 * 64;
    for (int i = 0; i < RM; ++i) {
      const uint8_t* w = t.w + (r0 + i) * t.w_stride;
      __m256 acc[8];
      for (auto& a : acc) a = _mm256_setzero_ps();
      for (int64_t k = 0; k < np; k += 64)
        for (int q = 0; q < 8; ++q) acc[q] = _mm256_fmadd_ps(W::load(w, k + 8 * q), _mm256_loadu_ps(x + k + 8 * q), acc[q]);
      // Per half: (accumulator 0 + 2) + (1 + 3); then the halves.
      const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
      const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
      t.y[i0 * t.ldy + r0 + i] = W::tail(w, x, np, t.k, hsum(_mm256_add_ps(lo, hi)));
    }
  }
};

// ---- f16 batches from a panel ---------------------------------------------------------------
// The AVX-512 table's panel kernel (see there) in 8-lane halves: the same panel layout (group
// of kPanelRows rows: [l][j][16 rows], element 16j + l) and activation order, each half of a
// group's rows a vector of partial sums, the same FMA chains and the same combination.

// r[i] = lane i of each of r[0..7].
inline void transpose8(__m256 (&r)[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}

void f16_build_panel(const uint8_t* w, size_t w_stride, int64_t m, int64_t k, int64_t g0, int64_t g1,
                     float* panel) {
  const int64_t np = k / 64 * 64, steps = np / 16;
  for (int64_t g = g0; g < g1; ++g) {
    float* group = panel + g * np * kPanelRows;
    for (int64_t j = 0; j < steps; ++j)
      for (int h = 0; h < 2; ++h)          // rows 8h .. 8h + 7
        for (int e = 0; e < 2; ++e) {      // elements 16j + 8e .. + 7
          __m256 r[8];
          for (int i = 0; i < 8; ++i) {
            const int64_t row = g * kPanelRows + 8 * h + i;
            r[i] = row < m ? F16Weights::load(w + row * static_cast<int64_t>(w_stride), 16 * j + 8 * e) : _mm256_setzero_ps();
          }
          transpose8(r);
          for (int l = 0; l < 8; ++l) _mm256_store_ps(group + ((8 * e + l) * steps + j) * kPanelRows + 8 * h, r[l]);
        }
  }
}

// Activation rows i0 .. i0 + RN - 1 against rows 8h .. 8h + 7 of a group's panel.
template <int RN>
void panel_block(const GemmTile& t, const float* group, int64_t g, int h, int64_t i0, int rows) {
  const int64_t steps = t.k / 64 * 4;
  // The block's rows side by side (panel_x_offset): one pointer for all of them.
  const float* xb = reinterpret_cast<const float*>(t.x + i0 * t.x_stride);
  alignas(32) float lanes[16][RN][8];
  for (int l = 0; l < 16; ++l) {
    __m256 acc[4][RN];
    for (int q = 0; q < 4; ++q)
      for (int c = 0; c < RN; ++c) acc[q][c] = _mm256_setzero_ps();
    const float* p = group + l * steps * kPanelRows + 8 * h;
    const float* xl = xb + l * steps * RN;
    for (int64_t j = 0; j < steps; j += 4, p += 4 * kPanelRows, xl += 4 * RN)
      for (int q = 0; q < 4; ++q) {
        const __m256 wv = _mm256_load_ps(p + q * kPanelRows);
        for (int c = 0; c < RN; ++c) acc[q][c] = _mm256_fmadd_ps(wv, _mm256_broadcast_ss(xl + q * RN + c), acc[q][c]);
      }
    for (int c = 0; c < RN; ++c)
      _mm256_store_ps(lanes[l][c],
                      _mm256_add_ps(_mm256_add_ps(acc[0][c], acc[2][c]), _mm256_add_ps(acc[1][c], acc[3][c])));
  }
  for (int c = 0; c < RN; ++c) {  // the AVX-512 hsum's pairs: l + 8, then + 4, + 2, + 1
    __m256 v[8];
    for (int i = 0; i < 8; ++i) v[i] = _mm256_add_ps(_mm256_load_ps(lanes[i][c]), _mm256_load_ps(lanes[i + 8][c]));
    for (int i = 0; i < 4; ++i) v[i] = _mm256_add_ps(v[i], v[i + 4]);
    for (int i = 0; i < 2; ++i) v[i] = _mm256_add_ps(v[i], v[i + 2]);
    float* y = t.y + (i0 + c) * t.ldy + g * kPanelRows + 8 * h;
    if (rows >= 8) {
      _mm256_storeu_ps(y, _mm256_add_ps(v[0], v[1]));
    } else {
      alignas(32) float out[8];
      _mm256_store_ps(out, _mm256_add_ps(v[0], v[1]));
      std::memcpy(y, out, static_cast<size_t>(rows) * sizeof(float));
    }
  }
}

void gemm_f16_panel(const GemmTile& t) {
  const int64_t np = t.k / 64 * 64;
  for (int64_t g = 0; g * kPanelRows < t.m; ++g) {
    const float* group = t.panel + g * np * kPanelRows;
    for (int h = 0; h < 2; ++h) {
      const int64_t rows = t.m - g * kPanelRows - 8 * h;
      if (rows <= 0) break;
      const int r = rows >= 8 ? 8 : static_cast<int>(rows);
      row_blocks<kPanelBlockRows>(t.n, [&]<int RN>(int64_t i) { panel_block<RN>(t, group, g, h, i, r); });
    }
  }
  F16Weights::finish_tile(t);
}

// ---- quantized weights against q8_0 / q8_1 activation blocks -----------------------------
// Per block: 32 products summed to 8 int32 lanes (exact), converted to float, scaled by
// d_w * d_x and accumulated; the q*_1 types add m_w * s_x separately, as ggml's AVX2 does.

inline __m256i nibbles(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// 32 bits -> 32 bytes of 0x10 where the bit is set (the fifth bit of the q5 values).
inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                         0x0101010101010101, 0x0000000000000000);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i select = _mm256_set1_epi64x(0x8040201008040201);
  bytes = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, select), select);
  return _mm256_and_si256(bytes, _mm256_set1_epi8(0x10));
}

inline __m256i madd_u8_s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Unsigned weight levels (q4: 0..15, q5: 0..31); kOffset is 8 / 16 for the *_0 types.
struct Q4_0 { static constexpr size_t kBytes = sizeof(BlockQ4_0); using XBlock = BlockQ8_0; static constexpr int kOffset = 8; static constexpr bool kMin = false;
  static __m256i levels(const uint8_t* b) { return nibbles(reinterpret_cast<const BlockQ4_0*>(b)->qs); }
  static float d(const uint8_t* b) { return half(reinterpret_cast<const BlockQ4_0*>(b)->d); }
  static float m(const uint8_t*) { return 0.0f; } };
struct Q4_1 { static constexpr size_t kBytes = sizeof(BlockQ4_1); using XBlock = BlockQ8_1; static constexpr int kOffset = 0; static constexpr bool kMin = true;
  static __m256i levels(const uint8_t* b) { return nibbles(reinterpret_cast<const BlockQ4_1*>(b)->qs); }
  static float d(const uint8_t* b) { return half(reinterpret_cast<const BlockQ4_1*>(b)->d); }
  static float m(const uint8_t* b) { return half(reinterpret_cast<const BlockQ4_1*>(b)->m); } };
struct Q5_0 { static constexpr size_t kBytes = sizeof(BlockQ5_0); using XBlock = BlockQ8_0; static constexpr int kOffset = 16; static constexpr bool kMin = false;
  static __m256i levels(const uint8_t* b) {
    const auto* q = reinterpret_cast<const BlockQ5_0*>(b);
    return _mm256_or_si256(nibbles(q->qs), fifth_bits(q->qh)); }
  static float d(const uint8_t* b) { return half(reinterpret_cast<const BlockQ5_0*>(b)->d); }
  static float m(const uint8_t*) { return 0.0f; } };
struct Q5_1 { static constexpr size_t kBytes = sizeof(BlockQ5_1); using XBlock = BlockQ8_1; static constexpr int kOffset = 0; static constexpr bool kMin = true;
  static __m256i levels(const uint8_t* b) {
    const auto* q = reinterpret_cast<const BlockQ5_1*>(b);
    return _mm256_or_si256(nibbles(q->qs), fifth_bits(q->qh)); }
  static float d(const uint8_t* b) { return half(reinterpret_cast<const BlockQ5_1*>(b)->d); }
  static float m(const uint8_t* b) { return half(reinterpret_cast<const BlockQ5_1*>(b)->m); } };

template <class Q>
struct UnsignedQuantKernel {
  using XB = typename Q::XBlock;
  static constexpr size_t kWBlock = Q::kBytes;
  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    __m256 acc[RM][RN];
    float msum[RM][RN];
    for (int i = 0; i < RM; ++i)
      for (int j = 0; j < RN; ++j) {
        acc[i][j] = _mm256_setzero_ps();
        msum[i][j] = 0.0f;
      }
    const int64_t nb = t.k / kQK;
    for (int64_t b = 0; b < nb; ++b) {
      __m256i wv[RM];
      float dw[RM], mw[RM];
      for (int i = 0; i < RM; ++i) {
        const uint8_t* blk = t.w + (r0 + i) * t.w_stride + b * kWBlock;
        wv[i] = Q::levels(blk);
        dw[i] = Q::d(blk);
        if constexpr (Q::kMin) mw[i] = Q::m(blk);
      }
      for (int j = 0; j < RN; ++j) {
        const XB* xb = reinterpret_cast<const XB*>(t.x + (i0 + j) * t.x_stride) + b;
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->qs));
        const float dx = half(xb->d);
        __m256i offset_sum = _mm256_setzero_si256();
        if constexpr (Q::kOffset != 0)
          offset_sum = madd_u8_s8(_mm256_set1_epi8(Q::kOffset), xv);
        for (int i = 0; i < RM; ++i) {
          __m256i p = madd_u8_s8(wv[i], xv);
          if constexpr (Q::kOffset != 0) p = _mm256_sub_epi32(p, offset_sum);
          acc[i][j] = _mm256_fmadd_ps(_mm256_set1_ps(dw[i] * dx), _mm256_cvtepi32_ps(p), acc[i][j]);
          if constexpr (Q::kMin) msum[i][j] += mw[i] * half(reinterpret_cast<const BlockQ8_1*>(xb)->s);
        }
      }
    }
    for (int j = 0; j < RN; ++j)
      for (int i = 0; i < RM; ++i) t.y[(i0 + j) * t.ldy + r0 + i] = hsum(acc[i][j]) + msum[i][j];
  }
};

// A quantized panel row's eight integer-lane accumulators summed in hsum's pairs (lane j + 4,
// then + 2, + 1): in each vector lane, one weight row's output.
inline __m256 lane_sums(const __m256 (&acc)[8]) {
  const __m256 s04 = _mm256_add_ps(acc[0], acc[4]), s26 = _mm256_add_ps(acc[2], acc[6]);
  const __m256 s15 = _mm256_add_ps(acc[1], acc[5]), s37 = _mm256_add_ps(acc[3], acc[7]);
  return _mm256_add_ps(_mm256_add_ps(s04, s26), _mm256_add_ps(s15, s37));
}

// A quantized panel's products: P::row for each activation row against each half of each
// group of rows (P::kBlockBytes per block of a group).
template <class P>
void panel_rows(const GemmTile& t) {
  const int64_t group_bytes = (t.k / kQK) * P::kBlockBytes;
  for (int64_t g = 0; g * kPanelRows < t.m; ++g) {
    const uint8_t* group = reinterpret_cast<const uint8_t*>(t.panel) + g * group_bytes;
    for (int h = 0; h < 2; ++h) {
      const int64_t rows = t.m - g * kPanelRows - 8 * h;
      if (rows <= 0) break;
      for (int64_t i = 0; i < t.n; ++i) P::row(t, group, g, h, i, rows >= 8 ? 8 : static_cast<int>(rows));
    }
  }
}

// ---- quantized batches from a panel (q4_0 / q4_1 / q5_0 / q5_1; q8_0 below) ------------------
// The AVX-512 table's quantized panel (see there) in 8-lane halves, one activation row at a
// time (eight accumulators per row): per group of kPanelRows rows and block, eight vectors of
// the rows' levels (four bytes per row and integer lane), d_w and m_w as f32. The levels stay
// below 32, so maddubs's pair sums cannot saturate.
template <class Q>
struct QuantPanel {
  using XB = typename Q::XBlock;
  static constexpr int64_t kBlockBytes = 10 * 64;  // levels, d, m

  static size_t bytes(int64_t m, int64_t k) { return quant_panel_bytes(m, k, kBlockBytes); }

  static void build(const uint8_t* w, size_t w_stride, int64_t m, int64_t k, int64_t g0, int64_t g1, float* panel) {
    const int64_t nb = k / kQK;
    auto* out = reinterpret_cast<uint8_t*>(panel);
    for (int64_t g = g0; g < g1; ++g)
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* pb = out + (g * nb + b) * kBlockBytes;
        alignas(32) uint32_t lv[8][kPanelRows] = {};
        alignas(32) float d[kPanelRows] = {}, mins[kPanelRows] = {};
        for (int r = 0; r < kPanelRows && g * kPanelRows + r < m; ++r) {
          const uint8_t* blk = w + (g * kPanelRows + r) * static_cast<int64_t>(w_stride) + b * Q::kBytes;
          alignas(32) uint32_t row[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(row), Q::levels(blk));
          for (int j = 0; j < 8; ++j) lv[j][r] = row[j];
          d[r] = Q::d(blk);
          mins[r] = Q::m(blk);
        }
        std::memcpy(pb, lv, sizeof lv);
        std::memcpy(pb + 8 * 64, d, sizeof d);
        std::memcpy(pb + 9 * 64, mins, sizeof mins);
      }
  }

  // Activation row i against rows 8h .. 8h + 7 of a group's panel.
  static void row(const GemmTile& t, const uint8_t* group, int64_t g, int h, int64_t i, int rows) {
    const int64_t nb = t.k / kQK;
    const XB* x = reinterpret_cast<const XB*>(t.x + i * t.x_stride);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[8];
    for (auto& a : acc) a = _mm256_setzero_ps();
    __m256 msum = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* pb = group + b * kBlockBytes + 32 * h;
      const __m256 scale = _mm256_mul_ps(_mm256_load_ps(reinterpret_cast<const float*>(pb + 8 * 64)), _mm256_set1_ps(half(x[b].d)));
      if constexpr (Q::kMin)
        msum = _mm256_add_ps(msum, _mm256_mul_ps(_mm256_load_ps(reinterpret_cast<const float*>(pb + 9 * 64)),
                                                 _mm256_set1_ps(half(reinterpret_cast<const BlockQ8_1*>(x + b)->s))));
      __m256i offset = _mm256_setzero_si256();  // the offset's share of each integer lane
      if constexpr (Q::kOffset != 0)
        offset = madd_u8_s8(_mm256_set1_epi8(Q::kOffset), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs)));
      alignas(32) int32_t off[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(off), offset);
      for (int j = 0; j < 8; ++j) {
        int32_t xq;
        std::memcpy(&xq, x[b].qs + 4 * j, sizeof xq);
        __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(pb + j * 64)),
                                                              _mm256_set1_epi32(xq)), ones);
        if constexpr (Q::kOffset != 0) sums = _mm256_sub_epi32(sums, _mm256_set1_epi32(off[j]));
        acc[j] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc[j]);
      }
    }
    alignas(32) float out[8];
    _mm256_store_ps(out, _mm256_add_ps(lane_sums(acc), msum));  // msum: 0 without m
    std::memcpy(t.y + i * t.ldy + g * kPanelRows + 8 * h, out, static_cast<size_t>(rows) * sizeof(float));
  }

  static void gemm(const GemmTile& t) { panel_rows<QuantPanel>(t); }
};

struct Q8_0Kernel {
  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    __m256 acc[RM][RN];
    for (int i = 0; i < RM; ++i)
      for (int j = 0; j < RN; ++j) acc[i][j] = _mm256_setzero_ps();
    const int64_t nb = t.k / kQK;
    for (int64_t b = 0; b < nb; ++b) {
      __m256i wabs[RM], wv[RM];
      float dw[RM];
      for (int i = 0; i < RM; ++i) {
        const auto* blk = reinterpret_cast<const BlockQ8_0*>(t.w + (r0 + i) * t.w_stride) + b;
        wv[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs));
        wabs[i] = _mm256_sign_epi8(wv[i], wv[i]);
        dw[i] = half(blk->d);
      }
      for (int j = 0; j < RN; ++j) {
        const auto* xb = reinterpret_cast<const BlockQ8_0*>(t.x + (i0 + j) * t.x_stride) + b;
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->qs));
        const float dx = half(xb->d);
        for (int i = 0; i < RM; ++i) {
          // |w| * (x with w's sign): unsigned x signed, as maddubs wants.
          const __m256i p = madd_u8_s8(wabs[i], _mm256_sign_epi8(xv, wv[i]));
          acc[i][j] = _mm256_fmadd_ps(_mm256_set1_ps(dw[i] * dx), _mm256_cvtepi32_ps(p), acc[i][j]);
        }
      }
    }
    for (int j = 0; j < RN; ++j)
      for (int i = 0; i < RM; ++i) t.y[(i0 + j) * t.ldy + r0 + i] = hsum(acc[i][j]);
  }
};

// q8_0 from a panel: as QuantPanel, with Q8_0Kernel's products (|w| times x given w's sign,
// pairs at most 2 * 128 * 127, within maddubs's range). Per block eight vectors of |w|, eight
// of w (the signs), then d_w.
struct Q8_0Panel {
  static constexpr int64_t kBlockBytes = 17 * 64;

  static size_t bytes(int64_t m, int64_t k) { return quant_panel_bytes(m, k, kBlockBytes); }

  static void build(const uint8_t* w, size_t w_stride, int64_t m, int64_t k, int64_t g0, int64_t g1, float* panel) {
    const int64_t nb = k / kQK;
    auto* out = reinterpret_cast<uint8_t*>(panel);
    for (int64_t g = g0; g < g1; ++g)
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* pb = out + (g * nb + b) * kBlockBytes;
        alignas(32) uint32_t mag[8][kPanelRows] = {}, sign[8][kPanelRows] = {};
        alignas(32) float d[kPanelRows] = {};
        for (int r = 0; r < kPanelRows && g * kPanelRows + r < m; ++r) {
          const auto* blk = reinterpret_cast<const BlockQ8_0*>(w + (g * kPanelRows + r) * static_cast<int64_t>(w_stride)) + b;
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs));
          alignas(32) uint32_t a[8], v[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(a), _mm256_sign_epi8(wv, wv));
          _mm256_store_si256(reinterpret_cast<__m256i*>(v), wv);
          for (int j = 0; j < 8; ++j) {
            mag[j][r] = a[j];
            sign[j][r] = v[j];
          }
          d[r] = half(blk->d);
        }
        std::memcpy(pb, mag, sizeof mag);
        std::memcpy(pb + 8 * 64, sign, sizeof sign);
        std::memcpy(pb + 16 * 64, d, sizeof d);
      }
  }

  static void row(const GemmTile& t, const uint8_t* group, int64_t g, int h, int64_t i, int rows) {
    const int64_t nb = t.k / kQK;
    const auto* x = reinterpret_cast<const BlockQ8_0*>(t.x + i * t.x_stride);
    __m256 acc[8];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* pb = group + b * kBlockBytes + 32 * h;
      const __m256 scale = _mm256_mul_ps(_mm256_load_ps(reinterpret_cast<const float*>(pb + 16 * 64)), _mm256_set1_ps(half(x[b].d)));
      for (int j = 0; j < 8; ++j) {
        int32_t xq;
        std::memcpy(&xq, x[b].qs + 4 * j, sizeof xq);
        const __m256i mag = _mm256_load_si256(reinterpret_cast<const __m256i*>(pb + j * 64));
        const __m256i sign = _mm256_load_si256(reinterpret_cast<const __m256i*>(pb + (8 + j) * 64));
        const __m256i sums = madd_u8_s8(mag, _mm256_sign_epi8(_mm256_set1_epi32(xq), sign));
        acc[j] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc[j]);
      }
    }
    alignas(32) float out[8];
    _mm256_store_ps(out, lane_sums(acc));
    std::memcpy(t.y + i * t.ldy + g * kPanelRows + 8 * h, out, static_cast<size_t>(rows) * sizeof(float));
  }

  static void gemm(const GemmTile& t) { panel_rows<Q8_0Panel>(t); }
};

// q4_0 in the repacked kernels' order (KernelTable::q4_0_repacked): the eight int32 lanes of a
// block summed exactly, then one FMA per block into a float per output.
struct Q4_0RepackedKernel {
  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    float acc[RM][RN] = {};
    const int64_t nb = t.k / kQK;
    const __m256i offset = _mm256_set1_epi8(8);
    for (int64_t b = 0; b < nb; ++b) {
      __m256i wv[RM];
      float dw[RM];
      for (int i = 0; i < RM; ++i) {
        const uint8_t* blk = t.w + (r0 + i) * t.w_stride + b * sizeof(BlockQ4_0);
        wv[i] = Q4_0::levels(blk);
        dw[i] = Q4_0::d(blk);
      }
      for (int j = 0; j < RN; ++j) {
        const auto* xb = reinterpret_cast<const BlockQ8_0*>(t.x + (i0 + j) * t.x_stride) + b;
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->qs));
        const float dx = half(xb->d);
        const __m256i offset_sum = madd_u8_s8(offset, xv);
        for (int i = 0; i < RM; ++i) {
          const __m256i p = _mm256_sub_epi32(madd_u8_s8(wv[i], xv), offset_sum);
          __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
          s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
          s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
          const float sumi = static_cast<float>(_mm_cvtsi128_si32(s));
          acc[i][j] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(sumi), _mm_set_ss(dw[i] * dx), _mm_set_ss(acc[i][j])));
        }
      }
    }
    for (int j = 0; j < RN; ++j)
      for (int i = 0; i < RM; ++i) t.y[(i0 + j) * t.ldy + r0 + i] = acc[i][j];
  }
};

// ---- quantized weights, one activation row (decoder steps) ---------------------------------
// The kernels above, per output, to the bit (the same integer sums, d_w * d_x and m_w * s_x
// products, FMA chain and msum sums), with the scales of four rows made together: their
// blocks' first two f16 fields (d, and m where there is one) in one vector, converted and
// multiplied by the activation's d and s at once, then permuted out per row, instead of
// per-row scalar conversions, products and broadcasts. q4_1 / q5_1 / q8_0 single rows ran
// 1.2-1.35x / ~1.1x as fast (Zen 4, AVX2 build); q4_0 / q5_0, with no m to gather, ran 5-9 %
// slower, so they keep the register-blocked kernel.

// {d, m} of a block of up to four rows (a missing row repeats row 0) as floats times
// {d_x, s_x}: lanes 2i (d_w * d_x) and 2i + 1 (m_w * s_x) of row i. kMin: the blocks have
// their m right after d (q4_1 / q5_1); q8_0's have none and those lanes are 0, unused.
template <int RM, bool kMin>
inline __m256 row_scales(const uint8_t* const (&blk)[RM], __m256 x_factors) {
  auto head = [&](int i) {
    uint32_t v = 0;
    std::memcpy(&v, blk[i < RM ? i : 0], kMin ? 4 : 2);
    return static_cast<int>(v);
  };
  const __m128i h = _mm_setr_epi32(head(0), head(1), head(2), head(3));
  return _mm256_mul_ps(_mm256_cvtph_ps(h), x_factors);
}

// q4_1 / q5_1 (see above for q4_0 / q5_0).
template <class Q>
struct UnsignedQuantRowKernel {
  static_assert(Q::kMin && Q::kOffset == 0, "the types with an m field");
  using XB = typename Q::XBlock;

  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    static_assert(RN == 1 && RM <= 4, "one activation row, up to four weight rows");
    const XB* x = reinterpret_cast<const XB*>(t.x + i0 * t.x_stride);
    __m256 acc[RM];
    for (int i = 0; i < RM; ++i) acc[i] = _mm256_setzero_ps();
    __m256 msum = _mm256_setzero_ps();  // lane 2i + 1: row i's sum of m_w * s_x
    const int64_t nb = t.k / kQK;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk[RM];
      for (int i = 0; i < RM; ++i) blk[i] = t.w + (r0 + i) * t.w_stride + b * Q::kBytes;
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
      uint32_t xh;  // d_x, s_x
      std::memcpy(&xh, x + b, sizeof xh);
      const __m256 x_factors = _mm256_castpd_ps(_mm256_broadcastsd_pd(
          _mm_castps_pd(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(xh))))));
      const __m256 scales = row_scales<RM, true>(blk, x_factors);
      for (int i = 0; i < RM; ++i) {
        const __m256i p = madd_u8_s8(Q::levels(blk[i]), xv);
        const __m256 scale = _mm256_permutevar8x32_ps(scales, _mm256_set1_epi32(2 * i));
        acc[i] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc[i]);
      }
      msum = _mm256_add_ps(msum, scales);
    }
    alignas(32) float ms[8];
    _mm256_store_ps(ms, msum);
    for (int i = 0; i < RM; ++i) t.y[i0 * t.ldy + r0 + i] = hsum(acc[i]) + ms[2 * i + 1];
  }
};

struct Q8_0RowKernel {
  template <int RM, int RN>
  static void block(const GemmTile& t, int64_t r0, int64_t i0) {
    static_assert(RN == 1 && RM <= 4, "one activation row, up to four weight rows");
    const auto* x = reinterpret_cast<const BlockQ8_0*>(t.x + i0 * t.x_stride);
    __m256 acc[RM];
    for (int i = 0; i < RM; ++i) acc[i] = _mm256_setzero_ps();
    const int64_t nb = t.k / kQK;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk[RM];
      for (int i = 0; i < RM; ++i) blk[i] = t.w + (r0 + i) * t.w_stride + b * sizeof(BlockQ8_0);
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
      const __m256 scales = row_scales<RM, false>(blk, _mm256_set1_ps(half(x[b].d)));
      for (int i = 0; i < RM; ++i) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[i] + offsetof(BlockQ8_0, qs)));
        // |w| * (x with w's sign): unsigned x signed, as maddubs wants.
        const __m256i p = madd_u8_s8(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
        const __m256 scale = _mm256_permutevar8x32_ps(scales, _mm256_set1_epi32(2 * i));
        acc[i] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc[i]);
      }
    }
    for (int i = 0; i < RM; ++i) t.y[i0 * t.ldy + r0 + i] = hsum(acc[i]);
  }
};

void gemm_f32(const GemmTile& t) { gemm_tiled<4, 3, FloatKernel<F32Weights>, FloatRowKernel<F32Weights>>(t); }
void gemm_f16(const GemmTile& t) {
  if (t.panel != nullptr) return gemm_f16_panel(t);
  gemm_tiled<3, 3, FloatKernel<F16Weights>, FloatRowKernel<F16Weights>>(t);
}
template <class Q, class S = UnsignedQuantKernel<Q>>
void gemm_unsigned(const GemmTile& t) {
  if (t.panel != nullptr) return QuantPanel<Q>::gemm(t);
  gemm_tiled<4, 2, UnsignedQuantKernel<Q>, S>(t);
}
void gemm_q4_0(const GemmTile& t) { gemm_unsigned<Q4_0>(t); }
void gemm_q4_1(const GemmTile& t) { gemm_unsigned<Q4_1, UnsignedQuantRowKernel<Q4_1>>(t); }
void gemm_q5_0(const GemmTile& t) { gemm_unsigned<Q5_0>(t); }
void gemm_q5_1(const GemmTile& t) { gemm_unsigned<Q5_1, UnsignedQuantRowKernel<Q5_1>>(t); }
void gemm_q8_0(const GemmTile& t) {
  if (t.panel != nullptr) return Q8_0Panel::gemm(t);
  gemm_tiled<4, 2, Q8_0Kernel, Q8_0RowKernel>(t);
}

// ---- attention element-wise loops: the scalar table's arithmetic, 8 lanes at a time ----------

// The AVX-512 build's ggml_v_expf (see the scalar table): j * 2^n in one rounding. With n in
// [-126, 127] 2^n is a normal float and one multiply does it; other lanes take ldexp.
inline __m256 v_expf(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  // -n as the scalar code negates it (fnmadd would keep a NaN's sign).
  const __m256 neg_n = _mm256_xor_ps(n, _mm256_set1_ps(-0.0f));
  const __m256 b = _mm256_fmadd_ps(neg_n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                   _mm256_fmadd_ps(neg_n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  // Lanes with n outside [-126, 127] (or NaN) fail this test.
  const __m256 in_range = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_set1_ps(-126.0f), _CMP_GE_OQ),
                                        _mm256_cmp_ps(n, _mm256_set1_ps(127.0f), _CMP_LE_OQ));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 normal = _mm256_mul_ps(j, _mm256_castsi256_ps(e));
  if (_mm256_movemask_ps(in_range) == 0xff) return normal;
  alignas(32) float nv[8], jv[8], res[8];
  _mm256_store_ps(nv, n);
  _mm256_store_ps(jv, j);
  _mm256_store_ps(res, normal);
  for (int l = 0; l < 8; ++l) {
    if (nv[l] >= -126.0f && nv[l] <= 127.0f) continue;
    if (std::fabs(nv[l]) > 192.0f) res[l] = nv[l] <= 0.0f ? 0.0f : INFINITY;
    else res[l] = std::ldexp(jv[l], static_cast<int>(nv[l]));  // NaN stays NaN
  }
  return _mm256_load_ps(res);
}

void exp_shifted(const float* x, float shift, float* out, int64_t n) {
  const __m256 sh = _mm256_set1_ps(shift);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(out + j, v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + j), sh)));
  if (j < n) {
    float tmp[8] = {};
    std::memcpy(tmp, x + j, static_cast<size_t>(n - j) * sizeof(float));
    _mm256_storeu_ps(tmp, v_expf(_mm256_sub_ps(_mm256_loadu_ps(tmp), sh)));
    std::memcpy(out + j, tmp, static_cast<size_t>(n - j) * sizeof(float));
  }
}

constexpr int kRoundNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

void f16_axpy(uint16_t* acc, const uint16_t* v, float s, int64_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t left = n - i < 8 ? n - i : 8;
    uint16_t ta[8] = {}, tv[8] = {};
    std::memcpy(ta, acc + i, static_cast<size_t>(left) * 2);
    std::memcpy(tv, v + i, static_cast<size_t>(left) * 2);
    const __m256 a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ta)));
    const __m256 b = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tv)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(ta), _mm256_cvtps_ph(_mm256_fmadd_ps(b, sv, a), kRoundNearest));
    std::memcpy(acc + i, ta, static_cast<size_t>(left) * 2);
  }
}

// Eight lanes of y at a time stay in a register through the whole chain.
// V registers of y side by side: independent FMA chains, so the loop is not bound by one
// chain's latency (each element's chain is still the same, in the same order).
template <int V>
inline void f32_axpy_lanes(float* y, const float* x, int64_t x_stride, const float* s, int64_t count) {
  __m256 acc[V];
  for (int v = 0; v < V; ++v) acc[v] = _mm256_loadu_ps(y + 8 * v);
  for (int64_t c = 0; c < count; ++c) {
    const __m256 sv = _mm256_set1_ps(s[c]);
    const float* xr = x + c * x_stride;
    for (int v = 0; v < V; ++v) acc[v] = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 8 * v), sv, acc[v]);
  }
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(y + 8 * v, acc[v]);
}

void f32_axpy(float* y, const float* x, int64_t x_stride, const float* s, int64_t count, int64_t n) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) f32_axpy_lanes<8>(y + i, x + i, x_stride, s, count);
  for (; i + 32 <= n; i += 32) f32_axpy_lanes<4>(y + i, x + i, x_stride, s, count);
  for (; i + 8 <= n; i += 8) {
    __m256 acc = _mm256_loadu_ps(y + i);
    for (int64_t c = 0; c < count; ++c)
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + c * x_stride + i), _mm256_set1_ps(s[c]), acc);
    _mm256_storeu_ps(y + i, acc);
  }
  for (; i < n; ++i) {
    __m128 acc = _mm_set_ss(y[i]);
    for (int64_t c = 0; c < count; ++c) acc = _mm_fmadd_ss(_mm_set_ss(x[c * x_stride + i]), _mm_set_ss(s[c]), acc);
    y[i] = _mm_cvtss_f32(acc);
  }
}

// f32_axpy for R rows over the same x (query rows against one key or value tile): R x V
// accumulators in registers, each x vector read from memory by each row's FMA (sixteen
// registers hold no more).
template <int R, int V>
inline void f32_axpy_rows_lanes(float* const* y, const float* const* s, int64_t off, const float* x, int64_t x_stride,
                                int64_t count) {
  __m256 a[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) a[r][v] = _mm256_loadu_ps(y[r] + off + 8 * v);
  for (int64_t c = 0; c < count; ++c) {
    const float* xr = x + c * x_stride;  // x is already at off
    __m256 sv[R];
    for (int r = 0; r < R; ++r) sv[r] = _mm256_set1_ps(s[r][c]);
    for (int v = 0; v < V; ++v) {
      const __m256 xv = _mm256_loadu_ps(xr + 8 * v);
      for (int r = 0; r < R; ++r) a[r][v] = _mm256_fmadd_ps(xv, sv[r], a[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(y[r] + off + 8 * v, a[r][v]);
}

void f32_axpy_rows(float* const* y, const float* const* s, int nr, const float* x, int64_t x_stride, int64_t count,
                   int64_t n) {
  int r = 0;
  for (; r < nr; r += 3) {
    const int rows = nr - r < 3 ? nr - r : 3;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      if (rows == 3) f32_axpy_rows_lanes<3, 4>(y + r, s + r, i, x + i, x_stride, count);
      else if (rows == 2) f32_axpy_rows_lanes<2, 4>(y + r, s + r, i, x + i, x_stride, count);
      else f32_axpy_rows_lanes<1, 4>(y + r, s + r, i, x + i, x_stride, count);
    }
    if (i < n)
      for (int k = 0; k < rows; ++k) f32_axpy(y[r + k] + i, x + i, x_stride, s[r + k], count, n - i);
  }
}

// The AVX-512 table's softmax_tile in eight-lane halves: a 16-lane group's sum is hsum of
// its halves added (the same tree as _mm512_reduce_add_ps).
bool softmax_tile(float* kq, int64_t nt, float scale, float* m, float* sum, float* ms) {
  alignas(32) float buf[64];
  const int64_t padded = (nt + 15) / 16 * 16;
  std::memcpy(buf, kq, static_cast<size_t>(nt) * sizeof(float));
  for (int64_t i = nt; i < padded; ++i) buf[i] = -INFINITY;
  const __m256 sc = _mm256_set1_ps(scale);
  __m256 v[8];
  __m256 mx = _mm256_set1_ps(-INFINITY);
  const int halves = static_cast<int>(padded / 8);
  for (int g = 0; g < halves; ++g) {
    v[g] = _mm256_mul_ps(_mm256_load_ps(buf + 8 * g), sc);
    mx = _mm256_max_ps(mx, v[g]);
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float tile_max = _mm_cvtss_f32(m4);
  if (tile_max == -INFINITY) {
    for (int g = 0; g < halves; ++g) _mm256_store_ps(buf + 8 * g, v[g]);
    std::memcpy(kq, buf, static_cast<size_t>(nt) * sizeof(float));
    return false;
  }
  const float m_new = std::fmax(*m, tile_max);
  *ms = 1.0f;
  if (m_new > *m) {
    *ms = expf(*m - m_new);
    *sum *= *ms;
  }
  *m = m_new;
  const __m256 shift = _mm256_set1_ps(m_new);
  double tile_sum = 0.0;
  for (int g = 0; g < halves; g += 2) {
    const __m256 lo = v_expf(_mm256_sub_ps(v[g], shift)), hi = v_expf(_mm256_sub_ps(v[g + 1], shift));
    _mm256_store_ps(buf + 8 * g, lo);
    _mm256_store_ps(buf + 8 * g + 8, hi);
    tile_sum += static_cast<double>(hsum(_mm256_add_ps(lo, hi)));
  }
  std::memcpy(kq, buf, static_cast<size_t>(nt) * sizeof(float));
  *sum = static_cast<float>(static_cast<double>(*sum) + tile_sum);
  return true;
}

void f16_scale(uint16_t* acc, float s, int64_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t left = n - i < 8 ? n - i : 8;
    uint16_t ta[8] = {};
    std::memcpy(ta, acc + i, static_cast<size_t>(left) * 2);
    const __m256 a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ta)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(ta), _mm256_cvtps_ph(_mm256_mul_ps(a, sv), kRoundNearest));
    std::memcpy(acc + i, ta, static_cast<size_t>(left) * 2);
  }
}

// The accumulator lives in registers between keys (rounded to f16 and back after each
// update, which is exactly what storing and reloading it would do) for heads up to 64 wide.
template <int V>
void online_softmax_regs(const OnlineSoftmaxJob& job, int64_t stride) {
  __m256 acc[V];
  for (int i = 0; i < V; ++i) acc[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(job.acc + 8 * i)));
  float mx = *job.m, sm = *job.sum;
  // The running max, both exponentials and the sum do not depend on the accumulator: a first
  // pass computes them for a chunk of keys (libm calls in a row, not on the accumulator's
  // dependency chain, and no vector registers to save around them), a second updates it.
  constexpr int64_t kChunk = kSoftmaxChunk;
  float ms_chunk[1][kChunk], vs_chunk[1][kChunk];
  const float* ms_buf = ms_chunk[0];
  const float* vs_buf = vs_chunk[0];
  for (int64_t j0 = 0; j0 < job.n; j0 += kChunk) {
    const int64_t len = job.n - j0 < kChunk ? job.n - j0 : kChunk;
    const float* scores = job.scores + j0;
    online_softmax_factors<1>(&scores, &len, &mx, &sm, ms_chunk, vs_chunk, libm_expf_shifted_loop);
    for (int64_t j = 0; j < len; ++j) {
      const uint16_t* vrow = job.v + (job.rows ? job.rows[j0 + j] : j0 + j) * stride;
      // A factor of exactly 1 leaves an f16 value as it is: skipping it changes no bit.
      if (ms_buf[j] != 1.0f) {
        const __m256 msv = _mm256_set1_ps(ms_buf[j]);
        for (int i = 0; i < V; ++i) acc[i] = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(acc[i], msv), kRoundNearest));
      }
      const __m256 vsv = _mm256_set1_ps(vs_buf[j]);
      for (int i = 0; i < V; ++i) {
        const __m256 b = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vrow + 8 * i)));
        acc[i] = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_fmadd_ps(b, vsv, acc[i]), kRoundNearest));
      }
    }
  }
  for (int i = 0; i < V; ++i)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(job.acc + 8 * i), _mm256_cvtps_ph(acc[i], kRoundNearest));
  *job.m = mx;
  *job.sum = sm;
}

// One job at a time: a 64-wide head's accumulator already takes half of the 16 registers.
void f16_online_softmax(const OnlineSoftmaxJob* jobs, int count, int64_t stride, int64_t d) {
  for (int i = 0; i < count; ++i) {
    switch (d) {
      case 64: online_softmax_regs<8>(jobs[i], stride); break;
      case 32: online_softmax_regs<4>(jobs[i], stride); break;
      default: f16_online_softmax_generic(*avx2_table(), jobs[i], stride, d); break;
    }
  }
}

// Half a block (32 keys) at a time in eight registers of double lanes, so each key's sum
// keeps its order and eight independent sums hide the FMAs' latency. fma(k, q, sum) rounds
// exactly as sum + f32(k * q): the product of two f16 values is exact in float and in double.
void dot_f16_blocked_row(const uint16_t* blocks, int64_t n_blocks, const uint16_t* q16, int64_t d, float* out) {
  constexpr int kHalf = kKeyBlock / 2;
  const double* wide[1];
  widen_queries<1>(&q16, d, [](uint16_t h) { return static_cast<double>(half(h)); }, wide);
  const double* q = wide[0];
  for (int64_t b = 0; b < n_blocks * 2; ++b) {
    const uint16_t* keys = blocks + b / 2 * kKeyBlock * d + b % 2 * kHalf;
    __m256d acc[kHalf / 4];
    for (auto& a : acc) a = _mm256_setzero_pd();
    for (int64_t i = 0; i < d; ++i) {
      const __m256d qv = _mm256_set1_pd(q[i]);
      const uint16_t* k = keys + i * kKeyBlock;
      for (int r = 0; r < kHalf / 8; ++r) {
        const __m256 kf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + 8 * r)));
        acc[2 * r] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(kf)), qv, acc[2 * r]);
        acc[2 * r + 1] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(kf, 1)), qv, acc[2 * r + 1]);
      }
    }
    for (int r = 0; r < kHalf / 4; ++r) _mm_storeu_ps(out + b * kHalf + 4 * r, _mm256_cvtpd_ps(acc[r]));
  }
}

// R rows (beam search's, of one head) over eight keys at a time: each key vector widened once
// for all of them, two registers of double lanes per row (so each key's sum keeps its order).
template <int R>
void dot_f16_blocked_rows(const uint16_t* blocks, int64_t n_blocks, const uint16_t* const* q16, int64_t d,
                          float* const* out) {
  const double* q[R];
  widen_queries<R>(q16, d, [](uint16_t h) { return static_cast<double>(half(h)); }, q);
  for (int64_t j0 = 0; j0 < n_blocks * kKeyBlock; j0 += 8) {
    const uint16_t* keys = blocks + j0 / kKeyBlock * kKeyBlock * d + j0 % kKeyBlock;
    __m256d acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_pd();
    for (int64_t i = 0; i < d; ++i) {
      const __m256 kf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(keys + i * kKeyBlock)));
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(kf)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(kf, 1));
      for (int r = 0; r < R; ++r) {
        const __m256d qv = _mm256_broadcast_sd(q[r] + i);
        acc[r][0] = _mm256_fmadd_pd(lo, qv, acc[r][0]);
        acc[r][1] = _mm256_fmadd_pd(hi, qv, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm_storeu_ps(out[r] + j0, _mm256_cvtpd_ps(acc[r][0]));
      _mm_storeu_ps(out[r] + j0 + 4, _mm256_cvtpd_ps(acc[r][1]));
    }
  }
}

// One row: sixteen registers hold its accumulators. Several: up to five side by side.
void dot_f16_blocked(const uint16_t* blocks, int64_t n_blocks, const uint16_t* const* q, int nq, int64_t d,
                     float* const* out) {
  switch (nq) {
    case 1: return dot_f16_blocked_row(blocks, n_blocks, q[0], d, out[0]);
    case 2: return dot_f16_blocked_rows<2>(blocks, n_blocks, q, d, out);
    case 3: return dot_f16_blocked_rows<3>(blocks, n_blocks, q, d, out);
    case 4: return dot_f16_blocked_rows<4>(blocks, n_blocks, q, d, out);
    case 5: return dot_f16_blocked_rows<5>(blocks, n_blocks, q, d, out);
    default: return;
  }
}
static_assert(kDotQueries == 5, "dot_f16_blocked covers 1..5 rows");

// The scalar table's q8 activation blocks, 32 values in four registers (as ggml's AVX2
// quantize_row_q8 computes them): the same maximum (NaN lanes never win), multiplier
// 127 / amax, cvtps2dq's half-to-even rounding (NaN and overflow: INT32_MIN), saturation to
// int8 (two saturating packs saturate as one), the unsaturated sum wrapping.
template <bool kSum, class Block>
void convert_row_q8_simd(const float* x, void* dst, int64_t k) {
  auto* out = static_cast<Block*>(dst);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i unshuffle = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);  // packs work per 128-bit lane
  for (int64_t b = 0; b < k / kQK; ++b, x += kQK) {
    __m256 v[4];
    __m256 mx = _mm256_setzero_ps();
    for (int q = 0; q < 4; ++q) {
      v[q] = _mm256_loadu_ps(x + 8 * q);
      mx = _mm256_max_ps(_mm256_and_ps(v[q], abs_mask), mx);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    out[b].d = fp32_to_fp16(d);
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], id));
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs), _mm256_permutevar8x32_epi32(packed, unshuffle));
    if constexpr (kSum) {
      const __m256i s8 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
      s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
      out[b].s = fp32_to_fp16(d * static_cast<float>(_mm_cvtsi128_si32(s4)));
    }
  }
}

// The scalar table's convert_row_f16 (round to nearest even through f16 and back); the
// hardware conversions give the same bits for every input, NaN payloads included.
void convert_row_f16_simd(const float* x, void* dst, int64_t k) {
  auto* out = static_cast<float*>(dst);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), kRoundNearest)));
  for (; i < k; ++i) out[i] = _cvtsh_ss(_cvtss_sh(x[i], kRoundNearest));
}

// convert_row_f16_simd's values, element 16j + l (of the first np) at l * (np / 16) + j; the
// rest in place.
void convert_row_f16_panel(const float* x, void* dst, int64_t k) {
  auto* out = static_cast<float*>(dst);
  const int64_t np = k / 64 * 64, steps = np / 16;
  convert_row_f16_simd(x + np, out + np, k - np);
  const __m256i across = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
  for (int l = 0; l < 16; ++l)
    for (int64_t j = 0; j < steps; j += 8) {  // steps is a multiple of 4
      if (steps - j >= 8) {
        const __m256 v = _mm256_i32gather_ps(x + 16 * j + l, across, 4);
        _mm256_storeu_ps(out + l * steps + j, _mm256_cvtph_ps(_mm256_cvtps_ph(v, kRoundNearest)));
      } else {
        for (int64_t i = j; i < steps; ++i) out[l * steps + i] = _cvtsh_ss(_cvtss_sh(x[16 * i + l], kRoundNearest));
      }
    }
}

// Rows x[0], x[ldx], ... as one block of the panel kernel's activations (panel_x_offset):
// each row in the panel's order, then set side by side with the block's other rows.
void convert_block_f16_panel(const float* x, int64_t ldx, int rows, void* dst, int64_t k) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(k));
  auto* out = static_cast<float*>(dst);
  const int64_t np = k / 64 * 64;
  for (int c = 0; c < rows; ++c) {
    convert_row_f16_panel(x + c * ldx, row.data(), k);
    for (int64_t p = 0; p < np; ++p) out[p * rows + c] = row[p];
    std::copy(row.begin() + np, row.end(), out + np * rows + c * (k - np));
  }
}

// VCVTPS2PH rounds and quiets NaNs exactly as fp32_to_fp16 does.
void to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// The scalar gelu_f16, eight lanes at a time (as the AVX-512 table's; the tail one by one).
void gelu_f16(float* x, int64_t n, const uint16_t* table) {
  const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256i keys = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i entries = _mm256_i32gather_epi32(reinterpret_cast<const int*>(table), keys, 2);
    // The entries' low halves, packed: shuffle within each 128-bit lane, then join the lanes.
    const __m256i packed = _mm256_shuffle_epi8(
        entries, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12, 13,
                                  -1, -1, -1, -1, -1, -1, -1, -1));
    const __m128i halves = _mm_unpacklo_epi64(_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1));
    const __m256 g = _mm256_cvtph_ps(halves);
    __m256 r = _mm256_blendv_ps(v, g, _mm256_cmp_ps(v, hi, _CMP_LT_OQ));  // NaN, >= 10: v
    r = _mm256_blendv_ps(r, _mm256_setzero_ps(), _mm256_cmp_ps(v, lo, _CMP_LE_OQ));
    _mm256_storeu_ps(x + i, r);
  }
  for (; i < n; ++i) {
    const float v = x[i];
    if (v <= -10.0f) x[i] = 0.0f;
    else if (v < 10.0f) x[i] = _cvtsh_ss(table[_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)]);
  }
}

// q5_1 rows from their interleaved records (BlockQ5_1x4), NX activation rows, as the AVX-512
// table's gemv_q5_1_x4 computes them: half a record (two rows) at a time, lane 4 i + j of the
// low and high sums row i's integer lane j and 4 + j of UnsignedQuantKernel's eight (elements
// 4 j.. and 16 + 4 j..), each lane's FMA with d_w * d_x block by block, and each row's result
// the same additions in the same order, so the bits are theirs. Without VNNI the four-product
// sums come from maddubs (pairs, far below int16's limit for 5-bit levels) and madd.
inline __m256i bits_to_bytes(uint32_t bits) {  // byte t: 0xff where bit t is set
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

template <int NX>
void gemv_q5_1_x4_rows(const GemmTile& t, const std::vector<float>& scales) {
  const int64_t nb = t.k / kQK, groups = t.m / 4;
  const BlockQ8_1* x[NX];
  for (int r = 0; r < NX; ++r) x[r] = reinterpret_cast<const BlockQ8_1*>(t.x + r * t.x_stride);
  const __m256i low4 = _mm256_set1_epi8(0x0f), fifth = _mm256_set1_epi8(0x10), ones = _mm256_set1_epi16(1);
  const auto* rec = reinterpret_cast<const BlockQ5_1x4*>(t.interleaved);
  for (int64_t g = 0; g < groups; ++g, rec += nb) {
    alignas(16) float m[NX][4];
    for (int h = 0; h < 2; ++h) {
      const __m256i by_row = _mm256_add_epi32(_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), _mm256_set1_epi32(2 * h));
      __m256 acc_lo[NX], acc_hi[NX];
      __m128 msum[NX];
      for (int r = 0; r < NX; ++r) {
        acc_lo[r] = acc_hi[r] = _mm256_setzero_ps();
        msum[r] = _mm_setzero_ps();
      }
      for (int64_t b = 0; b < nb; ++b) {
        const BlockQ5_1x4& q = rec[b];
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q.qs[2 * h]));
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(v, low4),
                                           _mm256_and_si256(bits_to_bytes(static_cast<uint32_t>(q.qh_lo >> (32 * h))), fifth));
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), low4),
                                           _mm256_and_si256(bits_to_bytes(static_cast<uint32_t>(q.qh_hi >> (32 * h))), fifth));
        const __m128 dm = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q.d)));  // d0-3
        const __m256 d_w = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(dm), by_row);  // rows 2h, 2h + 1
        const __m128 m_w = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q.m)));
        for (int r = 0; r < NX; ++r) {
          const int8_t* qx = x[r][b].qs;
          const __m256i x_lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qx)));
          const __m256i x_hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qx + 16)));
          const __m256 p_lo = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, x_lo), ones));
          const __m256 p_hi = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(hi, x_hi), ones));
          const float* sc = &scales[(r * nb + b) * 2];
          const __m256 d = _mm256_mul_ps(d_w, _mm256_set1_ps(sc[0]));
          acc_lo[r] = _mm256_fmadd_ps(d, p_lo, acc_lo[r]);
          acc_hi[r] = _mm256_fmadd_ps(d, p_hi, acc_hi[r]);
          if (h == 0) msum[r] = _mm_add_ps(msum[r], _mm_mul_ps(m_w, _mm_set1_ps(sc[1])));
        }
      }
      for (int r = 0; r < NX; ++r) {
        if (h == 0) _mm_store_ps(m[r], msum[r]);
        alignas(32) float s[8];
        _mm256_store_ps(s, _mm256_add_ps(acc_lo[r], acc_hi[r]));
        float* y = t.y + r * t.ldy + 4 * g + 2 * h;
        for (int i = 0; i < 2; ++i) y[i] = ((s[4 * i] + s[4 * i + 2]) + (s[4 * i + 1] + s[4 * i + 3])) + m[r][2 * h + i];
      }
    }
  }
}

void gemv_q5_1_x4(const GemmTile& t) {
  thread_local std::vector<float> scales;  // per activation row and block: d_x, s_x
  gemv_interleaved_rows(t, scales, [](uint16_t h) { return half(h); },
                        [&]<int N>() { gemv_q5_1_x4_rows<N>(t, scales); });
}

KernelTable make_avx2() {
  KernelTable t;
  t.name = "avx2";
  t.f32 = {nullptr, nullptr, gemm_f32};
  t.f16 = {x_row_bytes_f32, convert_row_f16_simd, gemm_f16, f16_panel_bytes, f16_build_panel, nullptr, nullptr,
           convert_block_f16_panel, kPanelBlockRows};
  const auto q8_0 = convert_row_q8_simd<false, BlockQ8_0>;
  const auto q8_1 = convert_row_q8_simd<true, BlockQ8_1>;
  t.q4_0 = {x_row_bytes_q8_0, q8_0, gemm_q4_0, QuantPanel<Q4_0>::bytes, QuantPanel<Q4_0>::build, q8_0};
  t.q4_1 = {x_row_bytes_q8_1, q8_1, gemm_q4_1, QuantPanel<Q4_1>::bytes, QuantPanel<Q4_1>::build, q8_1};
  t.q5_0 = {x_row_bytes_q8_0, q8_0, gemm_q5_0, QuantPanel<Q5_0>::bytes, QuantPanel<Q5_0>::build, q8_0};
  t.q5_1 = {x_row_bytes_q8_1, q8_1, gemm_q5_1, QuantPanel<Q5_1>::bytes, QuantPanel<Q5_1>::build, q8_1, gemv_q5_1_x4};
  t.q8_0 = {x_row_bytes_q8_0, q8_0, gemm_q8_0, Q8_0Panel::bytes, Q8_0Panel::build, q8_0};
  t.q4_0_repacked = {x_row_bytes_q8_0, q8_0, gemm_q4_0_repacked_avx2};
  t.exp_shifted = exp_shifted;
  t.libm_expf_shifted = libm_expf_shifted_loop;
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

void gemm_q4_0_repacked_avx2(const GemmTile& t) { gemm_tiled<4, 2, Q4_0RepackedKernel>(t); }

const KernelTable* avx2_table() {
  static const KernelTable table = make_avx2();
  return &table;
}

}  // namespace thoth::asr::kernels

#else  // not built for x86-64 with AVX2: the variant is absent from this binary
#include "asr/kernels.h"
namespace thoth::asr::kernels {
const KernelTable* avx2_table() { return nullptr; }
}  // namespace thoth::asr::kernels
#endif
