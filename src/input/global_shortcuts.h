// Everything the daemon needs for shortcuts in one object: the config's bindings in a
// registry, the session's backend (X11 grabs, the Wayland desktop's GlobalShortcuts portal,
// or none), and a thread of its own that runs DictationKeys so the key thread never waits
// on the dictation.
//
//   auto shortcuts = input::GlobalShortcuts::start(config.shortcuts, my_dictation);
//   if (!shortcuts) fail(shortcuts.error());         // invalid shortcuts.* (one line)
//   log((*shortcuts)->status());                      // backend, or why keys are not global
//   (*shortcuts)->reload(new_config.shortcuts);       // on config change; all or nothing
#pragma once
#include <memory>
#include <string>

#include "core/config.h"
#include "core/result.h"
#include "input/dictation_keys.h"

namespace thoth::input {

class GlobalShortcuts {
 public:
  // Fails only for invalid settings. A session without global shortcuts still starts
  // (the dictation is then driven by `thoth` commands); status() says why.
  static Result<std::unique_ptr<GlobalShortcuts>> start(const Config::Shortcuts& config, DictationControl& dictation,
                                                        DictationKeys::Options options = {});
  ~GlobalShortcuts();  // stops the backend, then the thread (pending events run first)
  GlobalShortcuts(const GlobalShortcuts&) = delete;
  GlobalShortcuts& operator=(const GlobalShortcuts&) = delete;

  // Applies new settings; invalid ones change nothing.
  Result<void> reload(const Config::Shortcuts& config);

  // One line per fact: the backend and any shortcut that could not be grabbed.
  std::string status() const;
  bool active() const;  // keys reach Thoth (X11 grabs, or the portal bound the shortcuts)

  // For tests and reload replies: the backend has applied the latest change (the portal:
  // the desktop has answered, yes or no).
  bool wait_applied(std::chrono::milliseconds timeout) const;

  struct Impl;

 private:
  explicit GlobalShortcuts(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace thoth::input
