// The daemon's local HTTP API (cpp-httplib): 127.0.0.1 only, every request must carry the
// per-install token (Authorization: Bearer ...), and a request whose Origin is not this
// server's own is refused, so a web page in the user's browser cannot drive it.
//
//   POST /api/start | /api/stop | /api/cancel     GET /api/status      GET /api/models
//   GET /api/history?search=&limit=               DELETE /api/history/{id}
//   GET /api/history/export?format=json|csv|txt   GET|PUT /api/config
//   POST /api/models/pull {"name"}                GET /api/models/pull: its progress
//   GET /api/events                               Server-Sent Events: pipeline events, input level
//   GET /api/history/{id}/audio                   the row's recording (audio/wav)
//   GET /api/devices                              the audio server's input devices
//   GET / and /static/...                         the web UI (web_ui.h), the only routes without a token
//
// Errors are JSON {"error": "..."}: 400 malformed, 401 token, 403 cross-origin, 404 unknown
// route or id, 409 refused in this state, 413 body over 64 KiB.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "core/result.h"
#include "server/model_pull.h"
#include "server/service.h"

namespace httplib {
class Server;
}

namespace thoth::server {

class HttpApi {
 public:
  HttpApi(DictationService& service, std::string token);
  ~HttpApi();  // stop()
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds 127.0.0.1:`port` (0: any free port) and starts serving; returns the port.
  Result<int> start(int port);
  // Ends event streams, stops the server and joins its threads.
  void stop();
  int port() const { return port_; }

  static constexpr size_t kMaxBody = 64 * 1024;

 private:
  void routes();

  DictationService& service_;
  ModelPull model_pull_;
  std::string token_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

// The per-install API token: created once (random, 0600) at `file`, then reused.
Result<std::string> load_or_create_token(const std::filesystem::path& file);

}  // namespace thoth::server
