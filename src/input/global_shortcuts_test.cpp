// GlobalShortcuts as the daemon uses it: config in, dictation calls out, keys pressed with
// XTest on a private Xvfb.
#include "input/global_shortcuts.h"

#include <gtest/gtest.h>
// After gtest: Xlib defines None, True, ... as macros.
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include <chrono>
#include <thread>

#include "input/test_dictation.h"
#include "support/scoped_env.h"
#include "support/x_server.h"

namespace thoth::input {
namespace {

using namespace std::chrono_literals;

class GlobalShortcutsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    xvfb_ = thoth::test::XvfbServer::start(&error);
    ASSERT_TRUE(xvfb_) << error;
    env_.set("DISPLAY", xvfb_->display());
    env_.set("WAYLAND_DISPLAY", std::nullopt);
    env_.set("XDG_SESSION_TYPE", std::nullopt);
    keyboard_ = XOpenDisplay(xvfb_->display().c_str());
    ASSERT_TRUE(keyboard_);
  }
  void TearDown() override {
    if (keyboard_) XCloseDisplay(keyboard_);
  }
  void key(KeySym ks, bool down) {
    XTestFakeKeyEvent(keyboard_, XKeysymToKeycode(keyboard_, ks), down, CurrentTime);
    XSync(keyboard_, False);
  }
  void chord(std::initializer_list<KeySym> keys) {
    for (KeySym k : keys) key(k, true);
    for (auto it = std::rbegin(keys); it != std::rend(keys); ++it) key(*it, false);
  }
  // Waits (bounded, for "does not hang" only) until the dictation has seen `n` calls.
  std::vector<std::string> calls_after(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (dictation_.calls().size() < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return dictation_.calls();
  }

  thoth::test::ScopedEnv env_;
  std::unique_ptr<thoth::test::XvfbServer> xvfb_;
  Display* keyboard_ = nullptr;
  test::RecordingDictation dictation_;
};

TEST_F(GlobalShortcutsTest, DrivesTheDictationAndFollowsReloads) {
  Config::Shortcuts config;  // push-to-talk on Ctrl+Alt+Space, cancel on Ctrl+Alt+Escape
  auto shortcuts = GlobalShortcuts::start(config, dictation_);
  ASSERT_TRUE(shortcuts.ok()) << shortcuts.error();
  EXPECT_TRUE((*shortcuts)->active());
  EXPECT_EQ((*shortcuts)->status(), "X11: keys grabbed on display " + xvfb_->display());

  for (KeySym k : {XK_Control_L, XK_Alt_L, XK_space}) key(k, true);
  EXPECT_EQ(calls_after(1), (std::vector<std::string>{"start"}));
  std::this_thread::sleep_for(400ms);  // longer than a tap
  for (KeySym k : {XK_space, XK_Alt_L, XK_Control_L}) key(k, false);
  EXPECT_EQ(calls_after(2), (std::vector<std::string>{"start", "stop"}));

  // Invalid settings change nothing.
  config.record = "Ctrl+Alt+Spcae";
  auto bad = (*shortcuts)->reload(config);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "shortcuts.record: unknown key 'Spcae' in 'Ctrl+Alt+Spcae'");

  config.record = "Super+F7";
  config.mode = "toggle";
  config.copy_last = "Ctrl+Alt+C";
  ASSERT_TRUE((*shortcuts)->reload(config).ok());
  ASSERT_TRUE((*shortcuts)->wait_applied(10s));
  chord({XK_Control_L, XK_Alt_L, XK_space});  // unbound now
  chord({XK_Super_L, XK_F7});
  EXPECT_EQ(calls_after(3), (std::vector<std::string>{"start", "stop", "start"}));
  chord({XK_Control_L, XK_Alt_L, XK_c});
  EXPECT_EQ(calls_after(4), (std::vector<std::string>{"start", "stop", "start", "copy_last"}));
  chord({XK_Super_L, XK_F7});
  EXPECT_EQ(calls_after(5), (std::vector<std::string>{"start", "stop", "start", "copy_last", "stop"}));
}

TEST_F(GlobalShortcutsTest, InvalidSettingsDoNotStart) {
  Config::Shortcuts config;
  config.cancel = "Ctrl+Alt+Space";
  auto shortcuts = GlobalShortcuts::start(config, dictation_);
  ASSERT_FALSE(shortcuts.ok());
  EXPECT_EQ(shortcuts.error(),
            "shortcuts.record and shortcuts.cancel are both Ctrl+Alt+Space; give each its own shortcut");
}

TEST_F(GlobalShortcutsTest, WithoutADisplayItStartsInactiveAndSaysWhy) {
  env_.set("DISPLAY", std::nullopt);
  auto shortcuts = GlobalShortcuts::start(Config::Shortcuts{}, dictation_);
  ASSERT_TRUE(shortcuts.ok());
  EXPECT_FALSE((*shortcuts)->active());
  EXPECT_EQ((*shortcuts)->status().rfind("no graphical session", 0), 0u) << (*shortcuts)->status();
}

TEST_F(GlobalShortcutsTest, StoppingWithTheKeyHeldStopsTheRecording) {
  auto shortcuts = GlobalShortcuts::start(Config::Shortcuts{}, dictation_);
  ASSERT_TRUE(shortcuts.ok());
  for (KeySym k : {XK_Control_L, XK_Alt_L, XK_space}) key(k, true);
  EXPECT_EQ(calls_after(1), (std::vector<std::string>{"start"}));
  std::this_thread::sleep_for(400ms);
  shortcuts->reset();  // joins both threads; the held key counts as released
  EXPECT_EQ(dictation_.calls(), (std::vector<std::string>{"start", "stop"}));
  for (KeySym k : {XK_space, XK_Alt_L, XK_Control_L}) key(k, false);
}

}  // namespace
}  // namespace thoth::input
