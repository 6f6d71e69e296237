// The small interfaces through which the pipeline drives each stage, and the result of one
// dictation. The pipeline knows stages only by these, so a test can put a real stage next
// to a scripted one. Stages never call each other.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "audio/capture.h"
#include "core/result.h"
#include "pipeline/pipeline_state.h"

namespace thoth::pipeline {

// Records the user into a WAV while the pipeline is in `recording`.
class Recorder {
 public:
  virtual ~Recorder() = default;
  virtual Result<void> start(const std::string& wav_path, audio::LevelCallback on_level) = 0;
  // Stops and drains; the WAV and the samples captured so far are kept even on error.
  virtual audio::Recording stop() = 0;
};

struct Transcription {
  std::string text;
  bool cancelled = false;  // the text is what was decoded before the cancel
  bool no_speech = false;  // nothing was said (voice activity detection): no text, by design
};

class Transcriber {
 public:
  virtual ~Transcriber() = default;
  // pcm: 16 kHz mono. Must return promptly once `cancel` becomes true.
  virtual Result<Transcription> transcribe(const std::vector<float>& pcm,
                                           const std::atomic<bool>& cancel) = 0;
  virtual std::string model_name() const = 0;
};

class TextFilter {
 public:
  virtual ~TextFilter() = default;
  virtual Result<std::string> apply(const std::string& text) = 0;
};

class Enhancer {
 public:
  virtual ~Enhancer() = default;
  // Must return promptly once `cancel` becomes true. A failure is not fatal to the run.
  virtual Result<std::string> enhance(const std::string& text, const std::atomic<bool>& cancel) = 0;
  virtual std::string model_name() const = 0;
  virtual std::string prompt_name() const = 0;
};

// How the text went out: the way that worked, and why the ways tried before it did not.
struct Delivery {
  std::string method;
  std::vector<std::string> fallbacks;
};

class Output {
 public:
  virtual ~Output() = default;
  // Types/pastes the text. Checks `cancel` between keystrokes so a cancel stops typing.
  virtual Result<Delivery> deliver(const std::string& text, const std::atomic<bool>& cancel) = 0;
  // What it will try, for progress messages.
  virtual std::string method_name() const = 0;
};

// Milliseconds spent in each stage (0 for a stage that did not run).
struct StageTimings {
  double recording_ms = 0;   // start -> stop request
  double drain_ms = 0;       // stop request -> WAV closed (drain, resample tail, write)
  double transcribe_ms = 0;
  double filter_ms = 0;
  double enhance_ms = 0;
  double output_ms = 0;
  double total_ms = 0;       // stop request -> text delivered (the key-release latency)
};

struct PipelineResult {
  PipelineState final_state = PipelineState::Idle;  // completed, failed, or idle if cancelled
  bool cancelled = false;
  PipelineState cancelled_in = PipelineState::Idle;  // the state the cancel arrived in
  std::string created_at;                            // ISO 8601 UTC, when recording started
  int64_t created_at_ms = 0;                         // the same as Unix milliseconds

  std::string audio_path;
  std::string device;
  double audio_seconds = 0;
  uint64_t overflow_frames = 0;
  double start_latency_ms = -1;

  std::string raw_text;       // the engine's transcript (partial if cancelled)
  std::string filtered_text;  // after the text filters (= raw when none ran)
  std::string text;           // what was (or would have been) delivered
  bool no_speech = false;     // nothing was said: completed with no text, nothing typed
  bool filtered = false;
  bool enhanced = false;
  bool delivered = false;
  std::string transcription_model;
  std::string enhancement_model, enhancement_prompt;
  std::string output_method;

  std::string error;                  // why the run failed; empty otherwise
  std::vector<std::string> warnings;  // non-fatal: enhancement failure, overflow, history
  StageTimings timings;
  int64_t history_id = -1;
};

// Stores every dictation, whatever its outcome.
class History {
 public:
  virtual ~History() = default;
  virtual Result<int64_t> record(const PipelineResult& result) = 0;
};

}  // namespace thoth::pipeline
