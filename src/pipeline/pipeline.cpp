#include "pipeline/pipeline.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <stdexcept>

namespace thoth::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string utc_now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string recording_path(const std::string& dir) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d_%H-%M-%S", &tm);
  const std::filesystem::path base(dir);
  std::filesystem::path p = base / (std::string(stamp) + ".wav");
  for (int n = 2; std::filesystem::exists(p); ++n) p = base / (std::string(stamp) + "-" + std::to_string(n) + ".wav");
  return p.string();
}

Pipeline::Pipeline(Stages stages, PipelineOptions options, EventBus& bus)
    : stages_(std::move(stages)), options_(std::move(options)), bus_(bus) {}

Pipeline::~Pipeline() {
  cancel();
  if (worker_.joinable()) worker_.join();
}

PipelineState Pipeline::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

bool Pipeline::running() const { return running_.load(std::memory_order_acquire); }

void Pipeline::transition(PipelineState to, const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (!is_valid_transition(state_, to))
      throw std::logic_error("pipeline: invalid transition " + std::string(to_string(state_)) + " -> " +
                             std::string(to_string(to)));
    state_ = to;
  }
  cv_.notify_all();
  PipelineEvent e;
  e.kind = PipelineEvent::Kind::Progress;
  e.state = to;
  e.message = message;
  bus_.publish(std::move(e));
}

Result<void> Pipeline::start() {
  // The seed's swap(true): whoever flips the flag owns the pipeline until the run settles.
  if (running_.exchange(true, std::memory_order_acq_rel))
    return make_error("pipeline: a dictation is already running (" + std::string(to_string(state())) +
                      "); stop or cancel it first");
  if (worker_.joinable()) worker_.join();  // the previous run has released the guard: it is done
  auto release = [&](std::string message) -> Error {
    PipelineEvent e;
    e.kind = PipelineEvent::Kind::Error;
    e.state = PipelineState::Idle;
    e.message = message;
    bus_.publish(std::move(e));
    {
      std::lock_guard lock(mutex_);
      running_.store(false, std::memory_order_release);
    }
    cv_.notify_all();
    return make_error(std::move(message));
  };
  if (!stages_.recorder) return release("pipeline: no recorder configured");
  if (!stages_.output) return release("pipeline: no output configured");

  cancel_.store(false, std::memory_order_release);
  std::error_code ec;
  if (!options_.recordings_dir.empty()) std::filesystem::create_directories(options_.recordings_dir, ec);
  const std::string path = recording_path(options_.recordings_dir.empty() ? "." : options_.recordings_dir);
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = false;
    started_at_ = Clock::now();
    created_at_ = utc_now_iso();
    created_at_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    wav_path_ = path;
  }
  auto started = stages_.recorder->start(path, [this](const audio::InputLevel& level) {
    PipelineEvent e;
    e.kind = PipelineEvent::Kind::Level;
    e.state = PipelineState::Recording;
    e.rms_dbfs = level.rms_dbfs;
    e.peak_dbfs = level.peak_dbfs;
    bus_.publish(std::move(e));
  });
  if (!started) return release(started.error());
  transition(PipelineState::Recording, "Recording to " + path);
  worker_ = std::thread([this] { work(); });
  return {};
}

Result<void> Pipeline::stop() {
  {
    std::lock_guard lock(mutex_);
    if (state_ != PipelineState::Recording || !running_.load(std::memory_order_acquire))
      return make_error("pipeline: not recording (state: " + std::string(to_string(state_)) + ")");
    if (stop_requested_) return make_error("pipeline: the recording is already stopping");
    stop_requested_ = true;
  }
  cv_.notify_all();
  return {};
}

void Pipeline::cancel() {
  {
    std::lock_guard lock(mutex_);
    if (!running_.load(std::memory_order_acquire)) return;
    cancel_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

std::optional<PipelineResult> Pipeline::wait() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return !running_.load(std::memory_order_acquire); });
  return last_result_;
}

void Pipeline::work() {
  PipelineResult result;
  Clock::time_point started_at;
  {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return stop_requested_ || cancel_requested(); });
    started_at = started_at_;
    result.created_at = created_at_;
    result.created_at_ms = created_at_ms_;
    result.audio_path = wav_path_;
  }
  const auto stop_at = Clock::now();
  result.timings.recording_ms = std::chrono::duration<double, std::milli>(stop_at - started_at).count();
  auto cancelled = [&](PipelineState in) {
    result.cancelled = true;
    result.cancelled_in = in;
    finish(result, PipelineState::Idle);
  };
  auto fail = [&](std::string error) {
    result.error = std::move(error);
    finish(result, PipelineState::Failed);
  };
  auto timed = [](auto&& fn, double& ms) {
    const auto t = Clock::now();
    auto r = fn();
    ms = ms_since(t);
    return r;
  };

  // Recording: stop and drain; the WAV stays whatever happens next.
  audio::Recording rec = timed([&] { return stages_.recorder->stop(); }, result.timings.drain_ms);
  result.device = rec.device;
  result.audio_seconds = rec.duration_s;
  result.overflow_frames = rec.overflow_frames;
  result.start_latency_ms = rec.start_latency_ms;
  if (rec.overflow_frames > 0)
    result.warnings.push_back("audio: " + std::to_string(rec.overflow_frames) +
                              " input frames were lost (the writer fell behind)");
  if (cancel_requested()) return cancelled(PipelineState::Recording);
  if (rec.samples.empty())
    return fail(rec.error.empty() ? "audio: nothing was recorded from '" + rec.device + "'" : rec.error);
  if (!rec.error.empty()) result.warnings.push_back(rec.error);  // transcribe what we have

  char what[64];
  std::snprintf(what, sizeof what, "Transcribing %.1f s of audio", rec.duration_s);
  transition(PipelineState::Transcribing, what);
  if (!stages_.transcriber)
    return fail("transcription: no Whisper engine is available; the recording is kept at " + result.audio_path);
  result.transcription_model = stages_.transcriber->model_name();
  auto transcript = timed([&] { return stages_.transcriber->transcribe(rec.samples, cancel_); },
                          result.timings.transcribe_ms);
  if (!transcript) return fail(transcript.error());
  result.raw_text = result.filtered_text = result.text = transcript->text;
  if (transcript->cancelled || cancel_requested()) return cancelled(PipelineState::Transcribing);
  if (transcript->no_speech) {
    // Nothing to filter, enhance or type; the run is a success that says so.
    result.no_speech = true;
    result.timings.total_ms = ms_since(stop_at);
    return finish(result, PipelineState::Completed);
  }

  if (stages_.filter) {
    transition(PipelineState::Filtering, "Filtering text");
    auto filtered = timed([&] { return stages_.filter->apply(result.raw_text); }, result.timings.filter_ms);
    if (!filtered) return fail(filtered.error());
    result.filtered_text = result.text = *filtered;
    result.filtered = true;
    if (cancel_requested()) return cancelled(PipelineState::Filtering);
  }

  if (stages_.enhancer) {
    transition(PipelineState::Enhancing, "Enhancing with " + stages_.enhancer->model_name());
    result.enhancement_model = stages_.enhancer->model_name();
    result.enhancement_prompt = stages_.enhancer->prompt_name();
    auto enhanced = timed([&] { return stages_.enhancer->enhance(result.filtered_text, cancel_); },
                          result.timings.enhance_ms);
    if (cancel_requested()) return cancelled(PipelineState::Enhancing);
    if (enhanced) {
      result.text = *enhanced;
      result.enhanced = true;
    } else {
      // Not fatal: the filtered text goes out and the user learns why it was not enhanced.
      result.warnings.push_back("enhancement failed, using the unenhanced text: " + enhanced.error());
    }
  }

  transition(PipelineState::Outputting, "Typing with " + stages_.output->method_name());
  result.output_method = stages_.output->method_name();
  auto delivered = timed([&] { return stages_.output->deliver(result.text, cancel_); }, result.timings.output_ms);
  if (cancel_requested()) return cancelled(PipelineState::Outputting);
  if (!delivered) return fail(delivered.error());
  result.output_method = delivered->method;
  for (const auto& f : delivered->fallbacks) result.warnings.push_back("output fell back past " + f);
  result.delivered = true;
  result.timings.total_ms = ms_since(stop_at);
  finish(result, PipelineState::Completed);
}

void Pipeline::finish(PipelineResult& result, PipelineState terminal) {
  result.final_state = terminal;
  if (result.timings.total_ms == 0)
    result.timings.total_ms = result.timings.drain_ms + result.timings.transcribe_ms + result.timings.filter_ms +
                              result.timings.enhance_ms + result.timings.output_ms;
  // Audio and text are never lost: every outcome reaches the history before it is announced.
  if (stages_.history) {
    auto id = stages_.history->record(result);
    if (id) result.history_id = *id;
    else result.warnings.push_back("history: " + id.error());
  }
  auto shared = std::make_shared<const PipelineResult>(result);
  if (terminal == PipelineState::Completed) {
    const std::string message = result.no_speech ? std::string(kNoSpeechMessage) : "Done";
    transition(PipelineState::Completed, message);
    PipelineEvent e;
    e.kind = PipelineEvent::Kind::Complete;
    e.state = terminal;
    e.message = message;
    e.result = shared;
    bus_.publish(std::move(e));
  } else if (terminal == PipelineState::Failed) {
    transition(PipelineState::Failed, result.error);
    PipelineEvent e;
    e.kind = PipelineEvent::Kind::Error;
    e.state = terminal;
    e.message = result.error;
    e.result = shared;
    bus_.publish(std::move(e));
  }
  transition(PipelineState::Idle, result.cancelled ? "Cancelled" : "Ready");
  {
    std::lock_guard lock(mutex_);
    last_result_ = result;
    running_.store(false, std::memory_order_release);
  }
  cv_.notify_all();
}

}  // namespace thoth::pipeline
