// One dictation at a time through the stages, publishing every transition on the bus.
//
//   EventBus bus;
//   Pipeline p(std::move(stages), {.recordings_dir = dir}, bus);
//   p.start();            // idle -> recording (refused while a dictation runs)
//   p.stop();             // recording -> transcribing -> ... on the pipeline's worker thread
//   auto result = p.wait();
//
// start/stop/cancel may come from any thread (CLI, hotkeys, the daemon's API). The audio
// and whatever text exists always reach the History, whatever fails or is cancelled.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/result.h"
#include "pipeline/event_bus.h"
#include "pipeline/pipeline_state.h"
#include "pipeline/stages.h"

namespace thoth::pipeline {

struct Stages {
  std::shared_ptr<Recorder> recorder;        // required
  std::shared_ptr<Transcriber> transcriber;  // without one, runs fail with a clear message
  std::shared_ptr<TextFilter> filter;        // optional: filtering is skipped without it
  std::shared_ptr<Enhancer> enhancer;        // optional: enhancing is skipped without it
  std::shared_ptr<Output> output;            // required
  std::shared_ptr<History> history;          // optional
};

// The message of the completed transition and the pipeline-complete event of a run in which
// nothing was said (PipelineResult::no_speech); any other completed run says "Done".
inline constexpr const char* kNoSpeechMessage = "No speech detected";

struct PipelineOptions {
  std::string recordings_dir;  // WAVs named by date and time
};

class Pipeline {
 public:
  Pipeline(Stages stages, PipelineOptions options, EventBus& bus);
  ~Pipeline();  // cancels a running dictation and joins its worker
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Starts recording. Refused with a clear error while a dictation runs.
  Result<void> start();
  // Ends the recording; processing continues on the worker thread.
  Result<void> stop();
  // Cancels from any state: capture stopped (WAV kept), engine and enhancement told to
  // stop, nothing more typed; the audio and text so far go to the History. No-op when idle.
  void cancel();

  PipelineState state() const;
  bool running() const;  // the single-run guard
  // Waits for the current run to end and returns its result (the last one if none runs).
  std::optional<PipelineResult> wait();

 private:
  void transition(PipelineState to, const std::string& message);
  void work();
  void finish(PipelineResult& result, PipelineState terminal);
  bool cancel_requested() const { return cancel_.load(std::memory_order_acquire); }

  Stages stages_;
  PipelineOptions options_;
  EventBus& bus_;

  // The single-run guard (the seed's PIPELINE_RUNNING): start() claims it with an exchange;
  // the worker releases it when the run has fully settled back to idle.
  std::atomic<bool> running_{false};
  // Read by the engine and the enhancer from their own threads: acquire/release so that a
  // stage which sees the cancel also sees everything the canceller did before it.
  std::atomic<bool> cancel_{false};

  mutable std::mutex mutex_;  // guards the fields below; never held across a stage
  std::condition_variable cv_;
  PipelineState state_ = PipelineState::Idle;
  bool stop_requested_ = false;
  std::chrono::steady_clock::time_point started_at_;
  std::string created_at_;
  int64_t created_at_ms_ = 0;
  std::string wav_path_;
  std::optional<PipelineResult> last_result_;

  // Touched only by the holder of the guard (start) and by the destructor.
  std::thread worker_;
};

// A fresh recording path in `dir`: YYYY-MM-DD_HH-MM-SS.wav (local time), -N if taken.
std::string recording_path(const std::string& dir);

}  // namespace thoth::pipeline
