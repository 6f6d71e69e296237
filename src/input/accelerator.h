// Keyboard accelerators in the readable syntax users write in the config: "Ctrl+Alt+Space",
// "Super+D", "Shift+F9". Modifiers (any case): Ctrl/Control, Alt, Shift, Super/Meta/Logo/Win.
// The key (any case for the common names): a letter, a digit, F1-F35, Space, Escape,
// Enter/Return, Tab, Backspace, Delete, Insert, Home, End, PageUp, PageDown, the arrows
// (Up/Down/Left/Right), punctuation by name or character (Minus or "-", Comma or ",", ...),
// or any X keysym name (XF86AudioPlay, KP_Enter, Pause).
//
//   auto a = thoth::input::parse_accelerator("ctrl+alt+space");  // Result<Accelerator>
//   format_accelerator(*a) == "Ctrl+Alt+Space"
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace thoth::input {

// Modifier bits; the same values as X11's ShiftMask, ControlMask, Mod1Mask (Alt) and
// Mod4Mask (Super) so the X11 backend uses them as they are.
enum Modifier : unsigned {
  kShift = 1u << 0,
  kCtrl = 1u << 2,
  kAlt = 1u << 3,
  kSuper = 1u << 6,
};
constexpr unsigned kAllModifiers = kShift | kCtrl | kAlt | kSuper;

struct Accelerator {
  unsigned modifiers = 0;  // Modifier bits
  uint32_t keysym = 0;     // X keysym; letters are stored lower case (the unshifted key)
  bool operator==(const Accelerator&) const = default;
  auto operator<=>(const Accelerator&) const = default;
};

// Parses `text`. Errors are one line naming the culprit and the whole text, e.g.
// "unknown key 'Spcae' in 'Ctrl+Alt+Spcae'"; callers prefix the config key.
Result<Accelerator> parse_accelerator(std::string_view text);

// The canonical spelling: modifiers in the order Ctrl, Alt, Shift, Super, then the key
// ("Ctrl+Alt+Space", "Super+D", "Ctrl+Minus"). parse_accelerator(format(a)) == a.
std::string format_accelerator(const Accelerator& accelerator);

// The trigger in the XDG shortcuts specification's syntax that the GlobalShortcuts portal
// takes as `preferred_trigger`: modifiers CTRL, ALT, SHIFT, LOGO, then the xkb keysym name
// ("CTRL+ALT+space", "LOGO+d", "SHIFT+F9", "CTRL+minus").
std::string xdg_trigger(const Accelerator& accelerator);

// The key's canonical name alone ("Space", "D", "F9", "XF86AudioPlay").
std::string key_name(uint32_t keysym);

}  // namespace thoth::input
