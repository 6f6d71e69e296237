// Typing and the clipboard on Wayland, through the tools the desktop offers: wtype (the
// virtual-keyboard protocol of wlroots compositors), dotool and ydotool (uinput, any
// compositor, needs access to /dev/uinput), and wl-clipboard. Each tool either fails before
// typing anything (not installed, protocol or device refused) or types the whole text, so a
// failure can fall through to the next tool without typing twice.
#pragma once
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace thoth::output {

enum class WaylandTool { Wtype, Dotool, Ydotool };
const char* tool_name(WaylandTool tool);
// "auto" gives every tool in the order tried; a tool's name gives just that one.
Result<std::vector<WaylandTool>> wayland_tools(const std::string& config_value);

Result<void> wayland_type(WaylandTool tool, const std::string& text, const std::atomic<bool>* cancel = nullptr);

// Presses the paste shortcut (Ctrl+V, or Ctrl+Shift+V) with `tool`.
Result<void> wayland_press_paste(WaylandTool tool, bool shift, const std::atomic<bool>* cancel = nullptr);

// The clipboard through wl-copy / wl-paste. read: nullopt when it holds no text.
std::optional<std::string> wayland_clipboard_read(bool primary = false);
Result<void> wayland_clipboard_set(const std::string& text);
Result<void> wayland_clipboard_clear();

// Puts `text` on the clipboard, waits until the clipboard serves it, and presses the paste
// shortcut with `tool`. The window fetches the text some time later, and wl-copy cannot say
// when: callers put the previous content back after a pause (DesktopOutput does).
Result<void> wayland_paste(WaylandTool tool, const std::string& text, bool shift,
                           const std::atomic<bool>* cancel = nullptr);

}  // namespace thoth::output
