#include "asr/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "support/shared_data.h"

namespace thoth::asr {
namespace {

std::vector<char> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class QuantizeModel : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantizeModel, IsByteIdenticalToTheReferenceQuantizer) {
  const std::string name = GetParam();
  const auto input = test::shared_file("models/mini.en-f16.bin");
  const auto expected = test::shared_file("models/mini.en-" + name + ".bin");
  test::ScratchDir dir;
  const auto out = dir / ("mini.en-" + name + ".bin");
  auto type = parse_quantization_type(name);
  ASSERT_TRUE(type.ok());
  auto report = quantize_model_file(input.string(), out.string(), *type);
  ASSERT_TRUE(report.ok()) << report.error();
  const auto got = slurp(out), want = slurp(expected);
  ASSERT_EQ(got.size(), want.size());
  size_t first_diff = 0;
  while (first_diff < got.size() && got[first_diff] == want[first_diff]) ++first_diff;
  EXPECT_EQ(first_diff, got.size()) << "first differing byte at offset " << first_diff;
  EXPECT_EQ(report->bytes_out, want.size());
  EXPECT_GT(report->tensors_quantized, 0);
  EXPECT_GT(report->tensors_copied, 0);
  // Nothing but the output is left in the directory.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

INSTANTIATE_TEST_SUITE_P(Reference, QuantizeModel,
                         ::testing::Values("q8_0", "q5_0", "q5_1", "q4_0"));

TEST(QuantizeModelErrors, UnknownTypeListsTheKnownOnes) {
  auto r = parse_quantization_type("q3_k");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("q3_k"), std::string::npos);
  EXPECT_NE(r.error().find("q5_1"), std::string::npos);
}

TEST(QuantizeModelErrors, MissingInputAndBadOutputPathsAreNamed) {
  test::ScratchDir dir;
  const auto input = test::shared_file("models/mini.en-f16.bin");
  auto r = quantize_model_file((dir / "nope.bin").string(), (dir / "o.bin").string(), TensorType::Q8_0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("nope.bin"), std::string::npos);

  r = quantize_model_file(input.string(), (dir / "missing-dir" / "o.bin").string(), TensorType::Q8_0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("missing-dir"), std::string::npos);

  r = quantize_model_file(input.string(), dir.path().string(), TensorType::Q8_0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("directory"), std::string::npos);
}

TEST(QuantizeModelErrors, AlreadyQuantizedInputIsRefused) {
  test::ScratchDir dir;
  auto r = quantize_model_file(test::shared_file("models/mini.en-q8_0.bin").string(),
                               (dir / "o.bin").string(), TensorType::Q4_0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("already quantized"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "o.bin"));
}

TEST(QuantizeModelErrors, TruncatedOrGarbageInputFailsCleanlyAndLeavesNoOutput) {
  test::ScratchDir dir;
  const auto full = slurp(test::shared_file("models/mini.en-f16.bin"));
  for (size_t cut : {size_t{0}, size_t{10}, size_t{48}, size_t{60000}, full.size() / 2, full.size() - 1}) {
    SCOPED_TRACE(cut);
    write_file(dir / "cut.bin", std::vector<char>(full.begin(), full.begin() + cut));
    auto r = quantize_model_file((dir / "cut.bin").string(), (dir / "o.bin").string(), TensorType::Q8_0);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("cut.bin"), std::string::npos) << r.error();
    EXPECT_FALSE(std::filesystem::exists(dir / "o.bin"));
  }
  std::vector<char> garbage(full.size());
  std::mt19937 rng(3);
  for (auto& c : garbage) c = static_cast<char>(rng());
  write_file(dir / "garbage.bin", garbage);
  auto r = quantize_model_file((dir / "garbage.bin").string(), (dir / "o.bin").string(), TensorType::Q8_0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("bad magic"), std::string::npos);
  // Mutated copies: any outcome but a crash, a hang or a stray file.
  for (int i = 0; i < 8; ++i) {
    auto m = full;
    for (int k = 0; k < 4; ++k) m[rng() % 200000] = static_cast<char>(rng());
    write_file(dir / "mut.bin", m);
    auto res = quantize_model_file((dir / "mut.bin").string(), (dir / "o.bin").string(), TensorType::Q5_1);
    if (!res.ok()) {
      EXPECT_FALSE(std::filesystem::exists(dir / "o.bin"));
    }
    std::filesystem::remove(dir / "o.bin");
  }
}

TEST(ReferenceRowQuantizers, RoundTripWithinHalfAStep) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(256), y(256);
  for (auto& v : x) v = normal(rng);
  for (TensorType t : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                       TensorType::Q8_0, TensorType::Q8_1}) {
    SCOPED_TRACE(type_name(t));
    std::vector<uint8_t> q(row_bytes(t, 256));
    quantize_row_reference(t, x.data(), q.data(), 256);
    dequantize_row(t, q.data(), y.data(), 256);
    for (int b = 0; b < 8; ++b) {
      float lo = 1e9f, hi = -1e9f;
      for (int j = 0; j < 32; ++j) {
        lo = std::min(lo, x[b * 32 + j]);
        hi = std::max(hi, x[b * 32 + j]);
      }
      const float amax = std::max(-lo, hi);
      const float step = t == TensorType::Q4_0 ? amax / 8 : t == TensorType::Q5_0 ? amax / 16
                       : t == TensorType::Q4_1 ? (hi - lo) / 15 : t == TensorType::Q5_1 ? (hi - lo) / 31
                       : amax / 127;
      // q4_0 / q5_0 map the signed extreme to -8 / -16; the other side clips one step short.
      const bool symmetric = t == TensorType::Q4_0 || t == TensorType::Q5_0;
      for (int j = 0; j < 32; ++j)
        ASSERT_NEAR(y[b * 32 + j], x[b * 32 + j], step * (symmetric ? 1.01f : 0.51f) + 2e-3f * amax)
            << b << "," << j;
    }
  }
}

TEST(ReferenceRowQuantizers, Q8RoundsHalfAwayFromZero) {
  float x[32] = {};
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  BlockQ8_0 b;
  quantize_row_reference(TensorType::Q8_0, x, &b, 32);
  EXPECT_EQ(b.qs[1], 3);
  EXPECT_EQ(b.qs[2], -3);
}

}  // namespace
}  // namespace thoth::asr
