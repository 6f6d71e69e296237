#include "input/backend.h"

#include <systemd/sd-bus.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace thoth::input {

const char* const kWaylandAdvice = "bind `thoth toggle` in your compositor's config (see the README's Shortcuts section)";

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

Result<uint32_t> global_shortcuts_portal_version() {
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_user(&bus); r < 0)
    return make_error(std::string("no D-Bus session bus (") + std::strerror(-r) + ")");
  // Activation of a portal that is not installed fails fast; a hung one must not hang us.
  sd_bus_set_method_call_timeout(bus, 5'000'000);
  sd_bus_error error = SD_BUS_ERROR_NULL;
  uint32_t version = 0;
  const int r = sd_bus_get_property_trivial(bus, "org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop",
                                            "org.freedesktop.portal.GlobalShortcuts", "version", &error, 'u',
                                            &version);
  std::string why;
  if (r < 0) {
    const std::string_view name = error.name ? error.name : "";
    if (name == SD_BUS_ERROR_SERVICE_UNKNOWN || name == SD_BUS_ERROR_NAME_HAS_NO_OWNER)
      why = "no desktop portal (xdg-desktop-portal) on the session bus";
    else if (name == SD_BUS_ERROR_UNKNOWN_INTERFACE || name == SD_BUS_ERROR_UNKNOWN_PROPERTY ||
             name == SD_BUS_ERROR_INVALID_ARGS || name == SD_BUS_ERROR_UNKNOWN_OBJECT)
      why = "the desktop portal has no GlobalShortcuts interface";
    else
      why = std::string("the desktop portal did not answer (") +
            (error.message ? error.message : std::strerror(-r)) + ")";
  }
  sd_bus_error_free(&error);
  sd_bus_flush_close_unref(bus);
  if (r < 0) return make_error(why);
  return version;
}

BackendChoice choose_backend() {
  BackendChoice c;
  const std::string session = env("XDG_SESSION_TYPE"), wayland = env("WAYLAND_DISPLAY"), x11 = env("DISPLAY");
  if (session == "wayland" || (!wayland.empty() && session != "x11")) {
    // XWayland's DISPLAY is no help: X11 grabs there only see keys typed into X11 windows.
    auto portal = global_shortcuts_portal_version();
    if (portal) {
      c.backend = Backend::portal;
      c.reason = "Wayland: shortcuts through the desktop's GlobalShortcuts portal (version " +
                 std::to_string(*portal) + "); the desktop may ask you to confirm them";
    } else {
      c.reason = "no global shortcuts on this Wayland desktop (" + portal.error() + "): " + kWaylandAdvice;
    }
    return c;
  }
  if (!x11.empty()) {
    c.backend = Backend::x11;
    c.display = x11;
    c.reason = "X11: keys grabbed on display " + x11;
    return c;
  }
  c.reason = "no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set): run `thoth toggle` yourself, "
             "e.g. from a key binding";
  return c;
}

}  // namespace thoth::input
