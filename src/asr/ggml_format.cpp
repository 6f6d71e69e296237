#include "asr/ggml_format.h"

#include <cstring>

namespace thoth::asr {

bool is_file_tensor_type(int32_t raw) {
  switch (raw) {
    case 0: case 1: case 2: case 3: case 6: case 7: case 8:
      return true;
    default:
      return false;
  }
}

const char* type_name(TensorType t) {
  switch (t) {
    case TensorType::F32: return "f32";
    case TensorType::F16: return "f16";
    case TensorType::Q4_0: return "q4_0";
    case TensorType::Q4_1: return "q4_1";
    case TensorType::Q5_0: return "q5_0";
    case TensorType::Q5_1: return "q5_1";
    case TensorType::Q8_0: return "q8_0";
    case TensorType::Q8_1: return "q8_1";
  }
  return "unknown";
}

int block_size(TensorType t) {
  return (t == TensorType::F32 || t == TensorType::F16) ? 1 : kQK;
}

size_t block_bytes(TensorType t) {
  switch (t) {
    case TensorType::F32: return 4;
    case TensorType::F16: return 2;
    case TensorType::Q4_0: return sizeof(BlockQ4_0);
    case TensorType::Q4_1: return sizeof(BlockQ4_1);
    case TensorType::Q5_0: return sizeof(BlockQ5_0);
    case TensorType::Q5_1: return sizeof(BlockQ5_1);
    case TensorType::Q8_0: return sizeof(BlockQ8_0);
    case TensorType::Q8_1: return sizeof(BlockQ8_1);
  }
  return 0;
}

size_t row_bytes(TensorType t, int64_t n) {
  return static_cast<size_t>(n / block_size(t)) * block_bytes(t);
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    // inf, or NaN keeping its payload and quieted (as VCVTPH2PS does)
    bits = sign | 0x7f800000u | (mant << 13) | (mant != 0 ? 0x400000u : 0u);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise the mantissa; every one is a normal float.
    int e = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) {
    // NaN: quieted, top payload bits kept (what VCVTPS2PH does).
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  }
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity (or is inf)
  if (abs >= 0x38800000u) {
    // Normal half. Adding 0xfff plus the lowest kept bit rounds to nearest, ties to even;
    // a carry out of the mantissa correctly bumps the exponent.
    const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded >> 13) - (112u << 10)));
  }
  // Half subnormal (or zero): units of 2^-24.
  const uint32_t exp = abs >> 23;
  const uint32_t shift = 126 - exp;  // >= 14 here
  if (shift > 24) return sign;       // below 2^-25: rounds to zero (2^-25 exactly ties to 0)
  const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

}  // namespace thoth::asr
