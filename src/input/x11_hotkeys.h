// Global shortcuts on X11: a thread with its own display connection grabs every accelerator
// in a ShortcutRegistry on the root window (also with CapsLock/NumLock on, so lock keys do
// not break them), re-grabs whenever the registry changes, and reports each bound key going
// down and up. Auto-repeat is ignored: holding a key gives one press and one release.
//
//   auto hotkeys = X11Hotkeys::start(registry, [&](const ShortcutEvent& e) { queue.post(e); });
//   if (!hotkeys) ...;                      // no display
//   if (auto s = (*hotkeys)->grab_status(); !s) warn(s.error());  // a key taken elsewhere
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "core/result.h"
#include "input/shortcut_registry.h"

namespace thoth::input {

class X11Hotkeys {
 public:
  // Connects to `display` (empty: $DISPLAY) and grabs the registry's accelerators before
  // returning. `on_event` runs on the hotkey thread and must only post the event on.
  // Fails only when the display cannot be used; grab problems are in grab_status().
  static Result<std::unique_ptr<X11Hotkeys>> start(ShortcutRegistry& registry, ShortcutHandler on_event,
                                                   const std::string& display = "");
  ~X11Hotkeys();  // releases the grabs, stops and joins the thread
  X11Hotkeys(const X11Hotkeys&) = delete;
  X11Hotkeys& operator=(const X11Hotkeys&) = delete;

  // The latest grab: an error names each accelerator another program holds (X11 lets one
  // client grab a key) or this keyboard cannot type, one per line.
  Result<void> grab_status() const;

  // Waits until the grabs reflect registry generation `generation` or later.
  bool wait_applied(uint64_t generation, std::chrono::milliseconds timeout) const;

  struct Impl;

 private:
  explicit X11Hotkeys(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace thoth::input
