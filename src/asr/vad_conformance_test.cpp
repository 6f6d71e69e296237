// Silero VAD against the reference's segments (../shared/golden/vad): same number of segments,
// every boundary within 5 cs.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <ostream>
#include <fstream>

#include "asr/vad.h"
#include "asr/vad_kernels.h"
#include "asr/vad_test_util.h"
#include "support/shared_data.h"

namespace thoth::asr {
namespace {

constexpr int64_t kToleranceCs = 5;

std::vector<VadSegment> read_golden(const std::string& path) {
  std::ifstream in(path);
  std::vector<VadSegment> out;
  double a, b;
  while (in >> a >> b) out.push_back({std::llround(a), std::llround(b)});
  return out;
}

// Every kernel variant this machine can run meets the tolerances, on every golden file.
struct Case {
  const char* audio;
  const vad_detail::VadKernels* kernels;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.audio << " on " << c.kernels->name; }

std::vector<Case> cases() {
  std::vector<const vad_detail::VadKernels*> variants{&vad_detail::vad_kernels_baseline()};
  if (const auto* avx2 = vad_detail::vad_kernels_avx2()) variants.push_back(avx2);
  std::vector<Case> out;
  for (const char* audio : {"jfk", "long-en", "noise"}) {
    for (const auto* k : variants) out.push_back({audio, k});
  }
  return out;
}

class VadConformance : public ::testing::TestWithParam<Case> {};

TEST_P(VadConformance, SegmentsMatchReference) {
  const std::string name = GetParam().audio;
  const auto& kernels = *GetParam().kernels;
  auto model = VadModel::load(thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string());
  ASSERT_TRUE(model.ok()) << model.error();
  const auto pcm = test::read_wav_16k_mono(thoth::test::shared_file("speech/" + name + ".wav").string());
  const auto golden = read_golden(thoth::test::shared_file("golden/vad/" + name + ".segments").string());

  const auto probs = vad_detail::probabilities_with(kernels, **model, pcm.data(), pcm.size());
  ASSERT_EQ(probs.size(), (pcm.size() + 511) / 512);
  const auto got = vad_segments_from_probs(probs, VadParams{});
  std::string listing;
  for (const auto& s : got) {
    listing.append(" ").append(std::to_string(s.start_cs)).append("-").append(std::to_string(s.end_cs));
  }
  RecordProperty("segments", listing);
  ASSERT_EQ(got.size(), golden.size()) << "ours:" << listing;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(std::llabs(got[i].start_cs - golden[i].start_cs), kToleranceCs) << "segment " << i << " start";
    EXPECT_LE(std::llabs(got[i].end_cs - golden[i].end_cs), kToleranceCs) << "segment " << i << " end";
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, VadConformance, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           std::string n = std::string(info.param.audio) + "_" + info.param.kernels->name;
                           for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return n;
                         });

// Each kernel variant this machine runs gives the same probabilities (to rounding order).
TEST(VadKernelVariants, AgreeOnRealSpeech) {
  const auto* avx2 = vad_detail::vad_kernels_avx2();
  const auto& base = vad_detail::vad_kernels_baseline();
  const auto& best = vad_detail::vad_kernels();
  EXPECT_STREQ(vad_kernel_name(), best.name);
  if (!avx2) {
    EXPECT_EQ(&best, &base) << "without AVX2 the baseline runs";
    return;
  }
  // Same inputs through both matmul variants.
  std::vector<float> w(64 * 48), x(3 * 48), y0(3 * 64), y1(3 * 64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11f * static_cast<float>(i));
  base.matmul(w.data(), 63, 48, 48, x.data(), 48, 3, y0.data(), 64);
  avx2->matmul(w.data(), 63, 48, 48, x.data(), 48, 3, y1.data(), 64);
  for (int c = 0; c < 3; ++c) {
    for (int o = 0; o < 63; ++o) {
      float ref = 0;
      for (int i = 0; i < 48; ++i) ref += w[o * 48 + i] * x[c * 48 + i];
      EXPECT_NEAR(y0[c * 64 + o], ref, 1e-4f);
      EXPECT_NEAR(y1[c * 64 + o], ref, 1e-4f);
    }
  }
  std::vector<float> r0 = {1.0f, 1.00048828125f, 1.0001f, -3.14159f, 1e-6f, -7e-8f, 65504.0f, 0.0f};
  std::vector<float> r1 = r0;
  base.round_f16(r0.data(), static_cast<int>(r0.size()));
  avx2->round_f16(r1.data(), static_cast<int>(r1.size()));
  EXPECT_EQ(r0, r1);
}

}  // namespace
}  // namespace thoth::asr
