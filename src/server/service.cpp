#include "server/service.h"

#include <filesystem>

#include "audio/ring_buffer.h"
#include "input/hands_free.h"
#include "models/lookup.h"
#include "models/vad_model.h"
#include "pipeline/capture_recorder.h"
#include "pipeline/engine_transcriber.h"
#include "pipeline/stage_adapters.h"
#include "core/paths.h"

#include <spdlog/spdlog.h>

namespace thoth::server {
namespace {

using nlohmann::json;
using pipeline::PipelineState;

CommandResult fail(int code, std::string message) { return {code, json{{"error", std::move(message)}}}; }

// Loads the model on the first dictation that needs it, then shares it: the daemon starts
// at once and pays the load a single time.
class SharedModelTranscriber final : public pipeline::Transcriber {
 public:
  SharedModelTranscriber(std::shared_ptr<ModelCache> cache, std::string path, asr::TranscribeOptions options,
                         pipeline::SpeechGate gate)
      : cache_(std::move(cache)), path_(std::move(path)), options_(std::move(options)), gate_(std::move(gate)) {}

  Result<pipeline::Transcription> transcribe(const std::vector<float>& pcm, const std::atomic<bool>& cancel) override {
    auto model = cache_->get(path_);
    if (!model) return make_error(model.error());
    pipeline::EngineTranscriber engine(*model, options_, model_name(), gate_);
    return engine.transcribe(pcm, cancel);
  }
  std::string model_name() const override { return std::filesystem::path(path_).filename().string(); }

 private:
  std::shared_ptr<ModelCache> cache_;
  std::string path_;
  asr::TranscribeOptions options_;
  pipeline::SpeechGate gate_;  // the VAD model is small: loaded with each pipeline build
};

// Past audio kept in RAM while hands-free is on, beyond the padding: a speech that begins
// while the previous hands-free dictation is still being transcribed is recorded from its
// onset once that one is done, if it is done within this.
constexpr int kHandsFreeBacklogMs = 15000;

}  // namespace

// audio.keep_stream_warm: the input stream opens with the first dictation (or with hands-free
// mode) and stays open, so later recordings start at once and can begin with
// audio.pre_roll_ms from before the start. A stream lost in between (device unplugged) is
// reopened on the next start. The hands-free tap moves to the reopened stream; positions
// handed to the listener are indices in its ring, mapped here to the current stream's.
struct DictationService::WarmStream {
  std::mutex mutex;  // held across device open/begin/end; never by the listener's thread
  std::unique_ptr<audio::WarmCapture> capture;
  std::string device;
  int pre_roll_ms = 0;
  int retain_ms = 0;
  std::shared_ptr<audio::RingBuffer> tap;
  std::shared_ptr<std::atomic<uint64_t>> tap_dropped;
  bool tap_attached = false;
  int64_t tap_attach_pos = 0;  // stream position of the ring's sample ring_base
  uint64_t dropped_at_attach = 0;
  int64_t ring_base = 0;
  int64_t next_from = -1;  // ring index the next recording starts from (hands-free)
  int64_t next_until = -1; // ring index the recording being stopped ends at (hands-free)

  void attach_locked() {
    if (!tap || !capture || tap_attached) return;
    dropped_at_attach = tap_dropped->load(std::memory_order_relaxed);
    tap_attach_pos = capture->attach_tap(tap, tap_dropped);
    tap_attached = true;
  }
  void detach_locked() {
    if (!capture || !tap_attached) return;
    const int64_t end = capture->detach_tap();
    // What reached the ring from this stream: the next stream's first sample follows it.
    ring_base += end - tap_attach_pos - int64_t(tap_dropped->load(std::memory_order_relaxed) - dropped_at_attach);
    tap_attached = false;
  }
  // A ring index as a position of the current stream: exact until the tap first drops a
  // block, after which the ring lags the stream (a start from it then begins early).
  int64_t stream_position_locked(int64_t ring_index) const {
    return std::max<int64_t>(0, ring_index - ring_base + tap_attach_pos);
  }
  // The same for where a recording ends, only while exact: -1 otherwise, which ends it late
  // rather than cutting words.
  int64_t exact_stream_position_locked(int64_t ring_index) const {
    if (!tap_attached || tap_dropped->load(std::memory_order_relaxed) != dropped_at_attach) return -1;
    return stream_position_locked(ring_index);
  }
  Result<audio::WarmCapture*> ensure_locked(const std::string& want_device, int want_pre_roll_ms) {
    if (capture && (capture->failed() || want_device != device || want_pre_roll_ms != pre_roll_ms)) {
      detach_locked();
      capture.reset();
    }
    if (!capture) {
      auto opened = audio::WarmCapture::open(want_device, want_pre_roll_ms, retain_ms);
      if (!opened) return make_error(opened.error());
      capture = std::move(*opened);
      device = want_device;
      pre_roll_ms = want_pre_roll_ms;
    }
    attach_locked();
    return capture.get();
  }
};

namespace {

class WarmRecorder final : public pipeline::Recorder {
 public:
  WarmRecorder(std::shared_ptr<DictationService::WarmStream> warm, std::string device, int pre_roll_ms)
      : warm_(std::move(warm)), device_(std::move(device)), pre_roll_ms_(pre_roll_ms) {}
  Result<void> start(const std::string& wav_path, audio::LevelCallback on_level) override {
    std::lock_guard lock(warm_->mutex);
    auto capture = warm_->ensure_locked(device_, pre_roll_ms_);
    if (!capture) return make_error(capture.error());
    const int64_t from = std::exchange(warm_->next_from, -1);
    warm_->next_until = -1;
    const int64_t stream_from = from < 0 ? -1 : warm_->stream_position_locked(from);
    if (from >= 0) spdlog::debug("hands-free: recording from ring {} (stream {})", from, stream_from);
    return (*capture)->begin(wav_path, std::move(on_level), stream_from);
  }
  audio::Recording stop() override {
    std::lock_guard lock(warm_->mutex);
    if (!warm_->capture) return {};
    const int64_t until = std::exchange(warm_->next_until, -1);
    const int64_t stream_until = until < 0 ? -1 : warm_->exact_stream_position_locked(until);
    if (until >= 0) spdlog::debug("hands-free: recording until ring {} (stream {})", until, stream_until);
    return warm_->capture->end(stream_until);
  }

 private:
  std::shared_ptr<DictationService::WarmStream> warm_;
  std::string device_;
  int pre_roll_ms_;
};

}  // namespace

Result<std::shared_ptr<const asr::Model>> ModelCache::get(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (model_ && path_ == path) return model_;
  auto model = asr::Model::load(path);
  if (!model) return make_error(model.error());
  model_ = std::move(*model);
  path_ = path;
  loaded_.store(true, std::memory_order_release);
  return model_;
}

// What the hands-free listener drives: the service's own start/stop, marked as hands-free so
// that a dictation someone else started is never touched.
class DictationService::HandsFreeBridge final : public input::HandsFreeTarget {
 public:
  explicit HandsFreeBridge(DictationService& s) : s_(s) {}

  StartOutcome start(int64_t from_position) override {
    std::lock_guard lock(s_.command_mutex_);
    if (s_.shutting_down_.load(std::memory_order_acquire)) return StartOutcome::kRefused;
    if (auto p = s_.current(); p && p->running()) {
      if (!s_.hands_free_run_.load(std::memory_order_acquire)) return StartOutcome::kRefused;
      // This speech waits for the previous dictation to be processed, which can outlast the
      // retained audio (a slow model, a long dictation): its audio is held until it starts.
      std::lock_guard warm(s_.warm_->mutex);
      if (s_.warm_->capture) s_.warm_->capture->hold(s_.warm_->stream_position_locked(from_position));
      return StartOutcome::kRetry;
    }
    {
      std::lock_guard warm(s_.warm_->mutex);
      s_.warm_->next_from = from_position;
    }
    auto r = s_.start_locked(true);
    std::lock_guard warm(s_.warm_->mutex);
    s_.warm_->next_from = -1;
    if (!r.ok()) {
      if (s_.warm_->capture) s_.warm_->capture->hold(-1);
      spdlog::warn("hands-free: cannot start a dictation: {}", r.body.value("error", std::string("?")));
      return StartOutcome::kRefused;
    }
    return StartOutcome::kStarted;
  }

  void stop(int64_t until_position) override {
    std::lock_guard lock(s_.command_mutex_);
    auto p = s_.current();
    if (!s_.hands_free_run_.load(std::memory_order_acquire) || !p || p->state() != PipelineState::Recording) return;
    {
      std::lock_guard warm(s_.warm_->mutex);
      s_.warm_->next_until = until_position;
    }
    if (!p->stop()) {  // stopped meanwhile by someone else: their stop keeps all of it
      std::lock_guard warm(s_.warm_->mutex);
      s_.warm_->next_until = -1;
    }
  }

  bool recording() override {
    auto p = s_.current();
    return s_.hands_free_run_.load(std::memory_order_acquire) && p && p->running() &&
           p->state() == PipelineState::Recording;
  }

 private:
  DictationService& s_;
};

DictationService::DictationService(Config config, ServiceOptions options)
    : options_(std::move(options)),
      config_(std::make_shared<const Config>(std::move(config))),
      warm_(std::make_shared<WarmStream>()),
      bridge_(std::make_unique<HandsFreeBridge>(*this)) {}

DictationService::~DictationService() { shutdown(); }

std::shared_ptr<const Config> DictationService::config() const {
  std::shared_lock lock(config_mutex_);
  return config_;
}

Result<std::shared_ptr<const Config>> DictationService::replace_config(const json& doc) {
  // What the schema cannot see (say, an unknown shortcut key) is refused before the file
  // is written, by whoever listens.
  // Held across the calls so that clearing the listener waits for a call in flight.
  std::shared_lock listening(listener_mutex_);
  if (config_listener_) {
    auto parsed = config_from_json(doc, "config");
    if (!parsed) return make_error(parsed.error());
    if (auto ok = config_listener_(*parsed, /*apply=*/false); !ok) return make_error(ok.error());
  }
  auto config = config_replace(paths::config_file(), doc);
  if (!config) return make_error(config.error());
  auto shared = std::make_shared<const Config>(std::move(*config));
  {
    std::unique_lock lock(config_mutex_);
    config_ = shared;
    ++config_generation_;
  }
  if (config_listener_) (void)config_listener_(*shared, /*apply=*/true);
  return shared;
}

Result<bool> DictationService::reload_config_file() {
  std::shared_lock listening(listener_mutex_);
  auto loaded = load_config(paths::config_file());
  if (!loaded) return make_error(loaded.error());
  // Saving through the API writes the file too: the same settings are no change.
  if (config_to_json(*loaded) == config_to_json(*config())) return false;
  if (config_listener_)
    if (auto ok = config_listener_(*loaded, /*apply=*/false); !ok) return make_error(ok.error());
  auto shared = std::make_shared<const Config>(std::move(*loaded));
  {
    std::unique_lock lock(config_mutex_);
    config_ = shared;
    ++config_generation_;
  }
  if (config_listener_) (void)config_listener_(*shared, /*apply=*/true);
  return true;
}

void DictationService::set_config_listener(ConfigListener listener) {
  std::unique_lock lock(listener_mutex_);
  config_listener_ = std::move(listener);
}

Result<std::string> DictationService::resolve_model() const {
  auto config = this->config();
  return models::resolve_model(options_.model.empty() ? config->transcription.model : options_.model);
}

Result<std::shared_ptr<pipeline::Pipeline>> DictationService::build_pipeline(const Config& config) {
  auto configured = pipeline::stages_from_config(config);
  if (!configured) return make_error(configured.error());
  auto model_path = models::resolve_model(options_.model.empty() ? config.transcription.model : options_.model);
  if (!model_path) return make_error(model_path.error());
  asr::TranscribeOptions engine_options;
  engine_options.language = config.transcription.language;
  engine_options.translate = config.transcription.translate;
  engine_options.n_threads = config.transcription.threads;
  engine_options.beam_size = config.transcription.beam_size;
  engine_options.initial_prompt = config.transcription.initial_prompt;

  // A VAD model that cannot be found leaves transcription ungated (as `thoth dictate` does);
  // the reason is logged, the dictation goes on.
  std::string vad_warning;
  auto gate = pipeline::speech_gate_from_config(config.vad, false, &vad_warning);
  if (!gate) return make_error(gate.error());
  if (!vad_warning.empty()) spdlog::warn("{}", vad_warning);

  pipeline::Stages stages;
  stages.transcriber = std::make_shared<SharedModelTranscriber>(models_, *model_path, engine_options, std::move(*gate));
  const std::string device = options_.device.empty() ? config.audio.device : options_.device;
  if (config.audio.keep_stream_warm || hands_free())
    stages.recorder = std::make_shared<WarmRecorder>(warm_, device, config.audio.pre_roll_ms);
  else
    stages.recorder = std::make_shared<pipeline::CaptureRecorder>(device);
  stages.filter = configured->filter;
  stages.enhancer = configured->enhancer;
  stages.history = configured->history;
  auto output = pipeline::DesktopTextOutput::create(pipeline::output_options_from_config(config));
  if (!output) return make_error(output.error());
  stages.output = *output;
  return std::make_shared<pipeline::Pipeline>(std::move(stages), pipeline::PipelineOptions{options_.recordings_dir}, bus_);
}

std::shared_ptr<pipeline::Pipeline> DictationService::current() const {
  std::lock_guard lock(pipeline_mutex_);
  return pipeline_;
}

CommandResult DictationService::start_locked(bool hands_free) {
  if (shutting_down_.load(std::memory_order_acquire)) return fail(503, "the daemon is shutting down");
  auto p = current();
  if (p && p->running())
    return fail(409, "a dictation is already running (state: " + std::string(to_string(p->state())) + ")");
  uint64_t generation;
  std::shared_ptr<const Config> config;
  {
    std::shared_lock lock(config_mutex_);
    generation = config_generation_;
    config = config_;
  }
  // Settings changed through the API apply from the next dictation on.
  if (!p || generation != built_generation_) {
    auto built = build_pipeline(*config);
    if (!built) return fail(500, built.error());
    p = *built;
    built_generation_ = generation;
    std::shared_ptr<pipeline::Pipeline> old;
    {
      std::lock_guard lock(pipeline_mutex_);
      old = std::exchange(pipeline_, p);
    }
    // `old` is idle; its destructor joins its settled worker outside the lock.
  }
  hands_free_run_.store(hands_free, std::memory_order_release);
  if (auto started = p->start(); !started) return fail(500, started.error());
  return {200, json{{"state", "recording"}}};
}

CommandResult DictationService::start() {
  std::lock_guard lock(command_mutex_);
  return start_locked();
}

CommandResult DictationService::stop() {
  std::lock_guard lock(command_mutex_);
  auto p = current();
  if (!p || p->state() != PipelineState::Recording)
    return fail(409, "not recording (state: " + std::string(to_string(p ? p->state() : PipelineState::Idle)) + ")");
  if (auto stopped = p->stop(); !stopped) return fail(409, stopped.error());
  return {200, json{{"state", "transcribing"}}};
}

CommandResult DictationService::toggle() {
  std::lock_guard lock(command_mutex_);
  auto p = current();
  if (p && p->running()) {
    const auto state = p->state();
    if (state != PipelineState::Recording)
      return fail(409, "busy: the dictation is " + std::string(to_string(state)) + "; cancel it or wait");
    if (auto stopped = p->stop(); !stopped) return fail(409, stopped.error());
    return {200, json{{"state", "transcribing"}, {"action", "stop"}}};
  }
  auto r = start_locked();
  if (r.ok()) r.body["action"] = "start";
  return r;
}

CommandResult DictationService::cancel() {
  // No command lock: a cancel must get through while a start is opening the device or a
  // shutdown is waiting for the dictation to finish. Pipeline::cancel is thread-safe.
  auto p = current();
  const bool running = p && p->running();
  if (running) p->cancel();
  return {200, json{{"cancelled", running}}};
}

json DictationService::status() const {
  auto p = current();
  json j;
  const auto state = p ? p->state() : PipelineState::Idle;
  j["state"] = std::string(to_string(state));
  j["running"] = p && p->running();
  auto config = this->config();
  j["model"] = options_.model.empty() ? config->transcription.model : options_.model;
  j["model_loaded"] = models_->loaded();
  j["shutting_down"] = shutting_down_.load(std::memory_order_acquire);
  j["hands_free"] = hands_free();
  j["hands_free_dictation"] = j["running"].get<bool>() && hands_free_run_.load(std::memory_order_acquire);
  {
    std::lock_guard lock(hands_free_mutex_);
    if (!hands_free_error_.empty()) j["hands_free_error"] = hands_free_error_;
  }
  {
    std::lock_guard lock(pipeline_mutex_);
    for (auto& [k, v] : status_extra_.items()) j[k] = v;
  }
  std::lock_guard lock(status_field_mutex_);
  if (status_field_) j[status_field_key_] = status_field_();
  return j;
}

void DictationService::set_status_field(std::string key, std::function<json()> value) {
  std::lock_guard lock(status_field_mutex_);
  status_field_key_ = std::move(key);
  status_field_ = std::move(value);
}

void DictationService::set_status_extra(json extra) {
  std::lock_guard lock(pipeline_mutex_);
  status_extra_ = std::move(extra);
}

void DictationService::shutdown() {
  shutting_down_.store(true, std::memory_order_release);
  {
    // First, so no new hands-free dictation starts while the last one is finished.
    std::lock_guard lock(hands_free_mutex_);
    stop_hands_free_listener();
  }
  std::shared_ptr<pipeline::Pipeline> p;
  {
    // Waits for a start in progress; none can begin after this (shutting_down_).
    std::lock_guard lock(command_mutex_);
    p = current();
    if (!p) return;
    if (p->running()) {
      if (config()->daemon.on_shutdown == "discard") p->cancel();
      else if (p->state() == PipelineState::Recording) (void)p->stop();
      // "finish" lets a dictation past recording run to its end; cancel keeps the WAV and
      // records the run in the history, so nothing heard is lost either way.
    }
  }
  (void)p->wait();  // outside the lock, so `thoth cancel` still reaches a finishing run
}

void DictationService::publish_hands_free(const std::string& message) {
  pipeline::PipelineEvent e;
  e.kind = pipeline::PipelineEvent::Kind::HandsFree;
  auto p = current();
  e.state = p ? p->state() : PipelineState::Idle;
  e.message = message;
  bus_.publish(std::move(e));
}

// hands_free_mutex_ held.
void DictationService::stop_hands_free_listener() {
  if (!listener_) return;
  listener_->stop();  // joins; its dictation in progress (if any) goes on to its end
  listener_.reset();
  hands_free_on_.store(false, std::memory_order_release);
  std::lock_guard warm(warm_->mutex);
  warm_->detach_locked();
  warm_->tap.reset();
  warm_->tap_dropped.reset();
  warm_->ring_base = 0;
  warm_->retain_ms = 0;
  if (warm_->capture) {
    warm_->capture->retain(0);
    warm_->capture->hold(-1);
  }
}

CommandResult DictationService::set_hands_free(bool enabled) {
  std::unique_lock lock(hands_free_mutex_);
  if (enabled == hands_free()) return {200, json{{"hands_free", enabled}}};
  if (!enabled) {
    stop_hands_free_listener();
    lock.unlock();
    publish_hands_free("off");
    return {200, json{{"hands_free", false}}};
  }
  if (shutting_down_.load(std::memory_order_acquire)) return fail(503, "the daemon is shutting down");
  auto config = this->config();
  auto failed = [&](std::string message) {
    hands_free_error_ = message;
    lock.unlock();
    publish_hands_free("error: " + message);
    return fail(500, std::move(message));
  };
  auto vad_path = models::resolve_vad_model_setting(config->vad.model);
  if (!vad_path) return failed("hands-free mode needs the VAD model: " + vad_path.error());
  auto vad = asr::VadModel::load(*vad_path);
  if (!vad) return failed("hands-free mode needs the VAD model: " + vad.error());
  const auto& hf = config->hands_free;
  // 8 s of slack: the listener only falls behind when the machine stalls it.
  auto ring = std::make_shared<audio::RingBuffer>(size_t(asr::kVadSampleRate) * 8);
  {
    std::lock_guard warm(warm_->mutex);
    warm_->retain_ms = hf.padding_ms + hf.speech_start_ms + kHandsFreeBacklogMs;
    warm_->tap = ring;
    warm_->tap_dropped = std::make_shared<std::atomic<uint64_t>>(0);
    warm_->ring_base = 0;
    if (warm_->capture) warm_->capture->retain(warm_->retain_ms);
    const std::string device = options_.device.empty() ? config->audio.device : options_.device;
    auto capture = warm_->ensure_locked(device, config->audio.pre_roll_ms);
    if (!capture) {
      warm_->tap.reset();
      warm_->tap_dropped.reset();
      warm_->retain_ms = 0;
      return failed("hands-free mode cannot listen: " + capture.error());
    }
  }
  listener_ = std::make_unique<input::HandsFreeListener>(*vad, input::endpoint_params_from_config(hf), *bridge_,
                                                         ring, 0);
  listener_->start();
  hands_free_error_.clear();
  hands_free_on_.store(true, std::memory_order_release);
  {
    // The next dictation records from the warm stream even when keep_stream_warm is off.
    std::lock_guard command(command_mutex_);
    built_generation_ = ~uint64_t{0};
  }
  lock.unlock();
  publish_hands_free("on");
  return {200, json{{"hands_free", true}}};
}

CommandResult DictationService::toggle_hands_free() { return set_hands_free(!hands_free()); }

Result<store::HistoryStore*> DictationService::history() {
  std::lock_guard lock(history_mutex_);
  if (!history_) {
    auto opened = store::HistoryStore::open(paths::history_db());
    if (!opened) return make_error(opened.error());
    history_.emplace(std::move(*opened));
  }
  return &*history_;
}

json result_to_json(const pipeline::PipelineResult& r) {
  return json{{"final_state", std::string(to_string(r.final_state))},
              {"cancelled", r.cancelled},
              {"created_at", r.created_at},
              {"audio_path", r.audio_path},
              {"audio_seconds", r.audio_seconds},
              {"raw_text", r.raw_text},
              {"text", r.text},
              {"delivered", r.delivered},
              {"error", r.error},
              {"warnings", r.warnings},
              {"history_id", r.history_id},
              {"total_ms", r.timings.total_ms},
              {"timings", json{{"recording_ms", r.timings.recording_ms},
                               {"drain_ms", r.timings.drain_ms},
                               {"transcribe_ms", r.timings.transcribe_ms},
                               {"filter_ms", r.timings.filter_ms},
                               {"enhance_ms", r.timings.enhance_ms},
                               {"output_ms", r.timings.output_ms},
                               {"total_ms", r.timings.total_ms}}}};
}

json event_to_json(const pipeline::PipelineEvent& e) {
  json j{{"event", std::string(e.name())}, {"state", std::string(to_string(e.state))}};
  if (e.kind == pipeline::PipelineEvent::Kind::Level) {
    j["rms_dbfs"] = e.rms_dbfs;
    j["peak_dbfs"] = e.peak_dbfs;
  } else if (e.kind == pipeline::PipelineEvent::Kind::HandsFree) {
    j["hands_free"] = e.message == "on";
    j["message"] = e.message;
  } else {
    j["message"] = e.message;
  }
  if (e.result) j["result"] = result_to_json(*e.result);
  return j;
}

json status_event(const json& status) { return json{{"event", "daemon-status"}, {"status", status}}; }

namespace {
// Only the stages that ran: a cancelled dictation has no transcribe_ms.
json durations_to_json(const store::StageDurations& d) {
  json j = json::object();
  const std::pair<const char*, const std::optional<int64_t>*> fields[] = {
      {"record_ms", &d.record_ms}, {"transcribe_ms", &d.transcribe_ms}, {"filter_ms", &d.filter_ms},
      {"enhance_ms", &d.enhance_ms}, {"output_ms", &d.output_ms}};
  for (const auto& [name, value] : fields)
    if (value->has_value()) j[name] = **value;
  return j;
}
}  // namespace

json history_entry_to_json(const store::HistoryEntry& e) {
  return json{{"id", e.id},
              {"created_at", store::format_timestamp(e.created_at_ms)},
              {"text", e.text},
              {"raw_text", e.raw_text},
              {"audio_duration_s", e.audio_duration_s},
              {"audio_path", e.audio_path},
              {"enhanced", e.enhanced},
              {"transcription_model", e.transcription_model},
              {"enhancement_model", e.enhancement_model},
              {"status", std::string(store::to_string(e.status))},
              {"error", e.error},
              {"durations", durations_to_json(e.durations)}};
}

}  // namespace thoth::server
