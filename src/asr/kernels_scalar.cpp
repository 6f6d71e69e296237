// The portable kernels: the ground truth the SIMD variants are tested against, and the
// fallback on any CPU. Plain loops; the hot loops keep 8 independent float sums so the
// compiler can still use baseline SSE2 without reordering anything.
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

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
    int32_t sum = 0;  // of the unsaturated int32 values, as the reference sums them
    for (int j = 0; j < kQK; ++j) {
      const int32_t q = round_even_i32(x[j] * id);
      sum += q;
      out[b].qs[j] = saturate_i8(q);
    }
    out[b].s = fp32_to_fp16(d * static_cast<float>(sum));
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

constexpr int kLanes = 8;

inline float reduce_lanes(const float (&acc)[kLanes]) {
  // Pairwise, like a horizontal add of one vector register.
  const float a = (acc[0] + acc[4]) + (acc[2] + acc[6]);
  const float b = (acc[1] + acc[5]) + (acc[3] + acc[7]);
  return a + b;
}

float dot_f32(const float* w, const float* x, int64_t k) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= k; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += w[j + l] * x[j + l];
  float s = reduce_lanes(acc);
  for (; j < k; ++j) s += w[j] * x[j];
  return s;
}

float dot_f16(const uint16_t* w, const float* x, int64_t k) {
  const auto& ht = half_table();
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= k; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += h2f(ht, w[j + l]) * x[j + l];
  float s = reduce_lanes(acc);
  for (; j < k; ++j) s += h2f(ht, w[j]) * x[j];
  return s;
}

// Quantized dot products: exact integer sums per block, then scaled in float and summed
// in block order, as ggml's reference vec_dot functions do.
float dot_q4_0(const BlockQ4_0* w, const BlockQ8_0* x, int64_t nb) {
  float s = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int32_t sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += ((w[b].qs[j] & 0x0f) - 8) * x[b].qs[j];
      sumi += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + kQK / 2];
    }
    s += static_cast<float>(sumi) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
  }
  return s;
}

float dot_q4_1(const BlockQ4_1* w, const BlockQ8_1* x, int64_t nb) {
  float s = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int32_t sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += (w[b].qs[j] & 0x0f) * x[b].qs[j];
      sumi += (w[b].qs[j] >> 4) * x[b].qs[j + kQK / 2];
    }
    s += (fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d)) * static_cast<float>(sumi) +
         fp16_to_fp32(w[b].m) * fp16_to_fp32(x[b].s);
  }
  return s;
}

inline uint32_t load_qh(const uint8_t (&qh)[4]) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;
}

float dot_q5_0(const BlockQ5_0* w, const BlockQ8_0* x, int64_t nb) {
  float s = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint32_t qh = load_qh(w[b].qh);
    int32_t sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (w[b].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4);
      const int hi = (w[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
      sumi += (lo - 16) * x[b].qs[j] + (hi - 16) * x[b].qs[j + kQK / 2];
    }
    s += static_cast<float>(sumi) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
  }
  return s;
}

float dot_q5_1(const BlockQ5_1* w, const BlockQ8_1* x, int64_t nb) {
  float s = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint32_t qh = load_qh(w[b].qh);
    int32_t sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (w[b].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4);
      const int hi = (w[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
      sumi += lo * x[b].qs[j] + hi * x[b].qs[j + kQK / 2];
    }
    s += (fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d)) * static_cast<float>(sumi) +
         fp16_to_fp32(w[b].m) * fp16_to_fp32(x[b].s);
  }
  return s;
}

float dot_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, int64_t nb) {
  float s = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int32_t sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += w[b].qs[j] * x[b].qs[j];
    s += static_cast<float>(sumi) * (fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
  }
  return s;
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
          dot_f16(reinterpret_cast<const uint16_t*>(t.w + r * t.w_stride), x, t.k);
  }
}

// ggml_v_expf, one lane: ARM's optimized-routines expf as ggml vectorises it for softmax.
float v_expf(float x) {
  auto bits = [](float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; };
  auto from = [](uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; };
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const uint32_t e = bits(z) << 23;
  const float k = from(e + bits(1.0f));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, 0x1.ffffecp-1f * b);
  if (!(std::fabs(n) > 126.0f)) return std::fma(j, k, k);
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = from(g + 0x7f000000u);
  const float s2 = from(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return std::fma(s2, j, s2) * s1;
}

void exp_shifted(const float* x, float shift, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = v_expf(x[j] - shift);
}

void f16_axpy(uint16_t* acc, const uint16_t* v, float s, int64_t n) {
  const auto& ht = half_table();
  for (int64_t i = 0; i < n; ++i) acc[i] = fp32_to_fp16(std::fma(ht[v[i]], s, ht[acc[i]]));
}

void f16_scale(uint16_t* acc, float s, int64_t n) {
  const auto& ht = half_table();
  for (int64_t i = 0; i < n; ++i) acc[i] = fp32_to_fp16(ht[acc[i]] * s);
}

void f16_online_softmax(const float* scores, const int32_t* rows, int64_t n, const uint16_t* v, int64_t stride,
                        int64_t d, uint16_t* acc, float* m, float* sum) {
  f16_online_softmax_generic(scalar_table(), scores, rows, n, v, stride, d, acc, m, sum);
}

void dot_f16_rows(const uint16_t* rows, int64_t stride, int64_t n_rows, const uint16_t* q, int64_t d, float* out) {
  const auto& ht = half_table();
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint16_t* row = rows + r * stride;
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i) sum += static_cast<double>(ht[row[i]] * ht[q[i]]);
    out[r] = static_cast<float>(sum);
  }
}

void to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

// dot_f32 on each column of b, gathered: the same operations as gemm_f32 by construction.
void gemm_f32_cols(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t m,
                   int64_t n, int64_t k) {
  std::vector<float> col(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t kk = 0; kk < k; ++kk) col[kk] = b[kk * ldb + j];
    for (int64_t r = 0; r < m; ++r) c[r * ldc + j] = dot_f32(col.data(), a + r * lda, k);
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
  t.exp_shifted = exp_shifted;
  t.f16_axpy = f16_axpy;
  t.f16_online_softmax = f16_online_softmax;
  t.f16_scale = f16_scale;
  t.dot_f16_rows = dot_f16_rows;
  t.gemm_f32_cols = gemm_f32_cols;
  t.to_f16 = to_f16;
  return t;
}

}  // namespace

const KernelTable& scalar_table() {
  static const KernelTable table = make_scalar();
  return table;
}

}  // namespace thoth::asr::kernels
