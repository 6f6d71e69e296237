// Hands-free dictation: a listener thread runs the voice activity detector on the warm input
// stream's audio while nothing is recording, starts a dictation when speech begins (the
// recording reaching back to the onset minus the padding, so the first syllable is kept) and
// stops it after a silence of auto_stop_ms.
//
//   HandsFreeListener listener(vad_model, params, target, tap_ring, tap_dropped, tap_origin);
//   listener.start();  ...  listener.stop();   // joins the thread
//
// The audio arrives through an SPSC ring fed by the capture's writer thread
// (audio::WarmCapture::attach_tap); this thread is its only consumer.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "asr/vad_endpoint.h"
#include "audio/ring_buffer.h"
#include "core/config.h"

namespace thoth::input {

// What the listener drives: the daemon's dictation service.
class HandsFreeTarget {
 public:
  enum class StartOutcome {
    kStarted,
    kRetry,    // our previous dictation is still being processed: ask again shortly
    kRefused,  // someone else's dictation (hotkey, CLI) runs, or starting failed
  };
  virtual ~HandsFreeTarget() = default;
  // Starts a dictation whose recording begins at stream position `from_position`.
  virtual StartOutcome start(int64_t from_position) = 0;
  // Stops the dictation this listener started, if it is still recording; its recording ends
  // at stream position `until_position` (its speech's end plus the padding), not later.
  virtual void stop(int64_t until_position) = 0;
  // True while the dictation this listener started is still recording (false once it was
  // stopped or cancelled by someone else).
  virtual bool recording() = 0;
};

asr::EndpointParams endpoint_params_from_config(const Config::HandsFree& config);

class HandsFreeListener {
 public:
  struct Figures {
    uint64_t starts = 0, stops = 0, ignored = 0;  // ignored: speech while another dictation ran
    int64_t position = 0;                          // stream position analysed so far
  };

  HandsFreeListener(std::shared_ptr<const asr::VadModel> vad, asr::EndpointParams params, HandsFreeTarget& target,
                    std::shared_ptr<audio::RingBuffer> ring, int64_t origin);
  ~HandsFreeListener();  // stop()
  HandsFreeListener(const HandsFreeListener&) = delete;
  HandsFreeListener& operator=(const HandsFreeListener&) = delete;

  void start();
  // Asks the thread to finish, joins it. A dictation it started keeps going (the user or the
  // daemon ends it); pending audio is discarded.
  void stop();

  Figures figures() const;
  // Runs the detection on whatever is in the ring now, on the caller's thread (tests drive
  // the listener deterministically with it; never while the thread runs).
  void drain();

 private:
  void run();
  void handle(const asr::SpeechEndpointer::Event& e);
  bool try_start(int64_t from);

  asr::SpeechEndpointer endpointer_;
  asr::EndpointParams params_;
  HandsFreeTarget& target_;
  std::shared_ptr<audio::RingBuffer> ring_;
  int64_t origin_;
  std::vector<float> block_;
  std::vector<asr::SpeechEndpointer::Event> events_;

  bool active_ = false;          // our dictation is recording
  int64_t pending_start_ = -1;   // a start to retry while our last dictation finishes
  bool stop_when_started_ = false;  // ...and its speech has already ended
  int64_t speech_end_ = -1;         // stream position where the last speech ended (padded)

  std::atomic<bool> quit_{false};
  std::thread thread_;
  std::atomic<uint64_t> starts_{0}, stops_{0}, ignored_{0};
  std::atomic<int64_t> position_{0};
};

}  // namespace thoth::input
