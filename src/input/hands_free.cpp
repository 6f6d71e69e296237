#include "input/hands_free.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace thoth::input {

asr::EndpointParams endpoint_params_from_config(const Config::HandsFree& c) {
  asr::EndpointParams p;
  p.min_speech_ms = c.speech_start_ms;
  p.end_silence_ms = c.auto_stop_ms;
  p.pre_speech_pad_ms = c.padding_ms;
  p.post_speech_pad_ms = c.padding_ms;
  return p;
}

HandsFreeListener::HandsFreeListener(std::shared_ptr<const asr::VadModel> vad, asr::EndpointParams params,
                                     HandsFreeTarget& target, std::shared_ptr<audio::RingBuffer> ring, int64_t origin)
    : endpointer_(std::move(vad), params), params_(params), target_(target), ring_(std::move(ring)), origin_(origin) {
  block_.resize(4096);
  events_.reserve(8);
}

HandsFreeListener::~HandsFreeListener() { stop(); }

void HandsFreeListener::start() {
  if (thread_.joinable()) return;
  quit_.store(false, std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
}

void HandsFreeListener::stop() {
  quit_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

HandsFreeListener::Figures HandsFreeListener::figures() const {
  return {starts_.load(std::memory_order_relaxed), stops_.load(std::memory_order_relaxed),
          ignored_.load(std::memory_order_relaxed), position_.load(std::memory_order_relaxed)};
}

void HandsFreeListener::run() {
  // The writer hands over ~20 ms blocks; polling at 10 ms keeps the detection that close to
  // real time without a wake-up channel the writer would have to signal.
  while (!quit_.load(std::memory_order_relaxed)) {
    drain();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A refused speech (another dictation runs) is simply not dictated: the endpointer stays in
// that speech until its end, so it cannot start one half-way through.
bool HandsFreeListener::try_start(int64_t from) {
  switch (target_.start(from)) {
    case HandsFreeTarget::StartOutcome::kStarted:
      active_ = true;
      pending_start_ = -1;
      starts_.fetch_add(1, std::memory_order_relaxed);
      return true;
    case HandsFreeTarget::StartOutcome::kRetry:
      pending_start_ = from;
      return false;
    case HandsFreeTarget::StartOutcome::kRefused:
      pending_start_ = -1;
      ignored_.fetch_add(1, std::memory_order_relaxed);
      return false;
  }
  return false;
}

void HandsFreeListener::handle(const asr::SpeechEndpointer::Event& e) {
  using Kind = asr::SpeechEndpointer::Event::Kind;
  spdlog::debug("hands-free: speech {} at {}{}", e.kind == Kind::kStart ? "starts" : "ends", origin_ + e.sample,
                active_ ? " (recording)" : pending_start_ >= 0 ? " (waiting for the previous dictation)" : "");
  if (e.kind == Kind::kStart) {
    if (active_) return;
    if (pending_start_ >= 0) {
      // Another speech while the earlier one still waits for its start: one dictation will
      // hold both (from the earlier onset), so neither is lost; it now ends with this one.
      stop_when_started_ = false;
      return;
    }
    (void)try_start(origin_ + e.sample);
    return;
  }
  // End of speech.
  speech_end_ = origin_ + e.sample;
  if (pending_start_ >= 0) {
    // The previous dictation is still being processed and this speech has already ended:
    // it still gets its dictation (the retained audio covers it), stopped once started.
    stop_when_started_ = true;
    return;
  }
  if (active_) {
    active_ = false;
    target_.stop(speech_end_);
    stops_.fetch_add(1, std::memory_order_relaxed);
  }
}

void HandsFreeListener::drain() {
  for (;;) {
    const size_t n = ring_->read(block_.data(), block_.size());
    if (n == 0) break;
    events_.clear();
    endpointer_.feed(block_.data(), n, events_);
    for (const auto& e : events_) handle(e);
    position_.store(origin_ + endpointer_.position(), std::memory_order_relaxed);
  }
  if (pending_start_ >= 0 && try_start(pending_start_) && stop_when_started_) {
    active_ = false;
    target_.stop(speech_end_);
    stops_.fetch_add(1, std::memory_order_relaxed);
  }
  if (pending_start_ < 0) stop_when_started_ = false;
  // Stopped or cancelled by someone else (hotkey, CLI, web UI). The rest of the current
  // speech starts nothing (the endpointer is still in it); the next speech does.
  if (active_ && !target_.recording()) active_ = false;
}

}  // namespace thoth::input
