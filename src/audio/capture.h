// Recording from a real input device through PulseAudio (also what PipeWire's pulse server
// speaks). Real-time discipline, as in the seed: the stream's read callback only copies
// into a lock-free SPSC ring and counts overflows; a writer thread owned by the Capture
// drains the ring, mixes to mono, resamples to 16 kHz with soxr and appends to a 16-bit WAV.
//
//   auto cap = thoth::audio::Capture::start({.device = "", .wav_path = "/tmp/x.wav"});
//   ...speak...
//   thoth::audio::Recording rec = (*cap)->stop();   // drains everything, closes the WAV
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace thoth::audio {

class RingBuffer;

struct InputDevice {
  std::string name;         // what --device takes (the PulseAudio source name)
  std::string description;  // what a person reads
  int sample_rate = 0;
  int channels = 0;
  bool is_default = false;
  bool is_monitor = false;  // the loopback of an output, not a microphone
};

// Input devices of the running audio server; the default one is marked.
Result<std::vector<InputDevice>> list_input_devices();

struct InputLevel {
  float rms_dbfs = -120.0f;
  float peak_dbfs = -120.0f;
};

// Published from the writer thread (never from the audio callback), once per 25 ms of
// captured audio, i.e. 40 Hz while recording.
using LevelCallback = std::function<void(const InputLevel&)>;

struct CaptureOptions {
  std::string device;    // source name; empty = the server's default input
  std::string wav_path;  // 16 kHz mono 16-bit WAV written while recording, created 0600
  LevelCallback on_level;
};

struct Recording {
  std::string wav_path;
  std::string device;            // the source actually opened
  std::vector<float> samples;    // 16 kHz mono, exactly the values stored in the WAV
  double duration_s = 0;
  uint64_t captured_frames = 0;  // device frames that reached the ring
  uint64_t overflow_frames = 0;  // device frames lost because the ring was full
  int device_rate = 0, device_channels = 0;
  double start_latency_ms = -1;  // start request -> first captured sample; -1 if none came
  std::string error;             // stream lost or disk full mid-recording; audio so far kept
};

class Capture {
 public:
  // Connects to the audio server, opens the device and the WAV, and starts recording.
  // Errors name the device or file at fault.
  static Result<std::unique_ptr<Capture>> start(CaptureOptions options);
  ~Capture();  // stops (keeping the WAV) if stop() was not called
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Stops the stream, lets the writer drain every captured sample, closes the WAV.
  Recording stop();

  // Live figures, safe from any thread while recording.
  bool has_first_sample() const;
  uint64_t overflow_frames() const;
  double captured_seconds() const;

  struct Impl;

 private:
  explicit Capture(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An input stream kept open between recordings (the daemon's warm stream): a recording
// starts with no device start-up delay, and with the last `pre_roll_ms` of audio from
// before begin() (kept in RAM only, never written anywhere between recordings).
//
//   auto warm = WarmCapture::open("", 300);
//   (*warm)->begin("/x/1.wav", on_level);  ...  Recording r = (*warm)->end();
//   (*warm)->begin("/x/2.wav", on_level);  ...
class WarmCapture {
 public:
  // `retain_ms` (>= pre_roll_ms) of past audio is kept in RAM so that begin() can start
  // further back than the pre-roll (hands-free mode starts at a detected speech onset).
  static Result<std::unique_ptr<WarmCapture>> open(std::string device, int pre_roll_ms, int retain_ms = 0);
  ~WarmCapture();  // closes the stream (ending a recording in progress, WAV kept)
  WarmCapture(const WarmCapture&) = delete;
  WarmCapture& operator=(const WarmCapture&) = delete;

  // Starts writing `wav_path`: the pre-roll first, then the live audio. Fails when the
  // stream was lost (failed()): reopen then.
  // The pre-roll never repeats what the previous recording holds. With `from_position` (a
  // position of the tap's timeline, see attach_tap) the recording starts there instead, as
  // far back as the retained audio reaches, into the previous recording's tail if need be.
  Result<void> begin(const std::string& wav_path, LevelCallback on_level, int64_t from_position = -1);
  // Ends the recording once the audio up to this call is in the WAV; the stream stays open.
  // With `until_position` (the tap's timeline, as begin's) audio past it is dropped from the
  // WAV and the samples: hands-free mode ends a recording where its speech ended, not where
  // the silence that ended it was noticed; what is dropped stays retained for the next.
  Recording end(int64_t until_position = -1);
  bool failed() const;
  const std::string& device() const;
  // A live block has arrived since the last begin() (Recording::start_latency_ms measures it).
  bool has_first_sample() const;

  // Hands every 16 kHz mono sample the stream produces, recording or not, to `ring` (its
  // single consumer is the caller's thread). The writer thread feeds it, never the audio
  // callback; a block that does not fit whole is dropped and counted in `dropped`, so the
  // samples that do arrive keep their positions only until the first drop. Returns the
  // stream position of the ring's first sample. One tap at a time; detach before the
  // ring dies.
  int64_t attach_tap(std::shared_ptr<RingBuffer> ring, std::shared_ptr<std::atomic<uint64_t>> dropped);
  // Returns the stream position after the last sample offered to the tap.
  int64_t detach_tap();
  // Changes how much past audio is kept in RAM (never less than the pre-roll).
  void retain(int retain_ms);
  // Keeps every sample from `from_position` (the tap's timeline) on in RAM, past the
  // retention, until the next begin() or hold(-1): a hands-free speech that waits for the
  // previous dictation to finish is all there when its recording can start, however long
  // that took (up to kMaxHoldMs; older audio is let go).
  void hold(int64_t from_position);
  static constexpr int kMaxHoldMs = 10 * 60 * 1000;

 private:
  explicit WarmCapture(std::unique_ptr<Capture::Impl> impl);
  std::unique_ptr<Capture::Impl> impl_;
  uint64_t begin_captured_ = 0, begin_overflow_ = 0;
  bool recording_ = false;
};

// A WAV whose writer was killed has header sizes that do not match its length: rewrites
// the RIFF and data sizes from the file length (dropping a trailing partial frame).
// Returns true when the file was repaired, false when it was already consistent.
Result<bool> repair_wav(const std::string& path);

struct RecoveryReport {
  std::vector<std::string> repaired;
  std::vector<std::string> errors;  // one line per file that could not be repaired
};

// Called at start over the recordings dir: repairs every *.wav left by a killed process.
RecoveryReport recover_recordings(const std::string& dir);

}  // namespace thoth::audio
