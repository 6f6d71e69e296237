// Silero VAD (v5/v6, 16 kHz) from its ggml file, run by our own code, with speech segments made
// from the per-chunk probabilities exactly as the reference (whisper.cpp) makes them.
//
//   auto vad = thoth::asr::VadModel::load("silero-v6.2.0-ggml.bin");   // immutable, shareable
//   auto probs = thoth::asr::vad_probabilities(**vad, pcm.data(), pcm.size());
//   auto segments = thoth::asr::vad_segments_from_probs(probs, thoth::asr::VadParams{});
//
// Part of asr/: depends on nothing of the app but core/result.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace thoth::asr {

namespace vad_detail {
struct ChunkState;
}

constexpr int kVadSampleRate = 16000;
constexpr int kVadChunkSamples = 512;  // one probability per 512 samples (32 ms)

class VadModel {
 public:
  // Reads and validates a ggml Silero VAD file. Every defect (not ggml, a Whisper model, wrong
  // architecture, truncated, unknown/duplicate/missing tensor, wrong shape or type) gives one
  // line naming the file and the problem.
  static Result<std::shared_ptr<const VadModel>> load(const std::string& path);
  // The same from bytes in memory; `name` stands for the file in messages.
  static Result<std::shared_ptr<const VadModel>> parse(const void* data, size_t size, const std::string& name);

  const std::string& model_type() const { return type_; }  // "silero-16k"
  const std::string& version() const { return version_; }  // "6.2.0"

  // Weights, widened to f32 at load; each row is padded with zeros to a multiple of kRowAlign
  // so the dot-product loops run without tails.
  static constexpr int kRowAlign = 16;
  struct Conv {
    int in = 0, out = 0, kernel = 0, stride = 1, row = 0;  // row = padded in * kernel
    std::vector<float> weight;  // out rows of `row` floats, index [o][i * kernel + k]
    std::vector<float> bias;    // out
  };
  struct Weights {
    int n_fft = 256, n_bins = 129, hop = 128;
    std::vector<float> stft_basis;  // 2 * n_bins rows of n_fft (real parts, then imaginary)
    Conv encoder[4];
    int hidden = 128;
    std::vector<float> lstm_weight;  // 4 * hidden rows of [w_ih | w_hh] (2 * hidden floats)
    std::vector<float> lstm_bias;    // b_ih + b_hh, 4 * hidden (gates i, f, g, o)
    std::vector<float> out_weight;   // hidden
    float out_bias = 0;
  };
  const Weights& weights() const { return w_; }

 private:
  std::string type_, version_;
  Weights w_;
};

// The recurrent state of one audio stream: feed it consecutive 512-sample chunks. Cheap to
// create; not shared between threads. Used directly for live audio (hands-free listening).
class VadStream {
 public:
  explicit VadStream(std::shared_ptr<const VadModel> model);
  ~VadStream();
  VadStream(VadStream&&) noexcept;
  VadStream& operator=(VadStream&&) noexcept;

  // Speech probability of the next chunk. `n` <= kVadChunkSamples; a short chunk is padded with
  // zeros (as the reference does for the end of a file). Non-finite samples count as silence.
  float process(const float* chunk, size_t n = kVadChunkSamples);
  void reset();  // forget the past: a new, unrelated stream

 private:
  std::shared_ptr<const VadModel> model_;
  std::unique_ptr<vad_detail::ChunkState> state_;
};

// One probability per 512-sample chunk of `pcm` (16 kHz mono), from a fresh state.
std::vector<float> vad_probabilities(const std::shared_ptr<const VadModel>& model, const float* pcm, size_t n_samples);

// Reference defaults (whisper_vad_default_params).
struct VadParams {
  float threshold = 0.5f;          // a chunk at or above this is speech; below threshold - 0.15 is silence
  int min_speech_ms = 250;         // shorter speech is dropped
  int min_silence_ms = 100;        // shorter pauses do not end a segment
  float max_speech_s = std::numeric_limits<float>::infinity();  // longer segments are split (whole seconds, as the reference)
  int speech_pad_ms = 30;          // added on both sides of each segment
  float samples_overlap_s = 0.1f;  // gating only: audio kept past each segment's end but the last
};

// Rejects values a user could pass that make no sense (threshold outside (0, 1), negative durations).
Result<void> validate(const VadParams& params);

// A speech segment in centiseconds of the original audio (the reference's unit).
struct VadSegment {
  int64_t start_cs = 0, end_cs = 0;
  int64_t start_ms() const { return start_cs * 10; }
  int64_t end_ms() const { return end_cs * 10; }
  bool operator==(const VadSegment&) const = default;
};

// Speech segments from per-chunk probabilities (whisper_vad_segments_from_probs).
std::vector<VadSegment> vad_segments_from_probs(const std::vector<float>& probs, const VadParams& params);

// Probabilities and segments in one call.
std::vector<VadSegment> vad_detect_speech(const std::shared_ptr<const VadModel>& model, const float* pcm,
                                          size_t n_samples, const VadParams& params);

// The instruction set the VAD's inner loops run on here ("avx2+fma" or "baseline").
const char* vad_kernel_name();

}  // namespace thoth::asr
