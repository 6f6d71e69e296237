// X11Hotkeys against a private Xvfb: keys are pressed with XTest from a second client, as a
// person at the keyboard would, and the events the grabber reports are checked.
#include "input/x11_hotkeys.h"

#include <gtest/gtest.h>
// After gtest: Xlib defines None, True, ... as macros.
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <initializer_list>
#include <mutex>
#include <thread>

#include "input/dictation_keys.h"
#include "input/test_dictation.h"
#include "support/x_server.h"

namespace thoth::input {
namespace {

using namespace std::chrono_literals;
constexpr auto kWait = 10s;  // "does not hang" bound only

// What a handler does in the daemon: post the event and return.
class EventQueue {
 public:
  void post(const ShortcutEvent& e) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
    }
    cv_.notify_all();
  }
  // The next event, or nullopt after the timeout.
  std::optional<ShortcutEvent> next(std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
    ShortcutEvent e = events_.front();
    events_.pop_front();
    return e;
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return events_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<ShortcutEvent> events_;
};

std::string describe(const std::optional<ShortcutEvent>& e) {
  if (!e) return "(nothing)";
  return e->action + (e->pressed ? " pressed" : " released");
}

// A keyboard driven through XTest on its own connection.
class Keyboard {
 public:
  explicit Keyboard(const std::string& display) : d_(XOpenDisplay(display.c_str())) {}
  ~Keyboard() {
    if (d_) XCloseDisplay(d_);
  }
  Display* display() const { return d_; }
  void key(KeySym ks, bool down) {
    const KeyCode code = XKeysymToKeycode(d_, ks);
    ASSERT_NE(code, 0) << "no keycode for " << XKeysymToString(ks);
    XTestFakeKeyEvent(d_, code, down, CurrentTime);
    XSync(d_, False);
  }
  void press(std::initializer_list<KeySym> keys) {
    for (KeySym k : keys) key(k, true);
  }
  void release(std::initializer_list<KeySym> keys) {
    for (auto it = std::rbegin(keys); it != std::rend(keys); ++it) key(*it, false);
  }
  void chord(std::initializer_list<KeySym> keys) {
    press(keys);
    release(keys);
  }

 private:
  Display* d_;
};

class X11HotkeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    xvfb_ = thoth::test::XvfbServer::start(&error);
    ASSERT_TRUE(xvfb_) << error;
    keyboard_ = std::make_unique<Keyboard>(xvfb_->display());
    ASSERT_TRUE(keyboard_->display());
    ASSERT_TRUE(registry_.bind("record", "Ctrl+Alt+Space").ok());
    ASSERT_TRUE(registry_.bind("cancel", "Ctrl+Alt+Escape").ok());
  }

  std::unique_ptr<X11Hotkeys> start() {
    auto h = X11Hotkeys::start(registry_, [this](const ShortcutEvent& e) { queue_.post(e); }, xvfb_->display());
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error());
    return h.ok() ? std::move(*h) : nullptr;
  }

  void expect_next(std::string_view action, bool pressed) {
    auto e = queue_.next();
    ASSERT_TRUE(e) << "expected " << action << (pressed ? " pressed" : " released") << ", got nothing";
    EXPECT_EQ(describe(e), std::string(action) + (pressed ? " pressed" : " released"));
  }

  std::unique_ptr<thoth::test::XvfbServer> xvfb_;
  std::unique_ptr<Keyboard> keyboard_;
  ShortcutRegistry registry_;
  EventQueue queue_;
};

TEST_F(X11HotkeysTest, ReportsPressAndReleaseOfBoundAcceleratorsOnly) {
  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  ASSERT_TRUE(hotkeys->grab_status().ok()) << hotkeys->grab_status().error();

  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_space});
  expect_next("record", true);
  expect_next("record", false);

  // Near misses: no event. The cancel chord after them proves they were processed.
  keyboard_->chord({XK_space});
  keyboard_->chord({XK_Control_L, XK_space});
  keyboard_->chord({XK_Alt_L, XK_space});
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_Shift_L, XK_space});
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_a});
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_Escape});
  expect_next("cancel", true);
  expect_next("cancel", false);
  EXPECT_EQ(queue_.size(), 0u);
}

TEST_F(X11HotkeysTest, ReleaseArrivesWhenModifiersGoUpFirst) {
  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  keyboard_->press({XK_Control_L, XK_Alt_L, XK_space});
  expect_next("record", true);
  keyboard_->key(XK_Control_L, false);
  keyboard_->key(XK_Alt_L, false);
  EXPECT_EQ(queue_.next(300ms), std::nullopt) << "released before the key went up";
  keyboard_->key(XK_space, false);
  expect_next("record", false);
}

TEST_F(X11HotkeysTest, CapsLockAndNumLockDoNotBreakShortcuts) {
  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  for (KeySym lock : {XK_Caps_Lock, XK_Num_Lock}) {
    keyboard_->chord({lock});  // on
    keyboard_->chord({XK_Control_L, XK_Alt_L, XK_space});
    expect_next("record", true);
    expect_next("record", false);
    keyboard_->chord({lock});  // off
  }
}

TEST_F(X11HotkeysTest, HoldingAKeyGivesOnePressDespiteAutoRepeat) {
  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  keyboard_->press({XK_Control_L, XK_Alt_L, XK_space});
  std::this_thread::sleep_for(1500ms);  // past the server's auto-repeat delay
  keyboard_->release({XK_Control_L, XK_Alt_L, XK_space});
  expect_next("record", true);
  expect_next("record", false);
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_Escape});
  expect_next("cancel", true);
}

TEST_F(X11HotkeysTest, RegrabsWhenTheRegistryChanges) {
  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  ASSERT_TRUE(registry_.bind("record", "Ctrl+Shift+F5").ok());
  ASSERT_TRUE(hotkeys->wait_applied(registry_.generation(), kWait));
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_space});  // no longer bound
  keyboard_->chord({XK_Control_L, XK_Shift_L, XK_F5});
  expect_next("record", true);
  expect_next("record", false);

  ASSERT_TRUE(registry_.unbind("record"));
  ASSERT_TRUE(hotkeys->wait_applied(registry_.generation(), kWait));
  keyboard_->chord({XK_Control_L, XK_Shift_L, XK_F5});
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_Escape});
  expect_next("cancel", true);
  expect_next("cancel", false);
  EXPECT_EQ(queue_.size(), 0u);
}

TEST_F(X11HotkeysTest, KeyGrabbedByAnotherProgramIsReportedClearly) {
  // Another client holds Ctrl+Alt+Space first, as a desktop's own shortcut would.
  Display* other = XOpenDisplay(xvfb_->display().c_str());
  ASSERT_TRUE(other);
  XGrabKey(other, XKeysymToKeycode(other, XK_space), ControlMask | Mod1Mask, DefaultRootWindow(other), True,
           GrabModeAsync, GrabModeAsync);
  XSync(other, False);

  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  auto status = hotkeys->grab_status();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error(),
            "Ctrl+Alt+Space (record) is already grabbed by another program; choose another shortcut or quit that "
            "program");
  // The other shortcuts still work.
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_Escape});
  expect_next("cancel", true);
  expect_next("cancel", false);

  // Once the other program is gone, a re-grab (any registry change) succeeds.
  XCloseDisplay(other);
  ASSERT_TRUE(registry_.bind("copy_last", "Super+F6").ok());
  ASSERT_TRUE(hotkeys->wait_applied(registry_.generation(), kWait));
  EXPECT_TRUE(hotkeys->grab_status().ok());
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_space});
  expect_next("record", true);
  expect_next("record", false);
}

TEST_F(X11HotkeysTest, KeyMissingFromTheKeyboardIsReported) {
  ASSERT_EQ(XKeysymToKeycode(keyboard_->display(), XK_braille_dot_1), 0) << "test needs a keysym Xvfb lacks";
  ASSERT_TRUE(registry_.bind("hands_free", "Ctrl+braille_dot_1").ok());
  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  auto status = hotkeys->grab_status();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error(), "Ctrl+braille_dot_1 (hands_free): no key on this keyboard types braille_dot_1");
}

TEST_F(X11HotkeysTest, PushToTalkAndToggleDriveTheDictation) {
  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  test::RecordingDictation dictation;
  auto feed = [&](DictationKeys& keys, size_t events) {
    for (size_t i = 0; i < events; ++i) {
      auto e = queue_.next();
      ASSERT_TRUE(e);
      keys.handle(*e);
    }
  };

  DictationKeys ptt(dictation, {KeyMode::push_to_talk, 300});
  keyboard_->press({XK_Control_L, XK_Alt_L, XK_space});
  feed(ptt, 1);
  EXPECT_TRUE(dictation.recording());
  std::this_thread::sleep_for(500ms);  // a real hold, longer than a tap
  keyboard_->release({XK_Control_L, XK_Alt_L, XK_space});
  feed(ptt, 1);
  EXPECT_FALSE(dictation.recording());
  EXPECT_EQ(dictation.calls(), (std::vector<std::string>{"start", "stop"}));

  // Hold, cancel with the other hand, let go: cancelled, not stopped.
  keyboard_->press({XK_Control_L, XK_Alt_L, XK_space});
  keyboard_->key(XK_Escape, true);
  keyboard_->key(XK_Escape, false);
  keyboard_->release({XK_Control_L, XK_Alt_L, XK_space});
  feed(ptt, 4);
  EXPECT_EQ(dictation.calls(), (std::vector<std::string>{"start", "stop", "start", "cancel"}));

  DictationKeys toggle(dictation, {KeyMode::toggle});
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_space});
  feed(toggle, 2);
  EXPECT_TRUE(dictation.recording());
  keyboard_->chord({XK_Control_L, XK_Alt_L, XK_space});
  feed(toggle, 2);
  EXPECT_FALSE(dictation.recording());
  EXPECT_EQ(dictation.calls(), (std::vector<std::string>{"start", "stop", "start", "cancel", "start", "stop"}));
}

TEST_F(X11HotkeysTest, StopsCleanlyEvenWithAKeyHeld) {
  auto hotkeys = start();
  ASSERT_TRUE(hotkeys);
  keyboard_->press({XK_Control_L, XK_Alt_L, XK_space});
  expect_next("record", true);
  hotkeys.reset();  // joins the thread
  // The held key counts as released, so a push-to-talk recording does not run forever.
  expect_next("record", false);
  keyboard_->release({XK_Control_L, XK_Alt_L, XK_space});
  EXPECT_EQ(queue_.next(200ms), std::nullopt);

  // The grab went with the connection: another client can take the key now.
  Display* other = keyboard_->display();
  XGrabKey(other, XKeysymToKeycode(other, XK_space), ControlMask | Mod1Mask, DefaultRootWindow(other), True,
           GrabModeAsync, GrabModeAsync);
  XSync(other, False);
  auto again = start();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->grab_status().ok());
}

TEST(X11HotkeysNoDisplay, SaysWhatIsWrong) {
  ShortcutRegistry registry;
  auto h = X11Hotkeys::start(registry, [](const ShortcutEvent&) {}, ":99999");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error(), "shortcuts: cannot open X11 display :99999");
}

}  // namespace
}  // namespace thoth::input

#if defined(__SANITIZE_THREAD__)
// libX11 (1.8.4) unlocks the display once more when an I/O error handler returns instead of
// exiting, which is what lets us survive a lost server; only that display's own thread is
// involved. Not our locking, so not reported.
extern "C" const char* __tsan_default_suppressions() { return "mutex:libX11.so\n"; }
#endif

#if defined(__SANITIZE_ADDRESS__)
// After a lost server Xlib's Display record cannot be freed (XCloseDisplay would talk to the
// dead server and exit); X11Hotkeys leaves it behind on purpose, once per lost server, and
// this binary loses servers on purpose.
extern "C" const char* __lsan_default_suppressions() { return "leak:libX11.so\n"; }
#endif

namespace thoth::input {
namespace {

// The X server going away (logout, crash) ends the shortcuts, not the process.
TEST(X11HotkeysLostDisplay, ServerGoneEndsTheThreadNotTheProcess) {
  std::string error;
  auto xvfb = thoth::test::XvfbServer::start(&error);
  ASSERT_TRUE(xvfb) << error;
  ShortcutRegistry registry;
  ASSERT_TRUE(registry.bind("record", "Ctrl+Alt+Space").ok());
  auto h = X11Hotkeys::start(registry, [](const ShortcutEvent&) {}, xvfb->display());
  ASSERT_TRUE(h.ok()) << h.error();
  xvfb.reset();
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(registry.bind("record", "Super+D").ok());  // wakes the thread if still running
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((*h)->grab_status().ok() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_FALSE((*h)->grab_status().ok());
  EXPECT_EQ((*h)->grab_status().error().find("lost the X11 display"), 0u) << (*h)->grab_status().error();
  h->reset();
}

}  // namespace
}  // namespace thoth::input
