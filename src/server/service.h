// The dictation service the daemon shares between its control socket and its HTTP API:
// the configuration (a registry read by every request, replaced whole by the settings API),
// the Whisper model (loaded once, on first use, and shared), and the one Pipeline.
//
// Commands answer with an HTTP-like code so both front ends map them the same way:
// 200 done, 409 refused in this state (a second start, stop when not recording), 500 failed
// (device or model missing: the message says which), 503 shutting down.
#pragma once
#include <atomic>
#include <functional>
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

namespace thoth::input {
class HandsFreeListener;
}

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
  // Reads the config file again (it was edited by hand). An invalid file, or settings the
  // listener refuses, change nothing: the error says why in one line. True when the
  // effective config changed (then the listener has applied it), false when it is the same.
  Result<bool> reload_config_file();
  // Called by replace_config and reload_config_file with the new config: first to check it (apply false; an error
  // refuses the change and nothing is written), then, once it is in effect, to apply it.
  // Null clears it (waiting for a call in flight).
  using ConfigListener = std::function<Result<void>(const Config&, bool apply)>;
  void set_config_listener(ConfigListener listener);
  // The history database, opened on first use.
  Result<store::HistoryStore*> history();
  // Fields the daemon adds to every status (pid, socket, HTTP port).
  void set_status_extra(nlohmann::json extra);
  // A field computed at every status, for facts that change on their own (the global
  // shortcuts: a desktop portal answers when the user does). `value` must be quick and must
  // not call back into the service. Null clears it; once that returns it is not running.
  void set_status_field(std::string key, std::function<nlohmann::json()> value);
  // The model file the config names, resolved now (for fail-fast checks and /api/models).
  Result<std::string> resolve_model() const;

  // Hands-free mode: a listener on the warm input stream starts a dictation when speech
  // begins and stops it after hands_free.auto_stop_ms of silence. Turning it on opens the
  // input device and loads the VAD model: 500 naming the one missing. Answers
  // {"hands_free": bool}; the change is published on the bus as a "hands-free" event.
  CommandResult set_hands_free(bool enabled);
  CommandResult toggle_hands_free();
  bool hands_free() const { return hands_free_on_.load(std::memory_order_acquire); }

  struct WarmStream;  // the shared warm input stream (service.cpp)

 private:
  Result<std::shared_ptr<pipeline::Pipeline>> build_pipeline(const Config& config);
  std::shared_ptr<pipeline::Pipeline> current() const;
  CommandResult start_locked(bool hands_free = false);
  void stop_hands_free_listener();
  void publish_hands_free(const std::string& message);

  class HandsFreeBridge;
  friend class HandsFreeBridge;

  ServiceOptions options_;
  // Declared before the pipeline so it outlives it (the pipeline publishes into it).
  pipeline::EventBus bus_;
  std::shared_ptr<ModelCache> models_ = std::make_shared<ModelCache>();

  std::shared_mutex listener_mutex_;  // guards config_listener_; held during its calls
  ConfigListener config_listener_;
  mutable std::shared_mutex config_mutex_;  // the config registry: many readers, rare writer
  std::shared_ptr<const Config> config_;
  uint64_t config_generation_ = 0;

  std::mutex command_mutex_;  // serialises start/stop/toggle/cancel/shutdown
  std::atomic<bool> shutting_down_{false};
  uint64_t built_generation_ = ~uint64_t{0};

  mutable std::mutex pipeline_mutex_;  // guards pipeline_ and status_extra_ (brief)
  std::shared_ptr<pipeline::Pipeline> pipeline_;
  nlohmann::json status_extra_ = nlohmann::json::object();
  mutable std::mutex status_field_mutex_;  // guards the two below, held while calling the field
  std::string status_field_key_;
  std::function<nlohmann::json()> status_field_;

  std::mutex history_mutex_;
  std::optional<store::HistoryStore> history_;

  // The warm input stream, shared by every pipeline build and the hands-free listener.
  std::shared_ptr<WarmStream> warm_;

  // Hands-free. hands_free_mutex_ serialises switching it on and off; the listener's thread
  // never takes it (it calls in through the bridge, which takes command_mutex_ only).
  mutable std::mutex hands_free_mutex_;
  std::unique_ptr<HandsFreeBridge> bridge_;
  std::unique_ptr<input::HandsFreeListener> listener_;
  std::string hands_free_error_;  // why the last attempt to turn it on failed (hands_free_mutex_)
  std::atomic<bool> hands_free_on_{false};
  std::atomic<bool> hands_free_run_{false};  // the current dictation was started by the listener
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
