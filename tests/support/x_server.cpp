#include "support/x_server.h"

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/keysym.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstring>

namespace thoth::test {

std::unique_ptr<XvfbServer> XvfbServer::start(std::string* error) {
  int fds[2];
  if (pipe(fds) != 0) {
    *error = "pipe failed";
    return nullptr;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return nullptr;
  }
  if (pid == 0) {
    // Xvfb picks a free display number and writes it to -displayfd.
    close(fds[0]);
    const std::string fd = std::to_string(fds[1]);
    const int devnull = ::open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execlp("Xvfb", "Xvfb", "-displayfd", fd.c_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp",
           static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::unique_ptr<XvfbServer> s(new XvfbServer());
  s->pid_ = pid;
  std::string number;
  pollfd p{fds[0], POLLIN, 0};
  while (poll(&p, 1, 10000) > 0) {
    char c;
    if (read(fds[0], &c, 1) != 1 || c == '\n') break;
    number.push_back(c);
  }
  close(fds[0]);
  if (number.empty()) {
    *error = "Xvfb did not start (is it installed? ./setup.sh)";
    return nullptr;
  }
  s->display_ = ":" + number;
  return s;
}

XvfbServer::~XvfbServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

namespace {

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xc0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xe0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(char(0xf0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  }
}

// The character a keysym stands for, or 0 for keys that type nothing (Shift...).
char32_t keysym_char(KeySym ks) {
  if (ks == XK_Return) return U'\n';
  if (ks == XK_Tab) return U'\t';
  if ((ks >= 0x20 && ks <= 0x7e) || (ks >= 0xa0 && ks <= 0xff)) return char32_t(ks);
  if ((ks & 0xff000000) == 0x01000000) return char32_t(ks & 0x00ffffff);
  return 0;
}

}  // namespace

std::unique_ptr<TypedTextRecorder> TypedTextRecorder::start(const std::string& display, std::string* error) {
  std::unique_ptr<TypedTextRecorder> r(new TypedTextRecorder());
  Display* d = XOpenDisplay(display.c_str());
  if (!d) {
    *error = "cannot open display " + display;
    return nullptr;
  }
  r->display_ = d;
  const int screen = DefaultScreen(d);
  r->window_ = XCreateSimpleWindow(d, RootWindow(d, screen), 0, 0, 400, 200, 0, 0, WhitePixel(d, screen));
  XSelectInput(d, r->window_, KeyPressMask | StructureNotifyMask | ExposureMask);
  XMapRaised(d, r->window_);
  for (;;) {
    XEvent ev;
    XNextEvent(d, &ev);
    if (ev.type == MapNotify) break;
  }
  XSetInputFocus(d, r->window_, RevertToParent, CurrentTime);
  XSync(d, False);
  if (pipe(r->wake_) != 0) {
    *error = "pipe failed";
    return nullptr;
  }
  r->last_ = std::chrono::steady_clock::now();
  r->thread_ = std::thread([raw = r.get()] { raw->run(); });
  return r;
}

void TypedTextRecorder::run() {
  Display* d = static_cast<Display*>(display_);
  pollfd fds[2] = {{ConnectionNumber(d), POLLIN, 0}, {wake_[0], POLLIN, 0}};
  while (!stop_.load()) {
    while (XPending(d)) {
      XEvent ev;
      XNextEvent(d, &ev);
      if (ev.type == SelectionNotify && ev.xselection.property != None) {
        Atom type = 0;
        int format = 0;
        unsigned long n = 0, after = 0;
        unsigned char* data = nullptr;
        XGetWindowProperty(d, window_, ev.xselection.property, 0, 1 << 24, True, AnyPropertyType, &type, &format,
                           &n, &after, &data);
        if (data) {
          std::lock_guard lock(mutex_);
          text_.append(reinterpret_cast<char*>(data), n);
          for (unsigned long i = 0; i < n; ++i) chars_ += (data[i] & 0xc0) != 0x80;
          last_ = std::chrono::steady_clock::now();
          XFree(data);
        }
      } else if (ev.type == MappingNotify) {
        XRefreshKeyboardMapping(&ev.xmapping);  // as every toolkit does
      } else if (ev.type == KeyPress) {
        char buf[16];
        KeySym ks = NoSymbol;
        XLookupString(&ev.xkey, buf, sizeof buf, &ks, nullptr);
        if ((ev.xkey.state & ControlMask) && (ks == XK_v || ks == XK_V)) {
          // Paste, as applications do: ask the CLIPBOARD owner for UTF-8 text.
          XConvertSelection(d, XInternAtom(d, "CLIPBOARD", False), XInternAtom(d, "UTF8_STRING", False),
                            XInternAtom(d, "TEST_PASTE", False), window_, ev.xkey.time);
          XFlush(d);
        } else if (const char32_t cp = keysym_char(ks)) {
          std::lock_guard lock(mutex_);
          append_utf8(text_, cp);
          ++chars_;
          last_ = std::chrono::steady_clock::now();
        }
      }
    }
    poll(fds, 2, 100);
  }
}

TypedTextRecorder::~TypedTextRecorder() {
  stop_ = true;
  if (wake_[1] >= 0) (void)!write(wake_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  if (display_) XCloseDisplay(static_cast<Display*>(display_));
  for (int fd : wake_)
    if (fd >= 0) close(fd);
}

std::string TypedTextRecorder::text() const {
  std::lock_guard lock(mutex_);
  return text_;
}

bool TypedTextRecorder::wait_for_chars(size_t chars, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      if (chars_ >= chars) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string TypedTextRecorder::settle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      if (std::chrono::steady_clock::now() - last_ >= quiet) return text_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return text();
}

}  // namespace thoth::test
