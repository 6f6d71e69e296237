#include "output/x11_clipboard.h"

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace thoth::output {

struct X11Clipboard::Impl {
  // Two connections: `server` is used by the serving thread and, under `mutex`, to change
  // ownership; `client` belongs to the calling thread (reading, key presses).
  Display* server = nullptr;
  Display* client = nullptr;
  Window owner = 0, reader = 0;
  Atom clipboard = 0, utf8 = 0, targets = 0, text_atom = 0, prop = 0;
  std::mutex mutex;  // guards `server` and the fields below
  std::string content;
  bool owning = false;
  std::atomic<uint64_t> served{0};  // text replies sent; release pairs with paste's acquire
  int wake[2] = {-1, -1};
  std::atomic<bool> stop{false};
  std::thread thread;

  ~Impl() {
    stop.store(true);
    if (wake[1] >= 0) (void)!write(wake[1], "x", 1);
    if (thread.joinable()) thread.join();
    if (server) XCloseDisplay(server);
    if (client) XCloseDisplay(client);
    for (int fd : wake)
      if (fd >= 0) close(fd);
  }

  void answer(const XSelectionRequestEvent& req) {
    XSelectionEvent reply{};
    reply.type = SelectionNotify;
    reply.display = req.display;
    reply.requestor = req.requestor;
    reply.selection = req.selection;
    reply.target = req.target;
    reply.time = req.time;
    // Obsolete clients leave the property None: answer in the target atom.
    reply.property = req.property == None ? req.target : req.property;
    bool text = false;
    if (!owning || req.selection != clipboard) {
      reply.property = None;
    } else if (req.target == targets) {
      const Atom list[] = {targets, utf8, XA_STRING, text_atom};
      XChangeProperty(server, req.requestor, reply.property, XA_ATOM, 32, PropModeReplace,
                      reinterpret_cast<const unsigned char*>(list), 4);
    } else if (req.target == utf8 || req.target == XA_STRING || req.target == text_atom) {
      XChangeProperty(server, req.requestor, reply.property, req.target == XA_STRING ? XA_STRING : utf8, 8,
                      PropModeReplace, reinterpret_cast<const unsigned char*>(content.data()),
                      int(content.size()));
      text = true;
    } else {
      reply.property = None;
    }
    XSendEvent(server, req.requestor, False, NoEventMask, reinterpret_cast<XEvent*>(&reply));
    XFlush(server);
    if (text) served.fetch_add(1, std::memory_order_release);
  }

  void serve() {
    pollfd fds[2] = {{ConnectionNumber(server), POLLIN, 0}, {wake[0], POLLIN, 0}};
    while (!stop.load()) {
      {
        std::lock_guard lock(mutex);
        while (XPending(server)) {
          XEvent ev;
          XNextEvent(server, &ev);
          if (ev.type == SelectionRequest) answer(ev.xselectionrequest);
          else if (ev.type == SelectionClear) owning = false;  // another app took it
        }
      }
      poll(fds, 2, 100);
    }
  }

  bool take(const std::string& text) {
    std::lock_guard lock(mutex);
    content = text;
    XSetSelectionOwner(server, clipboard, owner, CurrentTime);
    owning = XGetSelectionOwner(server, clipboard) == owner;
    XFlush(server);
    return owning;
  }
};

X11Clipboard::X11Clipboard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
X11Clipboard::~X11Clipboard() = default;

Result<std::unique_ptr<X11Clipboard>> X11Clipboard::open(const std::string& display) {
  const char* name = display.empty() ? std::getenv("DISPLAY") : display.c_str();
  if (!name || !*name) return make_error("output: no X11 display (DISPLAY is not set)");
  auto impl = std::make_unique<Impl>();
  impl->server = XOpenDisplay(name);
  impl->client = XOpenDisplay(name);
  if (!impl->server || !impl->client) return make_error(std::string("output: cannot open X11 display ") + name);
  int ev = 0, err = 0, major = 0, minor = 0;
  if (!XTestQueryExtension(impl->client, &ev, &err, &major, &minor))
    return make_error(std::string("output: X11 display ") + name + " has no XTest extension; cannot press the paste keys");
  const auto make_window = [](Display* d) {
    return XCreateSimpleWindow(d, DefaultRootWindow(d), -10, -10, 1, 1, 0, 0, 0);
  };
  impl->owner = make_window(impl->server);
  impl->reader = make_window(impl->client);
  impl->clipboard = XInternAtom(impl->server, "CLIPBOARD", False);
  impl->utf8 = XInternAtom(impl->server, "UTF8_STRING", False);
  impl->targets = XInternAtom(impl->server, "TARGETS", False);
  impl->text_atom = XInternAtom(impl->server, "TEXT", False);
  impl->prop = XInternAtom(impl->client, "THOTH_CLIPBOARD", False);
  XFlush(impl->server);
  if (pipe(impl->wake) != 0) return make_error("output: cannot create a pipe");
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->serve(); });
  return std::unique_ptr<X11Clipboard>(new X11Clipboard(std::move(impl)));
}

std::optional<std::string> X11Clipboard::read(bool primary) {
  Impl& im = *impl_;
  if (!primary) {
    std::lock_guard lock(im.mutex);
    if (im.owning) return im.content;
  }
  Display* d = im.client;
  const Atom selection = primary ? XA_PRIMARY : im.clipboard;
  if (XGetSelectionOwner(d, selection) == None) return std::nullopt;
  XConvertSelection(d, selection, im.utf8, im.prop, im.reader, CurrentTime);
  XFlush(d);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < deadline) {
    XEvent ev;
    if (XCheckTypedWindowEvent(d, im.reader, SelectionNotify, &ev)) {
      if (ev.xselection.property == None) return std::nullopt;
      Atom type = 0;
      int format = 0;
      unsigned long n = 0, after = 0;
      unsigned char* data = nullptr;
      XGetWindowProperty(d, im.reader, im.prop, 0, 1 << 24, True, AnyPropertyType, &type, &format, &n, &after, &data);
      std::optional<std::string> out;
      if (data && format == 8) out = std::string(reinterpret_cast<char*>(data), n);
      if (data) XFree(data);
      return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;  // the owner did not answer: treat as empty
}

Result<void> X11Clipboard::set(const std::string& text) {
  if (!impl_->take(text)) return make_error("output: could not take ownership of the X11 clipboard");
  return {};
}

Result<void> X11Clipboard::paste(const std::string& text, bool shift, const std::atomic<bool>* cancel) {
  Impl& im = *impl_;
  const std::optional<std::string> previous = read();
  auto restore = [&] {
    if (previous) {
      im.take(*previous);
    } else {
      std::lock_guard lock(im.mutex);
      XSetSelectionOwner(im.server, im.clipboard, None, CurrentTime);
      im.owning = false;
      XFlush(im.server);
    }
  };
  const uint64_t served_before = im.served.load(std::memory_order_acquire);
  if (!im.take(text)) return make_error("output: could not take ownership of the X11 clipboard");
  if (cancel && cancel->load(std::memory_order_acquire)) {
    restore();
    return make_error("output: paste cancelled");
  }
  Display* d = im.client;
  const KeyCode ctrl = XKeysymToKeycode(d, XK_Control_L);
  const KeyCode shift_key = XKeysymToKeycode(d, XK_Shift_L);
  const KeyCode v = XKeysymToKeycode(d, XK_v);
  if (!ctrl || !v) {
    restore();
    return make_error("output: the keyboard map has no Ctrl or V key to paste with");
  }
  XTestFakeKeyEvent(d, ctrl, True, CurrentTime);
  if (shift) XTestFakeKeyEvent(d, shift_key, True, CurrentTime);
  XTestFakeKeyEvent(d, v, True, CurrentTime);
  XTestFakeKeyEvent(d, v, False, CurrentTime);
  if (shift) XTestFakeKeyEvent(d, shift_key, False, CurrentTime);
  XTestFakeKeyEvent(d, ctrl, False, CurrentTime);
  XSync(d, False);
  // The previous content may only come back once the window has fetched ours.
  // Generous: a busy desktop can take seconds to route the keys and the request.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool fetched = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (im.served.load(std::memory_order_acquire) > served_before) {
      fetched = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a second target request
  restore();
  if (!fetched)
    return make_error("output: the focused window did not take the pasted text (does it accept Ctrl+V?)");
  return {};
}

}  // namespace thoth::output
