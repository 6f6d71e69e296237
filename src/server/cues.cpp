#include "server/cues.h"

#include <pulse/error.h>
#include <pulse/simple.h>
#include <systemd/sd-bus.h>

#include <cmath>
#include <vector>

#include <spdlog/spdlog.h>

#include "pipeline/stages.h"

namespace thoth::server {

namespace {

constexpr int kRate = 48000;

// One tone with 5 ms fades, so it starts and ends without a click.
void append_tone(std::vector<float>& out, double hz, double seconds, float gain) {
  const int n = int(seconds * kRate);
  const int fade = kRate / 200;
  for (int i = 0; i < n; ++i) {
    const float env = float(std::min({1.0, double(i) / fade, double(n - 1 - i) / fade}));
    out.push_back(gain * env * float(std::sin(2 * M_PI * hz * i / kRate)));
  }
}

void append_silence(std::vector<float>& out, double seconds) { out.insert(out.end(), size_t(seconds * kRate), 0.0f); }

std::vector<float> cue_samples(Cue cue) {
  std::vector<float> s;
  switch (cue) {
    case Cue::Start:  // rising: listening
      append_tone(s, 660, 0.07, 0.25f);
      append_tone(s, 990, 0.09, 0.25f);
      break;
    case Cue::Stop:  // falling: done listening
      append_tone(s, 990, 0.07, 0.25f);
      append_tone(s, 660, 0.09, 0.25f);
      break;
    case Cue::Error:  // low, twice
      append_tone(s, 220, 0.15, 0.3f);
      append_silence(s, 0.06);
      append_tone(s, 220, 0.15, 0.3f);
      break;
  }
  return s;
}

}  // namespace

Result<void> play_cue(Cue cue) {
  const std::vector<float> samples = cue_samples(cue);
  pa_sample_spec spec{PA_SAMPLE_FLOAT32LE, kRate, 1};
  int err = 0;
  pa_simple* s = pa_simple_new(nullptr, "Thoth", PA_STREAM_PLAYBACK, nullptr, "cue", &spec, nullptr, nullptr, &err);
  if (!s) return make_error(std::string("sound cue: cannot reach the sound server: ") + pa_strerror(err));
  const bool ok = pa_simple_write(s, samples.data(), samples.size() * sizeof(float), &err) == 0 &&
                  pa_simple_drain(s, &err) == 0;
  pa_simple_free(s);
  if (!ok) return make_error(std::string("sound cue: ") + pa_strerror(err));
  return {};
}

Result<void> notify_desktop(const std::string& summary, const std::string& body) {
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_user(&bus); r < 0)
    return make_error(std::string("notification: no session bus: ") + std::strerror(-r));
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  const int r = sd_bus_call_method(bus, "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                                   "org.freedesktop.Notifications", "Notify", &error, &reply, "susssasa{sv}i", "Thoth",
                                   0u, "dialog-error", summary.c_str(), body.c_str(), 0, 0, -1);
  std::string why = r < 0 ? (error.message ? error.message : std::strerror(-r)) : "";
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  sd_bus_flush_close_unref(bus);
  if (r < 0) return make_error("notification: " + why);
  return {};
}

Cues::Cues(pipeline::EventBus& bus, bool sounds, bool notifications)
    : bus_(bus), sounds_(sounds), notifications_(notifications) {
  if (sounds_ || notifications_) id_ = bus_.subscribe([this](const pipeline::PipelineEvent& e) { on_event(e); });
}

Cues::~Cues() {
  if (id_) bus_.unsubscribe(id_);
}

void Cues::on_event(const pipeline::PipelineEvent& e) {
  using K = pipeline::PipelineEvent::Kind;
  using S = pipeline::PipelineState;
  if (e.kind == K::Progress && sounds_) {
    if (e.state == S::Recording) (void)play_cue(Cue::Start);
    if (e.state == S::Transcribing) (void)play_cue(Cue::Stop);
  }
  if (e.kind != K::Error) return;
  if (sounds_) (void)play_cue(Cue::Error);
  if (!notifications_) return;
  // Nothing dictated is lost, and the notification says where it is.
  std::string body = e.message;
  if (e.result && !e.result->raw_text.empty()) body += "\nThe text is in the history (thoth history).";
  if (e.result && !e.result->audio_path.empty()) body += "\nAudio kept: " + e.result->audio_path;
  if (auto r = notify_desktop("Dictation failed", body); !r) spdlog::info("{}", r.error());
}

}  // namespace thoth::server
