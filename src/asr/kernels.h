// The kernel table behind matmul(): one per instruction-set variant, picked once at start.
// Internal to asr/: matmul.cpp drives it, kernels_<variant>.cpp fill it in.
//
// Contract every variant keeps (so every variant gives the scalar table's bits, and those are
// the reference's: ggml's CPU backend as compiled for the AVX-512 machine it ran on, without llamafile):
//  - convert_row turns an f32 activation row into the weight type's partner format, bit for
//    bit the same in every variant (ggml's x86 rules: q8 scale d = amax / 127, values
//    rounded half-to-even after multiplying by 127 / amax; f16 rounding half-to-even);
//  - gemm computes each output as one dot product in the reference's summation order for the
//    type (f32/f16: ggml_vec_dot_f32/_f16, four 16-lane FMA accumulators over steps of 64;
//    quantized: ggml's AVX2 vec_dot, eight 4-product integer lanes FMA-accumulated per block;
//    q4_0_repacked: the repacked q4_0_8x8 kernels), whatever the output's place in the tile,
//    so results do not change with threads, tiling or variant.
#pragma once
#include <cstddef>
#include <cstdint>

#include "asr/ggml_format.h"

namespace thoth::asr::kernels {

// One tile of the product: y[i * ldy + r] = dot(w row r, x row i), r < m, i < n.
struct GemmTile {
  const uint8_t* w = nullptr;  // weight rows, w_stride bytes apart
  size_t w_stride = 0;
  int64_t m = 0;
  const uint8_t* x = nullptr;  // converted activation rows, x_stride bytes apart
  size_t x_stride = 0;
  int64_t n = 0;
  int64_t k = 0;  // elements per row (a multiple of 32 for the quantized types)
  float* y = nullptr;
  int64_t ldy = 0;
  // Decoder steps only (TypeKernels::gemv_interleaved): the tile's rows in groups of four
  // (interleave_rows' records, from the group of its first row, a multiple of 4).
  const uint8_t* interleaved = nullptr;
  // Batches only (TypeKernels::build_panel): the tile's weight rows rearranged, from its first
  // row (a multiple of kPanelRows) on; x then holds convert_row_panel's rows, or
  // convert_panel_block's blocks (panel_x_offset). w stays the rows
  // themselves, for what the panel leaves out (elements past the last step of 64).
  const float* panel = nullptr;
};

// A panel product's activations in blocks of `block` rows (TypeKernels::convert_panel_block,
// f32 values): from the tile's first row on, blocks of `block` rows and one of the rows left,
// each taking as many rows' floats as it has rows. In a block of r rows, the first
// np = k / 64 * 64 values of each row go side by side in the panel's order (value 16j + l of
// a row is its value p = l * np / 16 + j), value p of row c at p * r + c, so one pointer
// walks a step's values of every row; each row's values past np follow in order, row c's at
// np * r + c * (k - np). The float offset of row j's value p (p < np), or of its first value
// past np (p = np), from the tile's x.
inline int64_t panel_x_offset(int64_t j, int64_t p, int64_t n, int64_t k, int block) {
  const int64_t b0 = j / block * block, r = n - b0 < block ? n - b0 : block, np = k / 64 * 64;
  return b0 * k + (p < np ? p * r + (j - b0) : np * r + (j - b0) * (k - np));
}

// Weight rows per group of a panel (one per vector lane).
constexpr int64_t kPanelRows = 16;
// Activation rows from which a product is worth its panel (the encoder's; not a decoder step's
// or a short prompt's).
constexpr int64_t kPanelMinRows = 64;

struct TypeKernels {
  // Bytes of one converted activation row of k elements; nullptr means the kernel reads the
  // f32 activations as given (f32 weights) and convert_row is unused.
  size_t (*x_row_bytes)(int64_t k) = nullptr;
  void (*convert_row)(const float* x, void* dst, int64_t k) = nullptr;
  void (*gemm)(const GemmTile& tile) = nullptr;
  // Optional, for batches of at least kPanelMinRows rows: the weights rearranged once per
  // product for a batch kernel that keeps kPanelRows weight rows in the lanes of a vector.
  // panel_bytes(m, k): the whole matrix's; build_panel: groups g0..g1 of kPanelRows rows (rows
  // past m zero); convert_row_panel: an activation row as convert_row makes it, in the order
  // the panel kernel reads it, or convert_panel_block: `rows` <= panel_x_block activation rows
  // (ldx apart) as one block (panel_x_offset). gemm computes a tile with tile.panel set from
  // the panel.
  size_t (*panel_bytes)(int64_t m, int64_t k) = nullptr;
  void (*build_panel)(const uint8_t* w, size_t w_stride, int64_t m, int64_t k, int64_t g0, int64_t g1,
                      float* panel) = nullptr;
  void (*convert_row_panel)(const float* x, void* dst, int64_t k) = nullptr;
  // Optional, for at most kInterleavedMaxRows activation rows (a decoder step's): the tile's
  // rows (tile.m a multiple of 4) read from tile.interleaved instead of tile.w, same bits.
  void (*gemv_interleaved)(const GemmTile& tile) = nullptr;
  // With convert_panel_block: rows per block of the panel products' activations.
  void (*convert_panel_block)(const float* x, int64_t ldx, int rows, void* dst, int64_t k) = nullptr;
  int panel_x_block = 0;
};

// q5_1 weight rows in groups of four, one record per group and block (the group's blocks in
// order, then the next group's): the four rows' qs side by side, so one 64-byte load gives a
// block's low nibbles (elements 0-15) and high nibbles (16-31) for all four with a mask and a
// shift; their fifth bits as two 64-bit masks (bit 16 i + e: row i's element e, resp. 16 + e);
// the scales. Built once per model (ModelFile), the same 24 bytes per block as the file.
struct BlockQ5_1x4 {
  uint8_t qs[4][kQK / 2];
  uint64_t qh_lo, qh_hi;
  uint16_t d[4], m[4];
};
static_assert(sizeof(BlockQ5_1x4) == 4 * sizeof(BlockQ5_1), "the interleaved copy is as large as the rows");

// q8_0 weight rows in groups of four, the same way: elements 0-15 of the four rows side by
// side (row i's at lo[i]), then elements 16-31 (hi[i]), each level plus 128 (VNNI multiplies
// unsigned by signed bytes; the kernels take 128 * sum(x) back from the integer sums); the
// scales.
struct BlockQ8_0x4 {
  uint8_t lo[4][kQK / 2], hi[4][kQK / 2];
  uint16_t d[4];
};
static_assert(sizeof(BlockQ8_0x4) == 4 * sizeof(BlockQ8_0), "the interleaved copy is as large as the rows");

constexpr int kInterleavedMaxRows = 5;  // beam search's sequences
// Rows [0, groups * 4) of q5_1 or q8_0 rows w (w_stride bytes apart, k elements each) into
// out (groups * k / 32 records of BlockQ5_1x4 / BlockQ8_0x4, 4 * sizeof(block) bytes each).
void interleave_rows(TensorType type, const uint8_t* w, size_t w_stride, int64_t groups, int64_t k, void* out);

// Flash attention's keys (one head's) in blocks of kKeyBlock: element i of key j at
// key_block_index(j, i, d), so a block's keys lie side by side in vector lanes and each lane
// sums its own products in order, without transposing rows on every step; a block's steps
// read one sequential stream (a cache streamed from memory keeps the prefetchers busy).
constexpr int kKeyBlock = 64;
constexpr int64_t key_block_index(int64_t j, int64_t i, int64_t d) {
  return j / kKeyBlock * kKeyBlock * d + i * kKeyBlock + j % kKeyBlock;
}
// Key j's d halves into their places in the blocks.
inline void store_key(uint16_t* blocks, int64_t j, int64_t d, const uint16_t* key) {
  for (int64_t i = 0; i < d; ++i) blocks[key_block_index(j, i, d)] = key[i];
}

// One chunk of flash attention for one query row and head: n keys, f16 accumulator acc of d
// halves, running max *m and sum *sum. For each j < n in order, with s = scores[j] and the
// value row v + row * stride, row = rows ? rows[j] : j:
//   s > *m: ms = expf(*m - s), *m = s, acc[i] = f16(f32(acc[i]) * ms), vs = 1
//   else:   ms = 1, vs = expf(s - *m)
//   acc[i] = f16(fma(f32(v[i]), vs, f32(acc[i]))); *sum = fma(*sum, ms, vs)
// (expf is libm's, as the reference's; the products as f16_axpy and f16_scale compute them).
struct OnlineSoftmaxJob {
  const float* scores = nullptr;
  const int32_t* rows = nullptr;
  int64_t n = 0;
  const uint16_t* v = nullptr;
  uint16_t* acc = nullptr;
  float* m = nullptr;
  float* sum = nullptr;
};

// Query rows one dot_f16_blocked call takes at most: beam search's five rows of a head.
constexpr int kDotQueries = 5;

// Rows one f32_axpy_rows call takes at most (24 of AVX-512's 32 registers as accumulators).
constexpr int kAxpyRows = 6;

struct KernelTable {
  const char* name = "";
  TypeKernels f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0;
  // q4_0 as ggml's repacked q4_0_8x8 GEMV/GEMM compute it: per output, each block's exact
  // integer sum converted to float and FMA-accumulated with d_w * d_x in block order.
  TypeKernels q4_0_repacked;

  // Element-wise loops of the attention, each lane computed exactly as the scalar table does
  // (same operations, same roundings), so the variant in use never changes a result.
  // out[j] = ggml_v_expf(x[j] - shift) for j < n; out may be x.
  void (*exp_shifted)(const float* x, float shift, float* out, int64_t n) = nullptr;
  // out[j] = expf_flush(x[j] - shift) for j < n (libm's expf, the decoder's log-softmax and
  // probabilities); out may be x. A SIMD variant computes glibc's expf algorithm and takes it
  // only if it agrees with this process's libm (libm_expf_agrees).
  void (*libm_expf_shifted)(const float* x, float shift, float* out, int64_t n) = nullptr;
  // acc[i] = f16(fma(f32(v[i]), s, f32(acc[i]))) for i < n: flash attention's f16 accumulator.
  void (*f16_axpy)(uint16_t* acc, const uint16_t* v, float s, int64_t n) = nullptr;
  // For c < count, in order: y[i] = fma(x[c * x_stride + i], s[c], y[i]) for i < n.
  void (*f32_axpy)(float* y, const float* x, int64_t x_stride, const float* s, int64_t count, int64_t n) = nullptr;
  // f32_axpy into y[r] with s[r] for each r < nr <= kAxpyRows, over the same x (each row the
  // single form's bits; x loaded once for all the rows).
  void (*f32_axpy_rows)(float* const* y, const float* const* s, int nr, const float* x, int64_t x_stride,
                        int64_t count, int64_t n) = nullptr;
  // One query row's step of the tiled flash attention's online softmax over a tile of
  // nt <= 64 scores (-INFINITY where the row does not see the key): kq[t] *= scale; no key
  // seen: false, nothing else changed. Else m' = max(*m, tile max); when m' > *m,
  // *ms = expf(*m - m') (libm's) and *sum *= *ms, else *ms = 1; *m = m'; kq[t] =
  // ggml_v_expf(kq[t] - m') (0 where unseen); *sum = float(double(*sum) + the double sum of
  // the 16-lane groups' _mm512_reduce_add_ps trees, the tile padded to 64 with zeros).
  bool (*softmax_tile)(float* kq, int64_t nt, float scale, float* m, float* sum, float* ms) = nullptr;
  // acc[i] = f16(f32(acc[i]) * s) for i < n.
  void (*f16_scale)(uint16_t* acc, float s, int64_t n) = nullptr;
  // Flash attention's one-chunk loop (ggml's online softmax) for each of `count` independent
  // jobs (OnlineSoftmaxJob), value rows `stride` halves apart, heads d wide. The SIMD variants
  // run up to five jobs side by side, so their accumulators' dependency chains overlap.
  void (*f16_online_softmax)(const OnlineSoftmaxJob* jobs, int count, int64_t stride, int64_t d) = nullptr;
  // Flash attention's scores over keys stored in blocks of kKeyBlock (key_block_index()), for
  // nq <= kDotQueries query rows: out[r][j] = float(sum over i < d, in order, in double, of
  // f32(key j's element i) * f32(q[r][i])) for the n_blocks * kKeyBlock keys from `blocks` on
  // (the f16 products are exact floats). Several rows (beam search's, of one head) share each
  // key's widening to double.
  void (*dot_f16_blocked)(const uint16_t* blocks, int64_t n_blocks, const uint16_t* const* q, int nq, int64_t d,
                          float* const* out) = nullptr;

  // y[i] = fp32_to_fp16(x[i]) for i < n (f16 storage: the encoder's K/V casts, GELU's input).
  void (*to_f16)(const float* x, uint16_t* y, int64_t n) = nullptr;
  // GELU by ggml's f16 table, in place (matmul.h's gelu_f16).
  void (*gelu_f16)(float* x, int64_t n, const uint16_t* table) = nullptr;

  const TypeKernels* for_type(TensorType t) const;
};

const KernelTable& scalar_table();
// nullptr when the variant is not compiled into this binary; the caller checks CPU support.
const KernelTable* avx2_table();
const KernelTable* avx512_table();

// Shared by the variants: the activation conversions, exactly as ggml's x86 CPU backend
// converts src1 before its dot products (quantize_row_q8_0 / q8_1, fp32 -> fp16).
void convert_row_f16(const float* x, void* dst, int64_t k);   // f32 values rounded via f16
void convert_row_q8_0(const float* x, void* dst, int64_t k);  // BlockQ8_0[k / 32]
void convert_row_q8_1(const float* x, void* dst, int64_t k);  // BlockQ8_1[k / 32]
size_t x_row_bytes_f32(int64_t k);   // k floats (the f16 partner rows)
// The repacked-q4_0 product, shared by the variants (a plain loop; only q4_0 models use it).
void gemm_q4_0_repacked(const GemmTile& t);
// The same with AVX2 (kernels_avx2.cpp; the AVX-512 table uses it too). Only on CPUs with AVX2.
void gemm_q4_0_repacked_avx2(const GemmTile& t);
size_t x_row_bytes_q8_0(int64_t k);
size_t x_row_bytes_q8_1(int64_t k);
// f16_online_softmax through a table's f16_axpy and f16_scale (the accumulator in memory):
// the scalar table's version and the SIMD ones' fallback for head widths they do not hold
// in registers.
void f16_online_softmax_generic(const KernelTable& t, const OnlineSoftmaxJob& job, int64_t stride, int64_t d);
// The scalar loop of libm_expf_shifted (expf_flush per element).
void libm_expf_shifted_loop(const float* x, float shift, float* out, int64_t n);
// Whether f agrees bit for bit with libm's expf over a spread of inputs (every binade, both
// signs, the fast path's edges): a SIMD copy of glibc's algorithm is used only then.
bool libm_expf_agrees(void (*f)(const float* x, float shift, float* out, int64_t n));

}  // namespace thoth::asr::kernels
