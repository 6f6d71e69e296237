#include "server/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/paths.h"

namespace thoth::server {
namespace {

using nlohmann::json;
constexpr size_t kMaxRequest = 64 * 1024;
constexpr const char* kNoDaemon = "no daemon running; start it with `thoth daemon`";

bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += size_t(n);
  }
  return true;
}

// Reads up to the first '\n' (excluded); false on EOF, timeout or an oversized line.
bool read_line(int fd, std::string& line, std::string& rest) {
  for (;;) {
    if (auto nl = rest.find('\n'); nl != std::string::npos) {
      line = rest.substr(0, nl);
      rest.erase(0, nl + 1);
      return true;
    }
    if (rest.size() > kMaxRequest) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    rest.append(buf, size_t(n));
  }
}

void set_timeout(int fd, int option, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

json reply(const CommandResult& r) {
  json j = r.body;
  j["ok"] = r.ok();
  if (!r.ok()) j["code"] = r.code;
  return j;
}

Result<int> connect_daemon() {
  const auto path = control_socket_path();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof addr.sun_path)
    return make_error("control socket path too long: " + path.string());
  std::strcpy(addr.sun_path, path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(std::string("cannot create a socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) return make_error(kNoDaemon);
    return make_error("cannot reach the daemon at " + path.string() + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace

std::filesystem::path control_socket_path() { return paths::runtime_dir() / "control.sock"; }

ControlServer::~ControlServer() { stop(); }

Result<void> ControlServer::start(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof addr.sun_path)
    return make_error("control socket path too long (" + path.string() + "); set XDG_RUNTIME_DIR or THOTH_HOME to a shorter directory");
  std::strcpy(addr.sun_path, path.c_str());
  if (::pipe2(wake_, O_CLOEXEC) != 0) return make_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return make_error(std::string("cannot create a socket: ") + std::strerror(errno));
  ::unlink(path.c_str());  // a stale socket from a killed daemon; we hold the instance lock
  // The socket is created 0600 (umask), never briefly open to others.
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) return make_error("cannot bind " + path.string() + ": " + std::strerror(bind_errno));
  ::chmod(path.c_str(), 0600);
  if (::listen(listen_fd_, 64) != 0) return make_error("cannot listen on " + path.string() + ": " + std::strerror(errno));
  path_ = path;
  acceptor_ = std::thread([this] { accept_loop(); });
  return {};
}

void ControlServer::stop() {
  if (wake_[1] >= 0) {
    const char c = 'x';
    (void)!::write(wake_[1], &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  reap(true);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  for (int& fd : wake_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

void ControlServer::reap(bool all) {
  std::list<Connection> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if (all || it->done.load(std::memory_order_acquire)) finished.splice(finished.end(), connections_, it);
      it = next;
    }
  }
  for (auto& c : finished) c.thread.join();
}

void ControlServer::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    reap(false);
    std::lock_guard lock(mutex_);
    auto& c = connections_.emplace_back();
    c.thread = std::thread([this, fd, &c] {
      serve(fd);
      ::close(fd);
      c.done.store(true, std::memory_order_release);
    });
  }
}

void ControlServer::serve(int fd) {
  // A client that connects and says nothing must not hold a thread for ever.
  set_timeout(fd, SO_RCVTIMEO, 10);
  set_timeout(fd, SO_SNDTIMEO, 5);
  std::string line, rest;
  if (!read_line(fd, line, rest)) return;
  json request = json::parse(line, nullptr, false);
  if (request.is_discarded() || !request.is_object() || !request.contains("cmd") || !request["cmd"].is_string()) {
    send_all(fd, to_wire(json{{"ok", false}, {"code", 400}, {"error", "malformed request: expected {\"cmd\": \"...\"}"}}) + "\n");
    return;
  }
  const std::string cmd = request["cmd"];
  if (cmd == "status") {
    send_all(fd, to_wire(json{{"ok", true}, {"status", service_.status()}}) + "\n");
  } else if (cmd == "start") {
    send_all(fd, to_wire(reply(service_.start())) + "\n");
  } else if (cmd == "stop") {
    send_all(fd, to_wire(reply(service_.stop())) + "\n");
  } else if (cmd == "toggle") {
    send_all(fd, to_wire(reply(service_.toggle())) + "\n");
  } else if (cmd == "cancel") {
    send_all(fd, to_wire(reply(service_.cancel())) + "\n");
  } else if (cmd == "events") {
    if (!send_all(fd, to_wire(json{{"ok", true}}) + "\n")) return;
    // The handler runs on the subscription's own thread; a client that stops reading is
    // cut off by the send timeout rather than stalling anyone.
    std::atomic<bool> broken{false};
    std::mutex send_mutex;  // the status line below and the events must not interleave
    auto send_line = [fd, &broken, &send_mutex](const std::string& line) {
      std::lock_guard lock(send_mutex);
      if (broken.load(std::memory_order_relaxed)) return;
      if (!send_all(fd, line)) {
        broken.store(true, std::memory_order_relaxed);
        ::shutdown(fd, SHUT_RDWR);  // wakes the poll below
      }
    };
    auto& bus = service_.bus();
    const auto sub = bus.subscribe([&send_line](const pipeline::PipelineEvent& e) { send_line(to_wire(event_to_json(e)) + "\n"); });
    // Subscribed first, so nothing after this snapshot is missed; it tells a client the
    // state it joined in.
    send_line(to_wire(status_event(service_.status())) + "\n");
    for (;;) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents) break;
      if (fds[0].revents & (POLLHUP | POLLERR)) break;
      if (fds[0].revents & POLLIN) {
        char buf[256];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;  // the client went away
      }
    }
    bus.flush(sub, std::chrono::milliseconds(500));  // the last events before a shutdown
    bus.unsubscribe(sub);
  } else {
    send_all(fd, to_wire(json{{"ok", false}, {"code", 400}, {"error", "unknown command '" + cmd + "'"}}) + "\n");
  }
}

Result<nlohmann::json> control_request(const nlohmann::json& request) {
  auto fd = connect_daemon();
  if (!fd) return make_error(fd.error());
  set_timeout(*fd, SO_RCVTIMEO, 30);
  std::string line, rest;
  const bool ok = send_all(*fd, to_wire(request) + "\n") && read_line(*fd, line, rest);
  ::close(*fd);
  if (!ok) return make_error("the daemon did not answer at " + control_socket_path().string());
  json reply = json::parse(line, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) return make_error("the daemon sent a malformed reply");
  return reply;
}

Result<void> stream_events(const std::function<void(const std::string&)>& on_line, int interrupt_fd) {
  auto fd = connect_daemon();
  if (!fd) return make_error(fd.error());
  std::string line, rest;
  if (!send_all(*fd, to_wire(json{{"cmd", "events"}}) + "\n") || !read_line(*fd, line, rest)) {
    ::close(*fd);
    return make_error("the daemon did not answer at " + control_socket_path().string());
  }
  for (;;) {
    while (true) {
      auto nl = rest.find('\n');
      if (nl == std::string::npos) break;
      on_line(rest.substr(0, nl));
      rest.erase(0, nl + 1);
    }
    pollfd fds[2] = {{*fd, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
    const int nfds = interrupt_fd >= 0 ? 2 : 1;
    if (::poll(fds, nfds, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (nfds > 1 && fds[1].revents) break;
    char buf[4096];
    const ssize_t n = ::recv(*fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    rest.append(buf, size_t(n));
  }
  ::close(*fd);
  return {};
}

}  // namespace thoth::server
