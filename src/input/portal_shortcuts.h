// Global shortcuts on Wayland through the xdg-desktop-portal GlobalShortcuts interface. A
// thread with its own session-bus connection creates a portal session, binds every action
// in a ShortcutRegistry (shortcut id = action name, preferred trigger from its accelerator),
// re-binds whenever the registry changes, and reports Activated/Deactivated as pressed and
// released. The desktop decides the real keys (it may ask the user, who may refuse), so
// start() never waits for it: status() says where things stand.
//
//   auto portal = PortalShortcuts::start(registry, [&](const ShortcutEvent& e) { queue.post(e); });
//   log((*portal)->status());   // "portal: record = CTRL+ALT+space, ..." or why not
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "input/shortcut_registry.h"

namespace thoth::input {

class PortalShortcuts {
 public:
  // `on_event` runs on the portal thread and must only post the event on.
  static Result<std::unique_ptr<PortalShortcuts>> start(ShortcutRegistry& registry, ShortcutHandler on_event);
  // Releases keys still held (as events), closes the portal session, joins the thread.
  ~PortalShortcuts();
  PortalShortcuts(const PortalShortcuts&) = delete;
  PortalShortcuts& operator=(const PortalShortcuts&) = delete;

  // One line: the shortcuts the desktop bound (with the triggers it reports), that it is
  // still asking, or why there are none (portal refused, user declined, bus lost).
  std::string status() const;
  bool bound() const;  // the desktop accepted the latest bindings

  // Waits until the portal has answered for registry generation `generation` or later
  // (accepted or refused), or the thread has given up for good.
  bool wait_applied(uint64_t generation, std::chrono::milliseconds timeout) const;

  struct Impl;

 private:
  explicit PortalShortcuts(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace thoth::input
