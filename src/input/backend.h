// Which global-shortcut backend this session allows. X11 sessions grab keys (X11Hotkeys).
// Wayland gives no client a global key grab: the desktop may offer the xdg-desktop-portal
// GlobalShortcuts interface (PortalShortcuts), and otherwise the compositor binds keys to
// `thoth` commands.
#pragma once
#include <cstdint>
#include <string>

#include "core/result.h"

namespace thoth::input {

enum class Backend {
  x11,     // X11Hotkeys on $DISPLAY
  portal,  // PortalShortcuts: the desktop's GlobalShortcuts portal (Wayland)
  none,  // no global shortcuts from Thoth: the user binds `thoth` commands instead
};

struct BackendChoice {
  Backend backend = Backend::none;
  std::string display;  // x11: the display to open
  std::string reason;   // one line for users, e.g. for `thoth shortcuts check`
};

// Decides from the environment (XDG_SESSION_TYPE, WAYLAND_DISPLAY, DISPLAY) and, on
// Wayland, asks the session bus whether the GlobalShortcuts portal exists.
BackendChoice choose_backend();

// The version of org.freedesktop.portal.GlobalShortcuts on the session bus; the error says
// why it is unavailable (no session bus, no portal, a portal without GlobalShortcuts).
Result<uint32_t> global_shortcuts_portal_version();

// What a Wayland user without the portal should do, in one line.
extern const char* const kWaylandAdvice;

}  // namespace thoth::input
