// Typing into a real X11 window on a private Xvfb server.
#include "output/x11_keyboard.h"

#include <gtest/gtest.h>

#include "support/x_server.h"

namespace thoth::output {
namespace {

using namespace std::chrono_literals;
using thoth::test::TypedTextRecorder;
using thoth::test::XvfbServer;

struct XRig {
  std::unique_ptr<XvfbServer> server;
  std::unique_ptr<TypedTextRecorder> window;
  std::unique_ptr<X11Keyboard> keyboard;
  std::string error;
  bool ok() {
    server = XvfbServer::start(&error);
    if (!server) return false;
    window = TypedTextRecorder::start(server->display(), &error);
    if (!window) return false;
    auto k = X11Keyboard::open(server->display());
    if (!k) {
      error = k.error();
      return false;
    }
    keyboard = std::move(*k);
    return true;
  }
};

TEST(X11Keyboard, TypesAsciiWithShiftedCharacters) {
  XRig rig;
  ASSERT_TRUE(rig.ok()) << rig.error;
  const std::string text = "And so, my fellow Americans: ask NOT (what) your country can do for you! #1 ~ \"q\"";
  ASSERT_TRUE(rig.keyboard->type(text));
  ASSERT_TRUE(rig.window->wait_for_chars(text.size(), 10s)) << rig.window->text();
  EXPECT_EQ(rig.window->settle(200ms, 5s), text);
}

TEST(X11Keyboard, TypesAnyUnicodeByRemappingSpareKeycodes) {
  XRig rig;
  ASSERT_TRUE(rig.ok()) << rig.error;
  // Latin-1, other scripts, symbols and astral-plane characters: none on the US keymap.
  const std::string text = "Café naïve — Grüße, Ελληνικά, русский, 日本語 ✓ €5 😀\tend\n";
  ASSERT_TRUE(rig.keyboard->type(text));
  const size_t n = decode_utf8(text).size();
  ASSERT_TRUE(rig.window->wait_for_chars(n, 10s)) << rig.window->text();
  EXPECT_EQ(rig.window->settle(200ms, 5s), text);
  // Typing again reuses the spare keycodes: they were emptied after the first text.
  ASSERT_TRUE(rig.keyboard->type("ß→ü"));
  ASSERT_TRUE(rig.window->wait_for_chars(n + 3, 10s));
  EXPECT_EQ(rig.window->settle(200ms, 5s), text + "ß→ü");
}

TEST(X11Keyboard, ManyDistinctCharactersTypeInBatches) {
  XRig rig;
  ASSERT_TRUE(rig.ok()) << rig.error;
  std::string text;
  // More distinct unmapped characters than an X keymap has spare keycodes.
  for (char32_t cp = 0x0410; cp < 0x0410 + 200; ++cp) {
    text += char(0xc0 | (cp >> 6));
    text += char(0x80 | (cp & 0x3f));
  }
  ASSERT_TRUE(rig.keyboard->type(text));
  ASSERT_TRUE(rig.window->wait_for_chars(200, 30s)) << rig.window->text().size();
  EXPECT_EQ(rig.window->settle(200ms, 5s), text);
}

TEST(X11Keyboard, CancelStopsTyping) {
  XRig rig;
  ASSERT_TRUE(rig.ok()) << rig.error;
  std::atomic<bool> cancel{true};
  auto r = rig.keyboard->type("never typed", &cancel);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cancelled"), std::string::npos);
  EXPECT_EQ(rig.window->settle(200ms, 2s), "");
}

TEST(X11Keyboard, MissingDisplayIsAClearError) {
  auto k = X11Keyboard::open(":987");
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().find(":987"), std::string::npos);
}

TEST(DecodeUtf8, InvalidSequencesBecomeReplacementCharacters) {
  EXPECT_EQ(decode_utf8("a\xc3\xa9"), U"aé");
  EXPECT_EQ(decode_utf8("\xff" "b"), U"\uFFFD" "b");
  EXPECT_EQ(decode_utf8("\xc0\xaf"), U"\uFFFD\uFFFD");  // overlong
  EXPECT_EQ(decode_utf8("\xe2\x82"), U"\uFFFD\uFFFD");  // truncated
  EXPECT_EQ(decode_utf8("\xf0\x9f\x98\x80"), U"\U0001F600");
}

}  // namespace
}  // namespace thoth::output
