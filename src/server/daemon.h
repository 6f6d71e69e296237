// `thoth daemon`: one per user. It holds an instance lock in the runtime dir, serves the
// control socket and the local HTTP API, loads the model on first use and shares it, and
// shuts down cleanly (the dictation in progress finished or discarded per
// daemon.on_shutdown, every thread joined, the audio kept).
//
//   auto d = server::Daemon::start({});
//   if (!d) { print d.error(); exit 1; }   // e.g. "a daemon is already running (pid 42, ...)"
//   ...wait for SIGTERM/SIGINT...
//   (*d)->shutdown();
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"

namespace thoth::input {
class DictationControl;
class GlobalShortcuts;
}  // namespace thoth::input

namespace thoth::server {

class Cues;
class FileWatcher;
class Tray;
class TrayFollower;

struct DaemonOptions {
  std::string model;              // overrides transcription.model
  std::string device;             // overrides audio.device
  std::optional<int> http_port;   // overrides server.port (0: pick a free port)
};

class DictationService;
class ControlServer;
class HttpApi;

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> start(const DaemonOptions& options);
  ~Daemon();  // shutdown()
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Idempotent. Ends the dictation, the servers and their threads, then the lock.
  void shutdown();

  const std::filesystem::path& socket_path() const { return socket_path_; }
  int http_port() const { return http_port_; }  // 0 when server.enabled is false

 private:
  Daemon() = default;
  int lock_fd_ = -1;
  std::filesystem::path socket_path_, info_path_;
  int http_port_ = 0;
  std::unique_ptr<DictationService> service_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<HttpApi> http_;
  std::unique_ptr<input::DictationControl> keys_;     // the service as the shortcuts see it
  std::unique_ptr<input::GlobalShortcuts> shortcuts_;  // uses keys_
  std::unique_ptr<Cues> cues_;
  std::unique_ptr<Tray> tray_;                  // null when the session has no bus
  std::unique_ptr<TrayFollower> tray_follower_;  // uses tray_
  std::unique_ptr<FileWatcher> config_watch_;    // re-reads a config edited by hand
};

// Where the per-install API token lives: data dir/api-token (0600).
std::filesystem::path api_token_path();

}  // namespace thoth::server
