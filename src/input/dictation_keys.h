// What the dictation shortcuts do. The backends (X11Hotkeys, ...) report actions going down
// and up; DictationKeys turns them into start/stop/cancel on the dictation:
//   push-to-talk: hold the record key to record, release to finish. A tap shorter than
//                 tap_ms keeps recording hands-off until the next press (a quick tap is
//                 rarely meant as a whole dictation).
//   toggle:       press to start, press again to finish.
//   cancel key:   abandon the dictation in progress.
//   copy_last, hands_free: pressed -> the matching call.
//
//   auto s = shortcut_settings(config.shortcuts);       // Result<ShortcutSettings>
//   registry.replace(s->bindings);
//   DictationKeys keys(my_dictation, {s->mode});
//   ... on the daemon's loop thread: keys.handle(event);
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "input/shortcut_registry.h"

namespace thoth::input {

// Action names the config's shortcuts bind.
inline constexpr std::string_view kRecord = "record";
inline constexpr std::string_view kCancel = "cancel";
inline constexpr std::string_view kCopyLast = "copy_last";
inline constexpr std::string_view kHandsFree = "hands_free";

enum class KeyMode { push_to_talk, toggle };

struct ShortcutSettings {
  KeyMode mode = KeyMode::push_to_talk;
  std::vector<Binding> bindings;  // empty config values are left unbound
};

// Validates the config's shortcuts. Errors name the key: "shortcuts.record: unknown key
// 'Spcae' in 'Ctrl+Alt+Spcae'", "shortcuts.record and shortcuts.cancel are both ...".
Result<ShortcutSettings> shortcut_settings(const Config::Shortcuts& config);

// The dictation the keys drive; the daemon implements it over its pipeline. Calls come from
// the thread that calls DictationKeys::handle() and should return promptly.
class DictationControl {
 public:
  virtual ~DictationControl() = default;
  virtual bool recording() const = 0;  // capturing audio now
  virtual void start() = 0;
  virtual void stop() = 0;    // finish: transcribe and output what was said
  virtual void cancel() = 0;  // abandon the dictation in progress; nothing when idle
  virtual void copy_last() = 0;
  virtual void toggle_hands_free() = 0;
};

class DictationKeys {
 public:
  struct Options {
    KeyMode mode = KeyMode::push_to_talk;
    uint32_t tap_ms = 300;  // push-to-talk: a shorter hold keeps recording; 0 = never
  };
  DictationKeys(DictationControl& control, Options options);

  // Call from one thread (not the backend's: it must not wait on the dictation).
  void handle(const ShortcutEvent& event);
  void set_mode(KeyMode mode);  // config reload; forgets a hold in progress

 private:
  DictationControl& control_;
  Options options_;
  bool holding_ = false;         // push-to-talk: this press started the recording
  bool ignore_release_ = false;  // this press stopped a recording; its release does nothing
  uint32_t pressed_at_ = 0;
};

}  // namespace thoth::input
