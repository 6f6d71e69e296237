#include "input/dictation_keys.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "input/test_dictation.h"

namespace thoth::input {
namespace {

using test::RecordingDictation;

ShortcutEvent down(std::string_view action, uint32_t t) { return {std::string(action), true, t}; }
ShortcutEvent up(std::string_view action, uint32_t t) { return {std::string(action), false, t}; }

TEST(DictationKeys, PushToTalkRecordsWhileHeld) {
  RecordingDictation d;
  DictationKeys keys(d, {KeyMode::push_to_talk});
  keys.handle(down(kRecord, 1000));
  EXPECT_TRUE(d.recording());
  keys.handle(up(kRecord, 3000));
  EXPECT_FALSE(d.recording());
  keys.handle(down(kRecord, 4000));
  keys.handle(up(kRecord, 5000));
  EXPECT_EQ(d.calls(), (std::vector<std::string>{"start", "stop", "start", "stop"}));
}

TEST(DictationKeys, PushToTalkShortTapKeepsRecordingUntilTheNextPress) {
  RecordingDictation d;
  DictationKeys keys(d, {KeyMode::push_to_talk, 300});
  keys.handle(down(kRecord, 1000));
  keys.handle(up(kRecord, 1100));  // a tap
  EXPECT_TRUE(d.recording());
  keys.handle(down(kRecord, 5000));  // stops
  EXPECT_FALSE(d.recording());
  keys.handle(up(kRecord, 5050));  // the release of that press does nothing
  EXPECT_EQ(d.calls(), (std::vector<std::string>{"start", "stop"}));

  DictationKeys no_latch(d, {KeyMode::push_to_talk, 0});
  no_latch.handle(down(kRecord, 6000));
  no_latch.handle(up(kRecord, 6010));
  EXPECT_FALSE(d.recording());
}

TEST(DictationKeys, ToggleStartsAndStopsOnPresses) {
  RecordingDictation d;
  DictationKeys keys(d, {KeyMode::toggle});
  keys.handle(down(kRecord, 1000));
  keys.handle(up(kRecord, 3000));
  EXPECT_TRUE(d.recording());
  keys.handle(down(kRecord, 9000));
  EXPECT_FALSE(d.recording());
  keys.handle(up(kRecord, 9100));
  EXPECT_EQ(d.calls(), (std::vector<std::string>{"start", "stop"}));
}

TEST(DictationKeys, CancelAbandonsAndTheHeldKeyThenDoesNothing) {
  RecordingDictation d;
  DictationKeys keys(d, {KeyMode::push_to_talk});
  keys.handle(down(kRecord, 1000));
  keys.handle(down(kCancel, 2000));
  keys.handle(up(kCancel, 2100));
  keys.handle(up(kRecord, 3000));
  EXPECT_FALSE(d.recording());
  EXPECT_EQ(d.calls(), (std::vector<std::string>{"start", "cancel"}));

  DictationKeys toggle(d, {KeyMode::toggle});
  toggle.handle(down(kRecord, 4000));
  toggle.handle(down(kCancel, 5000));
  EXPECT_FALSE(d.recording());
  EXPECT_EQ(d.calls().back(), "cancel");
}

TEST(DictationKeys, RecordingStartedElsewhereFollowsTheTruth) {
  RecordingDictation d;
  DictationKeys keys(d, {KeyMode::push_to_talk});
  d.start();  // e.g. `thoth start`
  keys.handle(down(kRecord, 1000));  // stops it
  keys.handle(up(kRecord, 3000));
  EXPECT_FALSE(d.recording());
  // A recording that ended by itself (error, hands-free auto stop) is not stopped twice.
  keys.handle(down(kRecord, 4000));
  d.stop();
  keys.handle(up(kRecord, 6000));
  EXPECT_EQ(d.calls(), (std::vector<std::string>{"start", "stop", "start", "stop"}));
}

TEST(DictationKeys, OtherActions) {
  RecordingDictation d;
  DictationKeys keys(d, {KeyMode::push_to_talk});
  keys.handle(down(kCopyLast, 1));
  keys.handle(up(kCopyLast, 2));
  keys.handle(down(kHandsFree, 3));
  keys.handle(up(kHandsFree, 4));
  keys.handle(down("unknown", 5));
  EXPECT_EQ(d.calls(), (std::vector<std::string>{"copy_last", "toggle_hands_free"}));
}

TEST(ShortcutSettings, FromTheDefaultConfig) {
  auto s = shortcut_settings(Config{}.shortcuts);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->mode, KeyMode::push_to_talk);
  ASSERT_EQ(s->bindings.size(), 2u);  // copy_last and hands_free are unbound by default
  EXPECT_EQ(s->bindings[0].action, "record");
  EXPECT_EQ(format_accelerator(s->bindings[0].accelerator), "Ctrl+Alt+Space");
  EXPECT_EQ(s->bindings[1].action, "cancel");
  EXPECT_EQ(format_accelerator(s->bindings[1].accelerator), "Ctrl+Alt+Escape");
}

TEST(ShortcutSettings, ErrorsNameTheConfigKey) {
  Config::Shortcuts c;
  c.record = "Ctrl+Alt+Spcae";
  EXPECT_EQ(shortcut_settings(c).error(), "shortcuts.record: unknown key 'Spcae' in 'Ctrl+Alt+Spcae'");
  c = {};
  c.hands_free = "ctrl+alt+space";
  EXPECT_EQ(shortcut_settings(c).error(),
            "shortcuts.record and shortcuts.hands_free are both Ctrl+Alt+Space; give each its own shortcut");
  c = {};
  c.record = "";
  EXPECT_EQ(shortcut_settings(c).error(),
            "shortcuts.record: empty; set a shortcut such as Ctrl+Alt+Space (thoth config set shortcuts.record "
            "Ctrl+Alt+Space)");
  c = {};
  c.cancel = "";
  c.copy_last = "Super+C";
  c.mode = "toggle";
  auto s = shortcut_settings(c);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->mode, KeyMode::toggle);
  ASSERT_EQ(s->bindings.size(), 2u);
  EXPECT_EQ(s->bindings[1].action, "copy_last");
  c.mode = "hold";
  EXPECT_EQ(shortcut_settings(c).error(), "shortcuts.mode: unknown mode 'hold' (push-to-talk or toggle)");
}

}  // namespace
}  // namespace thoth::input
