#include "asr/expf_flush.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>

namespace thoth::asr {
namespace {

uint32_t bits_of(float f) { return std::bit_cast<uint32_t>(f); }

// Every float from -110 to -80 (the flush threshold, the subnormal results and the first
// normal ones), and a spread of others: expf_flush gives expf's bits.
TEST(ExpfFlush, GivesExpfsBitsEverywhere) {
  for (float x = -110.0f; x <= -80.0f; x = std::nextafter(x, 0.0f))
    ASSERT_EQ(bits_of(expf_flush(x)), bits_of(expf(x))) << x;
  for (float x : {-INFINITY, -1e30f, -200.0f, -104.0f, -103.97f, -0.0f, 0.0f, 1.0f, 88.7f, 89.0f, INFINITY})
    EXPECT_EQ(bits_of(expf_flush(x)), bits_of(expf(x))) << x;
  EXPECT_TRUE(std::isnan(expf_flush(NAN)));
}

}  // namespace
}  // namespace thoth::asr
