// Matrix products against stored weights, the engine's hot loop, behind one kernel table
// chosen once at start-up (scalar, AVX2, AVX-512...; THOTH_KERNELS=name forces a variant).
//
// Numerics follow the reference: activations are first converted to the weight's partner
// type (f16 for f16 weights, q8_0 for q4_0/q5_0/q8_0, q8_1 for q4_1/q5_1, f32 for f32), then
// each output is one dot product of a weight row with a converted activation row.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "asr/ggml_format.h"
#include "core/result.h"

namespace thoth::asr {

class ThreadPool;
namespace kernels {
struct OnlineSoftmaxJob;
}

// A row-major matrix of `rows` rows of `cols` elements in `type`; row r starts at
// data + r * row_stride bytes.
struct MatrixView {
  TensorType type = TensorType::F32;
  const void* data = nullptr;
  int64_t rows = 0, cols = 0;
  size_t row_stride = 0;
  // q4_0 weights the reference keeps repacked (ggml's q4_0_8x8 buffer: matrix weights with a
  // multiple of 8 rows, not the token embedding, which it also reads by row): their products
  // take the repacked kernels' order (see KernelTable::q4_0_repacked).
  bool repacked = false;
  // The rows in groups of four (kernels::interleave_rows; rows past the last whole group are
  // only in data): a decoder step's products read them there when the kernels can.
  const void* interleaved = nullptr;
};

// Whether this process's kernels read `type` weights from an interleaved copy
// (MatrixView::interleaved) in decoder steps: only then is one worth building.
bool reads_interleaved(TensorType type);

// y[i * ldy + r] = dot(w row r, x row i) for i < n, r < w.rows.
// x is f32, n rows of w.cols elements, row i at x + i * ldx.
// cancel (optional): once it reads true, no further tile is started and y is left partly
// written; the caller checks the flag and discards y (a large product then stops within one
// tile per thread instead of running to its end).
void matmul(const MatrixView& w, const float* x, int64_t n, int64_t ldx, float* y, int64_t ldy,
            ThreadPool& pool, const std::atomic<bool>* cancel = nullptr);

// The attention's element-wise loops, through the same kernel table (kernels.h says what each
// computes); every variant gives the scalar variant's bits.
void exp_shifted(const float* x, float shift, float* out, int64_t n);
// out[j] = expf_flush(x[j] - shift): libm's expf bits, vectorised where the variant can.
void libm_expf_shifted(const float* x, float shift, float* out, int64_t n);
void f16_axpy(uint16_t* acc, const uint16_t* v, float s, int64_t n);
// For c < count, in that order: y[i] = fma(x[c * x_stride + i], s[c], y[i]) for i < n -- the
// per-element f32 FMA chains of ggml's tiled flash attention (simd_gemm).
void f32_axpy(float* y, const float* x, int64_t x_stride, const float* s, int64_t count, int64_t n);
// f32_axpy(y[r], x, x_stride, s[r], count, n) for r < nr (any number of rows), the same bits,
// each x vector loaded once for several rows.
void f32_axpy_rows(float* const* y, const float* const* s, int nr, const float* x, int64_t x_stride, int64_t count,
                   int64_t n);
void f16_scale(uint16_t* acc, float s, int64_t n);
// One row's online-softmax step over a tile of nt <= 64 scores (kernels.h says exactly how).
bool softmax_tile(float* kq, int64_t nt, float scale, float* m, float* sum, float* ms);
// Flash attention's online softmax for `count` independent jobs (kernels.h says how).
void f16_online_softmax(const kernels::OnlineSoftmaxJob* jobs, int count, int64_t stride, int64_t d);
// out[r][j] for the n_blocks * kernels::kKeyBlock keys of `blocks` and each of nq query rows
// q[r] (kernels.h says how).
void dot_f16_blocked(const uint16_t* blocks, int64_t n_blocks, const uint16_t* const* q, int nq, int64_t d,
                     float* const* out);
// The same for one query row.
inline void dot_f16_blocked(const uint16_t* blocks, int64_t n_blocks, const uint16_t* q, int64_t d, float* out) {
  dot_f16_blocked(blocks, n_blocks, &q, 1, d, &out);
}
// ggml's f16-table GELU in place: x <= -10 -> 0; x < 10 -> f32(table[fp32_to_fp16(x)]); else
// (x >= 10, NaN) unchanged. table has 65536 + 1 entries (the SIMD gathers read 32 bits).
void gelu_f16(float* x, int64_t n, const uint16_t* table);
// y[i] = fp32_to_fp16(x[i]) for i < n, every variant the same bits.
void to_f16(const float* x, uint16_t* y, int64_t n);

// Name of the kernel variant in use ("scalar", "avx2", "avx512", ...).
const char* kernel_name();

// Picks the variant: THOTH_KERNELS=name if set, else the best this CPU and OS support
// (matmul() calls it on first use; calling it again re-reads the variable).
// Returns an error naming the variable when it asks for a variant this machine cannot run
// (call it at start-up to report that; matmul() itself then falls back to the best variant).
Result<void> init_kernels();

// Variants this machine can run, scalar first, best last.
std::vector<std::string> available_kernels();

// Switches every later matmul() in this process to `name` (tests and benchmarks compare
// variants this way); an error if this machine cannot run it. Not for use while another
// thread is inside matmul().
Result<void> select_kernels(std::string_view name);

}  // namespace thoth::asr
