// Bodies of the VAD kernels, included by vad_kernels.cpp and vad_kernels_avx2.cpp inside a
// namespace of their own, so the same source is compiled for each instruction set. GCC vector
// extensions make the vectorisation explicit without binding the code to one instruction set:
// the including file defines VAD_LANES (4 for SSE/NEON-sized registers, 8 for AVX).
// The including file includes <cstddef>, <cstdint> and <cstring> first (not inside a namespace).

namespace {

constexpr int kLanes = VAD_LANES;
using vf = float __attribute__((vector_size(kLanes * 4)));
using vu = uint32_t __attribute__((vector_size(kLanes * 4)));

inline vf loadv(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float hsum(vf v) {
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += v[l];
  return s;
}

// R weight rows against NC columns per pass (R * NC = 8 independent accumulators, enough to
// hide the latency of the multiply-adds): each weight load feeds NC products and each column
// load R of them.
template <int NC, int R>
void matmul_block(const float* W, int rows, int ldw, int n, const float* X, int ldx, float* Y, int ldy) {
  int o = 0;
  for (; o + R <= rows; o += R) {
    vf acc[R][NC] = {};
    for (int i = 0; i < n; i += kLanes) {
      vf xs[NC];
      for (int c = 0; c < NC; ++c) xs[c] = loadv(X + c * ldx + i);
      for (int r = 0; r < R; ++r) {
        const vf wv = loadv(W + static_cast<size_t>(o + r) * ldw + i);
        for (int c = 0; c < NC; ++c) acc[r][c] += wv * xs[c];
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < NC; ++c) Y[c * ldy + o + r] = hsum(acc[r][c]);
    }
  }
  for (; o < rows; ++o) {
    vf acc[NC] = {};
    for (int i = 0; i < n; i += kLanes) {
      const vf wv = loadv(W + static_cast<size_t>(o) * ldw + i);
      for (int c = 0; c < NC; ++c) acc[c] += wv * loadv(X + c * ldx + i);
    }
    for (int c = 0; c < NC; ++c) Y[c * ldy + o] = hsum(acc[c]);
  }
}

void matmul(const float* W, int rows, int ldw, int n, const float* X, int ldx, int cols, float* Y, int ldy) {
  for (int c0 = 0; c0 < cols;) {
    const int left = cols - c0;
    const float* Xc = X + c0 * ldx;
    float* Yc = Y + c0 * ldy;
    if (left >= 4) {
      matmul_block<4, 2>(W, rows, ldw, n, Xc, ldx, Yc, ldy);
      c0 += 4;
    } else if (left >= 2) {
      matmul_block<2, 4>(W, rows, ldw, n, Xc, ldx, Yc, ldy);
      c0 += 2;
    } else {
      matmul_block<1, 8>(W, rows, ldw, n, Xc, ldx, Yc, ldy);
      c0 += 1;
    }
  }
}

// f32 -> f16 -> f32 without leaving f32. Normal f16 range: round the mantissa to 10 bits in the
// integer domain (ties to even). Below 2^-14 f16 has a fixed step of 2^-24, which adding and
// removing 0.5 (whose ulp is 2^-24) produces. Magnitudes beyond f16's range do not occur here.
inline vf round_f16_v(vf v) {
  vu b;
  std::memcpy(&b, &v, sizeof b);
  const vu sign = b & 0x80000000u;
  const vu rounded = (b + 0x0FFFu + ((b >> 13) & 1u)) & ~0x1FFFu;
  vf normal, half, abs;
  std::memcpy(&normal, &rounded, sizeof normal);
  const vu half_bits = sign | 0x3F000000u;  // +-0.5
  std::memcpy(&half, &half_bits, sizeof half);
  const vu abs_bits = b & 0x7FFFFFFFu;
  std::memcpy(&abs, &abs_bits, sizeof abs);
  const vf tiny = (v + half) - half;
  return abs < 0x1p-14f ? tiny : normal;
}

void round_f16(float* x, int n) {
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const vf r = round_f16_v(loadv(x + i));
    std::memcpy(x + i, &r, sizeof r);
  }
  if (i < n) {
    float tail[kLanes] = {};
    std::memcpy(tail, x + i, sizeof(float) * static_cast<size_t>(n - i));
    const vf r = round_f16_v(loadv(tail));
    std::memcpy(x + i, &r, sizeof(float) * static_cast<size_t>(n - i));
  }
}

}  // namespace
