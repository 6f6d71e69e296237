// Backend choice from the session's environment; the portal probe against a private session
// bus (dbus-daemon) that has no desktop portal, as on a compositor without one.
#include "input/backend.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "support/scoped_env.h"
#include "support/shared_data.h"


namespace thoth::input {
namespace {

using thoth::test::ScopedEnv;

// A private session bus: dbus-daemon prints its address and is stopped by its pid. Its
// config lists no service dirs, so nothing installed (say, xdg-desktop-portal) is activated.
class SessionBus {
 public:
  SessionBus() {
    {
      std::ofstream conf(config_ / "bus.conf");
      conf << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
              " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
              "<busconfig><type>session</type><listen>unix:dir="
           << config_.path().string()
           << "</listen><auth>EXTERNAL</auth><policy context=\"default\">"
              "<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/><allow own=\"*\"/>"
              "</policy></busconfig>\n";
    }
    const std::string config_arg = "--config-file=" + (config_ / "bus.conf").string();
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 2);
      execlp("dbus-daemon", "dbus-daemon", config_arg.c_str(), "--nofork", "--print-address=1",
             static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') address_.push_back(c);
    close(out[0]);
  }
  ~SessionBus() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& address() const { return address_; }

 private:
  thoth::test::ScratchDir config_;
  pid_t pid_ = -1;
  std::string address_;
};

TEST(Backend, X11SessionGrabsOnItsDisplay) {
  ScopedEnv env;
  env.set("XDG_SESSION_TYPE", "x11");
  env.set("WAYLAND_DISPLAY", std::nullopt);
  env.set("DISPLAY", ":42");
  const BackendChoice c = choose_backend();
  EXPECT_EQ(c.backend, Backend::x11);
  EXPECT_EQ(c.display, ":42");
  EXPECT_EQ(c.reason, "X11: keys grabbed on display :42");
}

TEST(Backend, NoSessionAtAll) {
  ScopedEnv env;
  env.set("XDG_SESSION_TYPE", std::nullopt);
  env.set("WAYLAND_DISPLAY", std::nullopt);
  env.set("DISPLAY", std::nullopt);
  const BackendChoice c = choose_backend();
  EXPECT_EQ(c.backend, Backend::none);
  EXPECT_EQ(c.reason.rfind("no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set)", 0), 0u) << c.reason;
}

TEST(Backend, WaylandWithoutPortalSaysWhatToDoInstead) {
  SessionBus bus;
  ASSERT_FALSE(bus.address().empty()) << "dbus-daemon did not start";
  ScopedEnv env;
  env.set("DBUS_SESSION_BUS_ADDRESS", bus.address());
  env.set("XDG_SESSION_TYPE", "wayland");
  env.set("WAYLAND_DISPLAY", "wayland-1");
  env.set("DISPLAY", ":0");  // XWayland: not used for grabs

  auto portal = global_shortcuts_portal_version();
  ASSERT_FALSE(portal.ok());
  EXPECT_EQ(portal.error(), "no desktop portal (xdg-desktop-portal) on the session bus");

  const BackendChoice c = choose_backend();
  EXPECT_EQ(c.backend, Backend::none);
  EXPECT_EQ(c.reason, std::string("no global shortcuts on this Wayland desktop (no desktop portal "
                                  "(xdg-desktop-portal) on the session bus): ") +
                          kWaylandAdvice);
}

TEST(Backend, NoSessionBus) {
  ScopedEnv env;
  env.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/thoth-test-bus");
  auto portal = global_shortcuts_portal_version();
  ASSERT_FALSE(portal.ok());
  EXPECT_EQ(portal.error().rfind("no D-Bus session bus (", 0), 0u) << portal.error();
}

}  // namespace
}  // namespace thoth::input
