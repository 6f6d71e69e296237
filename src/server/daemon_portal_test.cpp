// The product's promise on a Wayland desktop with the GlobalShortcuts portal: with
// `thoth daemon` running against the real xdg-desktop-portal (private bus, test desktop
// backend), the desktop activating the record shortcut starts the dictation, speech plays
// into the virtual microphone (PulseAudio), deactivating it finishes the dictation, and
// stopping the daemon closes its portal session.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "server/control.h"
#include "store/history.h"
#include "support/background.h"
#include "support/portal_desktop.h"
#include "support/pulse_server.h"
#include "support/scoped_env.h"
#include "support/shared_data.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using thoth::test::eventually;

std::string state() {
  auto r = thoth::server::control_request(json{{"cmd", "status"}});
  return r ? (*r)["status"].value("state", std::string()) : std::string("unreachable");
}

TEST(DaemonPortal, ThePortalShortcutRecordsWhileHeldAndTheSessionClosesOnShutdown) {
  // Restored after the test, so later tests in this binary see the real session.
  thoth::test::ScopedEnv env;
  thoth::test::ScratchDir home;
  env.set("THOTH_HOME", home.path().string());
  std::string error;
  auto pulse = thoth::test::PulseServer::start(&error);
  ASSERT_TRUE(pulse) << error;
  auto desktop = thoth::test::PortalDesktop::start(&error);
  ASSERT_TRUE(desktop) << error;
  for (const auto& [name, value] : desktop->client_env()) env.set(name.c_str(), value);

  const std::string model = thoth::test::shared_file("models/mini.en-f16.bin").string();
  thoth::test::BackgroundThoth daemon({"daemon", "--model", model, "--port", "0"});
  ASSERT_GT(daemon.pid(), 0);
  ASSERT_TRUE(eventually([] { return state() == "idle"; }, 60s)) << daemon.err();
  // The daemon bound the configured shortcuts with the portal (push-to-talk by default).
  ASSERT_TRUE(eventually([&] { return desktop->bind_calls() >= 1; }, 60s)) << daemon.err() << desktop->frontend_log();
  EXPECT_EQ(desktop->bound(), (std::vector<thoth::test::PortalDesktop::Shortcut>{
                                  {"cancel", "Thoth: cancel", "CTRL+ALT+Escape"},
                                  {"record", "Thoth: record", "CTRL+ALT+space"}}));
  // `thoth status` shows what the desktop bound, once it has answered.
  const std::string bound_line =
      "portal: cancel = test desktop: CTRL+ALT+Escape, record = test desktop: CTRL+ALT+space";
  std::string shortcuts_status;
  ASSERT_TRUE(eventually([&] {
    auto r = thoth::server::control_request(json{{"cmd", "status"}});
    shortcuts_status = r ? (*r)["status"].value("shortcuts", std::string()) : std::string();
    return shortcuts_status.find(bound_line) != std::string::npos;
  }, 30s)) << shortcuts_status << "\n" << daemon.err();
  EXPECT_EQ(shortcuts_status.rfind("Wayland: shortcuts through the desktop's GlobalShortcuts portal", 0), 0u)
      << shortcuts_status;

  ASSERT_TRUE(desktop->press("record"));
  ASSERT_TRUE(eventually([] { return state() == "recording"; }, 20s)) << daemon.err();
  ASSERT_EQ(pulse->play(thoth::test::shared_file("speech/jfk.wav")), 0);
  ASSERT_TRUE(desktop->release("record"));
  ASSERT_TRUE(eventually([] { return state() != "recording"; }, 20s)) << daemon.err();

  // Transcribed and stored (typing it needs a compositor, which this test has none of).
  ASSERT_TRUE(eventually([] { return state() == "idle"; }, 180s)) << daemon.err();
  auto store = thoth::store::HistoryStore::open(home / "history.db");
  ASSERT_TRUE(store) << store.error();
  auto rows = store->search({});
  ASSERT_TRUE(rows && rows->size() == 1u) << daemon.err();
  EXPECT_FALSE(rows->front().text.empty());
  EXPECT_GE(rows->front().audio_duration_s, 10.5);  // the whole of jfk.wav, played while the shortcut was held

  EXPECT_EQ(daemon.signal_and_wait(SIGTERM), 0) << daemon.err();
  EXPECT_EQ(desktop->sessions().size(), 1u);
  EXPECT_EQ(desktop->closed_sessions(), desktop->sessions()) << daemon.err();
}

}  // namespace
