#include "asr/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "asr/kernels.h"
#include "asr/quantize.h"
#include "asr/thread_pool.h"

namespace thoth::asr {
namespace {

const TensorType kWeightTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::Q4_0,
                                   TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                   TensorType::Q8_0};

TensorType partner(TensorType t) {
  switch (t) {
    case TensorType::F32: return TensorType::F32;
    case TensorType::F16: return TensorType::F16;
    case TensorType::Q4_1:
    case TensorType::Q5_1: return TensorType::Q8_1;
    default: return TensorType::Q8_0;
  }
}

// A weight matrix stored in `type`, from Gaussian values.
struct Weights {
  TensorType type;
  int64_t rows, cols;
  size_t stride;
  std::vector<uint8_t> bytes;
  MatrixView view() const { return {type, bytes.data(), rows, cols, stride}; }
  std::vector<float> row(int64_t r) const {
    std::vector<float> v(cols);
    dequantize_row(type, bytes.data() + r * stride, v.data(), cols);
    return v;
  }
};

Weights make_weights(TensorType type, int64_t rows, int64_t cols, uint32_t seed,
                     size_t pad = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  Weights w{type, rows, cols, row_bytes(type, cols) + pad, {}};
  w.bytes.assign(w.stride * rows, 0xcd);
  std::vector<float> v(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& e : v) e = normal(rng);
    quantize_row_reference(type, v.data(), w.bytes.data() + r * w.stride, cols);
  }
  return w;
}

std::vector<float> make_activations(int64_t n, int64_t ld, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n * ld);
  for (auto& e : x) e = normal(rng);
  return x;
}

// q4_1 / q5_1 against q8_1 use the activation block's stored s = f16(d * sum(q)) for the
// weight minimum's share, as the reference does: sum_b d_w d_x sum(q_w q_x) + m_w s_x.
double exact_min_type_dot(TensorType wtype, const uint8_t* wrow, const float* x, int64_t k) {
  std::vector<BlockQ8_1> xb(k / kQK);
  kernels::convert_row_q8_1(x, xb.data(), k);
  const size_t bb = block_bytes(wtype);
  double s = 0;
  for (int64_t b = 0; b < k / kQK; ++b) {
    std::vector<uint8_t> blk(wrow + b * bb, wrow + (b + 1) * bb);
    uint16_t d, m;
    std::memcpy(&d, blk.data(), 2);
    std::memcpy(&m, blk.data() + 2, 2);
    const uint16_t one = 0x3c00, zero = 0;  // decode the raw levels q_w exactly
    std::memcpy(blk.data(), &one, 2);
    std::memcpy(blk.data() + 2, &zero, 2);
    float q[kQK];
    dequantize_row(wtype, blk.data(), q, kQK);
    double sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += static_cast<double>(q[j]) * xb[b].qs[j];
    s += static_cast<double>(fp16_to_fp32(d)) * fp16_to_fp32(xb[b].d) * sumi +
         static_cast<double>(fp16_to_fp32(m)) * fp16_to_fp32(xb[b].s);
  }
  return s;
}

// The activation row as the kernels see it after conversion to the partner type.
std::vector<float> converted(TensorType wtype, const float* x, int64_t k) {
  const TensorType p = partner(wtype);
  if (p == TensorType::F32) return std::vector<float>(x, x + k);
  std::vector<float> out(k);
  if (p == TensorType::F16) {
    kernels::convert_row_f16(x, out.data(), k);
    return out;
  }
  std::vector<uint8_t> q(row_bytes(p, k));
  if (p == TensorType::Q8_0) kernels::convert_row_q8_0(x, q.data(), k);
  else kernels::convert_row_q8_1(x, q.data(), k);
  dequantize_row(p, q.data(), out.data(), k);
  return out;
}

struct Expected {
  std::vector<double> y, scale;  // double-precision dot and sum |w||x| per output
};

Expected reference(const Weights& w, const std::vector<float>& x, int64_t n, int64_t ldx,
                   bool convert_activations) {
  Expected e{std::vector<double>(n * w.rows), std::vector<double>(n * w.rows)};
  for (int64_t i = 0; i < n; ++i) {
    const auto xi = convert_activations ? converted(w.type, &x[i * ldx], w.cols)
                                        : std::vector<float>(&x[i * ldx], &x[i * ldx] + w.cols);
    for (int64_t r = 0; r < w.rows; ++r) {
      const auto wr = w.row(r);
      double s = 0, a = 0;
      for (int64_t j = 0; j < w.cols; ++j) {
        s += static_cast<double>(wr[j]) * xi[j];
        a += std::fabs(static_cast<double>(wr[j]) * xi[j]);
      }
      if (convert_activations && partner(w.type) == TensorType::Q8_1)
        s = exact_min_type_dot(w.type, w.bytes.data() + r * w.stride, &x[i * ldx], w.cols);
      e.y[i * w.rows + r] = s;
      e.scale[i * w.rows + r] = a;
    }
  }
  return e;
}

// Runs every test body once per kernel variant the machine supports.
class MatmulVariant : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(select_kernels(GetParam()).ok()); }
  void TearDown() override { (void)init_kernels(); }
};

std::vector<float> run(const Weights& w, const std::vector<float>& x, int64_t n, int64_t ldx,
                       int64_t ldy, int threads) {
  ThreadPool pool(threads);
  std::vector<float> y(n * ldy, -12345.0f);
  matmul(w.view(), x.data(), n, ldx, y.data(), ldy, pool);
  return y;
}

TEST_P(MatmulVariant, EveryTypeMatchesDoublePrecisionOnItsConvertedInputs) {
  struct Shape { int64_t m, k, n; };
  for (TensorType type : kWeightTypes) {
    for (Shape s : {Shape{37, 64, 1}, Shape{70, 384, 5}, Shape{9, 96, 33}, Shape{130, 1536, 2}}) {
      SCOPED_TRACE(std::string(type_name(type)) + " m=" + std::to_string(s.m) +
                   " k=" + std::to_string(s.k) + " n=" + std::to_string(s.n));
      const int64_t ldx = s.k + 3, ldy = s.m + 5;
      const Weights w = make_weights(type, s.m, s.k, 100 + s.m, 0);
      const auto x = make_activations(s.n, ldx, 200 + s.k);
      const auto y = run(w, x, s.n, ldx, ldy, 2);
      const Expected exact = reference(w, x, s.n, ldx, true);
      const Expected loose = reference(w, x, s.n, ldx, false);
      for (int64_t i = 0; i < s.n; ++i) {
        for (int64_t r = 0; r < s.m; ++r) {
          const size_t e = i * s.m + r;
          const float got = y[i * ldy + r];
          // Same inputs: only float summation differs (plus f16/fp32 scale products).
          ASSERT_NEAR(got, exact.y[e], 2e-6 * exact.scale[e] + 1e-6) << "i=" << i << " r=" << r;
          // Against the unconverted activations: within the partner type's rounding.
          const double tol = type == TensorType::F32 ? 1e-6 : type == TensorType::F16 ? 1e-3 : 1.5e-2;
          ASSERT_NEAR(got, loose.y[e], tol * loose.scale[e] + 1e-6) << "i=" << i << " r=" << r;
        }
        for (int64_t r = s.m; r < ldy; ++r) ASSERT_EQ(y[i * ldy + r], -12345.0f) << "wrote past m";
      }
    }
  }
}

TEST_P(MatmulVariant, ResultsDoNotDependOnThreadsBatchOrRowStride) {
  for (TensorType type : kWeightTypes) {
    SCOPED_TRACE(type_name(type));
    const int64_t m = 203, k = 384, n = 77;
    const Weights w = make_weights(type, m, k, 5, 0);
    const Weights padded = make_weights(type, m, k, 5, 64);  // same values, wider stride
    const auto x = make_activations(n, k, 6);
    const auto y1 = run(w, x, n, k, m, 1);
    const auto y2 = run(w, x, n, k, m, 2);
    const auto y3 = run(padded, x, n, k, m, 3);
    const auto y5 = run(w, x, n, k, m, 5);  // more threads than some runs of tiles have
    ASSERT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)));
    ASSERT_EQ(0, std::memcmp(y1.data(), y3.data(), y1.size() * sizeof(float)));
    ASSERT_EQ(0, std::memcmp(y1.data(), y5.data(), y1.size() * sizeof(float)));
    for (int64_t i : {0L, 31L, 76L}) {  // one row alone gives the same numbers as in a batch
      std::vector<float> xi(x.begin() + i * k, x.begin() + (i + 1) * k);
      for (int threads : {2, 7}) {
        const auto yi = run(w, xi, 1, k, m, threads);
        ASSERT_EQ(0, std::memcmp(yi.data(), &y1[i * m], m * sizeof(float))) << "row " << i << ", " << threads << " threads";
      }
    }
  }
}

// Decoder steps of 2..5 sequences take a single pass with all rows: every row must still
// get exactly what it gets alone (beam search's sequences are scored as greedy's one is).
TEST_P(MatmulVariant, SmallBatchRowsGiveTheirSingleRowBits) {
  for (TensorType type : kWeightTypes) {
    SCOPED_TRACE(type_name(type));
    const int64_t m = 301, k = 384;  // an odd row count: the blocks' remainder rows too
    const Weights w = make_weights(type, m, k, 9, 0);
    const auto x = make_activations(6, k, 10);
    for (int64_t n = 2; n <= 6; ++n) {
      const auto y = run(w, x, n, k, m, 2);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<float> xi(x.begin() + i * k, x.begin() + (i + 1) * k);
        const auto yi = run(w, xi, 1, k, m, 2);
        ASSERT_EQ(0, std::memcmp(yi.data(), &y[i * m], m * sizeof(float))) << "n=" << n << " row " << i;
      }
    }
  }
}

// Long batches run in chunks of rows (bounded scratch): every row still gets its own bits,
// including the rows of a last, partial chunk.
TEST_P(MatmulVariant, LongBatchesInChunksGiveEachRowItsBits) {
  for (TensorType type : {TensorType::F16, TensorType::Q8_0, TensorType::Q5_1}) {
    SCOPED_TRACE(type_name(type));
    const int64_t m = 24, k = 1536, n = 1200;
    const Weights w = make_weights(type, m, k, 21, 0);
    const auto x = make_activations(n, k, 22);
    const auto y = run(w, x, n, k, m, 2);
    for (int64_t i : {0L, 319L, 320L, 641L, 1129L, 1130L, 1199L}) {
      std::vector<float> xi(x.begin() + i * k, x.begin() + (i + 1) * k);
      const auto yi = run(w, xi, 1, k, m, 1);
      ASSERT_EQ(0, std::memcmp(yi.data(), &y[i * m], m * sizeof(float))) << "row " << i;
    }
  }
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Every variant sums in the reference's order (ggml's vec_dot / repacked kernels), so each
// gives the scalar table's bits: shapes with and without a tail past the last 64-element
// step, batches long enough for a weight panel (kernels::kPanelMinRows), and the repacked
// q4_0 order. The panel batches include several activation tiles, rows so long that a tile's
// rows are not a whole number of the panel kernel's blocks (kernels::panel_x_offset), and a
// batch converted in chunks; decoder steps of 2-5 rows (beam search's) with and without a
// tail, over a number of weight rows that is not a multiple of four.
TEST_P(MatmulVariant, GivesTheScalarBits) {
  struct Shape { int64_t m, k, n; };
  for (TensorType type : kWeightTypes) {
    for (bool repacked : {false, true}) {
      if (repacked && type != TensorType::Q4_0) continue;
      for (Shape s : {Shape{96, 1536, 19}, Shape{37, 96, 5}, Shape{24, 240, 3}, Shape{24, 240, 11}, Shape{22, 250, 9},
                      Shape{8, 16, 2}, Shape{37, 250, 70}, Shape{40, 448, 64}, Shape{40, 448, 301},
                      Shape{18, 5160, 70}, Shape{20, 448, 1201}, Shape{37, 384, 5}, Shape{42, 128, 4},
                      Shape{41, 192, 2}, Shape{43, 64, 3}}) {
        if (type != TensorType::F32 && type != TensorType::F16 && s.k % 32 != 0) continue;
        SCOPED_TRACE(std::string(type_name(type)) + (repacked ? " repacked" : "") + " k=" + std::to_string(s.k));
        Weights w = make_weights(type, s.m, s.k, 8, 0);
        ThreadPool pool(2);
        MatrixView v = w.view();
        v.repacked = repacked;
        const auto x = make_activations(s.n, s.k, 9);
        std::vector<float> y(s.n * s.m), ys(s.n * s.m);
        matmul(v, x.data(), s.n, s.k, y.data(), s.m, pool);
        ASSERT_TRUE(select_kernels("scalar").ok());
        matmul(v, x.data(), s.n, s.k, ys.data(), s.m, pool);
        ASSERT_TRUE(select_kernels(GetParam()).ok());
        for (size_t j = 0; j < y.size(); ++j) ASSERT_EQ(bits_of(y[j]), bits_of(ys[j])) << j;
      }
    }
  }
}

// A decoder step's q5_1 and q8_0 products read the rows' interleaved copy (kernels::BlockQ5_1x4,
// kernels::BlockQ8_0x4) where
// the variant can, the rows past the last group of four from the rows themselves: the scalar
// bits either way, for 1-5 activation rows, 1 and 2 threads, matrices with and without such
// a tail. The copy is as large as the rows; only its part of the rows matters (the rest is
// poisoned in the rows, so reading them there would show).
TEST_P(MatmulVariant, InterleavedRowsGiveTheScalarBits) {
  for (TensorType type : {TensorType::Q5_1, TensorType::Q8_0}) {
    for (int64_t m : {int64_t{4}, int64_t{384}, int64_t{389}, int64_t{1031}, int64_t{7}}) {
      for (int64_t k : {int64_t{384}, int64_t{64}, int64_t{1536}}) {
        SCOPED_TRACE(std::string(type_name(type)) + " m=" + std::to_string(m) + " k=" + std::to_string(k));
        Weights w = make_weights(type, m, k, 21, 0);
        const int64_t groups = m / 4;
        std::vector<uint8_t> il(static_cast<size_t>(groups) * 4 * w.stride);
        kernels::interleave_rows(type, w.bytes.data(), w.stride, groups, k, il.data());
        Weights poisoned = w;
        for (int64_t r = 0; r < groups * 4; ++r)
          std::memset(poisoned.bytes.data() + r * poisoned.stride, 0x5a, poisoned.stride);
        MatrixView v = poisoned.view();
        v.interleaved = il.data();
        const bool used = reads_interleaved(type);
        for (int64_t n = 1; n <= kernels::kInterleavedMaxRows; ++n) {
          const auto x = make_activations(n, k, static_cast<uint32_t>(n + m));
          std::vector<float> ys(n * m);
          ASSERT_TRUE(select_kernels("scalar").ok());
          {
            ThreadPool pool(1);
            matmul(w.view(), x.data(), n, k, ys.data(), m, pool);
          }
          ASSERT_TRUE(select_kernels(GetParam()).ok());
          for (int threads : {1, 2}) {
            if (!used) break;  // the variant reads the rows themselves: nothing interleaved to check
            ThreadPool pool(threads);
            std::vector<float> y(n * m, -1.0f);
            matmul(v, x.data(), n, k, y.data(), m, pool);
            for (size_t j = 0; j < y.size(); ++j)
              ASSERT_EQ(bits_of(y[j]), bits_of(ys[j])) << "n=" << n << " threads=" << threads << " at " << j;
          }
        }
      }
    }
  }
}

// Model files pack f16 weights at odd offsets and the loader leaves them there: every path
// (single row, beam rows, blocks, the tile's tail past the last step of 64) reads them so.
TEST_P(MatmulVariant, F16WeightsAtAnOddAddressGiveTheAlignedBits) {
  struct Shape { int64_t m, k, n; };
  for (Shape s : {Shape{37, 96, 1}, Shape{24, 250, 5}, Shape{22, 250, 9}, Shape{96, 1536, 19}, Shape{22, 250, 67}}) {
    SCOPED_TRACE("m=" + std::to_string(s.m) + " k=" + std::to_string(s.k) + " n=" + std::to_string(s.n));
    const Weights w = make_weights(TensorType::F16, s.m, s.k, 21, 0);
    std::vector<uint8_t> odd(w.bytes.size() + 1);
    std::memcpy(odd.data() + 1, w.bytes.data(), w.bytes.size());
    MatrixView v = w.view();
    v.data = odd.data() + 1;
    const auto x = make_activations(s.n, s.k, 22);
    ThreadPool pool(2);
    std::vector<float> y(s.n * s.m), want(s.n * s.m);
    matmul(v, x.data(), s.n, s.k, y.data(), s.m, pool);
    matmul(w.view(), x.data(), s.n, s.k, want.data(), s.m, pool);
    for (size_t j = 0; j < y.size(); ++j) ASSERT_EQ(bits_of(y[j]), bits_of(want[j])) << j;
  }
}

TEST_P(MatmulVariant, ZeroAndTinyActivationsGiveZeroOrFiniteResults) {
  for (TensorType type : kWeightTypes) {
    SCOPED_TRACE(type_name(type));
    const Weights w = make_weights(type, 8, 64, 3, 0);
    std::vector<float> x(64, 0.0f);
    for (float v : run(w, x, 1, 64, 8, 1)) EXPECT_EQ(v, 0.0f);
    x.assign(64, 1e-30f);  // f16 underflows to zero; q8 scales underflow to zero
    for (float v : run(w, x, 1, 64, 8, 1)) EXPECT_TRUE(std::isfinite(v));
  }
}

// Inputs across ggml_v_expf's three ranges (|n| <= 126, <= 192, beyond), infinities and NaN.
std::vector<float> exp_inputs() {
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.0f, 88.0f, 88.8f, 89.0f, -87.0f, -88.0f, -100.0f, -103.9f,
                          -104.0f, -130.0f, -140.0f, 130.0f, 200.0f, -1e30f, INFINITY, -INFINITY, NAN};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> wide(-150.0f, 100.0f), narrow(-12.0f, 2.0f);
  for (int i = 0; i < 3000; ++i) x.push_back(i % 3 ? narrow(rng) : wide(rng));
  return x;  // 3020 values: every tail length is exercised by the offsets below
}

TEST_P(MatmulVariant, ExpShiftedGivesTheScalarBits) {
  const auto x = exp_inputs();
  for (float shift : {0.0f, 1.5f, -3.25f}) {
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{15}, int64_t{17}, static_cast<int64_t>(x.size())}) {
      std::vector<float> got(n), want(n);
      exp_shifted(x.data(), shift, got.data(), n);
      ASSERT_TRUE(select_kernels("scalar").ok());
      exp_shifted(x.data(), shift, want.data(), n);
      ASSERT_TRUE(select_kernels(GetParam()).ok());
      for (int64_t j = 0; j < n; ++j) ASSERT_EQ(bits_of(got[j]), bits_of(want[j])) << "x=" << x[j] << " shift=" << shift;
    }
  }
  // In place, as the softmax calls it; and a value check against expf.
  std::vector<float> v = {0.0f, 1.0f, -2.0f, 10.0f};
  exp_shifted(v.data(), 0.0f, v.data(), 4);
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(v[j], std::exp(std::vector<float>{0, 1, -2, 10}[j]), 1e-6 * v[j]);
}

TEST_P(MatmulVariant, F32AxpyChainsGiveTheScalarBits) {
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{17}, int64_t{40}, int64_t{64}, int64_t{70}, int64_t{112}}) {
    for (int64_t count : {int64_t{1}, int64_t{3}, int64_t{16}}) {
      const int64_t stride = n + 5;
      std::vector<float> x(count * stride), s(count), y0(n);
      for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i) + 0.1f) * 3.0f;
      for (int64_t c = 0; c < count; ++c) s[c] = std::cos(1.3f * static_cast<float>(c)) / 3.0f;
      for (int64_t i = 0; i < n; ++i) y0[i] = std::cos(0.91f * static_cast<float>(i)) / 7.0f;
      std::vector<float> got = y0, want = y0;
      f32_axpy(got.data(), x.data(), stride, s.data(), count, n);
      // The many-row form (more rows than one kernel call takes): each row the single form's bits.
      for (int nr : {1, 2, 5, 6, 7, 12, 13, 25, 48}) {
        std::vector<std::vector<float>> sr(nr, std::vector<float>(count)), rows(nr, std::vector<float>(n));
        std::vector<float*> ys(nr);
        std::vector<const float*> ss(nr);
        for (int r = 0; r < nr; ++r) {
          for (int64_t c = 0; c < count; ++c) sr[r][c] = r == 0 ? s[c] : std::sin(2.1f * static_cast<float>(c) + r);
          for (int64_t i = 0; i < n; ++i) rows[r][i] = r == 0 ? y0[i] : std::sin(0.5f * static_cast<float>(i) - r);
          ys[r] = rows[r].data();
          ss[r] = sr[r].data();
        }
        std::vector<std::vector<float>> alone = rows;
        f32_axpy_rows(ys.data(), ss.data(), nr, x.data(), stride, count, n);
        for (int r = 0; r < nr; ++r) {
          f32_axpy(alone[r].data(), x.data(), stride, sr[r].data(), count, n);
          for (int64_t j = 0; j < n; ++j)
            ASSERT_EQ(bits_of(rows[r][j]), bits_of(alone[r][j])) << "n=" << n << " count=" << count << " rows=" << nr;
        }
      }
      ASSERT_TRUE(select_kernels("scalar").ok());
      f32_axpy(want.data(), x.data(), stride, s.data(), count, n);
      ASSERT_TRUE(select_kernels(GetParam()).ok());
      for (int64_t j = 0; j < n; ++j) {
        float chain = y0[j];
        for (int64_t c = 0; c < count; ++c) chain = std::fma(x[c * stride + j], s[c], chain);
        ASSERT_EQ(bits_of(got[j]), bits_of(want[j])) << "n=" << n << " count=" << count;
        ASSERT_EQ(want[j], chain);
      }
    }
  }
}

// The tiled flash attention's softmax step gives the scalar bits (short tiles, unseen keys,
// a first tile, a tile seeing nothing), and the scalar step is the reference's arithmetic.
TEST_P(MatmulVariant, SoftmaxTileGivesTheScalarBits) {
  const float scale = 0.125f;
  for (int64_t nt : {int64_t{64}, int64_t{28}, int64_t{16}, int64_t{5}, int64_t{1}}) {
    for (int start : {0, 1, 2}) {  // running max: none yet, below the tile's, above it
      for (int masked : {0, 1, 2}) {  // no key hidden, some, all
        std::vector<float> kq(nt);
        for (int64_t t = 0; t < nt; ++t) {
          kq[t] = std::sin(0.77f * static_cast<float>(t + nt)) * 9.0f;
          if ((masked == 1 && t % 3 == 1) || masked == 2) kq[t] = -INFINITY;
        }
        const float m0 = start == 0 ? -INFINITY : start == 1 ? -2.0f : 5.0f, sum0 = start == 0 ? 0.0f : 3.5f;
        std::vector<float> got = kq, want = kq;
        float gm = m0, gs = sum0, gms = -1.0f, wm = m0, ws = sum0, wms = -1.0f;
        const bool got_takes = softmax_tile(got.data(), nt, scale, &gm, &gs, &gms);
        ASSERT_TRUE(select_kernels("scalar").ok());
        const bool want_takes = softmax_tile(want.data(), nt, scale, &wm, &ws, &wms);
        ASSERT_TRUE(select_kernels(GetParam()).ok());
        ASSERT_EQ(got_takes, want_takes);
        ASSERT_EQ(want_takes, masked != 2);
        if (!want_takes) {
          EXPECT_EQ(gm, m0);
          EXPECT_EQ(gs, sum0);
          continue;
        }
        EXPECT_EQ(bits_of(gm), bits_of(wm));
        EXPECT_EQ(bits_of(gs), bits_of(ws));
        EXPECT_EQ(bits_of(gms), bits_of(wms));
        for (int64_t t = 0; t < nt; ++t) ASSERT_EQ(bits_of(got[t]), bits_of(want[t])) << "nt=" << nt << " t=" << t;
        // The reference's arithmetic, written out.
        float mx = -INFINITY;
        for (int64_t t = 0; t < nt; ++t) mx = std::max(mx, kq[t] * scale);
        const float m_new = std::fmax(m0, mx);
        float sum = sum0, ms = 1.0f;
        if (m_new > m0) {
          ms = expf(m0 - m_new);
          sum *= ms;
        }
        EXPECT_EQ(wm, m_new);
        EXPECT_EQ(wms, ms);
        double total = 0.0;
        for (int64_t t0 = 0; t0 < nt; t0 += 16) {
          float lane[16] = {};
          for (int64_t l = 0; l < 16 && t0 + l < nt; ++l) lane[l] = want[t0 + l];
          total += static_cast<double>(
              ((((lane[0] + lane[8]) + (lane[4] + lane[12])) + ((lane[2] + lane[10]) + (lane[6] + lane[14]))) +
               (((lane[1] + lane[9]) + (lane[5] + lane[13])) + ((lane[3] + lane[11]) + (lane[7] + lane[15])))));
          for (int64_t l = 0; l < 16 && t0 + l < nt; ++l)
            EXPECT_NEAR(want[t0 + l], std::exp(kq[t0 + l] * scale - m_new), 1e-6f);
        }
        EXPECT_EQ(ws, static_cast<float>(static_cast<double>(sum) + total));
      }
    }
  }
}

TEST_P(MatmulVariant, F16AccumulatorUpdatesGiveTheScalarBits) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> half(0, 0xffff);
  for (int64_t n : {int64_t{1}, int64_t{8}, int64_t{13}, int64_t{16}, int64_t{64}, int64_t{100}}) {
    std::vector<uint16_t> acc(n), v(n);
    for (int64_t i = 0; i < n; ++i) {
      // Mostly finite halves (exponent below 31), now and then inf/NaN patterns.
      acc[i] = static_cast<uint16_t>(half(rng) & (i % 17 ? 0xbbff : 0xffff));
      v[i] = static_cast<uint16_t>(half(rng) & (i % 19 ? 0xbbff : 0xffff));
    }
    for (float s : {0.0f, 0.37f, 1.0f, -2.5f, 1e-6f, 3000.0f}) {
      auto a = acc, b = acc;
      f16_axpy(a.data(), v.data(), s, n);
      auto c = acc, d = acc;
      f16_scale(c.data(), s, n);
      ASSERT_TRUE(select_kernels("scalar").ok());
      f16_axpy(b.data(), v.data(), s, n);
      f16_scale(d.data(), s, n);
      ASSERT_TRUE(select_kernels(GetParam()).ok());
      EXPECT_EQ(a, b) << "axpy n=" << n << " s=" << s;
      EXPECT_EQ(c, d) << "scale n=" << n << " s=" << s;
    }
  }
}

// The online softmax over listed keys gives the scalar bits, and those are the loop written
// out with the f16 accumulator updates (max rising, falling and tied; skipped rows).
TEST_P(MatmulVariant, F16OnlineSoftmaxGivesTheScalarBitsAndTheLoopsResult) {
  std::mt19937 rng(17);
  std::normal_distribution<float> g(0.0f, 2.0f);
  const int64_t stride = 400, n_rows = 300;
  std::vector<uint16_t> v(static_cast<size_t>(stride) * n_rows);
  for (auto& h : v) h = fp32_to_fp16(g(rng));
  for (int64_t d : {int64_t{8}, int64_t{32}, int64_t{64}, int64_t{100}, int64_t{128}}) {
    for (bool listed : {false, true}) {
      const int64_t n = listed ? 150 : n_rows;
      std::vector<float> scores(n);
      std::vector<int32_t> rows(n);
      for (int64_t j = 0; j < n; ++j) {
        scores[j] = j % 7 == 3 ? scores[j - 1] : g(rng) * 3.0f;  // ties with the running max too
        rows[j] = static_cast<int32_t>(listed ? 2 * j : j);
      }
      scores[n / 2] = 40.0f;  // a late new maximum rescales the accumulator
      const int32_t* r = listed ? rows.data() : nullptr;
      std::vector<uint16_t> got(d, 0), want(d, 0), loop(d, 0);
      float m1 = -INFINITY, s1 = 0.0f, m2 = -INFINITY, s2 = 0.0f;
      const kernels::OnlineSoftmaxJob job_got{scores.data(), r, n, v.data() + 8, got.data(), &m1, &s1};
      f16_online_softmax(&job_got, 1, stride, d);
      ASSERT_TRUE(select_kernels("scalar").ok());
      const kernels::OnlineSoftmaxJob job_want{scores.data(), r, n, v.data() + 8, want.data(), &m2, &s2};
      f16_online_softmax(&job_want, 1, stride, d);
      float m3 = -INFINITY, s3 = 0.0f;
      for (int64_t j = 0; j < n; ++j) {
        float ms = 1.0f, vs = 1.0f;
        if (scores[j] > m3) {
          ms = expf(m3 - scores[j]);
          m3 = scores[j];
          f16_scale(loop.data(), ms, d);
        } else {
          vs = expf(scores[j] - m3);
        }
        f16_axpy(loop.data(), v.data() + 8 + (listed ? 2 * j : j) * stride, vs, d);
        s3 = std::fma(s3, ms, vs);
      }
      ASSERT_TRUE(select_kernels(GetParam()).ok());
      EXPECT_EQ(got, want) << "d=" << d << " listed=" << listed;
      EXPECT_EQ(want, loop) << "d=" << d << " listed=" << listed;
      EXPECT_EQ(bits_of(m1), bits_of(m2));
      EXPECT_EQ(bits_of(s1), bits_of(s2));
      EXPECT_EQ(bits_of(s2), bits_of(s3));
      EXPECT_EQ(m2, 40.0f);
    }
  }
}

// Jobs run side by side (groups of up to five, of different lengths, value bases and key
// lists, continuing from a state) give each job its single run's bits.
TEST_P(MatmulVariant, F16OnlineSoftmaxJobsSideBySideGiveEachJobsBits) {
  std::mt19937 rng(23);
  std::normal_distribution<float> g(0.0f, 2.0f);
  const int64_t stride = 300, n_rows = 260;
  std::vector<uint16_t> v(static_cast<size_t>(stride) * n_rows);
  for (auto& h : v) h = fp32_to_fp16(g(rng));
  for (int64_t d : {int64_t{32}, int64_t{64}, int64_t{100}, int64_t{128}}) {
    for (int count : {1, 2, 3, 4, 5, 9}) {
      struct Case {
        std::vector<float> scores;
        std::vector<int32_t> rows;
        std::vector<uint16_t> acc;
        float m, s;
        int64_t offset;
      };
      std::vector<Case> cases(count);
      for (int c = 0; c < count; ++c) {
        Case& k = cases[c];
        const int64_t n = 1 + (c * 97 + 31) % 250;  // lengths differ: shorter jobs stop early
        k.scores.resize(n);
        for (auto& x : k.scores) x = g(rng) * 3.0f;
        if (c % 2 == 1) {  // listed keys, every other job
          for (int64_t j = 0; j < n; ++j) k.rows.push_back(static_cast<int32_t>((j * 7) % n_rows));
        }
        k.acc.resize(d);
        for (auto& h : k.acc) h = fp32_to_fp16(g(rng));
        k.m = c % 3 == 0 ? -INFINITY : 1.5f;  // fresh, or continuing a chunk
        k.s = c % 3 == 0 ? 0.0f : 2.0f;
        if (c % 3 == 0) std::fill(k.acc.begin(), k.acc.end(), uint16_t{0});
        k.offset = (c * 5) % 40;
      }
      auto run = [&](std::vector<Case> cs, bool one_by_one) {
        std::vector<kernels::OnlineSoftmaxJob> jobs;
        for (auto& k : cs)
          jobs.push_back({k.scores.data(), k.rows.empty() ? nullptr : k.rows.data(), static_cast<int64_t>(k.scores.size()),
                          v.data() + k.offset, k.acc.data(), &k.m, &k.s});
        if (one_by_one) {
          for (const auto& j : jobs) f16_online_softmax(&j, 1, stride, d);
        } else {
          f16_online_softmax(jobs.data(), count, stride, d);
        }
        return cs;
      };
      const std::vector<Case> got = run(cases, false);
      ASSERT_TRUE(select_kernels("scalar").ok());
      const std::vector<Case> want = run(cases, true);
      ASSERT_TRUE(select_kernels(GetParam()).ok());
      for (int c = 0; c < count; ++c) {
        EXPECT_EQ(got[c].acc, want[c].acc) << "d=" << d << " count=" << count << " job=" << c;
        EXPECT_EQ(bits_of(got[c].m), bits_of(want[c].m)) << "job " << c;
        EXPECT_EQ(bits_of(got[c].s), bits_of(want[c].s)) << "job " << c;
      }
    }
  }
}

// Beam search's rows of one head over the same keys (one base, or one shared key list): jobs
// reading the same value rows, which a variant may widen once for all of them, still give
// each job its single run's bits, whatever their scores, states and number.
TEST_P(MatmulVariant, F16OnlineSoftmaxJobsOverTheSameRowsGiveEachJobsBits) {
  std::mt19937 rng(31);
  std::normal_distribution<float> g(0.0f, 2.0f);
  const int64_t stride = 200, n_rows = 300;
  std::vector<uint16_t> v(static_cast<size_t>(stride) * n_rows);
  for (auto& h : v) h = fp32_to_fp16(g(rng));
  std::vector<int32_t> listed;
  for (int64_t j = 0; j < 290; ++j) listed.push_back(static_cast<int32_t>((j * 11) % n_rows));
  for (int64_t d : {int64_t{32}, int64_t{64}, int64_t{128}}) {
    for (bool by_list : {false, true}) {
      for (int count : {2, 4, 5, 6, 11}) {
        const int64_t n = by_list ? 290 : 257;  // past two chunks of the register kernels
        struct Job {
          std::vector<float> scores;
          std::vector<uint16_t> acc;
          float m, s;
        };
        std::vector<Job> start(count);
        for (int c = 0; c < count; ++c) {
          Job& k = start[c];
          k.scores.resize(n);
          for (auto& x : k.scores) x = g(rng) * (1.0f + static_cast<float>(c));
          k.acc.assign(d, 0);
          k.m = -INFINITY;
          k.s = 0.0f;
          if (c % 2 == 1) {  // continuing from an earlier chunk
            for (auto& h : k.acc) h = fp32_to_fp16(g(rng));
            k.m = 0.5f;
            k.s = 3.0f;
          }
        }
        auto run = [&](std::vector<Job> js, bool one_by_one) {
          std::vector<kernels::OnlineSoftmaxJob> jobs;
          for (auto& k : js)
            jobs.push_back({k.scores.data(), by_list ? listed.data() : nullptr, n, v.data() + (by_list ? 0 : 3 * stride),
                            k.acc.data(), &k.m, &k.s});
          if (one_by_one) {
            for (const auto& j : jobs) f16_online_softmax(&j, 1, stride, d);
          } else {
            f16_online_softmax(jobs.data(), count, stride, d);
          }
          return js;
        };
        const std::vector<Job> got = run(start, false);
        ASSERT_TRUE(select_kernels("scalar").ok());
        const std::vector<Job> want = run(start, true);
        ASSERT_TRUE(select_kernels(GetParam()).ok());
        for (int c = 0; c < count; ++c) {
          EXPECT_EQ(got[c].acc, want[c].acc) << "d=" << d << " list=" << by_list << " count=" << count << " job=" << c;
          EXPECT_EQ(bits_of(got[c].m), bits_of(want[c].m)) << "job " << c;
          EXPECT_EQ(bits_of(got[c].s), bits_of(want[c].s)) << "job " << c;
        }
      }
    }
  }
}

// libm's bits for a spread of every float class (each 4099th bit pattern, so every binade
// and both signs, shifted), incl. the fast path's edges; a whole-range sweep (all 2^32
// floats) matched when this was written.
TEST_P(MatmulVariant, LibmExpfGivesLibmsBits) {
  std::vector<float> x;
  for (uint64_t u = 0; u < (uint64_t{1} << 32); u += 4099) {
    float f;
    const auto b = static_cast<uint32_t>(u);
    std::memcpy(&f, &b, 4);
    x.push_back(f);
  }
  for (float v : {87.99f, 88.0f, -87.99f, -88.0f, 88.72f, 88.73f, -103.97f, -104.0f, -104.01f, INFINITY, -INFINITY})
    x.push_back(v);
  for (float v = -104.5f; v < -87.5f; v = std::nextafter(v, 0.0f) + 0x1p-17f) x.push_back(v);  // libm's range checks
  // On glibc the AVX-512 table computes expf itself (its copy agreed with libm at start).
  if (std::string(GetParam()) == "avx512") {
    EXPECT_NE(kernels::avx512_table()->libm_expf_shifted, &kernels::libm_expf_shifted_loop);
  }
  for (float shift : {0.0f, 3.5f, -20.0f}) {
    std::vector<float> got(x.size()), want(x.size());
    libm_expf_shifted(x.data(), shift, got.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const float v = x[i] - shift;
      want[i] = v < -104.0f ? 0.0f : expf(v);
      ASSERT_EQ(bits_of(got[i]), bits_of(want[i])) << "x=" << x[i] << " shift=" << shift;
    }
  }
}

TEST_P(MatmulVariant, F16BlockedKeyDotsGiveTheScalarBits) {
  constexpr int kB = kernels::kKeyBlock;
  std::mt19937 rng(13);
  std::normal_distribution<float> g(0.0f, 4.0f);
  for (int64_t d : {int64_t{1}, int64_t{8}, int64_t{13}, int64_t{64}, int64_t{200}}) {
    // 1..9 blocks: the variants' groups of blocks and the blocks left over.
    for (int64_t n_blocks : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}, int64_t{5}, int64_t{9}}) {
      const int64_t n = n_blocks * kB;
      std::vector<uint16_t> keys(static_cast<size_t>(n * d)), q(static_cast<size_t>(d));
      for (auto& h : keys) h = fp32_to_fp16(g(rng));
      for (auto& h : q) h = fp32_to_fp16(g(rng) * 0.01f);
      // Large and tiny magnitudes in one sum (order matters), and lanes 0, 7, 8 and 15.
      for (int64_t j : {int64_t{0}, int64_t{7}, n - 8, n - 1}) {
        keys[kernels::key_block_index(j, 0, d)] = fp32_to_fp16(60000.0f);
        keys[kernels::key_block_index(j, d - 1, d)] = fp32_to_fp16(1e-7f);
      }
      std::vector<float> got(n), want(n);
      dot_f16_blocked(keys.data(), n_blocks, q.data(), d, got.data());
      ASSERT_TRUE(select_kernels("scalar").ok());
      dot_f16_blocked(keys.data(), n_blocks, q.data(), d, want.data());
      ASSERT_TRUE(select_kernels(GetParam()).ok());
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_EQ(bits_of(got[j]), bits_of(want[j])) << "d=" << d << " blocks=" << n_blocks << " key=" << j;
        double sum = 0.0;
        for (int64_t i = 0; i < d; ++i)
          sum += static_cast<double>(fp16_to_fp32(keys[kernels::key_block_index(j, i, d)]) * fp16_to_fp32(q[i]));
        ASSERT_EQ(bits_of(got[j]), bits_of(static_cast<float>(sum))) << "d=" << d << " key=" << j;
      }
    }
  }
}

// Several query rows in one call (beam search's rows of a head): each row gets what it gets
// alone, for every count up to past one call's kDotQueries.
TEST_P(MatmulVariant, F16BlockedKeyDotsOfSeveralRowsGiveEachRowsBits) {
  constexpr int kB = kernels::kKeyBlock;
  std::mt19937 rng(29);
  std::normal_distribution<float> g(0.0f, 4.0f);
  for (int64_t d : {int64_t{13}, int64_t{64}}) {
    for (int64_t n_blocks : {int64_t{1}, int64_t{3}}) {
      const int64_t n = n_blocks * kB;
      std::vector<uint16_t> keys(static_cast<size_t>(n * d));
      for (auto& h : keys) h = fp32_to_fp16(g(rng));
      for (int nq = 1; nq <= kernels::kDotQueries + 2; ++nq) {
        std::vector<std::vector<uint16_t>> q(nq, std::vector<uint16_t>(d));
        for (auto& row : q)
          for (auto& h : row) h = fp32_to_fp16(g(rng) * 0.01f);
        std::vector<std::vector<float>> got(nq, std::vector<float>(n));
        std::vector<const uint16_t*> qp;
        std::vector<float*> outp;
        for (int r = 0; r < nq; ++r) {
          qp.push_back(q[r].data());
          outp.push_back(got[r].data());
        }
        dot_f16_blocked(keys.data(), n_blocks, qp.data(), nq, d, outp.data());
        for (int r = 0; r < nq; ++r) {
          std::vector<float> want(n);
          dot_f16_blocked(keys.data(), n_blocks, q[r].data(), d, want.data());
          for (int64_t j = 0; j < n; ++j)
            ASSERT_EQ(bits_of(got[r][j]), bits_of(want[j])) << "d=" << d << " rows=" << nq << " row=" << r << " key=" << j;
        }
      }
    }
  }
}

TEST_P(MatmulVariant, F16ActivationConversionGivesTheScalarBits) {
  // Every float class: normal, f16-subnormal range, overflow to inf, ties, inf and NaN payloads.
  std::vector<float> x = {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, -70000.0f, 1e-8f, -3e-8f, 6e-5f, 1.0f + std::ldexp(1.0f, -11),
                          INFINITY, -INFINITY, NAN, -NAN};
  uint32_t u = 0x7fa00001u;  // a signalling NaN with a payload
  float snan;
  std::memcpy(&snan, &u, 4);
  x.push_back(snan);
  std::mt19937 rng(17);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 4000; ++i) {
    const uint32_t b = any(rng);
    float f;
    std::memcpy(&f, &b, 4);
    x.push_back(i % 2 ? f : std::ldexp(static_cast<float>(b % 20000) - 10000.0f, static_cast<int>(b % 40) - 30));
  }
  const kernels::TypeKernels* tk = nullptr;
  for (const auto* t : {kernels::avx2_table(), kernels::avx512_table()})
    if (t && GetParam() == t->name) tk = &t->f16;
  if (GetParam() == "scalar") tk = &kernels::scalar_table().f16;
  ASSERT_NE(tk, nullptr);
  for (int64_t k : {int64_t{1}, int64_t{9}, int64_t{17}, static_cast<int64_t>(x.size())}) {
    std::vector<float> got(k), want(k);
    tk->convert_row(x.data(), got.data(), k);
    kernels::convert_row_f16(x.data(), want.data(), k);
    for (int64_t i = 0; i < k; ++i) ASSERT_EQ(bits_of(got[i]), bits_of(want[i])) << "x=" << x[i];
    // The f16 storage cast (the encoder's K/V and GELU input) on the same values.
    std::vector<uint16_t> halves(k, 0x1234);
    to_f16(x.data(), halves.data(), k);
    for (int64_t i = 0; i < k; ++i) ASSERT_EQ(halves[i], fp32_to_fp16(x[i])) << "x=" << x[i] << " k=" << k;
  }
}

TEST_P(MatmulVariant, GeluByTableGivesTheScalarBits) {
  // Any table works for the lookup's bits: entries that are every kind of f16 (NaNs too).
  std::vector<uint16_t> table(65536 + 1);
  for (uint32_t i = 0; i <= 65536; ++i) table[i] = static_cast<uint16_t>(i * 40503u + 17u);
  std::vector<float> x = {-10.0f, -10.000001f, -9.999999f, 10.0f, 9.999999f, 10.5f, 0.0f, -0.0f,
                          INFINITY, -INFINITY, NAN, 65504.0f, 1e-8f, -3.25f};
  std::mt19937 rng(31);
  std::normal_distribution<float> normal(0.0f, 6.0f);
  for (int i = 0; i < 1000; ++i) x.push_back(normal(rng));
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{17}, static_cast<int64_t>(x.size())}) {
    std::vector<float> got(x.begin(), x.begin() + n), want = got;
    gelu_f16(got.data(), n, table.data());
    ASSERT_TRUE(select_kernels("scalar").ok());
    gelu_f16(want.data(), n, table.data());
    ASSERT_TRUE(select_kernels(GetParam()).ok());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(bits_of(got[i]), bits_of(want[i])) << "x=" << x[i] << " n=" << n;
    for (int64_t i = 0; i < n; ++i) {  // and the scalar one is the rule written down
      const float v = x[i];
      const float rule = v <= -10.0f ? 0.0f : v < 10.0f ? fp16_to_fp32(table[fp32_to_fp16(v)]) : v;
      if (std::isnan(rule)) ASSERT_TRUE(std::isnan(want[i]));
      else ASSERT_EQ(bits_of(want[i]), bits_of(rule)) << "x=" << v;
    }
  }
}

TEST_P(MatmulVariant, Q8ActivationConversionGivesTheScalarBits) {
  std::mt19937 rng(23);
  std::uniform_int_distribution<uint32_t> any;
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int64_t k = 32 * 64;
  std::vector<float> x(k);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t block = i / 32;
    if (block % 8 == 1) {  // any bit pattern: NaNs, infinities, huge and tiny values
      const uint32_t b = any(rng);
      std::memcpy(&x[i], &b, 4);
    } else if (block % 8 == 2) {
      x[i] = 0.0f;  // an all-zero block
    } else if (block % 8 == 3) {
      x[i] = (i % 32 == 5) ? -INFINITY : normal(rng);
    } else if (block % 8 == 4) {
      x[i] = (i % 32 == 7) ? NAN : normal(rng);
    } else {
      x[i] = std::ldexp(normal(rng), static_cast<int>(any(rng) % 60) - 30);
    }
  }
  for (TensorType partner_type : {TensorType::Q8_0, TensorType::Q8_1}) {
    const TensorType weight_type = partner_type == TensorType::Q8_0 ? TensorType::Q5_0 : TensorType::Q5_1;
    const kernels::TypeKernels* tk = nullptr;
    for (const auto* t : {kernels::avx2_table(), kernels::avx512_table()})
      if (t && GetParam() == t->name) tk = t->for_type(weight_type);
    if (GetParam() == "scalar") tk = kernels::scalar_table().for_type(weight_type);
    ASSERT_NE(tk, nullptr);
    const size_t bytes = row_bytes(partner_type, k);
    std::vector<uint8_t> got(bytes, 0xAB), want(bytes, 0xCD);
    tk->convert_row(x.data(), got.data(), k);
    if (partner_type == TensorType::Q8_0) kernels::convert_row_q8_0(x.data(), want.data(), k);
    else kernels::convert_row_q8_1(x.data(), want.data(), k);
    for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(got[i], want[i]) << type_name(partner_type) << " byte " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, MatmulVariant, ::testing::ValuesIn(available_kernels()),
                         [](const auto& info) { return info.param; });

TEST(ActivationConversion, Q8_0RoundsHalfToEvenWithMultiplier127OverAmax) {
  float x[32] = {};
  x[0] = 127.0f;  // amax 127: multiplier exactly 1
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  x[4] = -0.5f;
  x[5] = 0.49f;
  BlockQ8_0 b;
  kernels::convert_row_q8_0(x, &b, 32);
  EXPECT_EQ(fp16_to_fp32(b.d), 1.0f);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], 4);
  EXPECT_EQ(b.qs[3], -2);
  EXPECT_EQ(b.qs[4], 0);
  EXPECT_EQ(b.qs[5], 0);
  EXPECT_EQ(b.qs[6], 0);
}

TEST(ActivationConversion, Q8_1CarriesScaledSum) {
  float x[64];
  for (int j = 0; j < 64; ++j) x[j] = static_cast<float>(j % 7) - 2.0f;
  BlockQ8_1 b[2];
  kernels::convert_row_q8_1(x, b, 64);
  for (const auto& blk : b) {
    int sum = 0;
    for (int8_t q : blk.qs) sum += q;
    EXPECT_EQ(blk.s, fp32_to_fp16(fp16_to_fp32(0) + (4.0f / 127.0f) * static_cast<float>(sum)));
    EXPECT_EQ(blk.d, fp32_to_fp16(4.0f / 127.0f));
  }
}

TEST(ActivationConversion, AllZeroBlockHasZeroScale) {
  float x[32] = {};
  BlockQ8_0 b;
  kernels::convert_row_q8_0(x, &b, 32);
  EXPECT_EQ(b.d, 0);
  for (int8_t q : b.qs) EXPECT_EQ(q, 0);
}

TEST(ActivationConversion, F16PartnerRowsAreRoundedThroughHalf) {
  const float x[3] = {1.0f + std::ldexp(1.0f, -11), 0.1f, 70000.0f};
  float out[3];
  kernels::convert_row_f16(x, out, 3);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], fp16_to_fp32(fp32_to_fp16(0.1f)));
  EXPECT_TRUE(std::isinf(out[2]));
}

TEST(KernelSelection, ScalarIsAlwaysAvailableAndUnknownNamesAreRefused) {
  const auto names = available_kernels();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "scalar");
  auto r = select_kernels("neon-on-x86");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("neon-on-x86"), std::string::npos);
  EXPECT_NE(r.error().find("scalar"), std::string::npos);
  ASSERT_TRUE(select_kernels("scalar").ok());
  EXPECT_STREQ(kernel_name(), "scalar");
  ASSERT_TRUE(init_kernels().ok());
  EXPECT_EQ(std::string(kernel_name()), names.back());
}

TEST(KernelSelection, EnvironmentForcesAVariantOrNamesTheBadValue) {
  ASSERT_EQ(setenv("THOTH_KERNELS", "scalar", 1), 0);
  EXPECT_TRUE(init_kernels().ok());
  EXPECT_STREQ(kernel_name(), "scalar");
  ASSERT_EQ(setenv("THOTH_KERNELS", "bogus", 1), 0);
  auto r = init_kernels();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("THOTH_KERNELS=bogus"), std::string::npos);
  unsetenv("THOTH_KERNELS");
  ASSERT_TRUE(init_kernels().ok());
}

// Weight bytes whose last byte is the last readable one: an unreadable page follows.
class GuardedBytes {
 public:
  explicit GuardedBytes(const std::vector<uint8_t>& bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_ = (bytes.size() + page - 1) / page * page + page;
    base_ = static_cast<uint8_t*>(mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (base_ == MAP_FAILED) base_ = nullptr;
    if (!base_) return;
    data_ = base_ + (size_ - page - bytes.size());
    std::memcpy(data_, bytes.data(), bytes.size());
    if (mprotect(base_ + size_ - page, page, PROT_NONE) != 0) data_ = nullptr;
  }
  ~GuardedBytes() {
    if (base_) munmap(base_, size_);
  }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  const uint8_t* data() const { return data_; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A decoder step (one activation row) may take its own kernel: it must give the scalar
// table's bits and the bits of its row in a batch, at odd and even block counts, with and
// without row padding, and without reading past the matrix (its last block ends right before
// an unreadable page; the row kernels load blocks in pairs).
TEST_P(MatmulVariant, SingleRowsGiveTheScalarAndBatchBitsUpToTheMatrixEnd) {
  for (TensorType type : kWeightTypes) {
    for (int64_t k : {32, 96, 384, 416, 1536}) {
      for (int64_t m : {1, 5, 8, 13}) {
        for (size_t pad : {size_t{0}, size_t{40}}) {
          SCOPED_TRACE(std::string(type_name(type)) + " k=" + std::to_string(k) + " m=" + std::to_string(m) +
                       " pad=" + std::to_string(pad));
          const Weights w = make_weights(type, m, k, static_cast<uint32_t>(k + m), pad);
          // Only the bytes up to the last row's end: the matrix ends at the guard page.
          const std::vector<uint8_t> used(w.bytes.begin(), w.bytes.begin() + ((m - 1) * w.stride + row_bytes(type, k)));
          const GuardedBytes guarded(used);
          ASSERT_NE(guarded.data(), nullptr);
          const MatrixView v{type, guarded.data(), m, k, w.stride};
          const int64_t n = 4;
          const auto x = make_activations(n, k, static_cast<uint32_t>(3 * k + m));
          ThreadPool pool(2);
          std::vector<float> batch(n * m), scalar(n * m);
          matmul(v, x.data(), n, k, batch.data(), m, pool);
          ASSERT_TRUE(select_kernels("scalar").ok());
          matmul(v, x.data(), n, k, scalar.data(), m, pool);
          ASSERT_TRUE(select_kernels(GetParam()).ok());
          for (int64_t i = 0; i < n; ++i) {
            std::vector<float> one(m);
            matmul(v, &x[i * k], 1, k, one.data(), m, pool);
            for (int64_t r = 0; r < m; ++r) {
              ASSERT_EQ(bits_of(one[r]), bits_of(scalar[i * m + r])) << "row " << i << " output " << r;
              ASSERT_EQ(bits_of(one[r]), bits_of(batch[i * m + r])) << "row " << i << " output " << r;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace thoth::asr
