#include "asr/profile.h"

#include <gtest/gtest.h>

#include "asr/model_file.h"
#include "support/shared_data.h"

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

// The tiny-shaped shared model: its decoder's per-step weights counted by hand from the
// tensor list, so the figure's definition is pinned (the cross-attention K/V projections and
// the positional table out, the token embedding in) along with the caches' share.
TEST(DecoderStepBytes, CountsTheStepsWeightsAndItsCaches) {
  auto file = ModelFile::open(test::shared_file("models/mini.en-f16.bin").string());
  ASSERT_TRUE(file) << file.error();
  const ModelFile& f = **file;
  const Hparams& hp = f.hparams();
  double weights = 0;
  for (const auto& t : f.tensors()) {
    const bool decoder = t.name.rfind("decoder.", 0) == 0;
    const bool encode_only = t.name.find("cross_attn.key") != std::string::npos ||
                             t.name.find("cross_attn.value") != std::string::npos;
    if (decoder && !encode_only && t.name != "decoder.positional_embedding") weights += static_cast<double>(t.nbytes);
  }
  ASSERT_GT(weights, static_cast<double>(f.tensor("decoder.token_embedding.weight")->nbytes));
  const double per_cell = hp.n_text_layer * 2.0 * 2.0 * hp.n_text_state;  // f16 key + value per layer
  const double cross_keys = (hp.n_audio_ctx + 255) / 256 * 256;
  EXPECT_DOUBLE_EQ(decoder_step_bytes(f, 0), weights + per_cell * cross_keys);
  EXPECT_DOUBLE_EQ(decoder_step_bytes(f, 100) - decoder_step_bytes(f, 0), per_cell * 100);
}

TEST(MemoryBandwidth, IsPositiveForOneAndTwoThreads) {
  EXPECT_GT(memory_read_gbps(1), 0.0);
  EXPECT_GT(memory_read_gbps(2), 0.0);
}

// A working set's own figure, down to sizes smaller than a line per thread.
TEST(MemoryBandwidth, OfAGivenWorkingSetIsPositive) {
  for (size_t bytes : {size_t{8}, size_t{1000}, size_t{1} << 20, size_t{24} << 20}) {
    EXPECT_GT(memory_read_gbps(1, bytes), 0.0) << bytes;
    EXPECT_GT(memory_read_gbps(2, bytes), 0.0) << bytes;
  }
}

}  // namespace
}  // namespace thoth::asr
