// The daemon's control socket: a Unix stream socket (0600) in the runtime dir speaking
// line-delimited JSON. The client sends one request line and reads one reply line:
//   {"cmd":"status"}                     -> {"ok":true,"status":{...}}
//   {"cmd":"start|stop|toggle|cancel"}   -> {"ok":true,...} | {"ok":false,"code":409,"error":"..."}
//   {"cmd":"events"}                     -> {"ok":true} then one pipeline event per line
//                                           until either side closes.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "server/service.h"

namespace thoth::server {

class ControlServer {
 public:
  explicit ControlServer(DictationService& service) : service_(service) {}
  ~ControlServer();  // stop()
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds and listens at `path` (a stale socket file there is replaced: the caller holds
  // the instance lock) and starts accepting.
  Result<void> start(const std::filesystem::path& path);
  // Closes the socket, ends every connection (event streams included) and joins them.
  void stop();

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void accept_loop();
  void serve(int fd);
  void reap(bool all);

  DictationService& service_;
  std::filesystem::path path_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // written once on stop; every poller sees it readable
  std::thread acceptor_;
  std::mutex mutex_;  // guards connections_
  std::list<Connection> connections_;
};

// --- Client side (the `thoth toggle|start|stop|cancel|status|events` commands) ---

// The control socket of this user's daemon: runtime dir/control.sock.
std::filesystem::path control_socket_path();

// Sends one request and returns the reply. When no daemon listens the error is
// "no daemon running; start it with `thoth daemon`".
Result<nlohmann::json> control_request(const nlohmann::json& request);

// Streams events: calls `on_line` with each JSON line until the daemon closes the stream
// (returns ok) or `interrupt_fd` becomes readable (returns ok).
Result<void> stream_events(const std::function<void(const std::string&)>& on_line, int interrupt_fd);

}  // namespace thoth::server
