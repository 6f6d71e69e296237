// A Wayland desktop's GlobalShortcuts portal for tests: a private D-Bus session bus
// (dbus-daemon with a test-owned config), the real xdg-desktop-portal frontend on it, and a
// desktop backend in this process implementing org.freedesktop.impl.portal.GlobalShortcuts
// (registered through a .portal file in XDG_DESKTOP_PORTAL_DIR, chosen by
// XDG_CURRENT_DESKTOP=thoth-test). The backend records what clients bind and lets the test
// press and release a bound shortcut (Activated/Deactivated), or refuse like a user would.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace thoth::test {

class PortalDesktop {
 public:
  // Fails (error set) when dbus-daemon or /usr/libexec/xdg-desktop-portal is missing or
  // the frontend does not come up on the bus. Without `shortcuts_backend` the desktop has
  // no GlobalShortcuts implementation, so the frontend does not offer the interface.
  static std::unique_ptr<PortalDesktop> start(std::string* error, bool shortcuts_backend = true);
  ~PortalDesktop();  // stops the frontend, the backend thread and the bus

  // What a client needs to see this desktop: the bus, a Wayland session, no X11.
  std::map<std::string, std::optional<std::string>> client_env() const;
  const std::string& bus_address() const { return address_; }

  // The answer to the next CreateSession / BindShortcuts calls: 0 accepted, 1 the user
  // declined, 2 refused otherwise.
  void set_create_session_response(uint32_t code);
  void set_bind_response(uint32_t code);
  // Whether BindShortcuts answers with the bound shortcuts (some desktops leave that to
  // ListShortcuts).
  void set_bind_lists_shortcuts(bool lists);
  int list_calls() const;

  struct Shortcut {
    std::string id, description, preferred_trigger;
    bool operator==(const Shortcut&) const = default;
  };
  // The shortcuts of the latest BindShortcuts call, and how many calls there were.
  std::vector<Shortcut> bound() const;
  int bind_calls() const;
  int create_calls() const;
  // Session handles opened by clients, and those closed since (impl Session.Close).
  std::vector<std::string> sessions() const;
  std::vector<std::string> closed_sessions() const;

  // Emits Activated / Deactivated for `id` on the latest session; false if there is none.
  bool press(const std::string& id);
  bool release(const std::string& id);

  // Stops the frontend and starts a new one (a crashed or updated portal); false with
  // `error` set if the new one does not come up.
  bool restart_frontend(std::string* error);
  // Ends the latest session from the desktop's side (impl Session.Closed).
  bool close_session_from_desktop();

  // The frontend's log (started with --verbose), for failure messages.
  std::string frontend_log() const;

  struct Backend;

 private:
  PortalDesktop() = default;
  bool start_frontend(std::string* error);
  std::filesystem::path dir_;
  std::string address_;
  pid_t bus_pid_ = -1;
  pid_t frontend_pid_ = -1;
  std::unique_ptr<Backend> backend_;
};

}  // namespace thoth::test
