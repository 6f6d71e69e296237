// Feedback from the daemon a user notices without looking: short tones when recording
// starts, stops or fails (daemon.sounds, off by default), and a desktop notification when a
// dictation fails (daemon.notifications), saying where its audio and text were kept.
#pragma once
#include <string>

#include "core/result.h"
#include "pipeline/event_bus.h"

namespace thoth::server {

enum class Cue { Start, Stop, Error };

// Plays a synthesised cue on the default output (PulseAudio) and returns when it has played.
Result<void> play_cue(Cue cue);

// org.freedesktop.Notifications.Notify on the session bus. Errors: no session bus, or no
// notification service on it.
Result<void> notify_desktop(const std::string& summary, const std::string& body);

// Subscribes to the bus and gives the feedback the options ask for, on the subscription's
// own thread (a slow sound server never holds up a dictation).
class Cues {
 public:
  Cues(pipeline::EventBus& bus, bool sounds, bool notifications);
  ~Cues();
  Cues(const Cues&) = delete;
  Cues& operator=(const Cues&) = delete;

 private:
  void on_event(const pipeline::PipelineEvent& event);
  pipeline::EventBus& bus_;
  bool sounds_, notifications_;
  pipeline::EventBus::SubscriptionId id_ = 0;
};

}  // namespace thoth::server
