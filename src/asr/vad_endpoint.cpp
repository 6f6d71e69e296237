#include "asr/vad_endpoint.h"

#include <algorithm>

namespace thoth::asr {
namespace {
int64_t ms_to_samples(int ms) { return static_cast<int64_t>(std::max(0, ms)) * kVadSampleRate / 1000; }
}  // namespace

SpeechEndpointer::SpeechEndpointer(std::shared_ptr<const VadModel> model, EndpointParams params)
    : stream_(std::move(model)), params_(params) {
  pending_.reserve(kVadChunkSamples);
}

void SpeechEndpointer::reset() {
  stream_.reset();
  pending_.clear();
  chunks_ = 0;
  in_speech_ = false;
  run_start_ = silence_start_ = -1;
  last_speech_end_ = 0;
}

void SpeechEndpointer::feed(const float* pcm, size_t n, std::vector<Event>& events) {
  while (n > 0) {
    if (pending_.empty() && n >= static_cast<size_t>(kVadChunkSamples)) {
      feed_probability(stream_.process(pcm, kVadChunkSamples), events);
      pcm += kVadChunkSamples;
      n -= kVadChunkSamples;
      continue;
    }
    const size_t take = std::min(n, static_cast<size_t>(kVadChunkSamples) - pending_.size());
    pending_.insert(pending_.end(), pcm, pcm + take);
    pcm += take;
    n -= take;
    if (pending_.size() == static_cast<size_t>(kVadChunkSamples)) {
      const float p = stream_.process(pending_.data(), kVadChunkSamples);
      pending_.clear();
      feed_probability(p, events);
    }
  }
}

// The same hysteresis as the reference's segments (speech at >= threshold, silence below
// threshold - 0.15, in between continues whatever was going on), decided as audio arrives.
void SpeechEndpointer::feed_probability(float p, std::vector<Event>& events) {
  const int64_t i = chunks_++;
  const int64_t at = i * kVadChunkSamples;
  const float neg = std::max(params_.threshold - 0.15f, 0.01f);
  if (!in_speech_) {
    if (p >= params_.threshold) {
      if (run_start_ < 0) run_start_ = i;
      if ((i + 1 - run_start_) * kVadChunkSamples >= ms_to_samples(params_.min_speech_ms)) {
        in_speech_ = true;
        silence_start_ = -1;
        last_speech_end_ = at + kVadChunkSamples;
        events.push_back({Event::Kind::kStart,
                          std::max<int64_t>(0, run_start_ * kVadChunkSamples - ms_to_samples(params_.pre_speech_pad_ms))});
      }
    } else if (p < neg) {
      run_start_ = -1;
    }
    return;
  }
  if (p >= params_.threshold) last_speech_end_ = at + kVadChunkSamples;
  if (p < neg) {
    if (silence_start_ < 0) silence_start_ = i;
    if ((i + 1 - silence_start_) * kVadChunkSamples >= ms_to_samples(params_.end_silence_ms)) {
      in_speech_ = false;
      run_start_ = silence_start_ = -1;
      events.push_back({Event::Kind::kEnd,
                        std::min(last_speech_end_ + ms_to_samples(params_.post_speech_pad_ms), at + kVadChunkSamples)});
    }
  } else {
    silence_start_ = -1;
  }
}

void SpeechEndpointer::flush(std::vector<Event>& events) {
  if (!in_speech_) return;
  in_speech_ = false;
  run_start_ = silence_start_ = -1;
  events.push_back({Event::Kind::kEnd, std::min(last_speech_end_ + ms_to_samples(params_.post_speech_pad_ms), position())});
}

}  // namespace thoth::asr
