// `thoth shortcuts check` as a user runs it: validation messages, the backend line, and on
// a real (Xvfb) display whether the keys can be grabbed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/portal_desktop.h"
#include "support/process.h"
#include "support/shared_data.h"
#include "support/x_server.h"

namespace thoth {
namespace {

class ShortcutsCheck : public ::testing::Test {
 protected:
  test::ScratchDir scratch_;
  std::filesystem::path home_ = scratch_ / "home";

  test::RunOptions opts(std::optional<std::string> display = std::nullopt) const {
    test::RunOptions o;
    o.env["THOTH_HOME"] = home_.string();
    o.env["DISPLAY"] = display;
    o.env["WAYLAND_DISPLAY"] = std::nullopt;
    o.env["XDG_SESSION_TYPE"] = std::nullopt;
    return o;
  }
  void write_config(const std::string& text) {
    std::filesystem::create_directories(home_);
    std::ofstream(home_ / "config.json") << text;
  }
};

TEST_F(ShortcutsCheck, DefaultsAreValid) {
  auto r = test::run_thoth({"shortcuts", "check"}, opts());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "mode       push-to-talk\n"
            "record     Ctrl+Alt+Space\n"
            "cancel     Ctrl+Alt+Escape\n"
            "copy_last  (unbound)\n"
            "hands_free (unbound)\n"
            "backend    no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set): run `thoth toggle` "
            "yourself, e.g. from a key binding\n");
}

TEST_F(ShortcutsCheck, InvalidNameIsOneLineAndFails) {
  write_config(R"({"shortcuts": {"record": "Ctrl+Alt+Spcae"}})");
  auto r = test::run_thoth({"shortcuts", "check"}, opts());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "thoth: shortcuts.record: unknown key 'Spcae' in 'Ctrl+Alt+Spcae' (fix with thoth config set)\n");
}

TEST_F(ShortcutsCheck, ConflictNamesBothKeys) {
  write_config(R"({"shortcuts": {"record": "super+d", "copy_last": "Super+D"}})");
  auto r = test::run_thoth({"shortcuts", "check"}, opts());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "thoth: shortcuts.record and shortcuts.copy_last are both Super+D; give each its own shortcut (fix with "
            "thoth config set)\n");
}

TEST_F(ShortcutsCheck, OnX11ItTriesTheGrabs) {
  std::string error;
  auto xvfb = test::XvfbServer::start(&error);
  ASSERT_TRUE(xvfb) << error;
  write_config(R"({"shortcuts": {"mode": "toggle", "record": "Super+D", "hands_free": "Ctrl+Alt+H"}})");
  auto r = test::run_thoth({"shortcuts", "check"}, opts(xvfb->display()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "mode       toggle\n"
            "record     Super+D\n"
            "cancel     Ctrl+Alt+Escape\n"
            "copy_last  (unbound)\n"
            "hands_free Ctrl+Alt+H\n"
            "backend    X11: keys grabbed on display " + xvfb->display() + "\n"
            "grabs      every shortcut is free to use\n");
}

TEST_F(ShortcutsCheck, OnWaylandWithTheGlobalShortcutsPortalItNamesTheTriggers) {
  std::string error;
  auto desktop = test::PortalDesktop::start(&error);
  ASSERT_TRUE(desktop) << error;
  write_config(R"({"shortcuts": {"copy_last": "Ctrl+Shift+C"}})");
  auto o = opts();
  for (const auto& [name, value] : desktop->client_env()) o.env[name] = value;
  auto r = test::run_thoth({"shortcuts", "check"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "mode       push-to-talk\n"
            "record     Ctrl+Alt+Space\n"
            "cancel     Ctrl+Alt+Escape\n"
            "copy_last  Ctrl+Shift+C\n"
            "hands_free (unbound)\n"
            "backend    Wayland: shortcuts through the desktop's GlobalShortcuts portal (version 1); the desktop "
            "may ask you to confirm them\n"
            "portal     the daemon asks for record CTRL+ALT+space, cancel CTRL+ALT+Escape, copy_last CTRL+SHIFT+c\n");
  EXPECT_EQ(desktop->create_calls(), 0);  // checking asks the user nothing
}

}  // namespace
}  // namespace thoth
