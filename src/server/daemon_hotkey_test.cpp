// The product's promise end to end: with `thoth daemon` running on an X11 desktop (Xvfb),
// hold Ctrl+Alt+Space, speak (PulseAudio plays jfk.wav into the virtual microphone),
// release, and the words appear in the focused window (a real X client recording its keys).
#include <gtest/gtest.h>  // before Xlib, whose None macro breaks gtest's headers
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/control.h"
#include "store/history.h"
#include "support/background.h"
#include "support/process.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"
#include "support/x_server.h"


namespace {

using namespace std::chrono_literals;
using nlohmann::json;

using thoth::test::eventually;

std::string state() {
  auto r = thoth::server::control_request(json{{"cmd", "status"}});
  return r ? (*r)["status"].value("state", std::string()) : std::string("unreachable");
}

// Presses or releases the keys of Ctrl+Alt+Space like a person would, through XTest.
void press_shortcut(Display* d, bool down) {
  const KeySym keys[] = {XK_Control_L, XK_Alt_L, XK_space};
  if (down) {
    for (KeySym k : keys) XTestFakeKeyEvent(d, XKeysymToKeycode(d, k), True, CurrentTime);
  } else {
    for (int i = 2; i >= 0; --i) XTestFakeKeyEvent(d, XKeysymToKeycode(d, keys[i]), False, CurrentTime);
  }
  XSync(d, False);
}

TEST(DaemonHotkey, HoldSpeakReleaseTypesTheWordsIntoTheFocusedWindow) {
  thoth::test::ScratchDir home;
  setenv("THOTH_HOME", home.path().c_str(), 1);
  unsetenv("WAYLAND_DISPLAY");
  std::string error;
  auto pulse = thoth::test::PulseServer::start(&error);
  ASSERT_TRUE(pulse) << error;
  auto x = thoth::test::XvfbServer::start(&error);
  ASSERT_TRUE(x) << error;
  setenv("DISPLAY", x->display().c_str(), 1);
  auto window = thoth::test::TypedTextRecorder::start(x->display(), &error);
  ASSERT_TRUE(window) << error;

  // The daemon, with the default shortcuts (push-to-talk on Ctrl+Alt+Space).
  const std::string model = thoth::test::shared_file("models/mini.en-f16.bin").string();
  thoth::test::BackgroundThoth daemon({"daemon", "--model", model, "--port", "0"});
  ASSERT_GT(daemon.pid(), 0);
  ASSERT_TRUE(eventually([] { return state() == "idle"; }, 60s)) << daemon.err();
  auto status = thoth::server::control_request(json{{"cmd", "status"}});
  ASSERT_TRUE(status);

  Display* keyboard = XOpenDisplay(x->display().c_str());
  ASSERT_NE(keyboard, nullptr);
  press_shortcut(keyboard, true);
  ASSERT_TRUE(eventually([] { return state() == "recording"; }, 20s))
      << daemon.err();
  ASSERT_EQ(pulse->play(thoth::test::shared_file("speech/jfk.wav")), 0);
  press_shortcut(keyboard, false);
  XCloseDisplay(keyboard);

  // Transcribed, typed, stored.
  ASSERT_TRUE(eventually([] { return state() == "idle"; }, 180s));
  auto store = thoth::store::HistoryStore::open(home / "history.db");
  ASSERT_TRUE(store) << store.error();
  auto rows = store->search({});
  ASSERT_TRUE(rows && rows->size() == 1u) << daemon.err();
  const auto& row = rows->front();
  EXPECT_EQ(row.status, thoth::store::DictationStatus::completed) << row.error;
  ASSERT_FALSE(row.text.empty());
  EXPECT_EQ(window->settle(500ms, 30s), row.text);
  EXPECT_GE(row.audio_duration_s, 10.5);  // the whole of jfk.wav, played while the key was held
  unsetenv("THOTH_HOME");
}

}  // namespace
