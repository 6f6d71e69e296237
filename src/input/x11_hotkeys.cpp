#include "input/x11_hotkeys.h"

#include <X11/XKBlib.h>
#include <X11/Xlib-xcb.h>
#include <X11/Xlib.h>
#include <X11/keysym.h>
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <xcb/xcb.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace thoth::input {
namespace {

// Xlib's I/O error handler is process-wide and its default exit()s. For our displays it
// returns instead, so Xlib goes on to the display's exit handler (which ends our thread);
// other displays keep whatever handler was there before.
std::mutex g_displays_mutex;
std::set<Display*> g_displays;
XIOErrorHandler g_previous_io_handler = nullptr;

int on_io_error(Display* d) {
  {
    std::lock_guard lock(g_displays_mutex);
    if (g_displays.count(d)) return 0;
  }
  return g_previous_io_handler ? g_previous_io_handler(d) : 0;
}

void own_display(Display* d) {
  static std::once_flag once;
  std::call_once(once, [] { g_previous_io_handler = XSetIOErrorHandler(on_io_error); });
  std::lock_guard lock(g_displays_mutex);
  g_displays.insert(d);
}

void disown_display(Display* d) {
  std::lock_guard lock(g_displays_mutex);
  g_displays.erase(d);
}

}  // namespace

struct X11Hotkeys::Impl {
  ShortcutRegistry* registry = nullptr;
  ShortcutHandler on_event;
  Display* display = nullptr;
  xcb_connection_t* xcb = nullptr;
  Window root = 0;
  int wake[2] = {-1, -1};
  int listener = 0;
  std::atomic<bool> stop{false};
  bool lost = false;  // the connection broke (hotkey thread only)
  std::thread thread;

  // Owned by the hotkey thread (or by start() before the thread exists).
  using Key = std::pair<KeyCode, unsigned>;  // keycode, modifiers (lock variants included)
  std::map<Key, Accelerator> grabs;           // what the server has granted us
  std::map<Key, Accelerator> grabbed;         // the same without lock modifiers: event lookup
  std::map<KeyCode, std::string> held;                          // keys down -> action

  mutable std::mutex mutex;  // guards the two below
  mutable std::condition_variable applied_cv;
  uint64_t applied_generation = 0;
  std::string grab_errors;

  ~Impl() {
    if (display) disown_display(display);
    if (display && lost) {
      // XCloseDisplay would talk to the dead server and Xlib would exit() the process: free
      // the connection and leave Xlib's small Display record behind, once per lost server.
      xcb_disconnect(xcb);
    } else if (display) {
      XCloseDisplay(display);  // releases the grabs with the connection
    }
    for (int fd : wake)
      if (fd >= 0) close(fd);
  }

  void wake_up() {
    // A full pipe already holds a wake-up, so a failed write loses nothing.
    (void)!write(wake[1], "x", 1);
  }

  unsigned num_lock_mask() {
    unsigned mask = 0;
    const KeyCode num = XKeysymToKeycode(display, XK_Num_Lock);
    XModifierKeymap* map = XGetModifierMapping(display);
    if (!map) return 0;
    for (int m = 0; m < 8; ++m)
      for (int k = 0; k < map->max_keypermod; ++k)
        if (num && map->modifiermap[m * map->max_keypermod + k] == num) mask = 1u << m;
    XFreeModifiermap(map);
    return mask;
  }

  // Makes the grabs match the registry. Unchanged grabs stay in place throughout, so a
  // re-grab (config change, keymap change) never opens a moment where a bound key is loose.
  void regrab() {
    const uint64_t generation = registry->generation();  // before reading: never newer than the bindings
    const std::vector<Binding> bindings = registry->bindings();
    std::vector<unsigned> variants = {0, LockMask};
    if (const unsigned num = num_lock_mask()) variants.insert(variants.end(), {num, LockMask | num});

    std::string errors;
    auto fail = [&](const std::string& line) { errors += (errors.empty() ? "" : "\n") + line; };
    std::vector<std::pair<const Binding*, std::vector<Key>>> wanted;
    std::map<Key, Accelerator> keep;
    for (const auto& b : bindings) {
      const KeyCode keycode = XKeysymToKeycode(display, b.accelerator.keysym);
      if (!keycode) {
        fail(format_accelerator(b.accelerator) + " (" + b.action + "): no key on this keyboard types " +
             key_name(b.accelerator.keysym));
        continue;
      }
      std::vector<Key> keys;
      for (unsigned v : variants) keys.push_back({keycode, b.accelerator.modifiers | v});
      wanted.emplace_back(&b, keys);
    }
    for (const auto& [binding, keys] : wanted)
      for (const auto& k : keys)
        if (auto it = grabs.find(k); it != grabs.end() && it->second == binding->accelerator) keep.insert(*it);
    for (const auto& [k, accelerator] : grabs)
      if (!keep.count(k)) xcb_ungrab_key(xcb, k.first, root, uint16_t(k.second));
    grabs = std::move(keep);

    for (const auto& [binding, keys] : wanted) {
      const std::string name = format_accelerator(binding->accelerator) + " (" + binding->action + ")";
      std::vector<std::pair<Key, xcb_void_cookie_t>> requests;
      for (const auto& k : keys)
        if (!grabs.count(k))
          requests.push_back({k, xcb_grab_key_checked(xcb, 1, root, uint16_t(k.second), k.first,
                                                      XCB_GRAB_MODE_ASYNC, XCB_GRAB_MODE_ASYNC)});
      bool taken = false;
      std::vector<Key> granted;
      for (const auto& [k, cookie] : requests) {
        if (xcb_generic_error_t* e = xcb_request_check(xcb, cookie)) {
          taken |= e->error_code == XCB_ACCESS;
          if (e->error_code != XCB_ACCESS)
            spdlog::warn("shortcuts: grabbing {} failed with X error {}", name, int(e->error_code));
          std::free(e);
        } else {
          granted.push_back(k);
        }
      }
      if (taken) {
        // Half a grab would fire only with some lock keys on: give the rest back.
        for (const auto& k : keys)
          if (grabs.erase(k) || std::find(granted.begin(), granted.end(), k) != granted.end())
            xcb_ungrab_key(xcb, k.first, root, uint16_t(k.second));
        fail(name + " is already grabbed by another program; choose another shortcut or quit that program");
        continue;
      }
      for (const auto& k : granted) grabs[k] = binding->accelerator;
    }
    grabbed.clear();
    for (const auto& [k, accelerator] : grabs) grabbed[{k.first, k.second & kAllModifiers}] = accelerator;
    xcb_flush(xcb);
    // A round trip through Xlib: after requests it did not send, Xlib can hold back events
    // that arrive later until its next reply, so without this a key press could sit unread.
    XSync(display, False);
    {
      std::lock_guard lock(mutex);
      applied_generation = generation;
      grab_errors = std::move(errors);
    }
    applied_cv.notify_all();
  }

  void emit(const std::string& action, bool pressed, Time time) {
    on_event(ShortcutEvent{action, pressed, uint32_t(time)});
  }

  void handle(XEvent& ev) {
    if (ev.type == KeyPress) {
      const KeyCode code = KeyCode(ev.xkey.keycode);
      if (held.count(code)) return;  // auto-repeat
      auto it = grabbed.find({code, ev.xkey.state & kAllModifiers});
      if (it == grabbed.end()) return;
      // The registry, not the grab table, decides: a binding removed a moment ago is gone.
      auto action = registry->lookup(it->second);
      if (!action) return;
      held[code] = *action;
      emit(*action, true, ev.xkey.time);
    } else if (ev.type == KeyRelease) {
      const KeyCode code = KeyCode(ev.xkey.keycode);
      auto it = held.find(code);
      if (it == held.end()) return;
      // Without detectable auto-repeat a repeat is a release and a press with the same time.
      if (XEventsQueued(display, QueuedAfterReading)) {
        XEvent next;
        XPeekEvent(display, &next);
        if (next.type == KeyPress && next.xkey.keycode == ev.xkey.keycode && next.xkey.time == ev.xkey.time)
          return;
      }
      const std::string action = std::move(it->second);
      held.erase(it);
      emit(action, false, ev.xkey.time);
    } else if (ev.type == MappingNotify) {
      XRefreshKeyboardMapping(&ev.xmapping);
      // A new keymap moves keysyms to other keycodes (and NumLock to another modifier).
      if (ev.xmapping.request == MappingKeyboard || ev.xmapping.request == MappingModifier) regrab();
    }
  }

  void run() {
    pollfd fds[2] = {{ConnectionNumber(display), POLLIN, 0}, {wake[0], POLLIN, 0}};
    while (!stop.load(std::memory_order_acquire) && !lost) {
      while (!lost && XPending(display)) {
        XEvent ev;
        XNextEvent(display, &ev);
        handle(ev);
      }
      if (poll(fds, 2, -1) < 0) continue;  // EINTR
      if (fds[0].revents & (POLLHUP | POLLERR)) lost = true;
      if (lost) break;
      if (fds[1].revents & POLLIN) {
        char buf[64];
        while (read(wake[0], buf, sizeof buf) > 0) {
        }
        if (stop.load(std::memory_order_acquire)) break;
        regrab();
      }
    }
    if (lost) {
      const std::string message = "lost the X11 display " + std::string(DisplayString(display)) +
                                  "; global shortcuts stopped until Thoth restarts";
      spdlog::error("shortcuts: {}", message);
      std::lock_guard lock(mutex);
      grab_errors = message;
    }
    // Keys still down when we stop are released as far as listeners are concerned.
    for (auto& [code, action] : held) emit(action, false, CurrentTime);
    held.clear();
  }
};

X11Hotkeys::X11Hotkeys(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<X11Hotkeys>> X11Hotkeys::start(ShortcutRegistry& registry, ShortcutHandler on_event,
                                                      const std::string& display) {
  const char* name = display.empty() ? std::getenv("DISPLAY") : display.c_str();
  if (!name || !*name) return make_error("shortcuts: no X11 display (DISPLAY is not set)");
  auto impl = std::make_unique<Impl>();
  impl->registry = &registry;
  impl->on_event = std::move(on_event);
  impl->display = XOpenDisplay(name);
  if (!impl->display) return make_error(std::string("shortcuts: cannot open X11 display ") + name);
  // Losing the X server must end the shortcuts, not the daemon (Xlib's default is exit()).
  // The exit handler runs on the thread that saw the error.
  own_display(impl->display);
  XSetIOErrorExitHandler(
      impl->display, [](Display*, void* self) { static_cast<Impl*>(self)->lost = true; }, impl.get());
  impl->xcb = XGetXCBConnection(impl->display);
  impl->root = DefaultRootWindow(impl->display);
  Bool supported = False;
  XkbSetDetectableAutoRepeat(impl->display, True, &supported);
  if (!supported) spdlog::debug("shortcuts: no detectable auto-repeat; filtering repeats by timestamp");
  if (pipe2(impl->wake, O_CLOEXEC | O_NONBLOCK) != 0) return make_error("shortcuts: cannot create a pipe");
  impl->regrab();
  Impl* raw = impl.get();
  impl->listener = registry.on_change([raw] { raw->wake_up(); });
  // A change between the first grab and the listener would be missed: look once more.
  if (registry.generation() != raw->applied_generation) raw->regrab();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<X11Hotkeys>(new X11Hotkeys(std::move(impl)));
}

X11Hotkeys::~X11Hotkeys() {
  impl_->registry->remove_listener(impl_->listener);
  impl_->stop.store(true, std::memory_order_release);
  impl_->wake_up();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<void> X11Hotkeys::grab_status() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->grab_errors.empty()) return {};
  return make_error(impl_->grab_errors);
}

bool X11Hotkeys::wait_applied(uint64_t generation, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->applied_cv.wait_for(lock, timeout, [&] { return impl_->applied_generation >= generation; });
}

}  // namespace thoth::input
