// Timing hooks for benchmarks (`thoth bench`, bench/ targets): the engine's stages run one at
// a time on a loaded model, outside any transcription, so each can be timed on its own.
// Not for the app's use: transcription goes through Session (whisper.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "asr/whisper.h"
#include "core/result.h"

namespace thoth::asr {
class ModelFile;
}

namespace thoth::asr {

struct StageProfileOptions {
  int n_threads = 2;
  int windows = 2;   // timed encoder windows (after one untimed warm-up window)
  int tokens = 32;   // timed single-token decoder steps, at the end of the text context
};

struct StageProfile {
  double mel_ms = 0;                 // log-mel spectrogram of 30 s of audio
  double encode_ms_mean = 0, encode_ms_min = 0;  // one 30 s window, cross-attention K/V included
  double encode_gflop = 0;           // floating-point work of one window (encoder_flops)
  double decode_ms_per_token = 0;    // one token, its self-attention cache holding kv_cells cells
  int kv_cells = 0;
  // What one of those steps reads: decoder_step_bytes() at the steps' mean cache fill.
  double decode_bytes_per_token = 0;
  int n_threads = 0;
};

// Runs the stages on `model`: mel of the first 30 s of pcm (16 kHz mono; silence-padded if
// shorter), `windows` encoder windows, then a prompt that fills the text context up to
// `tokens` short of its end and `tokens` decoder steps of one token each.
Result<StageProfile> profile_stages(const std::shared_ptr<const Model>& model, const float* pcm, size_t n_samples,
                                    const StageProfileOptions& options);

// Floating-point operations (a multiply-add counts 2) of one encoder window as this engine
// computes it: both convolutions, every layer's projections, attention and MLP, and the
// decoder layers' cross-attention keys and values.
double encoder_flops(const ModelInfo& info, int n_audio_ctx = 1500);

// Bytes a single-token decoder step reads from memory with `kv_cells` cells of self-attention
// cache in use: every decoder weight but the cross-attention key/value projections (encode()
// applies those) and the positional table (one row); the token embedding whole (the logits);
// the window's cross-attention keys and values (f16, padded as flash attention pads them);
// the self-attention keys and values (f16). A step is memory-bound: this over its time, next
// to memory_read_gbps(), says how close it runs to the machine's limit.
double decoder_step_bytes(const ModelFile& file, int kv_cells);

// Read bandwidth in GB/s with n_threads threads: the best of several passes summing a buffer
// of `bytes`, read once beforehand, so the figure is that of the cache level (or DRAM) such a
// working set lives in; bytes = 0 takes several times the last-level cache: DRAM's figure.
// Allocates the buffer (up to hundreds of MB): call it after measuring a process's peak memory.
double memory_read_gbps(int n_threads, size_t bytes = 0);

// What a benchmark prints about the machine.
struct MachineInfo {
  std::string cpu_model;        // /proc/cpuinfo "model name"
  std::string kernels;          // kernel variant in use (kernel_name())
  std::string isa;              // its instruction set, spelled out
  int cores = 0;                // physical cores this process may run on
  int logical_cpus = 0;
  double clock_ghz = 0;
  std::string clock_source;     // where clock_ghz came from
  int f32_lanes = 0;            // f32 lanes per vector of the variant in use
  int fma_units = 2;            // full-width FMAs a core starts per cycle (fma_units_per_core)
  // cores x lanes x FMA units x 2 flops x clock; per_thread_peak for one core.
  double peak_gflops = 0;
  double core_peak_gflops = 0;
};

MachineInfo machine_info();

// Full-width FMAs per cycle and core for the kernel variant in use, from /proc/cpuinfo's
// vendor_id and cpu family: AMD's family 19h (Zen 3/4) runs a 512-bit FMA as two halves on its
// two 256-bit pipes, so its AVX-512 peak is one 512-bit FMA per cycle, not two.
int fma_units_per_core(const std::string& vendor, int family, const std::string& kernels);

}  // namespace thoth::asr
