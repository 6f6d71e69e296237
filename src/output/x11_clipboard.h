// Pasting through the X11 CLIPBOARD selection with the previous content put back. The
// selection is served in-process by a thread this object owns, as long as we own it.
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"

namespace thoth::output {

class X11Clipboard {
 public:
  static Result<std::unique_ptr<X11Clipboard>> open(const std::string& display = "");
  ~X11Clipboard();  // stops serving (the clipboard empties if we still own it)
  X11Clipboard(const X11Clipboard&) = delete;
  X11Clipboard& operator=(const X11Clipboard&) = delete;

  // The CLIPBOARD (or PRIMARY: the text selected now) text; nullopt: nobody owns it, or it
  // holds no text.
  std::optional<std::string> read(bool primary = false);
  // Owns CLIPBOARD with `text` (clipboard-only output).
  Result<void> set(const std::string& text);
  // Puts `text` on the clipboard, presses Ctrl+V (or Ctrl+Shift+V for terminals) in the
  // focused window, waits until that window has fetched it, then restores what the
  // clipboard held before.
  Result<void> paste(const std::string& text, bool shift = false, const std::atomic<bool>* cancel = nullptr);

  struct Impl;

 private:
  explicit X11Clipboard(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace thoth::output
