#include "server/service.h"

#include <filesystem>

#include "models/lookup.h"
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

// audio.keep_stream_warm: the input stream opens with the first dictation and stays open,
// so later recordings start at once and can begin with audio.pre_roll_ms from before the
// start. A stream lost in between (device unplugged) is reopened on the next start.
class WarmRecorder final : public pipeline::Recorder {
 public:
  WarmRecorder(std::string device, int pre_roll_ms) : device_(std::move(device)), pre_roll_ms_(pre_roll_ms) {}
  Result<void> start(const std::string& wav_path, audio::LevelCallback on_level) override {
    if (capture_ && capture_->failed()) capture_.reset();
    if (!capture_) {
      auto opened = audio::WarmCapture::open(device_, pre_roll_ms_);
      if (!opened) return make_error(opened.error());
      capture_ = std::move(*opened);
    }
    return capture_->begin(wav_path, std::move(on_level));
  }
  audio::Recording stop() override { return capture_ ? capture_->end() : audio::Recording{}; }

 private:
  std::string device_;
  int pre_roll_ms_;
  std::unique_ptr<audio::WarmCapture> capture_;
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

DictationService::DictationService(Config config, ServiceOptions options)
    : options_(std::move(options)), config_(std::make_shared<const Config>(std::move(config))) {}

DictationService::~DictationService() { shutdown(); }

std::shared_ptr<const Config> DictationService::config() const {
  std::shared_lock lock(config_mutex_);
  return config_;
}

Result<std::shared_ptr<const Config>> DictationService::replace_config(const json& doc) {
  auto config = config_replace(paths::config_file(), doc);
  if (!config) return make_error(config.error());
  auto shared = std::make_shared<const Config>(std::move(*config));
  std::unique_lock lock(config_mutex_);
  config_ = shared;
  ++config_generation_;
  return shared;
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
  if (config.audio.keep_stream_warm)
    stages.recorder = std::make_shared<WarmRecorder>(device, config.audio.pre_roll_ms);
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

CommandResult DictationService::start_locked() {
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
  std::lock_guard lock(pipeline_mutex_);
  for (auto& [k, v] : status_extra_.items()) j[k] = v;
  return j;
}

void DictationService::set_status_extra(json extra) {
  std::lock_guard lock(pipeline_mutex_);
  status_extra_ = std::move(extra);
}

void DictationService::shutdown() {
  shutting_down_.store(true, std::memory_order_release);
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
