// Typing at the cursor on X11 through the XTest extension. Any Unicode character types,
// whatever the keyboard layout: characters the current keymap lacks are bound on the fly
// to spare (unused) keycodes, typed, and the spare keycodes are emptied again afterwards.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace thoth::output {

class X11Keyboard {
 public:
  // Connects to `display` (empty: $DISPLAY). Errors say what is missing (no display, no
  // XTest extension).
  static Result<std::unique_ptr<X11Keyboard>> open(const std::string& display = "");
  ~X11Keyboard();
  X11Keyboard(const X11Keyboard&) = delete;
  X11Keyboard& operator=(const X11Keyboard&) = delete;

  // Types UTF-8 `text` into the window that has the input focus. Checks `cancel` between
  // keystrokes; a cancelled call has typed a prefix of the text and returns an error.
  Result<void> type(std::string_view text, const std::atomic<bool>* cancel = nullptr);

  struct Impl;

 private:
  explicit X11Keyboard(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// UTF-8 to code points; an invalid sequence becomes U+FFFD.
std::u32string decode_utf8(std::string_view text);

}  // namespace thoth::output
