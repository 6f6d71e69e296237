// Delivering dictated text to the desktop: the ways that exist on the running session
// (Wayland tools or X11), tried in order until one works. A way fails over to the next only
// when it typed nothing, so nothing is ever typed twice; cancellation stops at once. When
// typing and pasting are impossible the text is left on the clipboard, and the result says
// so, so the user can still paste it.
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace thoth::output {

struct DesktopOutputOptions {
  std::string method = "auto";        // auto | type | paste | clipboard (config output.method)
  std::string wayland_tool = "auto";  // auto | wtype | dotool | ydotool (config output.wayland_tool)
  bool paste_shift = false;           // Ctrl+Shift+V (terminals) instead of Ctrl+V
  bool restore_clipboard = true;
  // An X11 display to type into whatever the session is; empty = $WAYLAND_DISPLAY, then
  // $DISPLAY.
  std::string x11_display;
};

struct Delivered {
  std::string method;                 // e.g. "wtype", "x11-type", "wl-paste+wtype", "x11-clipboard"
  std::vector<std::string> failures;  // ways tried before it, one line each
};

class DesktopOutput {
 public:
  // Errors: an unknown method or Wayland tool in the options.
  static Result<std::unique_ptr<DesktopOutput>> create(DesktopOutputOptions options);
  ~DesktopOutput();
  DesktopOutput(const DesktopOutput&) = delete;
  DesktopOutput& operator=(const DesktopOutput&) = delete;

  // The ways `deliver` would try, in order, on this session.
  std::vector<std::string> plan() const;
  // Errors: cancelled, or no way worked (one line naming each way and why it failed).
  Result<Delivered> deliver(const std::string& text, const std::atomic<bool>& cancel);

  struct Impl;

 private:
  explicit DesktopOutput(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The text of the session's clipboard, or of its primary selection (what is selected now),
// for the enhancement's context; nullopt when there is none or no session.
std::optional<std::string> read_selection(bool primary, const std::string& x11_display = "");

}  // namespace thoth::output
