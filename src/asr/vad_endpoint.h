// Live speech start/end detection for hands-free dictation: feed microphone audio as it comes,
// get "speech started at sample S" (with pre-speech padding, so the first syllable is kept) and
// "speech ended at sample E" once a long enough silence follows.
//
//   thoth::asr::SpeechEndpointer ep(vad, {});
//   std::vector<thoth::asr::SpeechEndpointer::Event> events;
//   ep.feed(block, n, events);   // any block size; positions count samples since reset()
//
// A start is reported once speech has lasted min_speech_ms, and points back to its onset minus
// pre_speech_pad_ms: keep at least pre_speech_pad_ms + min_speech_ms + 32 ms of past audio.
// Not for audio callbacks (it computes); run it on the thread that drains the capture buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "asr/vad.h"

namespace thoth::asr {

struct EndpointParams {
  float threshold = 0.5f;       // a chunk at or above this is speech; below threshold - 0.15 is silence
  int min_speech_ms = 250;      // speech must last this long to start a dictation (coughs, clicks)
  int end_silence_ms = 1200;    // silence that ends it
  int pre_speech_pad_ms = 300;  // audio kept before the detected onset
  int post_speech_pad_ms = 100; // audio kept after the last speech
};

class SpeechEndpointer {
 public:
  struct Event {
    enum class Kind { kStart, kEnd } kind;
    int64_t sample;  // position in the stream (samples since the last reset)
  };

  SpeechEndpointer(std::shared_ptr<const VadModel> model, EndpointParams params);

  // Feeds 16 kHz mono audio; appends the events it completes to `events`.
  void feed(const float* pcm, size_t n, std::vector<Event>& events);
  // The decision logic on one chunk's probability (what feed() runs per 512 samples).
  void feed_probability(float p, std::vector<Event>& events);
  // Closes an open speech at the current position (stream ends while someone is talking).
  void flush(std::vector<Event>& events);
  void reset();

  bool in_speech() const { return in_speech_; }
  int64_t position() const { return chunks_ * kVadChunkSamples + static_cast<int64_t>(pending_.size()); }

 private:
  VadStream stream_;
  EndpointParams params_;
  std::vector<float> pending_;  // less than one chunk, waiting for the rest
  int64_t chunks_ = 0;          // chunks decided so far
  bool in_speech_ = false;
  int64_t run_start_ = -1;      // first chunk of the current candidate speech run, or -1
  int64_t silence_start_ = -1;  // first chunk of the current silence inside speech, or -1
  int64_t last_speech_end_ = 0; // sample after the last chunk at or above the threshold
};

}  // namespace thoth::asr
