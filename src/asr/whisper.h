// Thoth's Whisper engine: the public API of asr/ (which knows nothing of the app).
//
//   auto model = thoth::asr::Model::load("ggml-base.en.bin");      // immutable, shareable
//   thoth::asr::Session session(*model);                            // per transcription
//   auto opts = thoth::asr::TranscribeOptions{};                    // defaults = reference's
//   auto result = session.transcribe(pcm16k.data(), pcm16k.size(), opts);
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace thoth::asr {

class ModelFile;

struct ModelInfo {
  std::string path;
  std::string type_name;     // "tiny", "base", ... or "unknown"
  std::string weight_type;   // "f16", "q5_1", ...
  bool multilingual = false;
  int n_vocab = 0, n_mels = 0;
  int n_audio_state = 0, n_audio_layer = 0, n_text_state = 0, n_text_layer = 0;
};

class Model {
 public:
  // Loads (memory-maps and validates) a ggml Whisper file. Errors name the file and defect.
  static Result<std::shared_ptr<const Model>> load(const std::string& path);
  ModelInfo info() const;
  const std::shared_ptr<const ModelFile>& file() const { return file_; }
  double load_ms() const { return load_ms_; }

  explicit Model(std::shared_ptr<const ModelFile> file, double load_ms)
      : file_(std::move(file)), load_ms_(load_ms) {}

 private:
  std::shared_ptr<const ModelFile> file_;
  double load_ms_ = 0;
};

// Defaults are the reference's (whisper_full_default_params with beam search).
struct TranscribeOptions {
  std::string language = "en";   // ISO code, or "auto" to detect (multilingual models)
  bool translate = false;         // translate to English (multilingual models)
  int beam_size = 5;              // 1 = greedy
  int best_of = 5;                // candidates when sampling at temperature > 0
  bool temperature_fallback = true;
  float temperature_increment = 0.2f;
  float entropy_threshold = 2.4f;    // compression-ratio proxy, as the reference
  float logprob_threshold = -1.0f;
  float no_speech_threshold = 0.6f;
  bool timestamps = true;
  std::string initial_prompt;
  bool condition_on_previous_text = true;
  bool suppress_blank = true;
  bool suppress_non_speech_tokens = false;
  float max_initial_timestamp = 1.0f;
  int max_len_tokens = 0;        // 0 = no limit on segment length
  int n_threads = 0;             // 0 = hardware concurrency (at most 8)
  uint64_t seed = 0;             // sampling seed (fallback temperatures)
  // Set to true from any thread to stop the transcription within milliseconds.
  const std::atomic<bool>* cancel = nullptr;
  // Called with the fraction done (0..1) after each window.
  std::function<void(float)> on_progress;
};

struct TokenInfo {
  int32_t id = 0;
  float p = 0;
  std::string text;
  // When the token is said, inside its segment: anchored where the model's timestamp
  // prediction is confident, in between split by how long each token takes to say.
  int64_t start_ms = 0, end_ms = 0;
};

struct Segment {
  int64_t start_ms = 0, end_ms = 0;
  std::string text;              // valid UTF-8
  std::vector<TokenInfo> tokens; // text tokens plus the closing timestamp token
  float no_speech_prob = 0;
};

struct Timings {
  double load_ms = 0, mel_ms = 0, encode_ms = 0, decode_ms = 0;
};

struct Transcript {
  std::string language;
  float language_prob = 1.0f;
  std::vector<Segment> segments;
  Timings timings;
  bool cancelled = false;
  std::string text() const;      // all segments' text joined
};

class Session {
 public:
  explicit Session(std::shared_ptr<const Model> model);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // pcm: 16 kHz mono float samples in [-1, 1]. Errors: bad options for this model, cancelled
  // is not an error (Transcript::cancelled is set and the segments so far are returned).
  Result<Transcript> transcribe(const float* pcm, size_t n_samples, const TranscribeOptions& options);

  // Language detection only: (code, probability) of the most likely language.
  Result<std::pair<std::string, float>> detect_language(const float* pcm, size_t n_samples, int n_threads = 0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace thoth::asr
