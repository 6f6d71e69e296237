#include "input/accelerator.h"

#include <X11/XF86keysym.h>
#include <X11/keysym.h>
#include <gtest/gtest.h>

namespace thoth::input {
namespace {

Accelerator parse_ok(std::string_view text) {
  auto a = parse_accelerator(text);
  EXPECT_TRUE(a.ok()) << text << ": " << (a.ok() ? "" : a.error());
  return a.ok() ? *a : Accelerator{};
}

std::string parse_error(std::string_view text) {
  auto a = parse_accelerator(text);
  EXPECT_FALSE(a.ok()) << text << " parsed as " << (a.ok() ? format_accelerator(*a) : "");
  return a.ok() ? "" : a.error();
}

TEST(Accelerator, ParsesModifiersAndKeysInAnyCase) {
  EXPECT_EQ(parse_ok("Ctrl+Alt+Space"), (Accelerator{kCtrl | kAlt, XK_space}));
  EXPECT_EQ(parse_ok("control+ALT+space"), (Accelerator{kCtrl | kAlt, XK_space}));
  EXPECT_EQ(parse_ok("Super+D"), (Accelerator{kSuper, XK_d}));
  EXPECT_EQ(parse_ok("meta+d"), (Accelerator{kSuper, XK_d}));
  EXPECT_EQ(parse_ok("Logo+d"), (Accelerator{kSuper, XK_d}));
  EXPECT_EQ(parse_ok(" Ctrl + Shift + 5 "), (Accelerator{kCtrl | kShift, XK_5}));
  EXPECT_EQ(parse_ok("Ctrl+Alt+Escape"), (Accelerator{kCtrl | kAlt, XK_Escape}));
  EXPECT_EQ(parse_ok("ctrl+esc"), (Accelerator{kCtrl, XK_Escape}));
  EXPECT_EQ(parse_ok("Alt+Return"), (Accelerator{kAlt, XK_Return}));
  EXPECT_EQ(parse_ok("Alt+enter"), (Accelerator{kAlt, XK_Return}));
  EXPECT_EQ(parse_ok("Ctrl+Tab"), (Accelerator{kCtrl, XK_Tab}));
  EXPECT_EQ(parse_ok("Super+Left"), (Accelerator{kSuper, XK_Left}));
  EXPECT_EQ(parse_ok("Ctrl+PageDown"), (Accelerator{kCtrl, XK_Next}));
}

TEST(Accelerator, FunctionKeysPunctuationAndKeysymNames) {
  EXPECT_EQ(parse_ok("F9"), (Accelerator{0, XK_F9}));
  EXPECT_EQ(parse_ok("shift+f24"), (Accelerator{kShift, XK_F24}));
  EXPECT_EQ(parse_ok("Ctrl+-"), (Accelerator{kCtrl, XK_minus}));
  EXPECT_EQ(parse_ok("Ctrl+minus"), (Accelerator{kCtrl, XK_minus}));
  EXPECT_EQ(parse_ok("Ctrl+,"), (Accelerator{kCtrl, XK_comma}));
  EXPECT_EQ(parse_ok("Super+bracketleft"), (Accelerator{kSuper, XK_bracketleft}));
  EXPECT_EQ(parse_ok("Ctrl++"), (Accelerator{kCtrl, XK_plus}));
  EXPECT_EQ(parse_ok("XF86AudioPlay"), (Accelerator{0, XF86XK_AudioPlay}));
  EXPECT_EQ(parse_ok("Ctrl+KP_Enter"), (Accelerator{kCtrl, XK_KP_Enter}));
  EXPECT_EQ(parse_ok("Pause"), (Accelerator{0, XK_Pause}));
  // Letters are the unshifted key whatever case they are written in.
  EXPECT_EQ(parse_ok("Ctrl+Shift+A"), parse_ok("ctrl+shift+a"));
}

TEST(Accelerator, FormatsCanonicallyAndRoundTrips) {
  EXPECT_EQ(format_accelerator(parse_ok("alt+ctrl+space")),
            "Ctrl+Alt+Space");
  EXPECT_EQ(format_accelerator(parse_ok("super+shift+ctrl+alt+x")), "Ctrl+Alt+Shift+Super+X");
  EXPECT_EQ(format_accelerator(parse_ok("ctrl+return")), "Ctrl+Enter");
  EXPECT_EQ(format_accelerator(parse_ok("ctrl+-")), "Ctrl+Minus");
  EXPECT_EQ(format_accelerator(parse_ok("ctrl++")), "Ctrl+Plus");
  EXPECT_EQ(format_accelerator(parse_ok("f12")), "F12");
  EXPECT_EQ(format_accelerator(parse_ok("XF86AudioPlay")),
            "XF86AudioPlay");
  for (const char* text : {"Ctrl+Alt+Space", "Super+D", "Ctrl+Plus", "Alt+F4", "Ctrl+Shift+Slash",
                           "Ctrl+Grave", "Super+PageUp", "Ctrl+KP_Enter", "Ctrl+Alt+Shift+Super+Escape"}) {
    const Accelerator a = parse_ok(text);
    EXPECT_EQ(format_accelerator(a), text);
    EXPECT_EQ(parse_ok(format_accelerator(a)), a);
  }
}

TEST(Accelerator, RejectsMistakesWithOneClearLine) {
  EXPECT_EQ(parse_error("Ctrl+Alt+Spcae"), "unknown key 'Spcae' in 'Ctrl+Alt+Spcae'");
  EXPECT_EQ(parse_error(""), "empty accelerator; write one like Ctrl+Alt+Space");
  EXPECT_EQ(parse_error("   "), "empty accelerator; write one like Ctrl+Alt+Space");
  EXPECT_EQ(parse_error("Ctrl+Control+X"), "modifier 'Control' repeated in 'Ctrl+Control+X'");
  EXPECT_EQ(parse_error("Ctrl+Alt"), "'Ctrl+Alt' has only modifiers; add a key, e.g. Ctrl+Alt+Space");
  EXPECT_EQ(parse_error("Super"), "'Super' has only modifiers; add a key, e.g. Ctrl+Alt+Space");
  EXPECT_EQ(parse_error("Ctrl+Alt+"), "missing key after the last '+' in 'Ctrl+Alt+'");
  EXPECT_EQ(parse_error("Ctrl++Alt+X"), "empty part between '+' signs in 'Ctrl++Alt+X'");
  EXPECT_EQ(parse_error("Ctlr+X"),
            "'Ctlr' is not a modifier in 'Ctlr+X' (modifiers: Ctrl, Alt, Shift, Super; the key comes last)");
  EXPECT_EQ(parse_error("Space+Ctrl"),
            "'Space' is a key, not a modifier in 'Space+Ctrl' (modifiers: Ctrl, Alt, Shift, Super; the key "
            "comes last)");
  EXPECT_EQ(parse_error("Ctrl+Shift_L"), "'Shift_L' is a modifier key in 'Ctrl+Shift_L'; add a key, e.g. Ctrl+Alt+Space");
  EXPECT_EQ(parse_error("F99"), "unknown key 'F99' in 'F99'");
  EXPECT_EQ(parse_error("Ctrl+Page Up"), "unknown key 'Page Up' in 'Ctrl+Page Up'");
}

TEST(Accelerator, RefusesKeysThatTypeTextWithoutACommandModifier) {
  EXPECT_EQ(parse_error("A"), "'A' would take 'A' away from typing; add Ctrl, Alt or Super");
  EXPECT_EQ(parse_error("Shift+Space"), "'Shift+Space' would take 'Space' away from typing; add Ctrl, Alt or Super");
  EXPECT_EQ(parse_error("+"), "'+' would take 'Plus' away from typing; add Ctrl, Alt or Super");
  parse_ok("Alt+A");
  parse_ok("Shift+F1");  // function keys type nothing
}

TEST(Accelerator, ConvertsToTheXdgShortcutsTriggerSyntax) {
  EXPECT_EQ(xdg_trigger(parse_ok("Ctrl+Alt+Space")), "CTRL+ALT+space");
  EXPECT_EQ(xdg_trigger(parse_ok("Super+D")), "LOGO+d");
  EXPECT_EQ(xdg_trigger(parse_ok("shift+f9")), "SHIFT+F9");
  EXPECT_EQ(xdg_trigger(parse_ok("Ctrl+Alt+Escape")), "CTRL+ALT+Escape");
  EXPECT_EQ(xdg_trigger(parse_ok("Ctrl+-")), "CTRL+minus");
  EXPECT_EQ(xdg_trigger(parse_ok("Ctrl+Shift+5")), "CTRL+SHIFT+5");
  EXPECT_EQ(xdg_trigger(parse_ok("Super+Alt+Ctrl+Shift+PageUp")), "CTRL+ALT+SHIFT+LOGO+Prior");
  EXPECT_EQ(xdg_trigger(parse_ok("XF86AudioPlay")), "XF86AudioPlay");
  EXPECT_EQ(xdg_trigger(parse_ok("Alt+KP_Enter")), "ALT+KP_Enter");
}

}  // namespace
}  // namespace thoth::input
