#include "asr/matmul.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "asr/expf_flush.h"
#include "asr/kernels.h"
#include "asr/thread_pool.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace thoth::asr {

namespace {

using kernels::KernelTable;

struct Variant {
  const KernelTable* table;
  bool supported;
};

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + F16C, with the OS saving YMM state
  bool avx512 = false;  // AVX-512 F/BW/VL/DQ + VNNI, with the OS saving ZMM and mask state
};

CpuFeatures detect_cpu() {
  CpuFeatures f;
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12),
             f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  // The CPU having a register file is not enough: the OS must save it on context switch.
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool os_ymm = (xcr0_lo & 0x6u) == 0x6u;          // SSE and AVX state
  const bool os_zmm = (xcr0_lo & 0xe6u) == 0xe6u;        // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31), vnni = c & (1u << 11);
  f.avx2 = os_ymm && avx2 && fma && f16c;
  f.avx512 = f.avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl && vnni;
  // AMX is never used: a CPU may advertise it while the kernel refuses the tile state.
#endif
  return f;
}

std::vector<Variant> variants() {
  static const CpuFeatures cpu = detect_cpu();
  std::vector<Variant> v;
  v.push_back({&kernels::scalar_table(), true});
  if (const KernelTable* t = kernels::avx2_table()) v.push_back({t, cpu.avx2});
  if (const KernelTable* t = kernels::avx512_table()) v.push_back({t, cpu.avx512});
  return v;
}

// The table in use. Relaxed is enough: a table is immutable static data, and switching
// variants happens only between matmul() calls (select_kernels' contract).
std::atomic<const KernelTable*> g_table{nullptr};

const KernelTable* best_table() {
  const KernelTable* best = &kernels::scalar_table();
  for (const auto& v : variants())
    if (v.supported) best = v.table;
  return best;
}

const KernelTable* find_table(std::string_view name) {
  for (const auto& v : variants())
    if (v.supported && name == v.table->name) return v.table;
  return nullptr;
}

std::string variant_list() {
  std::string s;
  for (const auto& name : available_kernels()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

const KernelTable& table() {
  const KernelTable* t = g_table.load(std::memory_order_relaxed);
  if (t != nullptr) return *t;
  static const bool once = [] {
    if (auto r = init_kernels(); !r.ok())
      std::fprintf(stderr, "thoth: %s; using %s\n", r.error().c_str(), kernel_name());
    return true;
  }();
  (void)once;
  return *g_table.load(std::memory_order_relaxed);
}

// Scratch for converted activations, per calling thread (several transcriptions may run at
// once, each on its own thread with its own pool).
std::vector<uint8_t>& scratch() {
  thread_local std::vector<uint8_t> buf;
  return buf;
}

// Tile sizes: a tile's weight rows and activation rows both stay in L2 while the
// micro-kernel reuses each converted activation row across its weight rows.
constexpr size_t kWeightTileBytes = 96 * 1024;
constexpr size_t kActTileBytes = 192 * 1024;
// Converted activations of one call at most (a few activation tiles).
constexpr size_t kScratchBytes = 2 * 1024 * 1024;
// Scratch kept however small the current call's need.
constexpr size_t kKeepScratchBytes = 256 * 1024;

// Activation rows per tile: as many as fit kActTileBytes, in whole register blocks (3, 4 or 6
// rows per block in every variant: a tile's leftover rows take the kernels' slower narrow
// blocks).
int64_t activation_tile_rows(size_t row_bytes) {
  const int64_t tn = std::clamp<int64_t>(static_cast<int64_t>(kActTileBytes / std::max<size_t>(row_bytes, 1)), 1, 256);
  return tn > 12 ? tn / 12 * 12 : tn;
}

// Tiles 0..n-1 in one contiguous run per thread, each taken front to back, so a thread's
// weight reads are one stream (its prefetches run on into its next tile; with tiles handed
// out in turn, a decoder step's small products restarted a cold stream every few kilobytes).
// A thread whose run is empty takes tiles from the back of the others', so one slowed by
// other load on the machine does not hold the rest back.
class TileRuns {
 public:
  TileRuns(int64_t n, int threads) : count_(std::min(threads, kMaxRuns)) {
    for (int i = 0; i < count_; ++i)
      runs_[i].v.store(pack(n * i / count_, n * (i + 1) / count_), std::memory_order_relaxed);
  }

  // Each tile goes to exactly one taker. relaxed: a run's word only hands out distinct
  // indices; the pool's join publishes the outputs.
  bool take(int thread, int64_t& tile) {
    if (thread < count_ && take_from(runs_[thread].v, true, tile)) return true;
    for (int i = 1; i <= count_; ++i)
      if (take_from(runs_[(thread + i) % count_].v, false, tile)) return true;
    return false;
  }

 private:
  static constexpr int kMaxRuns = 64;
  static uint64_t pack(int64_t front, int64_t back) {
    return static_cast<uint64_t>(front) << 32 | static_cast<uint64_t>(back);
  }

  static bool take_from(std::atomic<uint64_t>& run, bool front, int64_t& tile) {
    uint64_t v = run.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t f = static_cast<int64_t>(v >> 32), b = static_cast<int64_t>(v & 0xffffffffu);
      if (f >= b) return false;
      if (run.compare_exchange_weak(v, front ? pack(f + 1, b) : pack(f, b - 1), std::memory_order_relaxed)) {
        tile = front ? f : b - 1;
        return true;
      }
    }
  }

  struct alignas(64) Run {
    std::atomic<uint64_t> v{0};
  };
  int count_;
  Run runs_[kMaxRuns];
};

}  // namespace

const char* kernel_name() { return table().name; }

bool reads_interleaved(TensorType type) {
  const kernels::TypeKernels* tk = table().for_type(type);
  return (type == TensorType::Q5_1 || type == TensorType::Q8_0) && tk != nullptr && tk->gemv_interleaved != nullptr;
}

void exp_shifted(const float* x, float shift, float* out, int64_t n) { table().exp_shifted(x, shift, out, n); }
void libm_expf_shifted(const float* x, float shift, float* out, int64_t n) {
  table().libm_expf_shifted(x, shift, out, n);
}
void f16_axpy(uint16_t* acc, const uint16_t* v, float s, int64_t n) { table().f16_axpy(acc, v, s, n); }
void f32_axpy_rows(float* const* y, const float* const* s, int nr, const float* x, int64_t x_stride, int64_t count,
                   int64_t n) {
  const auto& t = table();
  for (int r = 0; r < nr; r += kernels::kAxpyRows)
    t.f32_axpy_rows(y + r, s + r, std::min(nr - r, kernels::kAxpyRows), x, x_stride, count, n);
}
void f32_axpy(float* y, const float* x, int64_t x_stride, const float* s, int64_t count, int64_t n) {
  table().f32_axpy(y, x, x_stride, s, count, n);
}
void f16_scale(uint16_t* acc, float s, int64_t n) { table().f16_scale(acc, s, n); }
bool softmax_tile(float* kq, int64_t nt, float scale, float* m, float* sum, float* ms) {
  return table().softmax_tile(kq, nt, scale, m, sum, ms);
}
void f16_online_softmax(const kernels::OnlineSoftmaxJob* jobs, int count, int64_t stride, int64_t d) {
  table().f16_online_softmax(jobs, count, stride, d);
}
void dot_f16_blocked(const uint16_t* blocks, int64_t n_blocks, const uint16_t* const* q, int nq, int64_t d,
                     float* const* out) {
  const auto& t = table();
  for (int r = 0; r < nq; r += kernels::kDotQueries)
    t.dot_f16_blocked(blocks, n_blocks, q + r, std::min(nq - r, kernels::kDotQueries), d, out + r);
}
void to_f16(const float* x, uint16_t* y, int64_t n) { table().to_f16(x, y, n); }
void gelu_f16(float* x, int64_t n, const uint16_t* gelu) { table().gelu_f16(x, n, gelu); }

std::vector<std::string> available_kernels() {
  std::vector<std::string> names;
  for (const auto& v : variants())
    if (v.supported) names.emplace_back(v.table->name);
  return names;
}

Result<void> select_kernels(std::string_view name) {
  const KernelTable* t = find_table(name);
  if (t == nullptr)
    return make_error("kernel variant '" + std::string(name) +
                      "' is not available on this machine (available: " + variant_list() + ")");
  g_table.store(t, std::memory_order_relaxed);
  return {};
}

Result<void> init_kernels() {
  const char* env = std::getenv("THOTH_KERNELS");
  if (env != nullptr && *env != '\0') {
    if (const KernelTable* t = find_table(env)) {
      g_table.store(t, std::memory_order_relaxed);
      return {};
    }
    g_table.store(best_table(), std::memory_order_relaxed);
    return make_error(std::string("THOTH_KERNELS=") + env +
                      " is not a kernel variant this machine can run (available: " +
                      variant_list() + ")");
  }
  g_table.store(best_table(), std::memory_order_relaxed);
  return {};
}

namespace {

// The product for rows of x, with the weights' panel when the batch has one (then every tile
// takes the panel kernel, whatever its number of rows).
void matmul_rows(const kernels::TypeKernels* tk, const MatrixView& w, const float* panel, const float* x, int64_t n,
                 int64_t ldx, float* y, int64_t ldy, ThreadPool& pool, const std::atomic<bool>* cancel) {
  const int64_t m = w.rows, k = w.cols;
  // Long batches (the encoder's 1500 rows) in chunks of rows: their converted activations
  // would otherwise be a scratch as large as the input (9 MB for an f16 model's MLP), kept by
  // the thread for the rest of its life. Outputs do not depend on the tiling (kernels.h).
  if (tk->x_row_bytes != nullptr) {
    const size_t row = tk->x_row_bytes(k);
    const int64_t tn = activation_tile_rows(row);  // as the tiles below
    const int64_t chunk = std::max<int64_t>(tn, static_cast<int64_t>(kScratchBytes / std::max<size_t>(row, 1)) / tn * tn);
    if (n > chunk) {
      for (int64_t i0 = 0; i0 < n; i0 += chunk) {
        if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return;
        matmul_rows(tk, w, panel, x + i0 * ldx, std::min(chunk, n - i0), ldx, y + i0 * ldy, ldy, pool, cancel);
      }
      return;
    }
  }

  // 1. Activations into the weight type's partner format, once for all weight rows.
  const uint8_t* xc = reinterpret_cast<const uint8_t*>(x);
  size_t x_stride = static_cast<size_t>(ldx) * sizeof(float);
  if (tk->x_row_bytes != nullptr) {
    x_stride = tk->x_row_bytes(k);
    auto& buf = scratch();
    const size_t need = x_stride * n;
    if (buf.size() < need) buf.resize(need);
    // A decoder step after a window's encoding needs a few kilobytes of the megabytes the
    // encoder's batches left: give them back for the decoding phase.
    else if (buf.size() > kKeepScratchBytes && need < buf.size() / 8) std::vector<uint8_t>(need).swap(buf);
    uint8_t* dst = buf.data();
    auto convert = panel != nullptr ? tk->convert_row_panel : tk->convert_row;
    auto convert_rows = [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) convert(x + i * ldx, dst + i * x_stride, k);
    };
    if (panel != nullptr && tk->convert_panel_block != nullptr) {
      // Blocks of rows (panel_x_offset), counted from each tile's first row: a tile's blocks,
      // then the next tile's (the last block of a tile may be short).
      const int block = tk->panel_x_block;
      const int64_t tn = activation_tile_rows(x_stride), per_tile = (tn + block - 1) / block;
      const int64_t n_blocks = (n + tn - 1) / tn * per_tile;
      auto convert_blocks = [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t s = q / per_tile * tn, first = s + q % per_tile * block;
          const int64_t last = std::min({first + block, s + tn, n});
          if (first < last)
            tk->convert_panel_block(x + first * ldx, ldx, static_cast<int>(last - first), dst + first * x_stride, k);
        }
      };
      if (n * k >= 32768) pool.parallel_for(n_blocks, convert_blocks);
      else convert_blocks(0, n_blocks);
    } else if (n * k >= 32768) {
      pool.parallel_for(n, convert_rows);
    } else {
      convert_rows(0, n);
    }
    xc = dst;
  }

  // 2. Tiles of (weight rows x activation rows), handed out dynamically so a thread slowed
  //    by other load on the machine does not hold the rest back.
  const size_t w_row = w.row_stride;
  int64_t tm = std::clamp<int64_t>(static_cast<int64_t>(kWeightTileBytes / std::max<size_t>(w_row, 1)), 4, 256);
  const int64_t tn = activation_tile_rows(x_stride);
  tm = tm / 4 * 4;
  const int threads = pool.size();
  if (panel != nullptr) {
    tm = std::max<int64_t>(kernels::kPanelRows, tm / kernels::kPanelRows * kernels::kPanelRows);
  } else if (n <= 5) {
    // Decoder-like (one row per sequence): only weight rows to split; enough tiles to
    // balance, few enough to be cheap.
    tm = std::max<int64_t>(4, std::min<int64_t>(tm, (m + 8 * threads - 1) / (8 * threads)));
    tm = (tm + 3) / 4 * 4;
  }
  const int64_t m_tiles = (m + tm - 1) / tm, n_tiles = (n + tn - 1) / tn;
  const int64_t n_total = m_tiles * n_tiles;
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  auto gemm = tk->gemm;
  const int64_t panel_group = panel != nullptr ? static_cast<int64_t>(tk->panel_bytes(kernels::kPanelRows, k) / sizeof(float)) : 0;
  // A decoder step reads interleaved rows where there are any (tiles start at multiples of 4).
  const bool interleaved = w.interleaved != nullptr && tk->gemv_interleaved != nullptr && panel == nullptr &&
                           n <= kernels::kInterleavedMaxRows && tm % 4 == 0;
  const size_t group_bytes = 4 * row_bytes(w.type, k);  // a group's records are as large as its rows
  auto run_tile = [&](int64_t t) {
    // Activation tile outer: consecutive tiles of a thread share the same activation rows.
    const int64_t it = t / m_tiles, mt = t % m_tiles;
    kernels::GemmTile tile;
    const int64_t r0 = mt * tm, i0 = it * tn;
    tile.w = wbase + r0 * w_row;
    tile.w_stride = w_row;
    tile.m = std::min(tm, m - r0);
    tile.x = xc + i0 * x_stride;
    tile.x_stride = x_stride;
    tile.n = std::min(tn, n - i0);
    tile.k = k;
    tile.y = y + i0 * ldy + r0;
    tile.ldy = ldy;
    if (panel != nullptr) tile.panel = panel + r0 / kernels::kPanelRows * panel_group;
    if (interleaved) {
      const int64_t whole = tile.m / 4 * 4;
      if (whole > 0) {
        kernels::GemmTile rows = tile;
        rows.m = whole;
        rows.interleaved = static_cast<const uint8_t*>(w.interleaved) + r0 / 4 * group_bytes;
        tk->gemv_interleaved(rows);
      }
      if (whole == tile.m) return;
      tile.w += whole * w_row;
      tile.y += whole;
      tile.m -= whole;
    }
    gemm(tile);
  };
  // Relaxed: the flag carries no data; a tile more or less before seeing it does not matter.
  auto cancelled = [cancel] { return cancel != nullptr && cancel->load(std::memory_order_relaxed); };
  if (threads == 1 || n_total == 1) {
    for (int64_t t = 0; t < n_total && !cancelled(); ++t) run_tile(t);
    return;
  }
  TileRuns runs(n_total, threads);
  pool.run([&](int thread) {
    int64_t t = 0;
    while (!cancelled() && runs.take(thread, t)) run_tile(t);
  });
}

// The weights' panel, per calling thread: rebuilt by every batch product, kept between them
// (the encoder's products each need one; the largest, the MLP's, sets the size).
const float* weight_panel(const kernels::TypeKernels* tk, const MatrixView& w, ThreadPool& pool) {
  thread_local std::vector<float> buf;
  const size_t floats = tk->panel_bytes(w.rows, w.cols) / sizeof(float);
  constexpr size_t kAlign = 64 / sizeof(float);
  if (buf.size() < floats + kAlign) buf.resize(floats + kAlign);
  float* panel = buf.data();
  panel += (kAlign - reinterpret_cast<uintptr_t>(panel) / sizeof(float) % kAlign) % kAlign;
  const int64_t groups = (w.rows + kernels::kPanelRows - 1) / kernels::kPanelRows;
  const auto* rows = static_cast<const uint8_t*>(w.data);
  auto build = tk->build_panel;
  pool.parallel_for(groups, [&](int64_t g0, int64_t g1) {
    build(rows, w.row_stride, w.rows, w.cols, g0, g1, panel);
  });
  return panel;
}

}  // namespace

void matmul(const MatrixView& w, const float* x, int64_t n, int64_t ldx, float* y, int64_t ldy,
            ThreadPool& pool, const std::atomic<bool>* cancel) {
  if (n <= 0 || w.rows <= 0) return;
  const kernels::TypeKernels* tk =
      w.repacked && w.type == TensorType::Q4_0 ? &table().q4_0_repacked : table().for_type(w.type);
  if (tk == nullptr || tk->gemm == nullptr) {
    std::fprintf(stderr, "thoth: matmul on weights of type %s is not supported\n", type_name(w.type));
    std::abort();  // a bug: the loader admits only file tensor types
  }
  const float* panel =
      tk->panel_bytes != nullptr && n >= kernels::kPanelMinRows ? weight_panel(tk, w, pool) : nullptr;
  matmul_rows(tk, w, panel, x, n, ldx, y, ldy, pool, cancel);
}

namespace kernels {
void libm_expf_shifted_loop(const float* x, float shift, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = expf_flush(x[j] - shift);
}

bool libm_expf_agrees(void (*f)(const float* x, float shift, float* out, int64_t n)) {
  std::vector<float> x;
  for (int e = -30; e <= 7; ++e)  // |x| from 2^-30 to 256: past the fast path's 88 both ways
    for (int m = 0; m < 64; ++m) {
      const float v = std::ldexp(1.0f + static_cast<float>(m) / 64.0f + 0x1p-20f * static_cast<float>(m), e);
      x.push_back(v);
      x.push_back(-v);
    }
  for (float v : {0.0f, -0.0f, 88.0f, -88.0f, 88.72f, -103.9f, -104.0f, -110.0f, INFINITY, -INFINITY, NAN})
    x.push_back(v);
  std::vector<float> got(x.size()), want(x.size());
  f(x.data(), 0.0f, got.data(), static_cast<int64_t>(x.size()));
  libm_expf_shifted_loop(x.data(), 0.0f, want.data(), static_cast<int64_t>(x.size()));
  return std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0;
}

void f16_online_softmax_generic(const KernelTable& t, const OnlineSoftmaxJob& job, int64_t stride, int64_t d) {
  float mx = *job.m, sm = *job.sum;
  uint16_t* acc = job.acc;
  for (int64_t j = 0; j < job.n; ++j) {
    const float s = job.scores[j];
    const uint16_t* vrow = job.v + (job.rows ? job.rows[j] : j) * stride;
    float ms = 1.0f, vs = 1.0f;
    if (s > mx) {
      const float m_old = mx;
      mx = s;
      ms = expf_flush(m_old - mx);
      t.f16_scale(acc, ms, d);
    } else {
      vs = expf_flush(s - mx);
    }
    t.f16_axpy(acc, vrow, vs, d);
    sm = std::fma(sm, ms, vs);
  }
  *job.m = mx;
  *job.sum = sm;
}
}  // namespace kernels

}  // namespace thoth::asr
