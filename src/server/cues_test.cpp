// The daemon's cues against real servers: the tones through a PulseAudio server started by
// the test (captured back from its monitor), the notification through a private D-Bus
// session bus where the test serves org.freedesktop.Notifications.
#include "server/cues.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "audio/audio_file.h"
#include "audio/capture.h"
#include "pipeline/stages.h"
#include "support/process.h"
#include "support/pulse_server.h"
#include "support/session_bus.h"
#include "support/shared_data.h"

namespace thoth::server {
namespace {

using namespace std::chrono_literals;

TEST(Cues, ToneReachesTheSoundServer) {
  std::string error;
  auto pulse = thoth::test::PulseServer::start(&error);
  ASSERT_TRUE(pulse) << error;
  thoth::test::ScratchDir dir;
  audio::CaptureOptions o;
  o.device = thoth::test::PulseServer::kMonitor;
  o.wav_path = (dir / "cue.wav").string();
  auto cap = audio::Capture::start(o);
  ASSERT_TRUE(cap) << cap.error();
  // The monitor of an idle sink starts late: play until the recording has the tone.
  for (Cue c : {Cue::Start, Cue::Stop, Cue::Error}) ASSERT_TRUE(play_cue(c));
  std::this_thread::sleep_for(300ms);
  auto rec = (*cap)->stop();
  auto pcm = audio::load_audio_16k_mono(rec.wav_path);
  ASSERT_TRUE(pcm) << pcm.error();
  float peak = 0;
  for (float v : *pcm) peak = std::max(peak, std::fabs(v));
  EXPECT_GT(peak, 0.1f);  // the cues play at 0.25 to 0.3
}

// A notification service of our own on the private session bus: records what it is sent.
class NotificationService {
 public:
  bool start(const thoth::test::SessionBus& session, std::string* error) {
    bus_ = session.connect();
    if (!bus_) {
      *error = "cannot connect to the private bus";
      return false;
    }
    static const sd_bus_vtable vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", &NotificationService::on_notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END};
    if (sd_bus_add_object_vtable(bus_, nullptr, "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
                                 vtable, this) < 0 ||
        sd_bus_request_name(bus_, "org.freedesktop.Notifications", 0) < 0) {
      *error = "cannot serve org.freedesktop.Notifications";
      return false;
    }
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        while (sd_bus_process(bus_, nullptr) > 0) {
        }
        sd_bus_wait(bus_, 50'000);
      }
    });
    return true;
  }
  ~NotificationService() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (bus_) sd_bus_flush_close_unref(bus_);
  }
  std::pair<std::string, std::string> last() {
    std::lock_guard lock(mutex_);
    return {summary_, body_};
  }

 private:
  static int on_notify(sd_bus_message* m, void* self, sd_bus_error*) {
    auto* me = static_cast<NotificationService*>(self);
    const char *app = nullptr, *icon = nullptr, *summary = nullptr, *body = nullptr;
    uint32_t replaces = 0;
    sd_bus_message_read(m, "susss", &app, &replaces, &icon, &summary, &body);
    {
      std::lock_guard lock(me->mutex_);
      me->summary_ = summary ? summary : "";
      me->body_ = body ? body : "";
    }
    return sd_bus_reply_method_return(m, "u", 7u);
  }
  sd_bus* bus_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::string summary_, body_;
};

TEST(Cues, AFailedDictationIsNotifiedWithWhereItsAudioIs) {
  std::string error;
  auto session = thoth::test::SessionBus::start(&error);
  ASSERT_TRUE(session) << error;
  NotificationService service;
  ASSERT_TRUE(service.start(*session, &error)) << error;

  pipeline::EventBus bus;
  {
    Cues cues(bus, /*sounds=*/false, /*notifications=*/true);
    auto result = std::make_shared<pipeline::PipelineResult>();
    result->audio_path = "/home/u/.local/share/thoth/recordings/x.wav";
    result->raw_text = "what was said";
    pipeline::PipelineEvent e;
    e.kind = pipeline::PipelineEvent::Kind::Error;
    e.state = pipeline::PipelineState::Failed;
    e.message = "output: no way to deliver the text worked";
    e.result = result;
    bus.publish(e);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (service.last().first.empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
  }
  const auto [summary, body] = service.last();
  EXPECT_EQ(summary, "Dictation failed");
  EXPECT_NE(body.find("no way to deliver"), std::string::npos) << body;
  EXPECT_NE(body.find("recordings/x.wav"), std::string::npos) << body;

  // Without a notification service the call is a clear error, not a hang.
  setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus", 1);
  auto r = notify_desktop("x", "y");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("notification:"), std::string::npos);
}

}  // namespace
}  // namespace thoth::server
