// The portable kernels: the ground truth the SIMD variants are tested against, and the
// fallback on any CPU. Plain loops in the reference's summation order (std::fma where the
// reference fuses), so the SIMD variants can be held to the same bits.
#include <array>
#include <cmath>
#include <cstring>

#include "asr/kernels.h"

namespace thoth::asr::kernels {

const TypeKernels* KernelTable::for_type(TensorType t) const {
  switch (t) {
    case TensorType::F32: return &f32;
    case TensorType::F16: return &f16;
    case TensorType::Q4_0: return &q4_0;
    case TensorType::Q4_1: return &q4_1;
    case TensorType::Q5_0: return &q5_0;
    case TensorType::Q5_1: return &q5_1;
    case TensorType::Q8_0: return &q8_0;
    case TensorType::Q8_1: return nullptr;
  }
  return nullptr;
}

size_t x_row_bytes_f32(int64_t k) { return static_cast<size_t>(k) * sizeof(float); }
size_t x_row_bytes_q8_0(int64_t k) { return row_bytes(TensorType::Q8_0, k); }
size_t x_row_bytes_q8_1(int64_t k) { return row_bytes(TensorType::Q8_1, k); }

void convert_row_f16(const float* x, void* dst, int64_t k) {
  auto* out = static_cast<float*>(dst);
  for (int64_t i = 0; i < k; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}

namespace {

// cvtps2dq after round-to-nearest-even, then the saturating packs to int8: NaN and values
// out of int32 range become INT32_MIN, hence -128.
inline int32_t round_even_i32(float v) {
  if (!(std::fabs(v) < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(std::nearbyint(v));
}
inline int8_t saturate_i8(int32_t v) {
  return static_cast<int8_t>(v < -128 ? -128 : (v > 127 ? 127 : v));
}

// Block scale as ggml's AVX path computes it: d = amax / 127 stored as f16, multiplier
// 127 / amax (not 1 / d), so every variant and the reference agree bit for bit.
inline float block_amax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float a = std::fabs(x[j]);
    amax = a > amax ? a : amax;  // maxps keeps the second operand on NaN
  }
  return amax;
}

}  // namespace

void convert_row_q8_0(const float* x, void* dst, int64_t k) {
  auto* out = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < k / kQK; ++b, x += kQK) {
    const float amax = block_amax(x);
    out[b].d = fp32_to_fp16(amax / 127.0f);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < kQK; ++j) out[b].qs[j] = saturate_i8(round_even_i32(x[j] * id));
  }
}

void convert_row_q8_1(const float* x, void* dst, int64_t k) {
  auto* out = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < k / kQK; ++b, x += kQK) {
    const float amax = block_amax(x);
    const float d = amax / 127.0f;
    out[b].d = fp32_to_fp16(d);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    // The sum of the unsaturated int32 values, as the reference's vector adds take it: they
    // wrap (NaN and overflowing lanes are INT32_MIN), so it is summed unsigned.
    uint32_t sum = 0;
    for (int j = 0; j < kQK; ++j) {
      const int32_t q = round_even_i32(x[j] * id);
      sum += static_cast<uint32_t>(q);
      out[b].qs[j] = saturate_i8(q);
    }
    out[b].s = fp32_to_fp16(d * static_cast<float>(static_cast<int32_t>(sum)));
  }
}

namespace {

// fp16 -> fp32 by table in the hot loops (256 KiB, built once; the same exact values).
const std::array<float, 65536>& half_table() {
  static const auto table = [] {
    std::array<float, 65536> t{};
    for (uint32_t h = 0; h < 65536; ++h) t[h] = fp16_to_fp32(static_cast<uint16_t>(h));
    return t;
  }();
  return table;
}
inline float h2f(const std::array<float, 65536>& t, uint16_t h) { return t[h]; }

// f32 and f16 weights: ggml_vec_dot_f32 / ggml_vec_dot_f16 as the reference's AVX-512 build
// runs them (whisper.cpp builds ggml without llamafile's sgemm): four 16-lane accumulators
// fed by FMA over steps of 64, added (a0 + a2) + (a1 + a3), then a 16 -> 8 -> 4 -> 2 -> 1
// lane tree (_mm512_reduce_add_ps); the elements past the last full step are added one at a
// time, f32 with a (contracted) FMA, f16 in double as ggml_vec_dot_f16 sums them.
constexpr int64_t kStep = 64, kEpr = 16;

template <class Weight>
float dot_steps(Weight w, const float* x, int64_t np) {
  float acc[4][kEpr] = {};
  for (int64_t i = 0; i < np; i += kStep)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < kEpr; ++l) {
        const int64_t e = i + j * kEpr + l;
        acc[j][l] = std::fma(w(e), x[e], acc[j][l]);
      }
  float r[kEpr];
  for (int l = 0; l < kEpr; ++l) r[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  for (int width = kEpr / 2; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) r[l] = r[l] + r[l + width];
  return r[0];
}

float dot_f32(const float* w, const float* x, int64_t k) {
  const int64_t np = k / kStep * kStep;
  float s = dot_steps([w](int64_t e) { return w[e]; }, x, np);
  for (int64_t j = np; j < k; ++j) s = std::fma(w[j], x[j], s);
  return s;
}

// w: k halves at any address (model files pack f16 weights at odd offsets).
float dot_f16(const uint8_t* w, const float* x, int64_t k) {
  const auto& ht = half_table();
  const auto half = [&ht, w](int64_t e) {
    uint16_t h;
    std::memcpy(&h, w + 2 * e, 2);
    return h2f(ht, h);
  };
  const int64_t np = k / kStep * kStep;
  double s = dot_steps(half, x, np);
  for (int64_t j = np; j < k; ++j) s += static_cast<double>(half(j) * x[j]);
  return static_cast<float>(s);
}

// Quantized dot products as ggml's AVX2 vec_dot_q*_q8_* (what the reference ran): per block,
// eight lanes each holding the exact integer sum of four consecutive products, converted to
// float and accumulated lane by lane with FMA, scaled by d_w * d_x, in block order; then the
// lanes summed as hsum_float_8 and, for the *_1 types, the m_w * s_x terms (summed apart in
// float) added.
struct QuantAccumulator {
  float acc[8] = {};
  float msum = 0.0f;
  void add_block(const int32_t (&values)[kQK], const int8_t* xq, float d) {
    for (int l = 0; l < 8; ++l) {
      int32_t p = 0;
      for (int e = 4 * l; e < 4 * l + 4; ++e) p += values[e] * xq[e];
      acc[l] = std::fma(d, static_cast<float>(p), acc[l]);
    }
  }
  float result() const {
    float s[4];
    for (int l = 0; l < 4; ++l) s[l] = acc[l] + acc[l + 4];
    return ((s[0] + s[2]) + (s[1] + s[3])) + msum;
  }
};

inline uint32_t load_qh(const uint8_t (&qh)[4]) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;
}

// Element e of a 4-bit block (low nibbles are elements 0-15, high nibbles 16-31); a fifth bit
// from qh for the 5-bit types.
inline int nibble(const uint8_t* qs, int e) { return e < kQK / 2 ? (qs[e] & 0x0f) : (qs[e - kQK / 2] >> 4); }
inline int fifth(uint32_t qh, int e) { return static_cast<int>((qh >> e) & 1u) << 4; }

float dot_q4_0(const BlockQ4_0* w, const BlockQ8_0* x, int64_t nb) {
  QuantAccumulator a;
  int32_t v[kQK];
  for (int64_t b = 0; b < nb; ++b) {
    for (int e = 0; e < kQK; ++e) v[e] = nibble(w[b].qs, e) - 8;
    a.add_block(v, x[b].qs, fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
  }
  return a.result();
}

float dot_q4_1(const BlockQ4_1* w, const BlockQ8_1* x, int64_t nb) {
  QuantAccumulator a;
  int32_t v[kQK];
  for (int64_t b = 0; b < nb; ++b) {
    for (int e = 0; e < kQK; ++e) v[e] = nibble(w[b].qs, e);
    a.add_block(v, x[b].qs, fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
    a.msum += fp16_to_fp32(w[b].m) * fp16_to_fp32(x[b].s);
  }
  return a.result();
}

float dot_q5_0(const BlockQ5_0* w, const BlockQ8_0* x, int64_t nb) {
  QuantAccumulator a;
  int32_t v[kQK];
  for (int64_t b = 0; b < nb; ++b) {
    const uint32_t qh = load_qh(w[b].qh);
    for (int e = 0; e < kQK; ++e) v[e] = (nibble(w[b].qs, e) | fifth(qh, e)) - 16;
    a.add_block(v, x[b].qs, fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
  }
  return a.result();
}

float dot_q5_1(const BlockQ5_1* w, const BlockQ8_1* x, int64_t nb) {
  QuantAccumulator a;
  int32_t v[kQK];
  for (int64_t b = 0; b < nb; ++b) {
    const uint32_t qh = load_qh(w[b].qh);
    for (int e = 0; e < kQK; ++e) v[e] = nibble(w[b].qs, e) | fifth(qh, e);
    a.add_block(v, x[b].qs, fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
    a.msum += fp16_to_fp32(w[b].m) * fp16_to_fp32(x[b].s);
  }
  return a.result();
}

float dot_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, int64_t nb) {
  QuantAccumulator a;
  int32_t v[kQK];
  for (int64_t b = 0; b < nb; ++b) {
    for (int e = 0; e < kQK; ++e) v[e] = w[b].qs[e];
    a.add_block(v, x[b].qs, fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
  }
  return a.result();
}

float dot_q4_0_repacked(const BlockQ4_0* w, const BlockQ8_0* x, int64_t nb) {
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int32_t sumi = 0;
    for (int e = 0; e < kQK; ++e) sumi += (nibble(w[b].qs, e) - 8) * x[b].qs[e];
    acc = std::fma(static_cast<float>(sumi), fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d), acc);
  }
  return acc;
}

template <typename W, typename X, float (*Dot)(const W*, const X*, int64_t)>
void gemm_blocks(const GemmTile& t) {
  const int64_t nb = t.k / kQK;
  for (int64_t i = 0; i < t.n; ++i) {
    const auto* x = reinterpret_cast<const X*>(t.x + i * t.x_stride);
    float* y = t.y + i * t.ldy;
    for (int64_t r = 0; r < t.m; ++r)
      y[r] = Dot(reinterpret_cast<const W*>(t.w + r * t.w_stride), x, nb);
  }
}

void gemm_f32(const GemmTile& t) {
  for (int64_t i = 0; i < t.n; ++i) {
    const auto* x = reinterpret_cast<const float*>(t.x + i * t.x_stride);
    for (int64_t r = 0; r < t.m; ++r)
      t.y[i * t.ldy + r] = dot_f32(reinterpret_cast<const float*>(t.w + r * t.w_stride), x, t.k);
  }
}

void gemm_f16(const GemmTile& t) {
  for (int64_t i = 0; i < t.n; ++i) {
    const auto* x = reinterpret_cast<const float*>(t.x + i * t.x_stride);
    for (int64_t r = 0; r < t.m; ++r)
      t.y[i * t.ldy + r] =
          dot_f16(t.w + r * t.w_stride, x, t.k);
  }
}

// ggml_v_expf of the AVX-512 build, one lane: ARM's optimized-routines expf with the 1 folded
// into the polynomial's last FMA and the result scaled by 2^n with vscalefps (one rounding,
// as ldexp). The AVX2 / NEON builds end differently (fma(j, 2^n, 2^n)) and round differently.
float v_expf(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  return std::ldexp(j, static_cast<int>(n));
}

void exp_shifted(const float* x, float shift, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = v_expf(x[j] - shift);
}

void f16_axpy(uint16_t* acc, const uint16_t* v, float s, int64_t n) {
  const auto& ht = half_table();
  for (int64_t i = 0; i < n; ++i) acc[i] = fp32_to_fp16(std::fma(ht[v[i]], s, ht[acc[i]]));
}

void f32_axpy(float* y, const float* x, int64_t x_stride, const float* s, int64_t count, int64_t n) {
  for (int64_t c = 0; c < count; ++c)
    for (int64_t i = 0; i < n; ++i) y[i] = std::fma(x[c * x_stride + i], s[c], y[i]);
}

void f32_axpy_rows(float* const* y, const float* const* s, int nr, const float* x, int64_t x_stride, int64_t count,
                   int64_t n) {
  for (int r = 0; r < nr; ++r) f32_axpy(y[r], x, x_stride, s[r], count, n);
}

void f16_scale(uint16_t* acc, float s, int64_t n) {
  const auto& ht = half_table();
  for (int64_t i = 0; i < n; ++i) acc[i] = fp32_to_fp16(ht[acc[i]] * s);
}

// The reference's arithmetic for one tile, written out (kernels.h); the SIMD tables give its bits.
bool softmax_tile(float* kq, int64_t nt, float scale, float* m, float* sum, float* ms) {
  float tile_max = -INFINITY;
  for (int64_t i = 0; i < nt; ++i) {
    kq[i] *= scale;
    tile_max = kq[i] > tile_max ? kq[i] : tile_max;
  }
  if (tile_max == -INFINITY) return false;
  const float m_new = std::fmax(*m, tile_max);
  *ms = 1.0f;
  if (m_new > *m) {
    *ms = expf(*m - m_new);
    *sum *= *ms;
  }
  *m = m_new;
  exp_shifted(kq, m_new, kq, nt);
  // ggml_vec_soft_max_f32: each group of 16 summed as _mm512_reduce_add_ps does (halves
  // added until one lane is left), the groups' sums added in double.
  double tile_sum = 0.0;
  for (int64_t i = 0; i < nt; i += 16) {
    float v[16] = {};
    for (int64_t l = 0; l < 16 && i + l < nt; ++l) v[l] = kq[i + l];
    for (int w = 8; w >= 1; w /= 2)
      for (int l = 0; l < w; ++l) v[l] = v[l] + v[l + w];
    tile_sum += static_cast<double>(v[0]);
  }
  *sum = static_cast<float>(static_cast<double>(*sum) + tile_sum);
  return true;
}

void f16_online_softmax(const OnlineSoftmaxJob* jobs, int count, int64_t stride, int64_t d) {
  for (int i = 0; i < count; ++i) f16_online_softmax_generic(scalar_table(), jobs[i], stride, d);
}

void to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

void gelu_f16(float* x, int64_t n, const uint16_t* table) {
  const auto& ht = half_table();
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (v <= -10.0f) x[i] = 0.0f;
    else if (v < 10.0f) x[i] = ht[table[fp32_to_fp16(v)]];
  }
}

void dot_f16_blocked(const uint16_t* blocks, int64_t n_blocks, const uint16_t* const* q, int nq, int64_t d,
                     float* const* out) {
  const auto& ht = half_table();
  for (int r = 0; r < nq; ++r)
    for (int64_t j = 0; j < n_blocks * kKeyBlock; ++j) {
      double sum = 0.0;
      for (int64_t i = 0; i < d; ++i) sum += static_cast<double>(ht[blocks[key_block_index(j, i, d)]] * ht[q[r][i]]);
      out[r][j] = static_cast<float>(sum);
    }
}

KernelTable make_scalar() {
  KernelTable t;
  t.name = "scalar";
  t.f32 = {nullptr, nullptr, gemm_f32};
  t.f16 = {x_row_bytes_f32, convert_row_f16, gemm_f16};
  t.q4_0 = {x_row_bytes_q8_0, convert_row_q8_0, gemm_blocks<BlockQ4_0, BlockQ8_0, dot_q4_0>};
  t.q4_1 = {x_row_bytes_q8_1, convert_row_q8_1, gemm_blocks<BlockQ4_1, BlockQ8_1, dot_q4_1>};
  t.q5_0 = {x_row_bytes_q8_0, convert_row_q8_0, gemm_blocks<BlockQ5_0, BlockQ8_0, dot_q5_0>};
  t.q5_1 = {x_row_bytes_q8_1, convert_row_q8_1, gemm_blocks<BlockQ5_1, BlockQ8_1, dot_q5_1>};
  t.q8_0 = {x_row_bytes_q8_0, convert_row_q8_0, gemm_blocks<BlockQ8_0, BlockQ8_0, dot_q8_0>};
  t.q4_0_repacked = {x_row_bytes_q8_0, convert_row_q8_0, gemm_blocks<BlockQ4_0, BlockQ8_0, dot_q4_0_repacked>};
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

void gemm_q4_0_repacked(const GemmTile& t) { gemm_blocks<BlockQ4_0, BlockQ8_0, dot_q4_0_repacked>(t); }

const KernelTable& scalar_table() {
  static const KernelTable table = make_scalar();
  return table;
}

namespace {

// Rows [0, groups * 4) of w into records, one per group and block: place(record, i, block)
// puts row i's block into its group's record.
template <class Block, class Record, class Place>
void interleave(const uint8_t* w, size_t w_stride, int64_t groups, int64_t k, Record* out, Place place) {
  const int64_t nb = k / kQK;
  for (int64_t g = 0; g < groups; ++g, out += nb)
    for (int i = 0; i < 4; ++i) {
      const auto* row = reinterpret_cast<const Block*>(w + (4 * g + i) * w_stride);
      for (int64_t b = 0; b < nb; ++b) place(out[b], i, row[b]);
    }
}

void place_q5_1(BlockQ5_1x4& o, int i, const BlockQ5_1& blk) {
  std::memcpy(o.qs[i], blk.qs, sizeof blk.qs);
  const uint32_t qh = load_qh(blk.qh);
  const uint64_t keep = ~(uint64_t{0xffff} << (16 * i));  // this row's bits, set anew
  o.qh_lo = (o.qh_lo & keep) | static_cast<uint64_t>(qh & 0xffffu) << (16 * i);
  o.qh_hi = (o.qh_hi & keep) | static_cast<uint64_t>(qh >> 16) << (16 * i);
  o.d[i] = blk.d;
  o.m[i] = blk.m;
}

void place_q8_0(BlockQ8_0x4& o, int i, const BlockQ8_0& blk) {
  for (int e = 0; e < kQK / 2; ++e) {
    o.lo[i][e] = static_cast<uint8_t>(blk.qs[e] + 128);
    o.hi[i][e] = static_cast<uint8_t>(blk.qs[kQK / 2 + e] + 128);
  }
  o.d[i] = blk.d;
}

}  // namespace

void interleave_rows(TensorType type, const uint8_t* w, size_t w_stride, int64_t groups, int64_t k, void* out) {
  if (type == TensorType::Q5_1)
    interleave<BlockQ5_1>(w, w_stride, groups, k, static_cast<BlockQ5_1x4*>(out), place_q5_1);
  else if (type == TensorType::Q8_0)
    interleave<BlockQ8_0>(w, w_stride, groups, k, static_cast<BlockQ8_0x4*>(out), place_q8_0);
}

}  // namespace thoth::asr::kernels
