#include "input/dictation_keys.h"

#include <spdlog/spdlog.h>

#include <string>

namespace thoth::input {

Result<ShortcutSettings> shortcut_settings(const Config::Shortcuts& config) {
  ShortcutSettings s;
  if (config.mode == "push-to-talk") {
    s.mode = KeyMode::push_to_talk;
  } else if (config.mode == "toggle") {
    s.mode = KeyMode::toggle;
  } else {
    return make_error("shortcuts.mode: unknown mode '" + config.mode + "' (push-to-talk or toggle)");
  }
  const std::pair<std::string_view, const std::string*> keys[] = {
      {kRecord, &config.record}, {kCancel, &config.cancel}, {kCopyLast, &config.copy_last},
      {kHandsFree, &config.hands_free}};
  for (const auto& [action, text] : keys) {
    const std::string key = "shortcuts." + std::string(action);
    if (text->find_first_not_of(" \t") == std::string::npos) {
      // Only recording needs a key; the others are optional extras.
      if (action == kRecord)
        return make_error(key + ": empty; set a shortcut such as Ctrl+Alt+Space (thoth config set " + key +
                          " Ctrl+Alt+Space)");
      continue;
    }
    auto a = parse_accelerator(*text);
    if (!a) return make_error(key + ": " + a.error());
    for (const auto& b : s.bindings)
      if (b.accelerator == *a)
        return make_error("shortcuts." + b.action + " and " + key + " are both " + format_accelerator(*a) +
                          "; give each its own shortcut");
    s.bindings.push_back({std::string(action), *a});
  }
  return s;
}

DictationKeys::DictationKeys(DictationControl& control, Options options) : control_(control), options_(options) {}

void DictationKeys::set_mode(KeyMode mode) {
  options_.mode = mode;
  holding_ = false;
  ignore_release_ = false;
}

void DictationKeys::handle(const ShortcutEvent& e) {
  if (e.action == kCancel) {
    if (!e.pressed) return;
    holding_ = false;
    ignore_release_ = true;  // the record key still down must not start or stop anything
    control_.cancel();
    return;
  }
  if (e.action == kCopyLast) {
    if (e.pressed) control_.copy_last();
    return;
  }
  if (e.action == kHandsFree) {
    if (e.pressed) control_.toggle_hands_free();
    return;
  }
  if (e.action != kRecord) return;

  if (options_.mode == KeyMode::toggle) {
    if (!e.pressed) return;
    if (control_.recording())
      control_.stop();
    else
      control_.start();
    return;
  }

  // Push-to-talk.
  if (e.pressed) {
    ignore_release_ = false;
    if (control_.recording()) {
      // Ends a tapped (latched) recording, or one started elsewhere (thoth start).
      holding_ = false;
      ignore_release_ = true;
      control_.stop();
      return;
    }
    holding_ = true;
    pressed_at_ = e.time_ms;
    control_.start();
    return;
  }
  if (ignore_release_ || !holding_) {
    ignore_release_ = false;
    holding_ = false;
    return;
  }
  holding_ = false;
  if (!control_.recording()) return;  // cancelled or failed meanwhile
  if (options_.tap_ms > 0 && e.time_ms - pressed_at_ < options_.tap_ms) {
    spdlog::info("shortcuts: short tap: recording until the next press");
    return;
  }
  control_.stop();
}

}  // namespace thoth::input
