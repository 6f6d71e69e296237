// VAD-gated audio for transcription: only the speech goes to the engine, and times in what it
// saw map back to the original recording.
//
//   auto gated = thoth::asr::gate_speech(vad, pcm.data(), pcm.size(), thoth::asr::VadParams{});
//   if (!gated.has_speech()) { /* no text: nothing was said */ }
//   auto transcript = session.transcribe(gated.samples.data(), gated.samples.size(), opts);
//   for (auto& seg : transcript->segments) {
//     seg.start_ms = gated.to_original_ms(seg.start_ms);
//     seg.end_ms = gated.to_original_ms(seg.end_ms);
//   }
//
// As the reference (whisper.cpp) does, each speech segment keeps `samples_overlap_s` of audio
// past its end (all but the last) and segments are joined by 100 ms of silence. Unlike the
// reference, the overlap never runs into the next segment, so no audio is seen twice and the
// mapping back is exact and monotonic rather than interpolated.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "asr/vad.h"
#include "asr/whisper.h"

namespace thoth::asr {

constexpr int kGateSilenceSamples = kVadSampleRate / 10;  // between joined segments

struct GatedAudio {
  // A run of original audio copied into the gated audio.
  struct Span {
    int64_t gated_start = 0;     // sample index in `samples`
    int64_t original_start = 0;  // sample index in the original audio
    int64_t length = 0;          // samples
  };

  std::vector<float> samples;        // speech only; empty when there is none
  std::vector<Span> spans;           // in order, separated by kGateSilenceSamples of silence
  std::vector<VadSegment> segments;  // what the VAD found, in original time
  int64_t original_samples = 0;

  bool has_speech() const { return !spans.empty(); }
  // Maps a position in `samples` to the original audio. Inside a span exactly; inside the
  // silence between two spans linearly from the end of one to the start of the next; before
  // the first span and after the last, clamped to the audio.
  int64_t to_original_sample(int64_t gated) const;
  int64_t to_original_ms(int64_t gated_ms) const;
};

// Builds the gated audio from segments already found (pure: no model needed).
GatedAudio gate_audio(const float* pcm, size_t n_samples, const std::vector<VadSegment>& segments,
                      const VadParams& params);

// Runs the VAD over `pcm` and gates it.
GatedAudio gate_speech(const std::shared_ptr<const VadModel>& model, const float* pcm, size_t n_samples,
                       const VadParams& params);

// What transcribe_gated did.
struct GatedTranscript {
  Transcript transcript;            // every segment and token time is in the original audio
  bool gated = false;               // a VAD ran (false: the engine was given all the audio)
  bool no_speech = false;           // the VAD found no speech, so the engine was not run
  std::vector<VadSegment> speech;   // what the VAD found, in original time
  int64_t engine_samples = 0;       // how much audio the engine was given
  double vad_ms = 0;
};

// The engine as transcribe_gated calls it: 16 kHz mono samples in, a transcript out.
using TranscribeFn = std::function<Result<Transcript>(const float* pcm, size_t n_samples)>;

// Runs the VAD over `pcm` (when `vad` is set), then `engine` on the speech alone, and maps the
// transcript's times back to `pcm`. No speech: an empty transcript, and `engine` is never
// called (Whisper makes up words from silence and noise). Without `vad`: `engine` on all of
// `pcm`, times untouched. Bad `params` are an error. `cancel` set (from any thread) stops the
// VAD within about a second of audio: an empty transcript marked cancelled, engine not run.
Result<GatedTranscript> transcribe_gated(const std::shared_ptr<const VadModel>& vad, const VadParams& params,
                                         const float* pcm, size_t n_samples, const TranscribeFn& engine,
                                         const std::atomic<bool>* cancel = nullptr);

// The same with `session` as the engine (options.cancel reaches the VAD too).
Result<GatedTranscript> transcribe_gated(Session& session, const std::shared_ptr<const VadModel>& vad,
                                         const VadParams& params, const float* pcm, size_t n_samples,
                                         const TranscribeOptions& options);

}  // namespace thoth::asr
