// The dictation service the daemon shares between its control socket and its HTTP API:
// the configuration (a registry read by every request, replaced whole by the settings API),
// the Whisper model (loaded once, on first use, and shared), and the one Pipeline.
//
// Commands answer with an HTTP-like code so both front ends map them the same way:
// 200 done, 409 refused in this state (a second start, stop when not recording), 500 failed
// (device or model missing: the message says which), 503 shutting down.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "asr/whisper.h"
#include "core/config.h"
#include "pipeline/event_bus.h"
#include "pipeline/pipeline.h"
#include "store/history.h"

namespace thoth::server {

struct CommandResult {
  int code = 200;
  nlohmann::json body = nlohmann::json::object();  // {"error": "..."} when code != 200
  bool ok() const { return code == 200; }
};

struct ServiceOptions {
  std::string model;           // overrides transcription.model when set
  std::string device;          // overrides audio.device when set
  std::string recordings_dir;  // required
};

// The model loaded once and shared by every dictation (the seed's lazily shared service).
class ModelCache {
 public:
  Result<std::shared_ptr<const asr::Model>> get(const std::string& path);
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }

 private:
  // Held across the load on purpose: concurrent first users wait for the one load instead
  // of loading twice. Nothing else takes it (status reads loaded_).
  std::mutex mutex_;
  std::string path_;
  std::shared_ptr<const asr::Model> model_;
  std::atomic<bool> loaded_{false};
};

class DictationService {
 public:
  DictationService(Config config, ServiceOptions options);
  ~DictationService();  // ends a running dictation as shutdown() does
  DictationService(const DictationService&) = delete;
  DictationService& operator=(const DictationService&) = delete;

  CommandResult start();
  CommandResult stop();
  CommandResult toggle();  // start when idle, stop when recording, 409 while processing
  CommandResult cancel();  // 200 even when idle ({"cancelled": false})
  nlohmann::json status() const;

  // Refuses further commands, then finishes or discards a running dictation as
  // daemon.on_shutdown says (the audio is kept either way) and waits for it to settle.
  void shutdown();

  pipeline::EventBus& bus() { return bus_; }
  std::shared_ptr<const Config> config() const;
  // Validates `doc` as a whole user config, writes it (0600) and uses it from the next
  // dictation on. Errors name the key at fault.
  Result<std::shared_ptr<const Config>> replace_config(const nlohmann::json& doc);
  // The history database, opened on first use.
  Result<store::HistoryStore*> history();
  // Fields the daemon adds to every status (pid, socket, HTTP port).
  void set_status_extra(nlohmann::json extra);
  // The model file the config names, resolved now (for fail-fast checks and /api/models).
  Result<std::string> resolve_model() const;

 private:
  Result<std::shared_ptr<pipeline::Pipeline>> build_pipeline(const Config& config);
  std::shared_ptr<pipeline::Pipeline> current() const;
  CommandResult start_locked();

  ServiceOptions options_;
  // Declared before the pipeline so it outlives it (the pipeline publishes into it).
  pipeline::EventBus bus_;
  std::shared_ptr<ModelCache> models_ = std::make_shared<ModelCache>();

  mutable std::shared_mutex config_mutex_;  // the config registry: many readers, rare writer
  std::shared_ptr<const Config> config_;
  uint64_t config_generation_ = 0;

  std::mutex command_mutex_;  // serialises start/stop/toggle/cancel/shutdown
  std::atomic<bool> shutting_down_{false};
  uint64_t built_generation_ = ~uint64_t{0};

  mutable std::mutex pipeline_mutex_;  // guards pipeline_ and status_extra_ (brief)
  std::shared_ptr<pipeline::Pipeline> pipeline_;
  nlohmann::json status_extra_ = nlohmann::json::object();

  std::mutex history_mutex_;
  std::optional<store::HistoryStore> history_;
};

// Wire forms shared by the socket's event stream, the SSE stream and status.
nlohmann::json event_to_json(const pipeline::PipelineEvent& event);
nlohmann::json result_to_json(const pipeline::PipelineResult& result);
nlohmann::json history_entry_to_json(const store::HistoryEntry& entry);
// JSON text for the wire. A transcript may hold invalid UTF-8 (a model's partial token):
// it is replaced, never thrown on a delivery thread.
inline std::string to_wire(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
// The first line of every event stream: {"event":"daemon-status","status":{...}}.
nlohmann::json status_event(const nlohmann::json& status);

}  // namespace thoth::server
