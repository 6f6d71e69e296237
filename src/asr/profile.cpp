#include "asr/profile.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "asr/matmul.h"
#include "asr/mel.h"
#include "asr/model_file.h"
#include "asr/network.h"
#include "asr/thread_pool.h"

namespace thoth::asr {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

constexpr int64_t kWindowSamples = 30 * 16000;

}  // namespace

double encoder_flops(const ModelInfo& info, int n_audio_ctx) {
  const double n = n_audio_ctx, d = info.n_audio_state, mels = info.n_mels;
  const double conv1 = 2.0 * (2 * n) * d * (mels * 3);
  const double conv2 = 2.0 * n * d * (d * 3);
  // q, k, v, out (4 d^2) and the MLP (8 d^2) per row; QK^T and PV (2 n d) per row.
  const double layer = 2.0 * n * (12 * d * d) + 2.0 * (2 * n * n * d);
  const double cross_kv = 2.0 * n * (2 * d * d) * info.n_text_layer;
  return conv1 + conv2 + layer * info.n_audio_layer + cross_kv;
}

Result<StageProfile> profile_stages(const std::shared_ptr<const Model>& model, const float* pcm, size_t n_samples,
                                    const StageProfileOptions& options) {
  if (options.n_threads < 1) return make_error("bench: threads must be at least 1");
  if (options.windows < 1) return make_error("bench: windows must be at least 1");
  const ModelFile& file = *model->file();
  const Hparams& hp = file.hparams();
  if (options.tokens < 1 || options.tokens >= hp.n_text_ctx)
    return make_error("bench: tokens must be 1.." + std::to_string(hp.n_text_ctx - 1) + " for this model");

  StageProfile p;
  p.n_threads = options.n_threads;
  ThreadPool pool(options.n_threads);

  std::vector<float> window(kWindowSamples, 0.0f);
  std::copy_n(pcm, std::min<size_t>(n_samples, window.size()), window.begin());
  const auto t_mel = Clock::now();
  const MelSpectrogram mel = compute_mel(window.data(), static_cast<int64_t>(window.size()), file.mel_filters(), pool);
  p.mel_ms = ms_since(t_mel);

  WhisperNetwork net(model->file(), 1, pool);
  net.encode(mel, 0);  // warm-up: first touch of the mapped weights and the scratch buffers
  double sum = 0, best = 1e300;
  for (int i = 0; i < options.windows; ++i) {
    const auto t0 = Clock::now();
    net.encode(mel, 0);
    const double ms = ms_since(t0);
    sum += ms;
    best = std::min(best, ms);
  }
  p.encode_ms_mean = sum / options.windows;
  p.encode_ms_min = best;
  p.encode_gflop = encoder_flops(model->info(), hp.n_audio_ctx) * 1e-9;

  // A prompt fills the self-attention cache up to `tokens` short of the text context, then
  // each timed step adds one token: the decoder's worst case, its cache (nearly) full.
  const int prompt = hp.n_text_ctx - options.tokens;
  std::vector<int32_t> ids(hp.n_text_ctx);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7919 + 220) % std::min(hp.n_vocab, 50000));
  std::vector<float> logits(hp.n_vocab);
  DecodeItem item;
  item.sequence = 0;
  item.logits = logits.data();
  if (prompt > 0) {
    item.tokens = ids.data();
    item.n_tokens = prompt;
    item.n_past = 0;
    net.decode({&item, 1});
  }
  // One untimed step first: a model's first single-token step makes its interleaved decoder
  // rows (ModelFile::interleaved), once per load; the timed steps then redo its position.
  item.tokens = &ids[prompt];
  item.n_tokens = 1;
  item.n_past = prompt;
  net.decode({&item, 1});
  const auto t_dec = Clock::now();
  for (int i = 0; i < options.tokens; ++i) {
    item.tokens = &ids[prompt + i];
    item.n_tokens = 1;
    item.n_past = prompt + i;
    net.decode({&item, 1});
  }
  p.decode_ms_per_token = ms_since(t_dec) / options.tokens;
  p.kv_cells = hp.n_text_ctx;
  p.decode_bytes_per_token = decoder_step_bytes(file, hp.n_text_ctx - options.tokens / 2);
  return p;
}

double decoder_step_bytes(const ModelFile& file, int kv_cells) {
  const Hparams& hp = file.hparams();
  double bytes = 0;
  for (const auto& t : file.tensors()) {
    if (t.name.rfind("decoder.", 0) != 0 || t.name == "decoder.positional_embedding" || encode_only_weight(t.name))
      continue;
    bytes += static_cast<double>(t.nbytes);
  }
  const double row = 2.0 * hp.n_text_state;  // one f16 key or value
  const double cross_keys = (hp.n_audio_ctx + 255) / 256 * 256;
  bytes += hp.n_text_layer * 2.0 * row * (cross_keys + kv_cells);
  return bytes;
}

double memory_read_gbps(int n_threads, size_t bytes) {
  if (bytes == 0) {
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0) llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
    bytes = std::clamp<size_t>(static_cast<size_t>(std::max(llc, 0L)) * 8, size_t{256} << 20, size_t{1} << 30);
  }
  n_threads = std::max(n_threads, 1);
  // Whole lines of four words per thread.
  const size_t words = std::max<size_t>(bytes / sizeof(uint64_t) / (4 * n_threads), 1) * 4 * n_threads;
  std::vector<uint64_t> buf(words, 1);
  ThreadPool pool(n_threads);
  std::vector<uint64_t> sums(static_cast<size_t>(n_threads) * 8);  // a cache line per thread
  // A small buffer's pass takes well under a millisecond: more passes, about 1 GB read in all.
  const int passes = static_cast<int>(std::clamp<size_t>((size_t{1} << 30) / (words * sizeof(uint64_t)), 5, 200));
  double best = 1e300;
  for (int pass = -1; pass < passes; ++pass) {  // pass -1 brings the buffer into the caches it fits
    const auto t0 = Clock::now();
    pool.run([&](int thread) {
      const size_t n = buf.size() / static_cast<size_t>(n_threads), first = n * static_cast<size_t>(thread);
      uint64_t a = 0, b = 0, c = 0, d = 0;
      for (size_t i = first; i + 4 <= first + n; i += 4) {
        a += buf[i];
        b += buf[i + 1];
        c += buf[i + 2];
        d += buf[i + 3];
      }
      sums[static_cast<size_t>(thread) * 8] += a + b + c + d;
    });
    if (pass >= 0) best = std::min(best, ms_since(t0));
  }
  uint64_t total = 0;
  for (uint64_t v : sums) total += v;
  // The sum is used, so the loads are not optimised away.
  if (total == 0) return 0.0;
  return static_cast<double>(words * sizeof(uint64_t)) / (best * 1e-3) * 1e-9;
}

namespace {

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    return v;
  }
  return "";
}

int to_int(const std::string& s, int fallback) {
  try {
    return s.empty() ? fallback : std::stoi(s);
  } catch (const std::exception&) {
    return fallback;
  }
}

}  // namespace

int fma_units_per_core(const std::string& vendor, int family, const std::string& kernels) {
  if (kernels == "avx512" && vendor == "AuthenticAMD" && family == 0x19) return 1;
  return 2;
}

namespace {

// The core's running clock: a chain of dependent 64-bit multiplies (three cycles each on the
// x86-64 cores of the last decade, Intel's and AMD's), the best of a few runs of ~8 ms. 0
// elsewhere.
double measured_clock_ghz() {
#if defined(__x86_64__)
  constexpr int64_t kIterations = 2'000'000, kCyclesEach = 4 * 3;
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    uint64_t x = 3;
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < kIterations; ++i)
      asm volatile("imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0" : "+r"(x));
    const double ms = ms_since(t0);
    if (ms > 0) best = std::max(best, static_cast<double>(kIterations * kCyclesEach) / (ms * 1e6));
  }
  return best;
#else
  return 0;
#endif
}

}  // namespace

MachineInfo machine_info() {
  MachineInfo m;
  m.cpu_model = cpuinfo_field("model name");
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  m.kernels = kernel_name();
  if (m.kernels == "avx512") {
    m.isa = "AVX-512 F/BW/VL/DQ + VNNI";
    m.f32_lanes = 16;
  } else if (m.kernels == "avx2") {
    m.isa = "AVX2 + FMA + F16C";
    m.f32_lanes = 8;
  } else {
    m.isa = "x86-64 baseline (SSE2, no FMA)";
    m.f32_lanes = 4;
  }

  cpu_set_t set;
  CPU_ZERO(&set);
  m.logical_cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  // Hyper-threads share their core's FMA units: count cores, not logical CPUs.
  const int siblings = to_int(cpuinfo_field("siblings"), 1), cores_per_package = to_int(cpuinfo_field("cpu cores"), 1);
  const int smt = std::max(1, siblings / std::max(1, cores_per_package));
  m.cores = std::max(1, m.logical_cpus / smt);

  std::ifstream max_freq("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  double khz = 0;
  if (max_freq >> khz && khz > 0) {
    m.clock_ghz = khz * 1e-6;
    m.clock_source = "cpufreq cpuinfo_max_freq";
  } else {
    // Without cpufreq (a VM) /proc/cpuinfo gives the nominal clock; the core may run faster.
    double nominal = 0;
    try {
      nominal = std::stod(cpuinfo_field("cpu MHz")) * 1e-3;
    } catch (const std::exception&) {
    }
    const double running = measured_clock_ghz();
    char text[160];
    if (running > nominal) {
      std::snprintf(text, sizeof text, "measured: a chain of dependent multiplies, 3 cycles each (nominal %.3f GHz)",
                    nominal);
      m.clock_ghz = running;
    } else {
      std::snprintf(text, sizeof text, "/proc/cpuinfo cpu MHz (no cpufreq: the nominal clock)");
      m.clock_ghz = nominal;
    }
    m.clock_source = nominal > 0 || running > 0 ? text : "unknown";
  }
  m.fma_units = fma_units_per_core(cpuinfo_field("vendor_id"), to_int(cpuinfo_field("cpu family"), 0), m.kernels);
  m.core_peak_gflops = m.f32_lanes * m.fma_units * 2.0 * m.clock_ghz;
  m.peak_gflops = m.cores * m.core_peak_gflops;
  return m;
}

}  // namespace thoth::asr
