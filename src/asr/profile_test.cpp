#include "asr/profile.h"

#include <gtest/gtest.h>

namespace thoth::asr {
namespace {

TEST(MachinePeak, Zen4SplitsItsAvx512FmasOverTwoHalfWidthPipes) {
  EXPECT_EQ(fma_units_per_core("AuthenticAMD", 0x19, "avx512"), 1);
  EXPECT_EQ(fma_units_per_core("AuthenticAMD", 0x19, "avx2"), 2);
  EXPECT_EQ(fma_units_per_core("AuthenticAMD", 0x1a, "avx512"), 2);  // Zen 5: full-width units
  EXPECT_EQ(fma_units_per_core("GenuineIntel", 6, "avx512"), 2);
}

TEST(MachinePeak, PeakIsCoresTimesLanesTimesUnitsTimesClock) {
  const MachineInfo m = machine_info();
  ASSERT_GT(m.cores, 0);
  EXPECT_DOUBLE_EQ(m.core_peak_gflops, m.f32_lanes * m.fma_units * 2.0 * m.clock_ghz);
  EXPECT_DOUBLE_EQ(m.peak_gflops, m.cores * m.core_peak_gflops);
}

}  // namespace
}  // namespace thoth::asr
