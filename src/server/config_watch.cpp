#include "server/config_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/paths.h"

namespace thoth::server {

struct FileWatcher::Impl {
  std::string name;  // the file's name in the watched directory
  std::function<void()> on_change;
  int inotify = -1;
  int wake[2] = {-1, -1};
  std::atomic<bool> stop{false};
  std::thread thread;

  ~Impl() {
    if (inotify >= 0) close(inotify);
    for (int fd : wake)
      if (fd >= 0) close(fd);
  }

  // True if the events in `buf` include a finished write or a rename onto our file.
  bool ours(const char* buf, ssize_t len) const {
    for (const char* p = buf; p < buf + len;) {
      const auto* e = reinterpret_cast<const inotify_event*>(p);
      if (e->len && name == e->name && (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))) return true;
      p += sizeof(inotify_event) + e->len;
    }
    return false;
  }

  void run() {
    alignas(inotify_event) char buf[4096];
    pollfd fds[2] = {{inotify, POLLIN, 0}, {wake[0], POLLIN, 0}};
    while (!stop.load(std::memory_order_acquire)) {
      if (poll(fds, 2, -1) < 0) continue;  // EINTR
      if (fds[1].revents & POLLIN) break;
      bool changed = false;
      ssize_t n;
      while ((n = read(inotify, buf, sizeof buf)) > 0) changed |= ours(buf, n);
      // An editor's save is often several events (write, then rename): one reload covers them.
      if (changed && !stop.load(std::memory_order_acquire)) on_change();
    }
  }
};

FileWatcher::FileWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<FileWatcher>> FileWatcher::start(const std::filesystem::path& file,
                                                        std::function<void()> on_change) {
  auto dir = paths::ensure_dir(file.parent_path(), "config dir");
  if (!dir) return make_error(dir.error());
  auto impl = std::make_unique<Impl>();
  impl->name = file.filename().string();
  impl->on_change = std::move(on_change);
  impl->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (impl->inotify < 0) return make_error(std::string("cannot watch the config file: ") + std::strerror(errno));
  // The directory, not the file: editors that save by renaming a new file over the old one
  // would leave a watch on the file pointing at the deleted copy.
  if (inotify_add_watch(impl->inotify, dir->c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
    return make_error("cannot watch " + dir->string() + ": " + std::strerror(errno) +
                      " (raise fs.inotify.max_user_watches)");
  if (pipe2(impl->wake, O_CLOEXEC | O_NONBLOCK) != 0) return make_error("cannot create a pipe");
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<FileWatcher>(new FileWatcher(std::move(impl)));
}

FileWatcher::~FileWatcher() {
  impl_->stop.store(true, std::memory_order_release);
  (void)!write(impl_->wake[1], "x", 1);
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace thoth::server
