#include "asr/ggml_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace thoth::asr {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
bool half_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

TEST(Fp16, EveryHalfRoundTripsExactly) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = fp16_to_fp32(h);
    if (half_is_nan(h)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << i;
      EXPECT_EQ(fp32_to_fp16(f), h | 0x200) << std::hex << i;  // quieted, payload kept
    } else {
      EXPECT_EQ(fp32_to_fp16(f), h) << std::hex << i;
    }
  }
}

TEST(Fp16, DecodesKnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_fp32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(bits_of(fp16_to_fp32(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
}

TEST(Fp16, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65519.996f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // tie between 65504 (odd) and 65536: up
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to the even mantissa (1).
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3 * 2^-11 is halfway between odd 0x3c01 and even 0x3c02.
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  // Subnormals: 2^-25 ties to zero, just above rounds up; 1.5 * 2^-24 ties to 2 units.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.5f, -24)), 0x0002);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(2.5f, -24)), 0x0002);
  EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -26)), 0x8000);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
  // The largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.75f, -24)), 0x0400);
  EXPECT_EQ(fp32_to_fp16(float_of(0x7fc00001u)), 0x7e00);  // NaN stays NaN
  EXPECT_EQ(fp32_to_fp16(float_of(0xff800001u)), 0xfe00);  // signalling NaN is quieted
}

// Independent check: the chosen half is a nearest one, ties going to the even mantissa.
TEST(Fp16, RandomFloatsRoundToANearestHalf) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 200000; ++i) {
    // Bias towards the half range so the interesting cases dominate.
    uint32_t u = any(rng);
    if (i % 2) u = (u & 0x807fffffu) | ((100u + (u >> 24) % 45u) << 23);
    const float f = float_of(u);
    if (std::isnan(f)) continue;
    const uint16_t h = fp32_to_fp16(f);
    const double v = fp16_to_fp32(h);
    if (std::isinf(v)) {
      EXPECT_GE(std::fabs(f), 65520.0f) << f;
      continue;
    }
    const double err = std::fabs(static_cast<double>(f) - v);
    for (int step : {-1, 1}) {
      const uint16_t mag = h & 0x7fff;
      if ((step < 0 && mag == 0) || (step > 0 && mag >= 0x7bff)) continue;
      const uint16_t other = static_cast<uint16_t>((h & 0x8000) | (mag + step));
      const double e2 = std::fabs(static_cast<double>(f) - fp16_to_fp32(other));
      ASSERT_LE(err, e2) << f;
      if (err == e2) {
        ASSERT_EQ(h & 1, 0) << "tie not to even for " << f;
      }
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hardware_fp32_to_fp16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, 0));
}
__attribute__((target("f16c"))) float hardware_fp16_to_fp32(uint16_t h) { return _cvtsh_ss(h); }

TEST(Fp16, MatchesF16cBitForBit) {
  ASSERT_TRUE(__builtin_cpu_supports("f16c")) << "this test machine is expected to have F16C";
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 500000; ++i) {
    uint32_t u = any(rng);
    if (i % 2) u = (u & 0x807fffffu) | ((100u + (u >> 24) % 45u) << 23);
    ASSERT_EQ(fp32_to_fp16(float_of(u)), hardware_fp32_to_fp16(float_of(u))) << std::hex << u;
  }
  for (uint32_t i = 0; i < 65536; ++i) {
    const float a = fp16_to_fp32(static_cast<uint16_t>(i));
    const float b = hardware_fp16_to_fp32(static_cast<uint16_t>(i));
    ASSERT_EQ(bits_of(a), bits_of(b)) << std::hex << i;
  }
}
#endif

TEST(GgmlFormat, BlockLayoutsAreTheFileFormat) {
  EXPECT_EQ(offsetof(BlockQ4_0, qs), 2u);
  EXPECT_EQ(offsetof(BlockQ4_1, m), 2u);
  EXPECT_EQ(offsetof(BlockQ4_1, qs), 4u);
  EXPECT_EQ(offsetof(BlockQ5_0, qh), 2u);
  EXPECT_EQ(offsetof(BlockQ5_0, qs), 6u);
  EXPECT_EQ(offsetof(BlockQ5_1, qh), 4u);
  EXPECT_EQ(offsetof(BlockQ5_1, qs), 8u);
  EXPECT_EQ(offsetof(BlockQ8_0, qs), 2u);
  EXPECT_EQ(offsetof(BlockQ8_1, s), 2u);
  EXPECT_EQ(offsetof(BlockQ8_1, qs), 4u);
}

TEST(GgmlFormat, TypeTables) {
  EXPECT_EQ(row_bytes(TensorType::F32, 384), 1536u);
  EXPECT_EQ(row_bytes(TensorType::F16, 384), 768u);
  EXPECT_EQ(row_bytes(TensorType::Q4_0, 384), 12u * 18);
  EXPECT_EQ(row_bytes(TensorType::Q4_1, 384), 12u * 20);
  EXPECT_EQ(row_bytes(TensorType::Q5_0, 384), 12u * 22);
  EXPECT_EQ(row_bytes(TensorType::Q5_1, 384), 12u * 24);
  EXPECT_EQ(row_bytes(TensorType::Q8_0, 384), 12u * 34);
  EXPECT_EQ(row_bytes(TensorType::Q8_1, 384), 12u * 36);
  EXPECT_EQ(block_size(TensorType::F16), 1);
  EXPECT_EQ(block_size(TensorType::Q5_1), 32);
  for (int raw : {0, 1, 2, 3, 6, 7, 8}) EXPECT_TRUE(is_file_tensor_type(raw)) << raw;
  for (int raw : {-1, 4, 5, 9, 10, 16, 30, 1000}) EXPECT_FALSE(is_file_tensor_type(raw)) << raw;
  EXPECT_STREQ(type_name(TensorType::Q5_1), "q5_1");
  EXPECT_STREQ(type_name(TensorType::F16), "f16");
}

}  // namespace
}  // namespace thoth::asr
