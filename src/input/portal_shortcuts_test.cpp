// PortalShortcuts against the real xdg-desktop-portal frontend on a private session bus,
// with a test desktop backend (tests/support/portal_desktop) that records the bindings,
// presses and releases shortcuts, or refuses like a user would.
#include "input/portal_shortcuts.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "input/backend.h"
#include "input/global_shortcuts.h"
#include "input/test_dictation.h"
#include "support/scoped_env.h"
#include "support/background.h"
#include "support/portal_desktop.h"

namespace thoth::input {
namespace {

using namespace std::chrono_literals;
using Shortcut = thoth::test::PortalDesktop::Shortcut;
using thoth::test::eventually;

class PortalShortcutsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    desktop_ = thoth::test::PortalDesktop::start(&error);
    ASSERT_TRUE(desktop_) << error;
    for (const auto& [name, value] : desktop_->client_env()) env_.set(name.c_str(), value);
    ASSERT_TRUE(registry_.bind("record", "Ctrl+Alt+Space").ok());
    ASSERT_TRUE(registry_.bind("cancel", "Ctrl+Alt+Escape").ok());
  }

  std::unique_ptr<PortalShortcuts> start() {
    auto portal = PortalShortcuts::start(registry_, [this](const ShortcutEvent& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e.action + (e.pressed ? " down" : " up"));
    });
    EXPECT_TRUE(portal.ok()) << portal.error();
    return portal.ok() ? std::move(*portal) : nullptr;
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  bool events_reach(size_t n) {
    return eventually([&] { return events().size() >= n; }, 30s);
  }
  std::string log() const { return "\nfrontend log:\n" + desktop_->frontend_log(); }

  thoth::test::ScopedEnv env_;
  std::unique_ptr<thoth::test::PortalDesktop> desktop_;
  ShortcutRegistry registry_;
  mutable std::mutex mutex_;
  std::vector<std::string> events_;
};

TEST_F(PortalShortcutsTest, BindsTheRegistryAndReportsPressAndRelease) {
  auto portal = start();
  ASSERT_TRUE(portal);
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s)) << log();
  ASSERT_TRUE(portal->bound()) << portal->status() << log();
  EXPECT_EQ(desktop_->bound(), (std::vector<Shortcut>{{"cancel", "Thoth: cancel", "CTRL+ALT+Escape"},
                                                      {"record", "Thoth: record", "CTRL+ALT+space"}}));
  EXPECT_EQ(portal->status(),
            "portal: cancel = test desktop: CTRL+ALT+Escape, record = test desktop: CTRL+ALT+space");
  ASSERT_EQ(desktop_->sessions().size(), 1u);

  ASSERT_TRUE(desktop_->press("record"));
  ASSERT_TRUE(events_reach(1)) << log();
  ASSERT_TRUE(desktop_->release("record"));
  ASSERT_TRUE(events_reach(2)) << log();
  ASSERT_TRUE(desktop_->press("cancel"));
  ASSERT_TRUE(desktop_->release("cancel"));
  ASSERT_TRUE(events_reach(4)) << log();
  EXPECT_EQ(events(), (std::vector<std::string>{"record down", "record up", "cancel down", "cancel up"}));

  // A config change (one, as a reload is) binds again on the same session.
  ASSERT_TRUE(registry_.replace({{"record", *parse_accelerator("Super+F7")}}).ok());
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s));
  EXPECT_EQ(desktop_->bound(), (std::vector<Shortcut>{{"record", "Thoth: record", "LOGO+F7"}}));
  EXPECT_EQ(desktop_->bind_calls(), 2);
  EXPECT_EQ(desktop_->sessions().size(), 1u);
  // A shortcut the desktop still fires after we dropped it does nothing.
  ASSERT_TRUE(desktop_->press("cancel"));
  ASSERT_TRUE(desktop_->press("record"));
  ASSERT_TRUE(events_reach(5));
  EXPECT_EQ(events().back(), "record down");
  EXPECT_EQ(events().size(), 5u);

  // Stopping releases the held key and closes the portal session.
  portal.reset();
  EXPECT_EQ(events().size(), 6u);
  EXPECT_EQ(events().back(), "record up");
  EXPECT_TRUE(eventually([&] { return desktop_->closed_sessions() == desktop_->sessions(); }, 30s))
      << "closed: " << desktop_->closed_sessions().size() << log();
}

TEST_F(PortalShortcutsTest, AUserWhoDeclinesGetsOneActionableLineAndAConfigChangeAsksAgain) {
  desktop_->set_create_session_response(1);
  auto portal = start();
  ASSERT_TRUE(portal);
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s)) << log();
  EXPECT_FALSE(portal->bound());
  EXPECT_EQ(portal->status(),
            "portal: you declined Thoth's global shortcuts (CreateSession); allow them in your desktop's "
            "shortcut settings, or bind `thoth toggle` in your compositor");
  EXPECT_TRUE(desktop_->sessions().empty());
  EXPECT_EQ(desktop_->bind_calls(), 0);

  desktop_->set_create_session_response(0);
  ASSERT_TRUE(registry_.bind("record", "Ctrl+Alt+R").ok());
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s)) << log();
  EXPECT_TRUE(portal->bound()) << portal->status();
  EXPECT_EQ(desktop_->create_calls(), 2);
  EXPECT_EQ(desktop_->bound(), (std::vector<Shortcut>{{"cancel", "Thoth: cancel", "CTRL+ALT+Escape"},
                                                      {"record", "Thoth: record", "CTRL+ALT+r"}}));
}

TEST_F(PortalShortcutsTest, ARefusedBindingSaysSoAndKeepsTheSessionToClose) {
  desktop_->set_bind_response(2);
  auto portal = start();
  ASSERT_TRUE(portal);
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s)) << log();
  EXPECT_FALSE(portal->bound());
  EXPECT_EQ(portal->status(),
            "portal: the desktop refused Thoth's global shortcuts (BindShortcuts ended with code 2); bind "
            "`thoth toggle` in your compositor instead");
  ASSERT_EQ(desktop_->sessions().size(), 1u);
  portal.reset();
  EXPECT_TRUE(eventually([&] { return desktop_->closed_sessions() == desktop_->sessions(); }, 30s)) << log();
}

TEST_F(PortalShortcutsTest, TheDesktopEndingTheSessionIsReportedAndAConfigChangeAsksAgain) {
  auto portal = start();
  ASSERT_TRUE(portal);
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s)) << log();
  ASSERT_TRUE(portal->bound());
  ASSERT_TRUE(desktop_->press("record"));
  ASSERT_TRUE(events_reach(1)) << log();

  ASSERT_TRUE(desktop_->close_session_from_desktop());
  ASSERT_TRUE(eventually([&] { return !portal->bound(); }, 30s)) << portal->status() << log();
  EXPECT_EQ(portal->status(),
            "portal: the desktop ended Thoth's shortcuts session; change a shortcut or restart the daemon to ask "
            "again");
  ASSERT_TRUE(events_reach(2));  // the held key counts as released
  EXPECT_EQ(events(), (std::vector<std::string>{"record down", "record up"}));

  ASSERT_TRUE(registry_.bind("record", "Ctrl+Alt+R").ok());
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s)) << log();
  EXPECT_TRUE(portal->bound()) << portal->status();
  EXPECT_EQ(desktop_->create_calls(), 2);
}

TEST_F(PortalShortcutsTest, APortalThatRestartsGetsTheShortcutsAgain) {
  auto portal = start();
  ASSERT_TRUE(portal);
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s)) << log();
  ASSERT_TRUE(desktop_->press("record"));
  ASSERT_TRUE(events_reach(1)) << log();

  std::string error;
  ASSERT_TRUE(desktop_->restart_frontend(&error)) << error;
  ASSERT_TRUE(events_reach(2)) << log();  // the held key counts as released
  ASSERT_TRUE(eventually([&] { return desktop_->bind_calls() == 2 && portal->bound(); }, 60s))
      << portal->status() << log();
  EXPECT_EQ(desktop_->create_calls(), 2);
  ASSERT_TRUE(desktop_->press("cancel"));
  ASSERT_TRUE(events_reach(3)) << log();
  EXPECT_EQ(events(), (std::vector<std::string>{"record down", "record up", "cancel down"}));
}

TEST_F(PortalShortcutsTest, ADesktopThatBindsSilentlyIsAskedForTheList) {
  desktop_->set_bind_lists_shortcuts(false);
  auto portal = start();
  ASSERT_TRUE(portal);
  ASSERT_TRUE(portal->wait_applied(registry_.generation(), 60s)) << log();
  EXPECT_TRUE(portal->bound());
  EXPECT_EQ(desktop_->list_calls(), 1);
  EXPECT_EQ(portal->status(),
            "portal: cancel = test desktop: CTRL+ALT+Escape, record = test desktop: CTRL+ALT+space");
}

TEST_F(PortalShortcutsTest, WaylandWithThePortalChoosesIt) {
  const BackendChoice c = choose_backend();
  EXPECT_EQ(c.backend, Backend::portal);
  EXPECT_EQ(c.reason.rfind("Wayland: shortcuts through the desktop's GlobalShortcuts portal (version ", 0), 0u)
      << c.reason;
}

TEST(PortalAbsent, ADesktopPortalWithoutGlobalShortcutsGivesTheAdvice) {
  std::string error;
  auto desktop = thoth::test::PortalDesktop::start(&error, /*shortcuts_backend=*/false);
  ASSERT_TRUE(desktop) << error;
  thoth::test::ScopedEnv env;
  for (const auto& [name, value] : desktop->client_env()) env.set(name.c_str(), value);
  const BackendChoice c = choose_backend();
  EXPECT_EQ(c.backend, Backend::none);
  EXPECT_EQ(c.reason, std::string("no global shortcuts on this Wayland desktop (the desktop portal has no "
                                  "GlobalShortcuts interface): ") +
                          kWaylandAdvice);
}

TEST_F(PortalShortcutsTest, GlobalShortcutsDriveTheDictationThroughThePortal) {
  test::RecordingDictation dictation;
  Config::Shortcuts config;  // push-to-talk on Ctrl+Alt+Space, cancel on Ctrl+Alt+Escape
  auto shortcuts = GlobalShortcuts::start(config, dictation);
  ASSERT_TRUE(shortcuts.ok()) << shortcuts.error();
  ASSERT_TRUE((*shortcuts)->wait_applied(60s)) << log();
  EXPECT_TRUE((*shortcuts)->active()) << (*shortcuts)->status();
  EXPECT_NE((*shortcuts)->status().find("\nportal: cancel = test desktop: CTRL+ALT+Escape, record = test desktop: "
                                        "CTRL+ALT+space"),
            std::string::npos)
      << (*shortcuts)->status();

  ASSERT_TRUE(desktop_->press("record"));
  ASSERT_TRUE(eventually([&] { return dictation.calls().size() >= 1; }, 30s)) << log();
  std::this_thread::sleep_for(400ms);  // held longer than a tap
  ASSERT_TRUE(desktop_->release("record"));
  ASSERT_TRUE(eventually([&] { return dictation.calls().size() >= 2; }, 30s)) << log();
  EXPECT_EQ(dictation.calls(), (std::vector<std::string>{"start", "stop"}));

  // Toggle mode through a reload: press starts, the next press stops.
  config.mode = "toggle";
  ASSERT_TRUE((*shortcuts)->reload(config).ok());
  ASSERT_TRUE((*shortcuts)->wait_applied(60s));
  ASSERT_TRUE(desktop_->press("record"));
  ASSERT_TRUE(desktop_->release("record"));
  ASSERT_TRUE(eventually([&] { return dictation.calls().size() >= 3; }, 30s)) << log();
  ASSERT_TRUE(desktop_->press("cancel"));
  ASSERT_TRUE(desktop_->release("cancel"));
  ASSERT_TRUE(eventually([&] { return dictation.calls().size() >= 4; }, 30s)) << log();
  EXPECT_EQ(dictation.calls(), (std::vector<std::string>{"start", "stop", "start", "cancel"}));

  shortcuts->reset();
  EXPECT_TRUE(eventually([&] { return desktop_->closed_sessions() == desktop_->sessions(); }, 30s)) << log();
}

}  // namespace
}  // namespace thoth::input
