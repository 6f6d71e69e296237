// The tray item on a private session bus, with a tray host played by the test.
#include "server/tray.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "support/background.h"
#include "support/scoped_env.h"
#include "support/session_bus.h"
#include "support/tray_host.h"

namespace thoth::server {
namespace {

using namespace std::chrono_literals;
using thoth::test::eventually;
using thoth::test::SessionBus;
using thoth::test::TrayHost;

struct TrayTest : ::testing::Test {
  void SetUp() override {
    std::string error;
    session = SessionBus::start(&error);
    ASSERT_TRUE(session) << error;
  }
  std::unique_ptr<Tray> start_tray() {
    auto tray = Tray::start({[this] { opened++; }, [this] { toggled++; }}, "Hold Ctrl+Alt+Space to dictate");
    EXPECT_TRUE(tray) << (tray ? "" : tray.error());
    return tray ? std::move(*tray) : nullptr;
  }
  std::unique_ptr<TrayHost> start_host() {
    std::string error;
    auto host = TrayHost::start(*session, &error);
    EXPECT_TRUE(host) << error;
    return host;
  }
  std::unique_ptr<SessionBus> session;
  std::atomic<int> opened{0}, toggled{0};
};

TEST_F(TrayTest, RegistersWithTheWatcherShowsTheStateAndTakesClicks) {
  auto host = start_host();
  ASSERT_TRUE(host);
  auto tray = start_tray();
  ASSERT_TRUE(tray);
  ASSERT_TRUE(eventually([&] { return tray->registered(); }, 10s));
  const std::string item = tray->bus_name();
  ASSERT_EQ(host->items(), std::vector<std::string>{item});

  EXPECT_EQ(host->property(item, "Id"), "thoth");
  EXPECT_EQ(host->property(item, "Category"), "ApplicationStatus");
  EXPECT_EQ(host->property(item, "Status"), "Active");
  EXPECT_EQ(host->property(item, "IconName"), "audio-input-microphone");
  EXPECT_EQ(host->tooltip(item), "Thoth: ready | Hold Ctrl+Alt+Space to dictate");

  tray->set_state(TrayState::Recording);
  EXPECT_TRUE(eventually([&] { return !host->statuses().empty(); }, 10s));
  EXPECT_EQ(host->statuses().back(), "NeedsAttention");
  EXPECT_EQ(host->property(item, "Status"), "NeedsAttention");
  EXPECT_EQ(host->property(item, "IconName"), "media-record");
  EXPECT_EQ(host->tooltip(item), "Thoth: recording | Hold Ctrl+Alt+Space to dictate");

  ASSERT_TRUE(host->click(item, "Activate"));
  ASSERT_TRUE(host->click(item, "SecondaryActivate"));
  ASSERT_TRUE(host->click(item, "ContextMenu"));  // no menu: answered, nothing done
  EXPECT_EQ(opened.load(), 1);
  EXPECT_EQ(toggled.load(), 1);
}

TEST_F(TrayTest, APanelThatComesLaterStillGetsTheItem) {
  auto tray = start_tray();
  ASSERT_TRUE(tray);
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(tray->registered());  // nobody to register with yet; the daemon runs the same
  auto host = start_host();
  ASSERT_TRUE(host);
  ASSERT_TRUE(eventually([&] { return tray->registered(); }, 10s));
  EXPECT_EQ(host->items(), std::vector<std::string>{tray->bus_name()});
}

TEST(Tray, NoSessionBusIsOneLine) {
  thoth::test::ScopedEnv env;
  env.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/thoth-test-bus");
  auto tray = Tray::start({}, "");
  ASSERT_FALSE(tray);
  EXPECT_NE(tray.error().find("tray: no session bus"), std::string::npos) << tray.error();
}

TEST(TrayState, FollowsThePipeline) {
  using pipeline::PipelineEvent;
  using pipeline::PipelineState;
  auto progress = [](PipelineState s) {
    PipelineEvent e;
    e.kind = PipelineEvent::Kind::Progress;
    e.state = s;
    return e;
  };
  EXPECT_EQ(tray_state_for(progress(PipelineState::Recording), TrayState::Idle), TrayState::Recording);
  EXPECT_EQ(tray_state_for(progress(PipelineState::Transcribing), TrayState::Recording), TrayState::Processing);
  EXPECT_EQ(tray_state_for(progress(PipelineState::Outputting), TrayState::Processing), TrayState::Processing);
  EXPECT_EQ(tray_state_for(progress(PipelineState::Idle), TrayState::Processing), TrayState::Idle);
  PipelineEvent error;
  error.kind = PipelineEvent::Kind::Error;
  EXPECT_EQ(tray_state_for(error, TrayState::Processing), TrayState::Failed);
  EXPECT_EQ(tray_state_for(progress(PipelineState::Idle), TrayState::Failed), TrayState::Failed);
  EXPECT_EQ(tray_state_for(progress(PipelineState::Recording), TrayState::Failed), TrayState::Recording);
  PipelineEvent level;
  level.kind = PipelineEvent::Kind::Level;
  EXPECT_EQ(tray_state_for(level, TrayState::Recording), TrayState::Recording);
  PipelineEvent done;
  done.kind = PipelineEvent::Kind::Complete;
  EXPECT_EQ(tray_state_for(done, TrayState::Processing), TrayState::Idle);
}

}  // namespace
}  // namespace thoth::server
