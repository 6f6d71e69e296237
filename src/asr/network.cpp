// The Whisper transformer, computed bit for bit the way the reference computes it (whisper.cpp
// on ggml's CPU backend, compiled for the AVX-512 machine it ran on, without llamafile's sgemm),
// because greedy and beam decoding must pick the same tokens on near-ties. What that means:
//  - every matrix product goes through matmul(), which converts activations to the weight's
//    partner type (f16, q8_0, q8_1) as ggml does and sums in ggml's vec_dot order -- attention
//    included: keys and values are f16 (the reference casts them, and its KV caches are f16),
//    so queries and softmax probabilities are rounded to f16 on their way into the two
//    attention products; q4_0 matrices take the order of ggml's repacked q4_0_8x8 kernels;
//  - the convolutions run on f16 im2col rows against f16 kernels (f32 kernels are rounded to
//    f16 first: ggml converts the kernel to the im2col type);
//  - GELU goes through ggml's f16 table; layer norm and softmax sum as ggml's AVX-512 code
//    does (16-lane float partial sums, accumulated in double), and the softmax exponentials
//    are the AVX-512 build's ggml_v_expf lane by lane;
//  - decoder self-attention queries and keys are pre-scaled by d^-1/4 (keys before the f16
//    cache), cross-attention keys likewise, its queries scaled inside the softmax;
//  - with flash attention (whisper-cli's default), ggml_flash_attn_ext's three CPU paths:
//    tiled for batches of 64+ query rows, one chunk per row otherwise, split-KV for a lone row.
#include "asr/network.h"

#include <sys/mman.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include "asr/expf_flush.h"
#include "asr/kernels.h"
#include "asr/matmul.h"
#include "asr/thread_pool.h"

namespace thoth::asr {

namespace {

constexpr float kNormEps = 1e-5f;

// Zeroed storage whose pages the OS hands out on first write: the self-attention cache is
// sized for the worst case (every sequence at the full text context, with the reference's
// slack for fragmentation) but costs memory only for the cells in use. Straight from mmap:
// calloc may serve it from the heap and write the zeros itself.
template <typename T>
class ZeroPages {
 public:
  ZeroPages() = default;
  explicit ZeroPages(size_t n) : n_(n) {
    if (n == 0) return;
    void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    p_ = static_cast<T*>(p);
  }
  ~ZeroPages() {
    if (p_) munmap(p_, n_ * sizeof(T));
  }
  ZeroPages(ZeroPages&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  ZeroPages& operator=(ZeroPages&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};



// f16 -> f32 through a table: the attention loops convert every cached key and value.
const float* half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = fp16_to_fp32(static_cast<uint16_t>(i));
    return t;
  }();
  return table.data();
}
inline float h2f(uint16_t h) { return half_table()[h]; }

// ggml's GELU for f32 tensors: saturate outside [-10, 10], else the tanh formula evaluated at
// the f16-rounded input and rounded to f16 (ggml_table_gelu_f16). The fused 1 + a*x*x moves
// one entry (x = -1.999) by one f16 step.
const uint16_t* gelu_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(65536 + 1);  // + 1: gelu_f16 may read 32 bits at the last entry
    const float kSqrt2OverPi = 0.79788456080286535587989211986876f, kCoefA = 0.044715f;
    for (uint32_t i = 0; i < 65536; ++i) {
      const float x = fp16_to_fp32(static_cast<uint16_t>(i));
      // The reference's compiler, targeting that machine's FMA (GNU C), contracts 1 + a*x*x into one.
      t[i] = fp32_to_fp16(0.5f * x * (1.0f + tanhf(kSqrt2OverPi * x * std::fma(kCoefA * x, x, 1.0f))));
    }
    return t;
  }();
  return table.data();
}

void gelu_rows(float* x, int64_t n, ThreadPool& pool) {
  const uint16_t* table = gelu_table();
  auto rows = [&](int64_t b, int64_t e) { gelu_f16(x + b, e - b, table); };
  if (n < 4096) rows(0, n);  // a decoder token's few thousand values: not worth a hand-off
  else pool.parallel_for(n, rows);
}

// ggml_norm then ggml_mul(w) then ggml_add(b), each rounded as the separate ops are. The
// mean is the double sum rounded to float, divided in float (ggml_vec_sum_f32); the variance
// is ggml_vec_cvar_f32 of the AVX-512 build: squares of 16 deviations summed in float by
// _mm512_reduce_add_ps's tree, those partial sums accumulated in double, the rest one by one.
void layer_norm_row(const float* x, float* y, int n, const float* w, const float* b) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum) / static_cast<float>(n);
  double sum2 = 0.0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    float v[16];
    for (int l = 0; l < 16; ++l) {
      const float d = x[i + l] - mean;
      y[i + l] = d;
      v[l] = d * d;
    }
    for (int width = 8; width >= 1; width /= 2)
      for (int l = 0; l < width; ++l) v[l] = v[l] + v[l + width];
    sum2 += static_cast<double>(v[0]);
  }
  for (; i < n; ++i) {
    const float d = x[i] - mean;
    y[i] = d;
    sum2 += static_cast<double>(d * d);
  }
  const float variance = static_cast<float>(sum2 / n);
  const float scale = 1.0f / std::sqrt(variance + kNormEps);
  for (int k = 0; k < n; ++k) {
    const float v = y[k] * scale;
    const float m = v * w[k];
    y[k] = m + b[k];
  }
}

void layer_norm(const float* x, float* y, int64_t rows, int n, const float* w, const float* b, ThreadPool& pool) {
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) layer_norm_row(x + r * n, y + r * n, n, w, b);
  });
}

void add_bias(float* y, int64_t rows, int n, const float* b) {
  if (!b) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int i = 0; i < n; ++i) y[r * n + i] += b[i];
}

// Row `row` of a stored matrix as f32 (ggml_get_rows: f16 widened, quantized blocks expanded).
void dequantize_row(const TensorView& t, int64_t row, float* out) {
  const int64_t n = t.ne[0];
  const uint8_t* p = static_cast<const uint8_t*>(t.data) + row_bytes(t.type, n) * row;
  switch (t.type) {
    case TensorType::F32:
      std::memcpy(out, p, n * sizeof(float));
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = h2f(h);
      }
      return;
    default:
      break;
  }
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    float* y = out + blk * kQK;
    switch (t.type) {
      case TensorType::Q4_0: {
        const auto* b = reinterpret_cast<const BlockQ4_0*>(p) + blk;
        const float d = h2f(b->d);
        for (int j = 0; j < kQK / 2; ++j) {
          y[j] = static_cast<float>((b->qs[j] & 0x0F) - 8) * d;
          y[j + kQK / 2] = static_cast<float>((b->qs[j] >> 4) - 8) * d;
        }
        break;
      }
      case TensorType::Q4_1: {
        const auto* b = reinterpret_cast<const BlockQ4_1*>(p) + blk;
        const float d = h2f(b->d), m = h2f(b->m);
        for (int j = 0; j < kQK / 2; ++j) {
          y[j] = static_cast<float>(b->qs[j] & 0x0F) * d + m;
          y[j + kQK / 2] = static_cast<float>(b->qs[j] >> 4) * d + m;
        }
        break;
      }
      case TensorType::Q5_0: {
        const auto* b = reinterpret_cast<const BlockQ5_0*>(p) + blk;
        const float d = h2f(b->d);
        uint32_t qh;
        std::memcpy(&qh, b->qh, 4);
        for (int j = 0; j < kQK / 2; ++j) {
          const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
          const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
          y[j] = static_cast<float>(((b->qs[j] & 0x0F) | xh0) - 16) * d;
          y[j + kQK / 2] = static_cast<float>(((b->qs[j] >> 4) | xh1) - 16) * d;
        }
        break;
      }
      case TensorType::Q5_1: {
        const auto* b = reinterpret_cast<const BlockQ5_1*>(p) + blk;
        const float d = h2f(b->d), m = h2f(b->m);
        uint32_t qh;
        std::memcpy(&qh, b->qh, 4);
        for (int j = 0; j < kQK / 2; ++j) {
          const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
          const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
          y[j] = static_cast<float>((b->qs[j] & 0x0F) | xh0) * d + m;
          y[j + kQK / 2] = static_cast<float>((b->qs[j] >> 4) | xh1) * d + m;
        }
        break;
      }
      case TensorType::Q8_0: {
        const auto* b = reinterpret_cast<const BlockQ8_0*>(p) + blk;
        const float d = h2f(b->d);
        for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b->qs[j]) * d;
        break;
      }
      default:
        throw std::logic_error("dequantize_row: unsupported type");
    }
  }
}

MatrixView view_of(const TensorView& t) {
  MatrixView m;
  m.type = t.type;
  m.data = t.data;
  m.cols = t.ne[0];
  m.rows = t.ne[1] * t.ne[2] * t.ne[3];
  m.row_stride = row_bytes(t.type, t.ne[0]);
  return m;
}

// --- attention ------------------------------------------------------------------------------

// ggml_v_expf lives in the kernel table (exp_shifted), one vector of lanes at a time.

// ggml_soft_max_ext on one row: x * scale, entries the mask hides at -inf, the max
// subtracted, exponentials summed in double (16 lanes of v_expf, libm expf for the tail, as
// the AVX-512 build does), then scaled by the reciprocal of the sum.
template <typename Visible>
void softmax_row(float* s, int n, Visible visible, float scale) {
  float mx = -INFINITY;
  for (int j = 0; j < n; ++j) {
    s[j] = visible(j) ? s[j] * scale : -INFINITY;
    mx = s[j] > mx ? s[j] : mx;
  }
  double sum = 0.0;
  int j = 0;
  exp_shifted(s, mx, s, n / 16 * 16);
  for (; j + 15 < n; j += 16) {
    float v[16];
    for (int l = 0; l < 16; ++l) v[l] = s[j + l];
    // _mm512_reduce_add_ps: halves added pairwise, 16 -> 8 -> 4 -> 2 -> 1.
    for (int w = 8; w >= 1; w /= 2)
      for (int l = 0; l < w; ++l) v[l] = v[l] + v[l + w];
    sum += static_cast<double>(v[0]);
  }
  for (; j < n; ++j) {
    const float val = expf_flush(s[j] - mx);
    sum += static_cast<double>(val);
    s[j] = val;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int k = 0; k < n; ++k) s[k] *= inv;
}

// Keys of one attention: f16 rows [key][n_state]; values transposed: f16 rows [dim][key],
// as the reference lays out its caches (so V^T of a head is a plain matrix for matmul()).
// With flash attention, values are kept as rows like the keys (v, k_stride apart) instead.
struct KvView {
  const uint16_t* k = nullptr;
  int64_t k_stride = 0;  // elements between key rows
  const uint16_t* vt = nullptr;
  int64_t vt_stride = 0;  // elements between value-dimension rows
  int n_keys = 0;
  const uint16_t* v = nullptr;  // flash attention: value rows, k_stride apart
  // The keys of one head (h = 0) in blocks (kernels::key_block_index) instead of rows:
  // decode()'s caches, whose scores are computed a block of keys at a time. k_stride then
  // only spaces the value rows.
  bool k_blocked = false;
};

inline uint16_t key_half(const KvView& kv, int h, int d, int64_t j, int64_t i) {
  return kv.k_blocked ? kv.k[kernels::key_block_index(j, i, d)] : kv.k[j * kv.k_stride + h * d + i];
}

// softmax(q . k^T * scale) . v for `rows` query rows and one head, through two matmuls.
// visible(r, j): whether row r sees key j (the mask); scores is scratch of rows * n_keys.
template <typename Visible>
void attend_head(const float* q, int64_t rows, int64_t ldq, const KvView& kv, int h, int d, float scale,
                 Visible visible, float* out, int64_t ldo, std::vector<float>& scores, ThreadPool& pool,
                 const std::atomic<bool>* cancel = nullptr) {
  scores.resize(static_cast<size_t>(rows) * kv.n_keys);
  const MatrixView keys{TensorType::F16, kv.k + static_cast<int64_t>(h) * d, kv.n_keys, d,
                        static_cast<size_t>(kv.k_stride) * 2};
  matmul(keys, q + static_cast<int64_t>(h) * d, rows, ldq, scores.data(), kv.n_keys, pool, cancel);
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      softmax_row(&scores[r * kv.n_keys], kv.n_keys, [&](int j) { return visible(r, j); }, scale);
  });
  const MatrixView values{TensorType::F16, kv.vt + static_cast<int64_t>(h) * d * kv.vt_stride, d, kv.n_keys,
                          static_cast<size_t>(kv.vt_stride) * 2};
  matmul(values, scores.data(), rows, kv.n_keys, out + static_cast<int64_t>(h) * d, ldo, pool, cancel);
}


// --- flash attention (ggml_flash_attn_ext on the CPU) -----------------------------------------
// whisper-cli runs with flash attention on; the golden logits oracle ran with it off. Both are
// kept so each can be matched: WhisperNetwork's flash_attention flag picks one.

constexpr int kTileRows = 64;         // GGML_FA_TILE_Q: query batches this large take the f32 tiled path
constexpr int kSplitMinKeys = 512;    // one query row over this many keys takes the split-KV path
constexpr int kReferenceThreads = 2;  // ...cut into one chunk per thread of the golden runs

// Scores are ggml_vec_dot_f16 for rows shorter than one SIMD step: widened products summed in
// double (dot_f16_blocked in the kernel table).

// One query row's chunk of keys on flash attention's short-batch paths: its f16 query and
// accumulator, the scores it sees and their keys, its running max and sum.
struct FlashSlot {
  std::vector<uint16_t> q16, acc16;
  std::vector<float> dots;
  std::vector<int32_t> keys;
  int n = 0;  // keys the row sees
  float m = -INFINITY, s = 0.0f;
};
constexpr int kFlashSlots = 5;  // slots whose online softmaxes run side by side (kernels.h)
static_assert(kFlashSlots <= kernels::kDotQueries, "a slot group's scores in one dot_f16_blocked call");

// The scores the reference's one-chunk kernel feeds its online softmax for `count` query rows
// (f16, slots[r]->q16) of one head (head 0 of kv) over keys [k0, k1): per slot, those of the
// keys its row sees (visible(r, j)), scaled, in key order, with the keys in its keys and
// their count in n. Keys the mask hides are skipped, as the reference's `continue` on a -inf
// mask does. The rows' dot products share one pass over the keys.
template <typename Visible>
void chunk_scores(FlashSlot* const* slots, int count, const KvView& kv, int d, int k0, int k1, float scale,
                  Visible visible) {
  thread_local std::vector<uint16_t> packed;
  constexpr int kB = kernels::kKeyBlock;
  const int n = std::max(k1 - k0, 0);
  // The blocks holding keys [k0, k1) (key j at j - b0 * kB in them): a cache's own, or the
  // rows packed into blocks. All of the chunk's scores at once (hidden keys' too, cheaper
  // than gathering the visible ones).
  const int b0 = k0 / kB, n_blocks = n > 0 ? (k1 + kB - 1) / kB - b0 : 0;
  const uint16_t* blocks = packed.data();
  if (kv.k_blocked) {
    blocks = kv.k + static_cast<int64_t>(b0) * kB * d;
  } else {
    packed.assign(static_cast<size_t>(n_blocks) * kB * d, 0);
    for (int j = k0; j < k1; ++j) kernels::store_key(packed.data(), j - b0 * kB, d, kv.k + j * kv.k_stride);
  }
  const uint16_t* q[kFlashSlots];
  float* out[kFlashSlots];
  for (int r = 0; r < count; ++r) {
    slots[r]->dots.resize(static_cast<size_t>(n_blocks) * kB);
    slots[r]->keys.resize(static_cast<size_t>(n));
    q[r] = slots[r]->q16.data();
    out[r] = slots[r]->dots.data();
  }
  dot_f16_blocked(blocks, n_blocks, q, count, d, out);
  for (int r = 0; r < count; ++r) {
    // Compacted in place (c <= j - b0 * kB).
    FlashSlot& sl = *slots[r];
    int c = 0;
    for (int j = k0; j < k1; ++j) {
      if (!visible(r, j)) continue;
      sl.dots[c] = sl.dots[j - b0 * kB] * scale;
      sl.keys[c++] = j;
    }
    sl.n = c;
  }
}

// One query row of one head.
struct HeadRow {
  int h;
  int64_t r;
};

// Query rows of heads on flash attention's one-chunk path, or, for a lone query row over many
// keys, its split-KV path (chunks merged in f32): each item's output, normalised, at
// out + r * ldo + h * d. view(h) is head h's keys and values (as head 0 of the view). The
// items' chunks' online softmaxes run side by side, up to five at once (kernels.h): one
// chunk's f16 accumulator chain is latency-bound, so a lone row's heads go together (two
// chunks each on the split path), and beam search's five rows of a head, which share its
// keys and values in cache, one pass of their scores over its keys and, when they see the
// same keys (the cross-attention's), each value row's widening.
template <typename HeadView, typename Visible>
void attend_rows_flash(const float* q, int64_t ldq, std::span<const HeadRow> items, HeadView view, int d,
                       Visible visible, float scale, bool lone_row, float* out, int64_t ldo) {
  thread_local FlashSlot slots[kFlashSlots];
  thread_local std::vector<float> merged;
  for (size_t i = 0; i < items.size();) {
    const KvView first = view(items[i].h);  // every head's has the same shape
    const bool split = lone_row && first.n_keys >= kSplitMinKeys;
    const int chunks = split ? kReferenceThreads : 1;
    const int chunk = (first.n_keys + chunks - 1) / chunks;
    const size_t batch = std::min<size_t>(kFlashSlots / chunks, items.size() - i);
    for (size_t a = 0; a < batch; ++a) {
      const HeadRow it = items[i + a];
      for (int c = 0; c < chunks; ++c) {
        FlashSlot& sl = slots[a * chunks + c];
        sl.q16.resize(d);
        sl.acc16.assign(d, 0);
        to_f16(q + it.r * ldq + it.h * d, sl.q16.data(), d);
        sl.m = -INFINITY;
        sl.s = 0.0f;
        sl.n = 0;
      }
    }
    // Scores by runs of items of one head, chunk by chunk.
    for (size_t a = 0; a < batch;) {
      size_t e = a + 1;
      while (e < batch && items[i + e].h == items[i + a].h) ++e;
      const KvView kv = view(items[i + a].h);
      for (int c = 0; c < chunks; ++c) {
        const int k0 = c * chunk, k1 = std::min(kv.n_keys, k0 + chunk);
        if (k0 >= kv.n_keys) continue;
        FlashSlot* group[kFlashSlots];
        for (size_t g = a; g < e; ++g) group[g - a] = &slots[g * chunks + c];
        chunk_scores(group, static_cast<int>(e - a), kv, d, k0, k1, scale,
                     [&](int r, int j) { return visible(items[i + a + r].r, j); });
      }
      a = e;
    }
    kernels::OnlineSoftmaxJob jobs[kFlashSlots];
    for (size_t a = 0; a < batch; ++a)
      for (int c = 0; c < chunks; ++c) {
        FlashSlot& sl = slots[a * chunks + c];
        const uint16_t* v = view(items[i + a].h).v;
        // Keys in a run without gaps (every key of the chunk, the cross-attention's) as a
        // base instead of a list: the same rows, and jobs over them can share each one.
        if (sl.n > 0 && sl.keys[sl.n - 1] - sl.keys[0] == sl.n - 1)
          jobs[a * chunks + c] = {sl.dots.data(), nullptr, sl.n, v + sl.keys[0] * first.k_stride, sl.acc16.data(),
                                  &sl.m, &sl.s};
        else
          jobs[a * chunks + c] = {sl.dots.data(), sl.keys.data(), sl.n, v, sl.acc16.data(), &sl.m, &sl.s};
      }
    f16_online_softmax(jobs, static_cast<int>(batch) * chunks, first.k_stride, d);
    for (size_t a = 0; a < batch; ++a) {
      const HeadRow it = items[i + a];
      float* o = out + it.r * ldo + it.h * d;
      if (!split) {
        const FlashSlot& sl = slots[a];
        const float inv = sl.s == 0.0f ? 0.0f : 1.0f / sl.s;
        for (int e = 0; e < d; ++e) o[e] = h2f(sl.acc16[e]) * inv;
        continue;
      }
      float m_final = -INFINITY, s_final = 0.0f;
      merged.assign(d, 0.0f);
      for (int c = 0; c < chunks; ++c) {
        const FlashSlot& sl = slots[a * chunks + c];
        if (sl.s == 0.0f) continue;
        const float m_new = std::fmax(m_final, sl.m);
        const float scale_old = expf_flush(m_final - m_new), scale_new = expf_flush(sl.m - m_new);
        // a*b + c*d as the reference's compiler contracts it: the first product fused.
        for (int e = 0; e < d; ++e) merged[e] = std::fma(merged[e], scale_old, h2f(sl.acc16[e]) * scale_new);
        s_final = std::fma(s_final, scale_old, sl.s * scale_new);
        m_final = m_new;
      }
      const float inv = s_final != 0.0f ? 1.0f / s_final : 0.0f;
      for (int e = 0; e < d; ++e) o[e] = merged[e] * inv;
    }
    i += batch;
  }
}

// Buffers of attend_tiled, owned by the network and kept between layers: fresh zeroed pages
// per layer cost more than the softmax. Every element is written before it is read.
struct TiledScratch {
  std::vector<float> keys_t, values_t;
};

// Query rows per task of attend_tiled: a task's rows share the head's widened keys and values
// in cache, and a 30 s window still makes hundreds of tasks to balance two busy cores.
constexpr int kTiledTaskRows = 48;

// The tiled path (ggml_compute_forward_flash_attn_ext_tiled, taken for batches of at least
// GGML_FA_TILE_Q = 64 query rows) for every head: f32 queries (not rounded), keys and values
// widened to f32, keys walked in tiles of GGML_FA_TILE_KV = 64. Per row and tile: each score
// an FMA chain over the head's dimensions (simd_gemm), times the scale; the running maximum
// and sum updated (expf, then ggml_vec_soft_max_f32 of the tile added in double to the float
// sum); the output an FMA chain over the tile's keys continuing from the rescaled
// accumulator. Rows are independent, so how the reference groups them into tiles and threads
// does not matter: here tasks of (head, block of query rows), the pool woken once per
// attention instead of once per head.
template <typename Visible>
void attend_tiled(const float* q, int64_t rows, int64_t ldq, const KvView& kv, int n_head, int d, float scale,
                  Visible visible, float* out, int64_t ldo, TiledScratch& scratch, ThreadPool& pool,
                  const std::atomic<bool>* cancel) {
  constexpr int kTile = 64;
  const int n = kv.n_keys;
  const size_t head_elems = static_cast<size_t>(n) * d;
  auto& keys_t = scratch.keys_t;      // [head][dim][key]
  auto& values = scratch.values_t;    // [head][key][dim]
  keys_t.resize(head_elems * n_head);
  values.resize(head_elems * n_head);
  pool.parallel_for(n_head, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      float* kt = keys_t.data() + h * head_elems;
      float* vh = values.data() + h * head_elems;
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < d; ++i) {
          kt[static_cast<size_t>(i) * n + j] = h2f(key_half(kv, static_cast<int>(h), d, j, i));
          vh[static_cast<size_t>(j) * d + i] = h2f(kv.v[j * kv.k_stride + h * d + i]);
        }
    }
  });
  const int64_t blocks = (rows + kTiledTaskRows - 1) / kTiledTaskRows, tasks = blocks * n_head;
  auto cancelled = [cancel] { return cancel != nullptr && cancel->load(std::memory_order_relaxed); };
  std::atomic<int64_t> next{0};
  pool.run([&](int) {
    thread_local std::vector<float> buf;
    buf.resize(kTiledTaskRows * (kTile + static_cast<size_t>(d)));
    float* const kq = buf.data();                        // [row][kTile]: scores, then weights
    float* const acc = buf.data() + kTiledTaskRows * kTile;  // [row][d]
    float m[kTiledTaskRows], sum[kTiledTaskRows];
    float* ys[kTiledTaskRows];
    const float* ss[kTiledTaskRows];
    // relaxed: the counter only hands out distinct tasks; the pool's join publishes out.
    for (int64_t task = next.fetch_add(1, std::memory_order_relaxed); task < tasks && !cancelled();
         task = next.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t h = task / blocks, r0 = task % blocks * kTiledTaskRows;
      const int nr = static_cast<int>(std::min<int64_t>(rows - r0, kTiledTaskRows));
      const float* kt = keys_t.data() + h * head_elems;
      const float* vh = values.data() + h * head_elems;
      std::fill(acc, acc + static_cast<size_t>(nr) * d, 0.0f);
      std::fill(m, m + nr, -INFINITY);
      std::fill(sum, sum + nr, 0.0f);
      // Tile after tile, every row of the task: each key and value tile is loaded once for
      // all of them (every row's arithmetic is its own, so the grouping changes no bit).
      for (int ic = 0; ic < n; ic += kTile) {
        const int nt = std::min(kTile, n - ic);
        for (int k = 0; k < nr; ++k) {
          ys[k] = kq + k * kTile;
          ss[k] = q + (r0 + k) * ldq + h * d;
          std::fill(ys[k], ys[k] + nt, 0.0f);
        }
        f32_axpy_rows(ys, ss, nr, kt + ic, n, d, nt);
        int takers = 0;
        for (int k = 0; k < nr; ++k) {
          float* s = kq + k * kTile;
          for (int t = 0; t < nt; ++t)
            if (!visible(r0 + k, ic + t)) s[t] = -INFINITY;
          float ms;
          if (!softmax_tile(s, nt, scale, &m[k], &sum[k], &ms)) continue;  // sees none of the tile
          float* a = acc + k * d;
          if (ms != 1.0f)  // a factor of exactly 1 changes no bit
            for (int i = 0; i < d; ++i) a[i] *= ms;
          ys[takers] = a;
          ss[takers] = s;
          ++takers;
        }
        f32_axpy_rows(ys, ss, takers, vh + static_cast<size_t>(ic) * d, d, nt, d);
      }
      for (int k = 0; k < nr; ++k) {
        const float inv = sum[k] == 0.0f ? 0.0f : 1.0f / sum[k];
        float* o = out + (r0 + k) * ldo + h * d;
        for (int i = 0; i < d; ++i) o[i] = acc[k * d + i] * inv;
      }
    }
  });
}

}  // namespace

struct WhisperNetwork::Impl {
  struct Linear {
    MatrixView w;
    const float* b = nullptr;
  };
  struct Norm {
    const float* w = nullptr;
    const float* b = nullptr;
  };
  struct Attention {
    Norm ln;
    Linear q, k, v, o;
  };
  struct EncoderLayer {
    Attention attn;
    Norm mlp_ln;
    Linear mlp0, mlp1;
  };
  struct DecoderLayer {
    Attention self, cross;
    Norm mlp_ln;
    Linear mlp0, mlp1;
  };
  // One cell of the self-attention cache. Like the reference's unified KV cache, cells are
  // shared by the sequences that hold them (a copied sequence shares its source's cells) and
  // attention visits a sequence's cells in cell order, which decides the rounding of the f16
  // accumulator on the flash path.
  struct Cell {
    int pos = -1;        // -1: free
    uint64_t seqs = 0;   // bit s: sequence s holds this cell
  };


  const ModelFile& m;
  ThreadPool& pool;
  bool flash;
  const std::atomic<bool>* cancel = nullptr;  // see set_cancel

  // Relaxed: the flag carries no data; we only need to see it soon.
  bool stopped() const { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
  int n_state, n_head, d_head, n_audio_ctx, n_audio_ctx_pad, n_text_ctx, n_mels, n_vocab;
  MatrixView conv1, conv2;
  std::vector<uint16_t> conv1_f16, conv2_f16;  // f32 kernels rounded to f16 (f32 files only)
  const float *conv1_b, *conv2_b, *enc_pos, *dec_pos;
  Norm ln_post, dec_ln;
  const TensorView* token_embedding;
  MatrixView token_matrix;
  std::vector<EncoderLayer> enc;
  std::vector<DecoderLayer> dec;

  std::vector<float> encoder_out;                 // [n_audio_ctx][n_state]
  // Cross-attention keys [layer][key][n_state], pre-scaled, and values [layer][n_state][key]
  // (flash attention: [layer][key][n_state]); flash attention pads the keys to a multiple of
  // 256 with zero rows that take part in its softmax, as the reference's padded buffers do.
  std::vector<uint16_t> cross_k, cross_vt;
  // With flash attention, decode() regroups the window's cross-attention keys and values by
  // head ([layer][head], values [key][d_head], keys in key blocks) before its first step: a
  // head's attention then reads two contiguous blocks instead of a 128-byte slice of every
  // cache row. encode() writes
  // the row layout above (cross_rows_again() first restores its zero padding rows).
  bool cross_by_head = false;
  int n_seqs = 1;
  int kv_size = 0;              // cells
  std::vector<Cell> cells;
  uint32_t head = 0;            // where the search for free cells starts
  ZeroPages<uint16_t> self_k;  // [layer][cell][n_state] (flash attention: [layer][head], cells in key blocks)
  ZeroPages<uint16_t> self_v;  // [layer][n_state][cell] (flash attention: [layer][head][cell][d_head])
  ThreadPool serial_{1};           // runs a head's products inline inside a parallel task
  std::vector<float> scores_;
  TiledScratch tiled_scratch;
  struct DecodeScratch {
    std::vector<float> x, h, qb, kb, vb, att, proj, mlp, tok, last, logits;
    std::vector<uint64_t> row_seq;
    std::vector<int> row_pos;
    std::vector<uint16_t> key_halves;  // one key row in f16, on its way into the cache's blocks
  } dec_scratch;

  Impl(const ModelFile& model, int n_sequences, bool flash_attention, ThreadPool& p)
      : m(model), pool(p), flash(flash_attention) {
#if defined(__GLIBC__)
    // glibc raises its mmap threshold to the size of each large block freed (up to 32 MB), so
    // after the first window the encoder's buffers come from the heap and stay resident while
    // the decoder runs: -13 MB of peak memory for tiny f16 with a fixed 1 MB threshold, for a
    // few page faults per window.
    static const bool fixed_threshold = [] { return mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1; }();
    (void)fixed_threshold;
#endif
    const Hparams& hp = m.hparams();
    n_state = hp.n_audio_state;
    n_head = hp.n_audio_head;
    d_head = n_state / n_head;
    n_audio_ctx = hp.n_audio_ctx;
    n_audio_ctx_pad = flash ? (n_audio_ctx + 255) / 256 * 256 : n_audio_ctx;
    n_text_ctx = hp.n_text_ctx;
    n_mels = hp.n_mels;
    n_vocab = hp.n_vocab;
    if (hp.n_text_head != n_head) throw std::invalid_argument("encoder and decoder head counts differ");

    auto t = [&](const std::string& name) -> const TensorView& {
      const TensorView* tv = m.tensor(name);
      if (!tv) throw std::logic_error("validated model lacks " + name);
      return *tv;
    };
    auto f32 = [&](const std::string& name) { return static_cast<const float*>(t(name).data); };
    auto linear = [&](const std::string& p, bool bias) {
      Linear l;
      l.w = view_of(t(p + ".weight"));
      l.w.repacked = l.w.type == TensorType::Q4_0 && l.w.rows % 8 == 0;
      if (bias) l.b = f32(p + ".bias");
      return l;
    };
    auto norm = [&](const std::string& p) { return Norm{f32(p + ".weight"), f32(p + ".bias")}; };
    auto attention = [&](const std::string& p) {
      Attention a;
      a.ln = norm(p + "_ln");
      a.q = linear(p + ".query", true);
      a.k = linear(p + ".key", false);
      a.v = linear(p + ".value", true);
      a.o = linear(p + ".out", true);
      return a;
    };
    auto conv = [&](const std::string& name, std::vector<uint16_t>& f16_copy) {
      const TensorView& tv = t(name);
      MatrixView mv;
      mv.rows = tv.ne[2];
      mv.cols = tv.ne[0] * tv.ne[1];
      mv.type = TensorType::F16;
      mv.row_stride = static_cast<size_t>(mv.cols) * 2;
      if (tv.type == TensorType::F32) {
        f16_copy.resize(static_cast<size_t>(mv.rows * mv.cols));
        to_f16(static_cast<const float*>(tv.data), f16_copy.data(), mv.rows * mv.cols);
        mv.data = f16_copy.data();
      } else {
        mv.data = tv.data;
      }
      return mv;
    };
    conv1 = conv("encoder.conv1.weight", conv1_f16);
    conv2 = conv("encoder.conv2.weight", conv2_f16);
    conv1_b = f32("encoder.conv1.bias");
    conv2_b = f32("encoder.conv2.bias");
    enc_pos = f32("encoder.positional_embedding");
    dec_pos = f32("decoder.positional_embedding");
    ln_post = norm("encoder.ln_post");
    dec_ln = norm("decoder.ln");
    token_embedding = &t("decoder.token_embedding.weight");
    token_matrix = view_of(*token_embedding);
    for (int i = 0; i < hp.n_audio_layer; ++i) {
      const std::string p = "encoder.blocks." + std::to_string(i);
      enc.push_back({attention(p + ".attn"), norm(p + ".mlp_ln"), linear(p + ".mlp.0", true), linear(p + ".mlp.2", true)});
    }
    for (int i = 0; i < hp.n_text_layer; ++i) {
      const std::string p = "decoder.blocks." + std::to_string(i);
      dec.push_back({attention(p + ".attn"), attention(p + ".cross_attn"), norm(p + ".mlp_ln"),
                     linear(p + ".mlp.0", true), linear(p + ".mlp.2", true)});
    }
    cross_k.assign(static_cast<size_t>(dec.size()) * n_audio_ctx_pad * n_state, 0);
    cross_vt.assign(cross_k.size(), 0);
    encoder_out.assign(static_cast<size_t>(n_audio_ctx) * n_state, 0.0f);
    if (n_sequences < 1 || n_sequences > 64) throw std::invalid_argument("WhisperNetwork: 1..64 sequences");
    n_seqs = n_sequences;
    // The reference over-allocates its cache for several decoders to live with fragmentation.
    kv_size = (n_text_ctx + 255) / 256 * 256 * (n_seqs > 1 ? std::min(n_seqs, 8) + 2 : 1);
    cells.assign(kv_size, Cell{});
    self_k = ZeroPages<uint16_t>(dec.size() * static_cast<size_t>(kv_size) * n_state);
    self_v = ZeroPages<uint16_t>(self_k.size());
  }

  // The decoder steps' matrices read from their interleaved copies where the model has them
  // (made on the first step, ModelFile::interleaved).
  bool interleaved_bound = false;
  void bind_interleaved() {
    interleaved_bound = true;
    auto bind = [&](MatrixView& v) { v.interleaved = m.interleaved(v.data); };
    bind(token_matrix);
    for (auto& L : dec)
      for (MatrixView* v : {&L.self.q.w, &L.self.k.w, &L.self.v.w, &L.self.o.w, &L.cross.q.w, &L.cross.o.w, &L.mlp0.w,
                            &L.mlp1.w})
        bind(*v);
  }

  // Weights only encode() reads (encode_only_weight): their mapped pages need not stay
  // resident while the decoder runs, the phase where the token embedding and decoder weights
  // are in memory too. They are mapped again on the next window's first reads (a few
  // thousand minor faults against a window's encoding time).
  void release_encoder_weights() {
    for (const auto& t : m.tensors())
      if (encode_only_weight(t.name)) m.release_pages(t.data, t.nbytes);
  }

  // cross_k and cross_vt (flash attention: both [layer][key][n_state]) to head-major order,
  // one layer at a time through a copy of it: the keys in blocks (kernels::key_block_index),
  // the values as rows of d_head. Moves halves only.
  void group_cross_by_head() {
    const size_t keys = static_cast<size_t>(n_audio_ctx_pad), layer = keys * n_state, head = keys * d_head;
    std::vector<uint16_t> rows(layer);
    for (auto* kv : {&cross_k, &cross_vt})
      for (size_t l = 0; l < dec.size(); ++l) {
        uint16_t* block = kv->data() + l * layer;
        std::memcpy(rows.data(), block, layer * sizeof(uint16_t));
        for (int h = 0; h < n_head; ++h)
          for (size_t j = 0; j < keys; ++j) {
            const uint16_t* src = rows.data() + j * n_state + static_cast<size_t>(h) * d_head;
            if (kv == &cross_k) kernels::store_key(block + h * head, static_cast<int64_t>(j), d_head, src);
            else std::memcpy(block + h * head + j * d_head, src, d_head * sizeof(uint16_t));
          }
      }
    cross_by_head = true;
  }

  // Back to the row layout's invariant before encode() rewrites the keys' rows: it writes
  // rows [0, n_audio_ctx) of each layer and relies on the padding rows past them being zero.
  void cross_rows_again() {
    if (!cross_by_head) return;
    const size_t layer = static_cast<size_t>(n_audio_ctx_pad) * n_state, used = static_cast<size_t>(n_audio_ctx) * n_state;
    for (auto* kv : {&cross_k, &cross_vt})
      for (size_t l = 0; l < dec.size(); ++l) std::fill_n(kv->data() + l * layer + used, layer - used, uint16_t{0});
    cross_by_head = false;
  }

  // decode()'s flash attention over keys and values stored by head: head h's at
  // k + h * head_stride (keys in blocks) and v + h * head_stride (one value per d_head halves). What attention()
  // computes over the row layout (each head's keys in the same order, so the same bits), the
  // head's block standing in for the row slice (stride d_head, head 0).
  template <typename Visible>
  void attend_by_head(const float* q, int64_t rows, const uint16_t* k, const uint16_t* v, size_t head_stride,
                      int n_keys, float scale, Visible visible, float* out) {
    auto view = [&](int h) { return KvView{k + h * head_stride, d_head, nullptr, 0, n_keys, v + h * head_stride, true}; };
    if (rows >= kTileRows) {  // a long prompt: the tiled kernel, one head per call
      for (int h = 0; h < n_head && !stopped(); ++h)
        attend_tiled(q + h * d_head, rows, n_state, view(h), 1, d_head, scale, visible, out + h * d_head, n_state,
                     tiled_scratch, pool, cancel);
      return;
    }
    flash_tasks(rows, [&](std::span<const HeadRow> items) {
      attend_rows_flash(q, n_state, items, view, d_head, visible, scale, rows == 1, out, n_state);
    });
  }

  // Flash attention's short batches as head-major tasks of up to five rows (a task's rows of
  // one head, beam search's, share its keys and values in cache); each thread's tasks go to
  // fn(items) at once, so their softmaxes can run side by side across heads.
  template <typename Fn>
  void flash_tasks(int64_t rows, Fn fn) {
    constexpr int64_t kRowsPerTask = kFlashSlots;
    const int64_t groups = (rows + kRowsPerTask - 1) / kRowsPerTask;
    pool.parallel_for(groups * n_head, [&](int64_t b, int64_t e) {
      thread_local std::vector<HeadRow> items;
      items.clear();
      for (int64_t t = b; t < e; ++t) {
        const int64_t r0 = t % groups * kRowsPerTask;
        for (int64_t r = r0; r < std::min(rows, r0 + kRowsPerTask); ++r) items.push_back({static_cast<int>(t / groups), r});
      }
      fn(std::span<const HeadRow>(items));
    });
  }

  void linear_rows(const Linear& l, const float* x, int64_t rows, float* y) {
    matmul(l.w, x, rows, l.w.cols, y, l.w.rows, pool, cancel);
    if (rows < kTileRows) {
      add_bias(y, rows, static_cast<int>(l.w.rows), l.b);
      return;
    }
    // The encoder's 1500 rows: the other thread would only wait.
    pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
      add_bias(y + r0 * l.w.rows, r1 - r0, static_cast<int>(l.w.rows), l.b);
    });
  }

  // x[i] = y[i] + x[i] over rows of n_state, spread over the pool.
  void add_residual(float* x, const float* y, int64_t rows) {
    pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0 * n_state; i < r1 * n_state; ++i) x[i] = y[i] + x[i];
    });
  }

  void to_half_rows(const float* x, uint16_t* y, int64_t rows) {
    pool.parallel_for(rows, [&](int64_t r0, int64_t r1) { to_f16(x + r0 * n_state, y + r0 * n_state, (r1 - r0) * n_state); });
  }

  // Convolution of kernel 3, padding 1, as f16 im2col rows times the f16 kernel.
  void conv1d(const MatrixView& w, const float* bias, const float* x, int64_t in_len, int in_ch, bool channel_major,
              int stride, int64_t out_len, float* y) {
    // im2col a chunk of output frames at a time: the whole matrix would be as large as the
    // output three times over (7 MB for tiny's second convolution), at the peak of memory.
    constexpr int64_t kChunk = 504;  // whole register blocks of rows (see matmul)
    const int64_t row_len = static_cast<int64_t>(in_ch) * 3;
    std::vector<float> cols(static_cast<size_t>(std::min(kChunk, out_len) * row_len));
    for (int64_t c0 = 0; c0 < out_len && !stopped(); c0 += kChunk) {
      const int64_t rows = std::min(kChunk, out_len - c0);
      pool.parallel_for(rows, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          float* row = cols.data() + t * row_len;
          for (int c = 0; c < in_ch; ++c) {
            for (int k = 0; k < 3; ++k) {
              const int64_t pos = (c0 + t) * stride + k - 1;
              float v = 0.0f;
              if (pos >= 0 && pos < in_len) v = channel_major ? x[c * in_len + pos] : x[pos * in_ch + c];
              row[c * 3 + k] = h2f(fp32_to_fp16(v));  // im2col's f16 destination
            }
          }
        }
      });
      matmul(w, cols.data(), rows, row_len, y + c0 * w.rows, w.rows, pool, cancel);
    }
    add_bias(y, out_len, static_cast<int>(w.rows), bias);
    gelu_rows(y, out_len * w.rows, pool);
  }

  // Every head of one attention for `rows` query rows, of a batch of `batch_rows` (the
  // reference picks its kernel by the whole batch). Long query batches (the encoder) run head
  // after head with the products spread over the pool; short ones run heads in parallel.
  template <typename Visible>
  void attention(const float* q, int64_t rows, int64_t batch_rows, const KvView& kv, float scale, Visible visible,
                 float* out) {
    if (flash) {
      if (batch_rows >= kTileRows) {
        attend_tiled(q, rows, n_state, kv, n_head, d_head, scale, visible, out, n_state, tiled_scratch, pool, cancel);
        return;
      }
      // Head h of the row layout as head 0 of a view starting at its slice.
      auto view = [&](int h) {
        KvView head = kv;
        head.k += h * d_head;
        head.v += h * d_head;
        return head;
      };
      flash_tasks(rows, [&](std::span<const HeadRow> items) {
        attend_rows_flash(q, n_state, items, view, d_head, visible, scale, batch_rows == 1, out, n_state);
      });
      return;
    }
    if (rows >= 32) {
      for (int h = 0; h < n_head && !stopped(); ++h)
        attend_head(q, rows, n_state, kv, h, d_head, scale, visible, out, n_state, scores_, pool, cancel);
      return;
    }
    pool.parallel_for(n_head, [&](int64_t h0, int64_t h1) {
      thread_local std::vector<float> scores;
      for (int64_t h = h0; h < h1; ++h)
        attend_head(q, rows, n_state, kv, static_cast<int>(h), d_head, scale, visible, out, n_state, scores, serial_);
    });
  }

  // Keys/values of rows [0, n) of x into f16 storage in this mode's layout (stride = keys).
  void store_values(const float* x, int64_t n, uint16_t* dst, int64_t keys) {
    if (flash) to_f16(x, dst, n * n_state);
    else transpose_to_half(x, n, dst, keys);
  }

  bool encode(const MelSpectrogram& mel, int offset) {
    if (mel.n_mel != n_mels) throw std::invalid_argument("mel has the wrong number of bins for this model");
    const int64_t n_frames = 2 * static_cast<int64_t>(n_audio_ctx);
    // The window, channel-major; frames past the spectrogram are zero as in the reference.
    std::vector<float> window(static_cast<size_t>(n_mels) * n_frames, 0.0f);
    const int64_t i0 = std::min<int64_t>(std::max(offset, 0), mel.n_len);
    const int64_t i1 = std::min<int64_t>(static_cast<int64_t>(std::max(offset, 0)) + n_frames, mel.n_len);
    for (int c = 0; c < n_mels; ++c)
      for (int64_t i = i0; i < i1; ++i)
        window[c * n_frames + (i - i0)] = mel.data[static_cast<size_t>(c) * mel.n_len + i];

    const int64_t n = n_audio_ctx;
    const size_t sz = static_cast<size_t>(n) * n_state;
    // Few buffers, each reused, to keep the peak resident set low: x is the residual stream,
    // h its norm, proj each sub-layer's output; work holds the first convolution's output,
    // then a layer's queries, keys and values (the attention writes over the queries: each
    // of its tasks reads only its own rows and head of them before writing those), then the
    // MLP's hidden rows.
    std::vector<float> work(sz * 4);
    float* const c1 = work.data();  // 2 n frames
    conv1d(conv1, conv1_b, window.data(), n_frames, n_mels, true, 1, n_frames, c1);
    if (stopped()) return false;
    std::vector<float> x(sz);
    conv1d(conv2, conv2_b, c1, n_frames, n_state, false, 2, n, x.data());
    for (int64_t i = 0; i < n * n_state; ++i) x[i] = enc_pos[i] + x[i];

    std::vector<float> h(sz), proj(sz);
    float* const qb = work.data();
    float* const kb = qb + sz;
    float* const vb = kb + sz;
    float* const att = qb;
    float* const mlp = work.data();
    std::vector<uint16_t> k16(static_cast<size_t>(n_audio_ctx_pad) * n_state, 0), vt16(k16.size(), 0);
    const float kq_scale = 1.0f / std::sqrt(static_cast<float>(d_head));
    for (const auto& L : enc) {
      if (stopped()) return false;
      layer_norm(x.data(), h.data(), n, n_state, L.attn.ln.w, L.attn.ln.b, pool);
      linear_rows(L.attn.q, h.data(), n, qb);
      linear_rows(L.attn.k, h.data(), n, kb);
      linear_rows(L.attn.v, h.data(), n, vb);
      if (stopped()) return false;
      // The reference casts K and V (transposed) to f16 before its attention products.
      to_half_rows(kb, k16.data(), n);
      if (flash) to_half_rows(vb, vt16.data(), n);
      else store_values(vb, n, vt16.data(), n);
      const KvView kv{k16.data(), n_state, vt16.data(), n, n_audio_ctx_pad, vt16.data()};
      attention(qb, n, n, kv, kq_scale, [](int64_t, int) { return true; }, att);
      if (stopped()) return false;
      linear_rows(L.attn.o, att, n, proj.data());
      add_residual(x.data(), proj.data(), n);

      layer_norm(x.data(), h.data(), n, n_state, L.mlp_ln.w, L.mlp_ln.b, pool);
      linear_rows(L.mlp0, h.data(), n, mlp);
      if (stopped()) return false;
      gelu_rows(mlp, static_cast<int64_t>(sz) * 4, pool);
      linear_rows(L.mlp1, mlp, n, proj.data());
      add_residual(x.data(), proj.data(), n);
    }
    layer_norm(x.data(), encoder_out.data(), n, n_state, ln_post.w, ln_post.b, pool);
    // Kept across the heads and layers of a window, not between windows: decoding runs between
    // them and the peak memory would be the sum of both.
    tiled_scratch = TiledScratch{};

    // Cross-attention keys (pre-scaled by d^-1/4) and transposed values, once per window.
    const float k_scale = static_cast<float>(std::pow(static_cast<float>(d_head), -0.25));
    for (size_t l = 0; l < dec.size(); ++l) {
      if (stopped()) return false;
      linear_rows(dec[l].cross.k, encoder_out.data(), n, kb);
      for (size_t i = 0; i < sz; ++i) kb[i] *= k_scale;
      linear_rows(dec[l].cross.v, encoder_out.data(), n, vb);
      const size_t base = l * static_cast<size_t>(n_audio_ctx_pad) * n_state;
      to_f16(kb, cross_k.data() + base, static_cast<int64_t>(sz));
      store_values(vb, n, cross_vt.data() + base, n);
    }
    return !stopped();
  }

  // rows x n_state f32 -> n_state rows of f16, row i holding column i (stride `stride`).
  void transpose_to_half(const float* x, int64_t rows, uint16_t* y, int64_t stride) {
    pool.parallel_for(n_state, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = 0; r < rows; ++r) y[c * stride + r] = fp32_to_fp16(x[r * n_state + c]);
    });
  }

  bool decode(std::span<const DecodeItem> items) {
    int64_t total = 0;
    for (const auto& it : items) {
      if (it.sequence < 0 || it.sequence >= n_seqs)
        throw std::out_of_range("decode: sequence out of range");
      if (it.n_tokens < 1 || it.n_past < 0 || it.n_past + it.n_tokens > n_text_ctx)
        throw std::out_of_range("decode: tokens do not fit the text context");
      for (int i = 0; i < it.n_tokens; ++i)
        if (it.tokens[i] < 0 || it.tokens[i] >= n_vocab) throw std::out_of_range("decode: token id out of range");
      total += it.n_tokens;
    }
    if (total == 0) return true;
    const size_t sz = static_cast<size_t>(total) * n_state;
    // Buffers kept between calls (one call per token); each is written before it is read.
    auto& [x, h, qb, kb, vb, att, proj, mlp, tok, last, logits, row_seq, row_pos, key_halves] = dec_scratch;
    key_halves.resize(n_state);
    for (auto* v : {&x, &h, &qb, &kb, &vb, &att, &proj}) v->resize(sz);
    mlp.resize(sz * 4);
    {
      tok.resize(n_state);
      int64_t r = 0;
      for (const auto& it : items) {
        for (int i = 0; i < it.n_tokens; ++i, ++r) {
          dequantize_row(*token_embedding, it.tokens[i], tok.data());
          const float* pe = dec_pos + static_cast<size_t>(it.n_past + i) * n_state;
          for (int c = 0; c < n_state; ++c) x[r * n_state + c] = tok[c] + pe[c];
        }
      }
    }
    // Cells for the batch, found as the reference finds them (positions a sequence already
    // holds at or past n_past are dropped first; in the reference's own flow there are none).
    for (const auto& it : items) remove_cells(it.sequence, it.n_past, INT32_MAX);
    const int64_t slot = find_slot(total);
    {
      int64_t r = 0;
      for (const auto& it : items)
        for (int i = 0; i < it.n_tokens; ++i, ++r) {
          cells[slot + r].pos = it.n_past + i;
          cells[slot + r].seqs |= uint64_t{1} << it.sequence;
        }
    }
    // Per batch row: its sequence's bit and the last position it may see.
    row_seq.clear();
    row_pos.clear();
    for (const auto& it : items)
      for (int i = 0; i < it.n_tokens; ++i) {
        row_seq.push_back(uint64_t{1} << it.sequence);
        row_pos.push_back(it.n_past + i);
      }
    int n_kv = 1;  // cells up to the last one in use
    for (int i = kv_size - 1; i > 0; --i)
      if (cells[i].pos >= 0 && cells[i].seqs) {
        n_kv = i + 1;
        break;
      }
    const float kq_scale = static_cast<float>(std::pow(static_cast<float>(d_head), -0.25));
    if (flash && !cross_by_head) group_cross_by_head();
    if (total <= kernels::kInterleavedMaxRows && !interleaved_bound) bind_interleaved();
    // A step's few rows: norms and GELU inline, a pool hand-off would cost more than they do.
    ThreadPool& rows_pool = total <= 8 ? serial_ : pool;
    const size_t kv_layer = static_cast<size_t>(kv_size) * n_state;
    const size_t cross_stride = static_cast<size_t>(n_audio_ctx_pad) * n_state;
    for (size_t l = 0; l < dec.size(); ++l) {
      if (stopped()) return false;
      const auto& L = dec[l];
      // Self-attention: new keys and values into each sequence's cache, then attend causally.
      layer_norm(x.data(), h.data(), total, n_state, L.self.ln.w, L.self.ln.b, rows_pool);
      linear_rows(L.self.q, h.data(), total, qb.data());
      for (size_t i = 0; i < sz; ++i) qb[i] *= kq_scale;
      linear_rows(L.self.k, h.data(), total, kb.data());
      for (size_t i = 0; i < sz; ++i) kb[i] *= kq_scale;
      linear_rows(L.self.v, h.data(), total, vb.data());
      uint16_t* k = self_k.data() + l * kv_layer;
      uint16_t* v = self_v.data() + l * kv_layer;
      // Flash attention keeps the layer's cache by head, as the cross-attention's, so a head's
      // attention reads contiguous memory: [head][cell][d_head] values, keys in blocks of cells.
      const size_t self_head = static_cast<size_t>(kv_size) * d_head;
      for (int64_t r = 0; r < total; ++r) {
        const int64_t c = slot + r;
        if (flash) {
          to_f16(&kb[r * n_state], key_halves.data(), n_state);
          for (int hd = 0; hd < n_head; ++hd) {
            kernels::store_key(k + hd * self_head, c, d_head, &key_halves[hd * d_head]);
            to_f16(&vb[r * n_state + hd * d_head], v + hd * self_head + static_cast<size_t>(c) * d_head, d_head);
          }
          continue;
        }
        to_f16(&kb[r * n_state], k + c * n_state, n_state);
        for (int i = 0; i < n_state; ++i) v[static_cast<int64_t>(i) * kv_size + c] = fp32_to_fp16(vb[r * n_state + i]);
      }
      const KvView kv{k, n_state, v, kv_size, n_kv, v};
      if (flash) {
        // Every row of every item in one pass over the pool (each row's result is its own, so
        // this is what a pass per item gives, with one hand-off instead of one per sequence).
        attend_by_head(qb.data(), total, k, v, self_head, n_kv, 1.0f,
                       [&](int64_t r, int j) { return (cells[j].seqs & row_seq[r]) && cells[j].pos <= row_pos[r]; },
                       att.data());
      }
      int64_t r0 = 0;
      for (const auto& it : items) {
        if (flash) break;
        const uint64_t bit = uint64_t{1} << it.sequence;
        const int pos0 = it.n_past;
        attention(&qb[r0 * n_state], it.n_tokens, total, kv, 1.0f,
                  [&](int64_t r, int j) { return (cells[j].seqs & bit) && cells[j].pos <= pos0 + r; },
                  &att[r0 * n_state]);
        r0 += it.n_tokens;
      }
      linear_rows(L.self.o, att.data(), total, proj.data());
      for (size_t i = 0; i < sz; ++i) x[i] = proj[i] + x[i];

      // Cross-attention over the window's encoder output; the scale is applied in the softmax.
      layer_norm(x.data(), h.data(), total, n_state, L.cross.ln.w, L.cross.ln.b, rows_pool);
      linear_rows(L.cross.q, h.data(), total, qb.data());
      if (flash) {
        const size_t head = static_cast<size_t>(n_audio_ctx_pad) * d_head;
        attend_by_head(qb.data(), total, cross_k.data() + l * cross_stride, cross_vt.data() + l * cross_stride, head,
                       n_audio_ctx_pad, kq_scale, [](int64_t, int) { return true; }, att.data());
      } else {
        const KvView ckv{cross_k.data() + l * cross_stride, n_state, cross_vt.data() + l * cross_stride, n_audio_ctx,
                         n_audio_ctx_pad, cross_vt.data() + l * cross_stride};
        attention(qb.data(), total, total, ckv, kq_scale, [](int64_t, int) { return true; }, att.data());
      }
      linear_rows(L.cross.o, att.data(), total, proj.data());
      for (size_t i = 0; i < sz; ++i) x[i] = proj[i] + x[i];

      layer_norm(x.data(), h.data(), total, n_state, L.mlp_ln.w, L.mlp_ln.b, rows_pool);
      linear_rows(L.mlp0, h.data(), total, mlp.data());
      gelu_rows(mlp.data(), static_cast<int64_t>(sz) * 4, rows_pool);
      linear_rows(L.mlp1, mlp.data(), total, proj.data());
      for (size_t i = 0; i < sz; ++i) x[i] = proj[i] + x[i];
    }
    // Final norm and logits for each item's last token.
    last.resize(static_cast<size_t>(items.size()) * n_state);
    {
      int64_t r = -1;
      for (size_t k = 0; k < items.size(); ++k) {
        r += items[k].n_tokens;
        layer_norm_row(&x[r * n_state], &last[k * n_state], n_state, dec_ln.w, dec_ln.b);
      }
    }
    // Straight into the callers' rows when they are one block (the decoder's batch is), else
    // through a scratch and a copy.
    bool one_block = true;
    for (size_t k = 0; k < items.size(); ++k)
      one_block = one_block && items[0].logits && items[k].logits == items[0].logits + k * n_vocab;
    float* out = items[0].logits;
    if (!one_block) {
      logits.resize(static_cast<size_t>(items.size()) * n_vocab);
      out = logits.data();
    }
    matmul(token_matrix, last.data(), static_cast<int64_t>(items.size()), n_state, out, n_vocab, pool, cancel);
    if (stopped()) return false;
    for (size_t k = 0; k < items.size() && !one_block; ++k)
      if (items[k].logits) std::memcpy(items[k].logits, &logits[k * n_vocab], n_vocab * sizeof(float));
    // Single-token steps (the common call) keep their buffers; a prompt's larger ones go.
    if (total >= kTileRows) {
      dec_scratch = DecodeScratch{};
      tiled_scratch = TiledScratch{};
    }
    return true;
  }

  // whisper_kv_cache_find_slot: the first run of n free cells at or after head, wrapping.
  int64_t find_slot(int64_t n) {
    if (n > kv_size) throw std::length_error("decode: batch larger than the cache");
    int64_t tested = 0;
    for (;;) {
      if (head + n > kv_size) {
        tested += kv_size - head;
        head = 0;
        continue;
      }
      bool found = true;
      for (int64_t i = 0; i < n; ++i)
        if (cells[head + i].pos >= 0) {
          found = false;
          head += static_cast<uint32_t>(i + 1);
          tested += i + 1;
          break;
        }
      if (found) return head;
      if (tested >= kv_size) throw std::length_error("decode: self-attention cache full");
    }
  }

  // whisper_kv_cache_seq_rm: sequence seq (all if < 0) lets go of positions [p0, p1); cells
  // nobody holds any more are freed and the search for free cells restarts at the first.
  void remove_cells(int seq, int p0, int p1) {
    uint32_t new_head = kv_size;
    for (int i = 0; i < kv_size; ++i) {
      Cell& c = cells[i];
      if (c.pos < p0 || c.pos >= p1) continue;
      if (seq < 0) c.seqs = 0;
      else if (c.seqs & (uint64_t{1} << seq)) c.seqs &= ~(uint64_t{1} << seq);
      else continue;
      if (!c.seqs) {
        c.pos = -1;
        if (new_head == static_cast<uint32_t>(kv_size)) new_head = i;
      }
    }
    if (new_head != static_cast<uint32_t>(kv_size)) head = new_head;
  }

  void check_sequence(int seq, const char* what) const {
    if (seq < 0 || seq >= n_seqs) throw std::out_of_range(std::string(what) + ": sequence out of range");
  }

  // rm(dst) then whisper_kv_cache_seq_cp(src -> dst, positions < n_tokens): dst shares src's cells.
  void copy_sequence(int src, int dst, int n_tokens) {
    check_sequence(src, "copy_sequence");
    check_sequence(dst, "copy_sequence");
    if (src == dst) return;
    remove_cells(dst, 0, INT32_MAX);
    head = 0;
    for (auto& c : cells)
      if ((c.seqs & (uint64_t{1} << src)) && c.pos >= 0 && c.pos < n_tokens) c.seqs |= uint64_t{1} << dst;
  }

  void remove_sequence(int seq) {
    check_sequence(seq, "remove_sequence");
    remove_cells(seq, 0, INT32_MAX);
  }

  void clear_cache() {
    std::fill(cells.begin(), cells.end(), Cell{});
    head = 0;
  }
};

bool encode_only_weight(std::string_view name) {
  return name.starts_with("encoder.") || name.find(".cross_attn.key.") != std::string_view::npos ||
         name.find(".cross_attn.value.") != std::string_view::npos;
}

WhisperNetwork::WhisperNetwork(std::shared_ptr<const ModelFile> model, int n_sequences, ThreadPool& pool,
                               bool flash_attention)
    : model_(std::move(model)), impl_(std::make_unique<Impl>(*model_, n_sequences, flash_attention, pool)) {}

WhisperNetwork::~WhisperNetwork() = default;

int WhisperNetwork::n_vocab() const { return impl_->n_vocab; }
int WhisperNetwork::n_sequences() const { return impl_->n_seqs; }

void WhisperNetwork::set_cancel(const std::atomic<bool>* flag) { impl_->cancel = flag; }
bool WhisperNetwork::encode(const MelSpectrogram& mel, int offset) {
  impl_->cross_rows_again();
  const bool ok = impl_->encode(mel, offset);
  impl_->release_encoder_weights();
  return ok;
}
const float* WhisperNetwork::encoder_output() const { return impl_->encoder_out.data(); }
bool WhisperNetwork::decode(std::span<const DecodeItem> items) { return impl_->decode(items); }
void WhisperNetwork::copy_sequence(int src, int dst, int n_tokens) { impl_->copy_sequence(src, dst, n_tokens); }
void WhisperNetwork::remove_sequence(int seq) { impl_->remove_sequence(seq); }
void WhisperNetwork::clear_cache() { impl_->clear_cache(); }

}  // namespace thoth::asr
