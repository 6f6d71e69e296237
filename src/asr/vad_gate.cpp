#include "asr/vad_gate.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace thoth::asr {
namespace {

constexpr int64_t kSamplesPerCs = kVadSampleRate / 100;

}  // namespace

GatedAudio gate_audio(const float* pcm, size_t n_samples, const std::vector<VadSegment>& segments,
                      const VadParams& params) {
  GatedAudio g;
  g.segments = segments;
  g.original_samples = static_cast<int64_t>(n_samples);
  const int64_t n = g.original_samples;
  const float overlap_s = std::isfinite(params.samples_overlap_s) ? std::max(0.0f, params.samples_overlap_s) : 0.0f;
  const int64_t overlap = static_cast<int64_t>(std::llround(static_cast<double>(overlap_s) * kVadSampleRate));

  int64_t prev_end = 0;  // original sample where the previous span ended
  for (size_t i = 0; i < segments.size(); ++i) {
    int64_t start = std::clamp<int64_t>(segments[i].start_cs * kSamplesPerCs, 0, n);
    int64_t end = std::clamp<int64_t>(segments[i].end_cs * kSamplesPerCs, 0, n);
    if (i + 1 < segments.size()) {
      // Context past the end, but never into the next segment's audio.
      const int64_t next_start = std::clamp<int64_t>(segments[i + 1].start_cs * kSamplesPerCs, 0, n);
      end = std::min(end + overlap, std::max(end, next_start));
    }
    start = std::max(start, prev_end);  // segments from other sources might overlap: copy once
    if (end <= start) continue;
    if (!g.spans.empty()) g.samples.insert(g.samples.end(), kGateSilenceSamples, 0.0f);
    g.spans.push_back({static_cast<int64_t>(g.samples.size()), start, end - start});
    g.samples.insert(g.samples.end(), pcm + start, pcm + end);
    prev_end = end;
  }
  return g;
}

GatedAudio gate_speech(const std::shared_ptr<const VadModel>& model, const float* pcm, size_t n_samples,
                       const VadParams& params) {
  return gate_audio(pcm, n_samples, vad_detect_speech(model, pcm, n_samples, params), params);
}

int64_t GatedAudio::to_original_sample(int64_t gated) const {
  if (spans.empty()) return std::clamp<int64_t>(gated, 0, original_samples);
  if (gated <= 0) return spans.front().original_start;
  // The last span starting at or before `gated`.
  auto it = std::upper_bound(spans.begin(), spans.end(), gated,
                             [](int64_t t, const Span& s) { return t < s.gated_start; });
  const Span& s = *(it - 1);
  const int64_t into = gated - s.gated_start;
  const int64_t span_end = s.original_start + s.length;
  if (into <= s.length) return s.original_start + into;
  if (it == spans.end()) return std::min(span_end + (into - s.length), original_samples);
  // In the silence joining two spans: spread it over the pause it replaced.
  const Span& next = *it;
  const int64_t gap_gated = next.gated_start - (s.gated_start + s.length);
  const int64_t gap_original = next.original_start - span_end;
  return span_end + (into - s.length) * gap_original / std::max<int64_t>(gap_gated, 1);
}

int64_t GatedAudio::to_original_ms(int64_t gated_ms) const {
  const int64_t per_ms = kVadSampleRate / 1000;
  return to_original_sample(gated_ms * per_ms) / per_ms;
}

Result<GatedTranscript> transcribe_gated(const std::shared_ptr<const VadModel>& vad, const VadParams& params,
                                         const float* pcm, size_t n_samples, const TranscribeFn& engine,
                                         const std::atomic<bool>* cancel) {
  GatedTranscript out;
  if (!vad) {
    auto t = engine(pcm, n_samples);
    if (!t) return make_error(t.error());
    out.transcript = std::move(*t);
    out.engine_samples = static_cast<int64_t>(n_samples);
    return out;
  }
  if (auto ok = validate(params); !ok) return make_error(ok.error());
  out.gated = true;
  const auto t0 = std::chrono::steady_clock::now();
  // gate_speech() chunk by chunk, so that a cancel need not wait for a long recording's VAD.
  std::vector<float> probs;
  probs.reserve(n_samples / kVadChunkSamples + 1);
  VadStream stream(vad);
  for (size_t at = 0; at < n_samples; at += kVadChunkSamples) {
    if (probs.size() % 32 == 0 && cancel && cancel->load(std::memory_order_acquire)) {
      out.transcript.cancelled = true;
      return out;
    }
    probs.push_back(stream.process(pcm + at, std::min<size_t>(kVadChunkSamples, n_samples - at)));
  }
  GatedAudio g = gate_audio(pcm, n_samples, vad_segments_from_probs(probs, params), params);
  out.vad_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.speech = g.segments;
  if (!g.has_speech()) {
    out.no_speech = true;
    return out;
  }
  out.engine_samples = static_cast<int64_t>(g.samples.size());
  auto t = engine(g.samples.data(), g.samples.size());
  if (!t) return make_error(t.error());
  out.transcript = std::move(*t);
  for (auto& seg : out.transcript.segments) {
    seg.start_ms = g.to_original_ms(seg.start_ms);
    seg.end_ms = g.to_original_ms(seg.end_ms);
    for (auto& tok : seg.tokens) {
      tok.start_ms = g.to_original_ms(tok.start_ms);
      tok.end_ms = g.to_original_ms(tok.end_ms);
    }
  }
  return out;
}

Result<GatedTranscript> transcribe_gated(Session& session, const std::shared_ptr<const VadModel>& vad,
                                         const VadParams& params, const float* pcm, size_t n_samples,
                                         const TranscribeOptions& options) {
  auto r = transcribe_gated(
      vad, params, pcm, n_samples, [&](const float* p, size_t n) { return session.transcribe(p, n, options); },
      options.cancel);
  // Nothing was said in the language asked for; "auto" stays unknown.
  if (r && r->no_speech && options.language != "auto") r->transcript.language = options.language;
  return r;
}

}  // namespace thoth::asr
