// Which accelerator triggers which action ("record", "cancel", ...). Read on every key event
// by the backend's thread, changed rarely (config reloads), so a reader-writer lock guards it.
//
//   ShortcutRegistry registry;
//   auto r = registry.bind("record", "Ctrl+Alt+Space");   // Result<void>
//   registry.lookup(accel);                               // optional action name
//
// Listeners (on_change) run after every change, outside the lock, on the changing thread;
// backends use them to re-grab. They must only post (write a pipe, set a flag).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "input/accelerator.h"

namespace thoth::input {

// A bound accelerator went down or up.
struct ShortcutEvent {
  std::string action;
  bool pressed = true;   // false: released
  uint32_t time_ms = 0;  // the key event's timestamp (the backend's clock): differences are durations
};
// Runs on the backend's thread, which must never wait: handlers only post the event on.
using ShortcutHandler = std::function<void(const ShortcutEvent&)>;

struct Binding {
  std::string action;
  Accelerator accelerator;
};

class ShortcutRegistry {
 public:
  // Binds `action` to `accelerator`, replacing the action's previous accelerator. An
  // accelerator already bound to another action is refused with a message naming both.
  Result<void> bind(const std::string& action, const Accelerator& accelerator);
  Result<void> bind(const std::string& action, std::string_view accelerator_text);
  // Removes the action's binding; false if it had none.
  bool unbind(std::string_view action);
  // Replaces every binding at once (a config reload): all or nothing, one change event.
  Result<void> replace(const std::vector<Binding>& bindings);

  std::optional<std::string> lookup(const Accelerator& accelerator) const;  // the action
  std::optional<Accelerator> find(std::string_view action) const;           // its accelerator
  std::vector<Binding> bindings() const;  // sorted by action

  // Counts changes; a backend that has applied generation N is up to date until N+1.
  uint64_t generation() const;

  using Listener = std::function<void()>;
  int on_change(Listener listener);  // returns an id for remove_listener
  // After this returns the listener is not running and will not run again.
  void remove_listener(int id);

 private:
  void notify();

  mutable std::shared_mutex mutex_;
  std::map<Accelerator, std::string> by_accelerator_;
  std::map<std::string, Accelerator, std::less<>> by_action_;
  uint64_t generation_ = 0;

  std::mutex listeners_mutex_;
  std::map<int, Listener> listeners_;
  int next_listener_ = 1;
};

}  // namespace thoth::input
