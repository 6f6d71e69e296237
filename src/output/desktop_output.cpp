#include "output/desktop_output.h"

#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "output/wayland.h"
#include "output/x11_clipboard.h"
#include "output/x11_keyboard.h"

namespace thoth::output {

namespace {

// How one attempt ended. `touched`: it may have typed or pasted something, so trying
// another way could type the text twice.
struct Attempt {
  bool ok = false;
  bool touched = false;
  std::string error;
};

Attempt from(const Result<void>& r, bool touched_on_error) {
  if (r) return {true, true, ""};
  return {false, touched_on_error, r.error()};
}

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

enum class Session { None, Wayland, X11 };

// The session to deliver to: a display named in the options wins over the environment's;
// with both WAYLAND_DISPLAY and DISPLAY set it is Wayland (DISPLAY is then Xwayland's).
Session session_for(const std::string& x11_display) {
  if (!x11_display.empty()) return Session::X11;
  if (env_set("WAYLAND_DISPLAY")) return Session::Wayland;
  if (env_set("DISPLAY")) return Session::X11;
  return Session::None;
}

struct Way {
  std::string name;
  std::function<Attempt(const std::string&, const std::atomic<bool>&)> run;
};

}  // namespace

struct DesktopOutput::Impl {
  DesktopOutputOptions options;
  std::vector<WaylandTool> tools;
  // Lives as long as the output so that clipboard content we own (left there on purpose, or
  // put back after a paste) keeps being served.
  std::unique_ptr<X11Clipboard> x11_clipboard;

  // The Wayland clipboard is put back by a thread of ours after a pause long enough for a
  // busy window to have fetched the pasted text, without holding up the dictation. A new
  // delivery, or the end of this object, puts it back at once.
  std::thread restorer;
  std::mutex restore_mutex;
  std::condition_variable restore_now;
  bool hurry = false;

  void restore_later(std::optional<std::string> previous) {
    hurry = false;
    restorer = std::thread([this, previous = std::move(previous)] {
      {
        std::unique_lock lock(restore_mutex);
        restore_now.wait_for(lock, std::chrono::milliseconds(1500), [&] { return hurry; });
      }
      if (previous) (void)wayland_clipboard_set(*previous);
      else (void)wayland_clipboard_clear();
    });
  }
  void finish_restore() {
    if (!restorer.joinable()) return;
    {
      std::lock_guard lock(restore_mutex);
      hurry = true;
    }
    restore_now.notify_all();
    restorer.join();
  }
  ~Impl() { finish_restore(); }

  Result<X11Clipboard*> clipboard() {
    if (!x11_clipboard) {
      auto c = X11Clipboard::open(options.x11_display);
      if (!c) return make_error(c.error());
      x11_clipboard = std::move(*c);
    }
    return x11_clipboard.get();
  }

  std::vector<Way> ways() {
    const Session session = session_for(options.x11_display);
    const std::string& m = options.method;
    const bool type = m == "auto" || m == "type", paste = m == "auto" || m == "paste",
               clip = m == "auto" || m == "clipboard";
    std::vector<Way> out;
    // On Wayland, X11 (Xwayland) only reaches X clients, and keys sent there while a Wayland
    // window has the focus vanish without an error: so it is not a fallback there.
    if (session == Session::Wayland) {
      if (type)
        for (WaylandTool t : tools)
          out.push_back({tool_name(t), [t](const std::string& text, const std::atomic<bool>& cancel) {
                           // The tools fail before the first key (protocol, device) or not at all.
                           return from(wayland_type(t, text, &cancel), false);
                         }});
      if (paste)
        for (WaylandTool t : tools)
          out.push_back({std::string("wl-paste+") + tool_name(t),
                         [this, t](const std::string& text, const std::atomic<bool>& cancel) {
                           finish_restore();
                           const auto previous = options.restore_clipboard ? wayland_clipboard_read() : std::nullopt;
                           auto r = wayland_paste(t, text, options.paste_shift, &cancel);
                           if (options.restore_clipboard) {
                             // Nothing pasted: nothing to wait for before putting it back.
                             restore_later(previous);
                             if (!r) finish_restore();
                           }
                           return from(r, false);
                         }});
      if (clip)
        out.push_back({"wl-clipboard", [this](const std::string& text, const std::atomic<bool>&) {
                         finish_restore();  // a pending put-back must not overwrite this text
                         return from(wayland_clipboard_set(text), false);
                       }});
    } else if (session == Session::X11) {
      if (type)
        out.push_back({"x11-type", [this](const std::string& text, const std::atomic<bool>& cancel) {
                         auto keyboard = X11Keyboard::open(options.x11_display);
                         if (!keyboard) return Attempt{false, false, keyboard.error()};
                         return from((*keyboard)->type(text, &cancel), true);
                       }});
      if (paste)
        out.push_back({"x11-paste", [this](const std::string& text, const std::atomic<bool>& cancel) {
                         auto c = clipboard();
                         if (!c) return Attempt{false, false, c.error()};
                         // Keys were pressed, but a window that did not fetch the text got none.
                         return from((*c)->paste(text, options.paste_shift, &cancel), false);
                       }});
      if (clip)
        out.push_back({"x11-clipboard", [this](const std::string& text, const std::atomic<bool>&) {
                         auto c = clipboard();
                         if (!c) return Attempt{false, false, c.error()};
                         return from((*c)->set(text), false);
                       }});
    }
    return out;
  }
};

DesktopOutput::DesktopOutput(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DesktopOutput::~DesktopOutput() = default;

Result<std::unique_ptr<DesktopOutput>> DesktopOutput::create(DesktopOutputOptions options) {
  const std::string& m = options.method;
  if (m != "auto" && m != "type" && m != "paste" && m != "clipboard")
    return make_error("output.method: unknown method '" + m + "' (auto, type, paste or clipboard)");
  auto tools = wayland_tools(options.wayland_tool);
  if (!tools) return make_error(tools.error());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->tools = std::move(*tools);
  return std::unique_ptr<DesktopOutput>(new DesktopOutput(std::move(impl)));
}

std::vector<std::string> DesktopOutput::plan() const {
  std::vector<std::string> names;
  for (const auto& w : impl_->ways()) names.push_back(w.name);
  return names;
}

std::optional<std::string> read_selection(bool primary, const std::string& x11_display) {
  const Session session = session_for(x11_display);
  if (session == Session::Wayland) return wayland_clipboard_read(primary);
  if (session == Session::None) return std::nullopt;
  auto c = X11Clipboard::open(x11_display);
  if (!c) return std::nullopt;
  return (*c)->read(primary);
}

Result<Delivered> DesktopOutput::deliver(const std::string& text, const std::atomic<bool>& cancel) {
  const auto ways = impl_->ways();
  if (ways.empty())
    return make_error("output: no desktop session to type into (neither WAYLAND_DISPLAY nor DISPLAY is set)");
  Delivered done;
  for (const auto& way : ways) {
    if (cancel.load(std::memory_order_acquire)) return make_error("output: cancelled");
    const Attempt a = way.run(text, cancel);
    if (a.ok) {
      done.method = way.name;
      return done;
    }
    if (cancel.load(std::memory_order_acquire)) return make_error("output: " + way.name + " cancelled");
    if (a.touched) return make_error("output: " + way.name + " failed part-way: " + a.error);
    // "wtype: wtype: ..." says nothing more than "wtype: ...".
    const bool named = a.error.rfind(way.name, 0) == 0;
    done.failures.push_back(named ? a.error : way.name + ": " + a.error);
  }
  std::string all;
  for (const auto& f : done.failures) all += (all.empty() ? "" : "; ") + f;
  return make_error("output: no way to deliver the text worked (" + all +
                    "); install wtype or ydotool on Wayland, or set output.method");
}

}  // namespace thoth::output
