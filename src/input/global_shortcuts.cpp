#include "input/global_shortcuts.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "input/backend.h"
#include "input/portal_shortcuts.h"
#include "input/x11_hotkeys.h"

namespace thoth::input {

struct GlobalShortcuts::Impl {
  Impl(DictationControl& dictation, DictationKeys::Options options) : keys(dictation, options) {}

  ShortcutRegistry registry;
  DictationKeys keys;  // used on the worker thread only
  BackendChoice backend;
  std::string backend_error;  // the backend was chosen but could not start
  std::unique_ptr<X11Hotkeys> x11;
  std::unique_ptr<PortalShortcuts> portal;

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool stopping = false;
  std::thread worker;

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex);
      tasks.push_back(std::move(task));
    }
    cv.notify_one();
  }

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      cv.wait(lock, [&] { return stopping || !tasks.empty(); });
      if (tasks.empty()) return;  // stopping, and everything posted has run
      auto task = std::move(tasks.front());
      tasks.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }
};

GlobalShortcuts::GlobalShortcuts(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<GlobalShortcuts>> GlobalShortcuts::start(const Config::Shortcuts& config,
                                                                DictationControl& dictation,
                                                                DictationKeys::Options options) {
  auto settings = shortcut_settings(config);
  if (!settings) return make_error(settings.error());
  options.mode = settings->mode;
  auto impl = std::make_unique<Impl>(dictation, options);
  if (auto r = impl->registry.replace(settings->bindings); !r) return make_error(r.error());
  Impl* raw = impl.get();
  impl->worker = std::thread([raw] { raw->run(); });
  // From here on the destructor cleans up, whatever happens below.
  std::unique_ptr<GlobalShortcuts> self(new GlobalShortcuts(std::move(impl)));

  raw->backend = choose_backend();
  if (raw->backend.backend == Backend::x11) {
    auto x11 = X11Hotkeys::start(
        raw->registry, [raw](const ShortcutEvent& e) { raw->post([raw, e] { raw->keys.handle(e); }); },
        raw->backend.display);
    if (x11)
      raw->x11 = std::move(*x11);
    else
      raw->backend_error = x11.error();
  } else if (raw->backend.backend == Backend::portal) {
    auto portal =
        PortalShortcuts::start(raw->registry, [raw](const ShortcutEvent& e) { raw->post([raw, e] { raw->keys.handle(e); }); });
    if (portal)
      raw->portal = std::move(*portal);
    else
      raw->backend_error = portal.error();
  }
  spdlog::info("shortcuts: {}", self->status());
  return self;
}

GlobalShortcuts::~GlobalShortcuts() {
  impl_->x11.reset();  // may post the release of a key still held
  impl_->portal.reset();  // the same, and closes the portal session
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
  impl_->worker.join();
}

Result<void> GlobalShortcuts::reload(const Config::Shortcuts& config) {
  auto settings = shortcut_settings(config);
  if (!settings) return make_error(settings.error());
  if (auto r = impl_->registry.replace(settings->bindings); !r) return make_error(r.error());
  const KeyMode mode = settings->mode;
  Impl* raw = impl_.get();
  impl_->post([raw, mode] { raw->keys.set_mode(mode); });
  return {};
}

std::string GlobalShortcuts::status() const {
  std::string s = impl_->backend.reason;
  if (!impl_->backend_error.empty()) s += "\n" + impl_->backend_error;
  if (impl_->x11)
    if (auto grabs = impl_->x11->grab_status(); !grabs) s += "\n" + grabs.error();
  if (impl_->portal) s += "\n" + impl_->portal->status();
  return s;
}

bool GlobalShortcuts::active() const { return impl_->x11 != nullptr || (impl_->portal && impl_->portal->bound()); }

bool GlobalShortcuts::wait_applied(std::chrono::milliseconds timeout) const {
  if (impl_->portal) return impl_->portal->wait_applied(impl_->registry.generation(), timeout);
  if (!impl_->x11) return true;
  return impl_->x11->wait_applied(impl_->registry.generation(), timeout);
}

}  // namespace thoth::input
