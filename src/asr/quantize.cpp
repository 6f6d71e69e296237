#include "asr/quantize.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

namespace thoth::asr {

namespace {

// The reference truncates toward zero after adding 0.5 (or 8.5 / 16.5): its values are
// always in [0, 32) here, so the int8 cast it uses is a plain truncation.
inline int trunc_int(float v) { return static_cast<int>(v); }

void q4_0_row(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const float v0 = x[j] * id, v1 = x[j + kQK / 2] * id;  // rounded before the add
      const int x0 = std::min(15, trunc_int(v0 + 8.5f));
      const int x1 = std::min(15, trunc_int(v1 + 8.5f));
      y[i].qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
    }
  }
}

template <typename Block, int kLevels>
void min_max_row(const float* x, Block* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / (kLevels - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const float v0 = (x[j] - min) * id, v1 = (x[j + kQK / 2] - min) * id;
      int x0 = trunc_int(v0 + 0.5f);
      int x1 = trunc_int(v1 + 0.5f);
      if constexpr (kLevels == 16) {
        x0 = std::min(15, x0);
        x1 = std::min(15, x1);
        y[i].qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
      } else {
        // The reference casts to uint8_t without a clamp and keeps the low 5 bits.
        x0 &= 0xff;
        x1 &= 0xff;
        y[i].qs[j] = static_cast<uint8_t>((x0 & 0x0f) | ((x1 & 0x0f) << 4));
        qh |= ((static_cast<uint32_t>(x0) & 0x10u) >> 4) << j;
        qh |= ((static_cast<uint32_t>(x1) & 0x10u) >> 4) << (j + kQK / 2);
      }
    }
    if constexpr (kLevels == 32) std::memcpy(y[i].qh, &qh, sizeof qh);
  }
}

void q5_0_row(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const float v0 = x[j] * id, v1 = x[j + kQK / 2] * id;
      const int x0 = std::min(31, trunc_int(v0 + 16.5f));
      const int x1 = std::min(31, trunc_int(v1 + 16.5f));
      y[i].qs[j] = static_cast<uint8_t>((x0 & 0x0f) | ((x1 & 0x0f) << 4));
      qh |= ((static_cast<uint32_t>(x0) & 0x10u) >> 4) << j;
      qh |= ((static_cast<uint32_t>(x1) & 0x10u) >> 4) << (j + kQK / 2);
    }
    std::memcpy(y[i].qh, &qh, sizeof qh);
  }
}

// q8_0 / q8_1 reference: multiplier 1 / d and rounding half away from zero (roundf),
// unlike the activation conversion of the x86 CPU backend (kernels.h).
template <typename Block, bool kWithSum>
void q8_row(const float* x, Block* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
      sum += y[i].qs[j];
    }
    if constexpr (kWithSum) y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

inline float h(uint16_t v) { return fp16_to_fp32(v); }

inline uint32_t qh_of(const uint8_t (&qh)[4]) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;
}

}  // namespace

void quantize_row_reference(TensorType t, const float* x, void* dst, int64_t k) {
  const int64_t nb = k / kQK;
  switch (t) {
    case TensorType::F32:
      std::memcpy(dst, x, static_cast<size_t>(k) * sizeof(float));
      return;
    case TensorType::F16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < k; ++i) out[i] = fp32_to_fp16(x[i]);
      return;
    }
    case TensorType::Q4_0: return q4_0_row(x, static_cast<BlockQ4_0*>(dst), nb);
    case TensorType::Q4_1: return min_max_row<BlockQ4_1, 16>(x, static_cast<BlockQ4_1*>(dst), nb);
    case TensorType::Q5_0: return q5_0_row(x, static_cast<BlockQ5_0*>(dst), nb);
    case TensorType::Q5_1: return min_max_row<BlockQ5_1, 32>(x, static_cast<BlockQ5_1*>(dst), nb);
    case TensorType::Q8_0: return q8_row<BlockQ8_0, false>(x, static_cast<BlockQ8_0*>(dst), nb);
    case TensorType::Q8_1: return q8_row<BlockQ8_1, true>(x, static_cast<BlockQ8_1*>(dst), nb);
  }
}

void dequantize_row(TensorType t, const void* src, float* y, int64_t k) {
  const int64_t nb = k / kQK;
  switch (t) {
    case TensorType::F32:
      std::memcpy(y, src, static_cast<size_t>(k) * sizeof(float));
      return;
    case TensorType::F16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < k; ++i) y[i] = h(in[i]);
      return;
    }
    case TensorType::Q4_0: {
      const auto* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK)
        for (int j = 0; j < kQK / 2; ++j) {
          y[j] = static_cast<float>((b[i].qs[j] & 0x0f) - 8) * h(b[i].d);
          y[j + kQK / 2] = static_cast<float>((b[i].qs[j] >> 4) - 8) * h(b[i].d);
        }
      return;
    }
    case TensorType::Q4_1: {
      const auto* b = static_cast<const BlockQ4_1*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK)
        for (int j = 0; j < kQK / 2; ++j) {
          y[j] = static_cast<float>(b[i].qs[j] & 0x0f) * h(b[i].d) + h(b[i].m);
          y[j + kQK / 2] = static_cast<float>(b[i].qs[j] >> 4) * h(b[i].d) + h(b[i].m);
        }
      return;
    }
    case TensorType::Q5_0: {
      const auto* b = static_cast<const BlockQ5_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK) {
        const uint32_t qh = qh_of(b[i].qh);
        for (int j = 0; j < kQK / 2; ++j) {
          const int lo = (b[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4);
          const int hi = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
          y[j] = static_cast<float>(lo - 16) * h(b[i].d);
          y[j + kQK / 2] = static_cast<float>(hi - 16) * h(b[i].d);
        }
      }
      return;
    }
    case TensorType::Q5_1: {
      const auto* b = static_cast<const BlockQ5_1*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK) {
        const uint32_t qh = qh_of(b[i].qh);
        for (int j = 0; j < kQK / 2; ++j) {
          const int lo = (b[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4);
          const int hi = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
          y[j] = static_cast<float>(lo) * h(b[i].d) + h(b[i].m);
          y[j + kQK / 2] = static_cast<float>(hi) * h(b[i].d) + h(b[i].m);
        }
      }
      return;
    }
    case TensorType::Q8_0: {
      const auto* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK)
        for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b[i].qs[j]) * h(b[i].d);
      return;
    }
    case TensorType::Q8_1: {
      const auto* b = static_cast<const BlockQ8_1*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK)
        for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b[i].qs[j]) * h(b[i].d);
      return;
    }
  }
}

}  // namespace thoth::asr
