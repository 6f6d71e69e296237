#include "audio/capture.h"

#include <fcntl.h>
#include <pulse/pulseaudio.h>
#include <sndfile.h>
#include <soxr.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "audio/ring_buffer.h"

namespace thoth::audio {
namespace {

constexpr int kOutRate = 16000;
constexpr double kLevelPeriodS = 0.025;  // 40 Hz meter updates
constexpr double kRingSeconds = 4.0;     // slack for a writer stalled by a slow disk
constexpr int64_t kStopTailWaitNs = 300'000'000;  // bound on waiting for the last fragment

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

float to_dbfs(double linear) {
  if (linear <= 1e-6) return -120.0f;
  return float(20.0 * std::log10(linear));
}

// A connected PulseAudio context on its own threaded main loop. Every call into the
// context happens with the loop locked, as the threaded-mainloop API requires.
class PulseConnection {
 public:
  ~PulseConnection() {
    if (loop_) pa_threaded_mainloop_stop(loop_);
    if (context_) {
      pa_context_disconnect(context_);
      pa_context_unref(context_);
    }
    if (loop_) pa_threaded_mainloop_free(loop_);
  }

  Result<void> connect() {
    loop_ = pa_threaded_mainloop_new();
    if (!loop_) return make_error("audio: cannot create the PulseAudio main loop");
    context_ = pa_context_new(pa_threaded_mainloop_get_api(loop_), "thoth");
    if (!context_) return make_error("audio: cannot create a PulseAudio context");
    pa_context_set_state_callback(context_, &PulseConnection::on_state, this);
    // No autospawn: a missing server is reported, never silently started behind the user.
    if (pa_context_connect(context_, nullptr, PA_CONTEXT_NOAUTOSPAWN, nullptr) < 0)
      return server_error();
    if (pa_threaded_mainloop_start(loop_) < 0)
      return make_error("audio: cannot start the PulseAudio main loop");
    Lock lock(loop_);
    for (;;) {
      const pa_context_state_t s = pa_context_get_state(context_);
      if (s == PA_CONTEXT_READY) return {};
      if (!PA_CONTEXT_IS_GOOD(s)) return server_error();
      pa_threaded_mainloop_wait(loop_);
    }
  }

  pa_threaded_mainloop* loop() const { return loop_; }
  pa_context* context() const { return context_; }

  // Holds the main-loop lock for a scope.
  struct Lock {
    explicit Lock(pa_threaded_mainloop* l) : loop(l) { pa_threaded_mainloop_lock(loop); }
    ~Lock() { pa_threaded_mainloop_unlock(loop); }
    pa_threaded_mainloop* loop;
  };

  // Waits (loop locked) until an operation completes; its callback signals the loop.
  void wait_for(pa_operation* op) {
    if (!op) return;
    while (pa_operation_get_state(op) == PA_OPERATION_RUNNING) pa_threaded_mainloop_wait(loop_);
    pa_operation_unref(op);
  }

  std::string last_error() const { return pa_strerror(pa_context_errno(context_)); }

 private:
  Error server_error() const {
    const char* server = std::getenv("PULSE_SERVER");
    return make_error(std::string("audio: cannot connect to the PulseAudio/PipeWire server") +
                      (server ? std::string(" at ") + server : std::string()) + ": " +
                      pa_strerror(pa_context_errno(context_)) +
                      " (is an audio server running for this user?)");
  }

  static void on_state(pa_context*, void* self) {
    pa_threaded_mainloop_signal(static_cast<PulseConnection*>(self)->loop_, 0);
  }

  pa_threaded_mainloop* loop_ = nullptr;
  pa_context* context_ = nullptr;
};

struct SourceQuery {
  pa_threaded_mainloop* loop;
  std::vector<InputDevice>* out;
  bool found = false;
};

void on_source_info(pa_context*, const pa_source_info* info, int eol, void* userdata) {
  auto* q = static_cast<SourceQuery*>(userdata);
  if (eol != 0 || !info) {
    pa_threaded_mainloop_signal(q->loop, 0);
    return;
  }
  InputDevice d;
  d.name = info->name ? info->name : "";
  d.description = info->description ? info->description : d.name;
  d.sample_rate = int(info->sample_spec.rate);
  d.channels = int(info->sample_spec.channels);
  d.is_monitor = info->monitor_of_sink != PA_INVALID_INDEX;
  q->out->push_back(std::move(d));
  q->found = true;
}

struct ServerQuery {
  pa_threaded_mainloop* loop;
  std::string default_source;
};

void on_server_info(pa_context*, const pa_server_info* info, void* userdata) {
  auto* q = static_cast<ServerQuery*>(userdata);
  if (info && info->default_source_name) q->default_source = info->default_source_name;
  pa_threaded_mainloop_signal(q->loop, 0);
}

}  // namespace

Result<std::vector<InputDevice>> list_input_devices() {
  PulseConnection pulse;
  if (auto r = pulse.connect(); !r) return make_error(r.error());
  std::vector<InputDevice> devices;
  PulseConnection::Lock lock(pulse.loop());
  ServerQuery server{pulse.loop(), {}};
  pulse.wait_for(pa_context_get_server_info(pulse.context(), on_server_info, &server));
  SourceQuery sources{pulse.loop(), &devices};
  pulse.wait_for(pa_context_get_source_info_list(pulse.context(), on_source_info, &sources));
  for (auto& d : devices) d.is_default = d.name == server.default_source;
  return devices;
}

// Everything the audio callback, the writer thread and the controlling thread share.
struct Capture::Impl {
  CaptureOptions options;
  PulseConnection pulse;
  pa_stream* stream = nullptr;
  std::string device;
  int rate = 0, channels = 0;
  int64_t start_request_ns = 0;
  int64_t ready_ns = 0;  // the stream started recording

  std::unique_ptr<RingBuffer> ring;
  std::vector<float> silence;  // pre-allocated: fills holes without allocating in the callback

  // Written by the audio callback, read elsewhere. Counters are statistics only, so
  // relaxed; first_sample_ns is published with release so a reader that sees it also sees
  // the first samples' counters.
  std::atomic<uint64_t> captured_frames{0};
  std::atomic<uint64_t> overflow_frames{0};
  std::atomic<int64_t> first_sample_ns{0};
  std::atomic<bool> stream_failed{false};

  // Controller -> writer: set after the stream is disconnected, so once the writer has
  // seen it (acquire) and then finds the ring empty, no sample can still arrive.
  std::atomic<bool> stop{false};
  std::thread writer;

  // Frames the writer has taken from the ring and processed (WarmCapture::end waits on it).
  std::atomic<uint64_t> processed_frames{0};

  // The session: what the writer does with each 16 kHz sample. A Capture has one session,
  // from start to stop. A WarmCapture's stream outlives its sessions: the writer also keeps
  // the last pre_roll_cap samples in RAM, during sessions too, so that a hands-free
  // dictation whose speech began before the previous one had finished stopping still gets
  // its padding. The writer holds session_mutex while it appends; the controller while it
  // opens or closes a session. The audio callback never touches any of this.
  std::mutex session_mutex;
  bool session_open = true;
  std::deque<float> pre_roll;   // the last samples before `emitted`
  size_t pre_roll_cap = 0;      // retained (pre-roll or more, for begin(from_position))
  size_t pre_roll_use = 0;      // used by a plain begin()
  int64_t hold_from = -1;       // kept from here on as well (WarmCapture::hold)
  int64_t emitted = 0;          // samples through emit() since the stream opened
  int64_t session_start = 0;    // stream position of the session's first sample
  int64_t session_end = 0;      // stream position after the last session's last sample
  std::shared_ptr<RingBuffer> tap;
  std::shared_ptr<std::atomic<uint64_t>> tap_dropped;
  SNDFILE* wav = nullptr;
  std::vector<float> samples;
  std::string writer_error;
  LevelCallback on_level;

  soxr_t resampler = nullptr;  // the writer's until it is joined
  bool stopped = false;

  static void on_read(pa_stream* s, size_t, void* userdata);
  static void on_stream_state(pa_stream* s, void* userdata);
  void write_loop();
  void consume(const float* interleaved, size_t frames, std::vector<float>& mono,
               std::vector<float>& resampled, double& level_sq, float& level_peak,
               size_t& level_frames, size_t level_window);
  void emit(const float* out, size_t n);
  void emit_locked(const float* out, size_t n);  // session_mutex held, session open
  // Keep the pre-roll and at least `retain_ms` (session_mutex held, or no writer yet).
  void set_retain(int retain_ms);
  void trim_pre_roll();
  Result<void> open_device();
  Result<void> start_stream();  // resampler, ring, writer thread, then the stream
  void close_stream();          // stream disconnected, writer drained and joined

  // The end of a recording, shared by Capture::stop and WarmCapture::end.
  Recording recording_header() const;
  // The last words are still on their way when stop is asked (one fragment, ~10 ms, from a
  // microphone): waits, briefly, until the audio up to now has arrived. Returns the time it
  // gave up at, or would have.
  int64_t wait_for_tail();
  std::string lost_device_error() const {
    return "audio: input device '" + device + "' stopped delivering audio (unplugged or server gone)";
  }
};

Recording Capture::Impl::recording_header() const {
  Recording rec;
  rec.wav_path = options.wav_path;
  rec.device = device;
  rec.device_rate = rate;
  rec.device_channels = channels;
  return rec;
}

int64_t Capture::Impl::wait_for_tail() {
  const int64_t stop_ns = now_ns();
  const uint64_t due = uint64_t(double(stop_ns - ready_ns) * 1e-9 * rate);
  const int64_t give_up = stop_ns + kStopTailWaitNs;
  while (captured_frames.load(std::memory_order_relaxed) + overflow_frames.load(std::memory_order_relaxed) < due &&
         now_ns() < give_up && !stream_failed.load(std::memory_order_relaxed))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return give_up;
}

// The audio callback: runs on PulseAudio's loop thread. It copies into the ring and counts;
// no locks, no allocation, no logging, no I/O.
void Capture::Impl::on_read(pa_stream* s, size_t, void* userdata) {
  auto* self = static_cast<Impl*>(userdata);
  const size_t frame_bytes = sizeof(float) * size_t(self->channels);
  for (;;) {
    const void* data = nullptr;
    size_t nbytes = 0;
    if (pa_stream_peek(s, &data, &nbytes) < 0 || nbytes == 0) return;
    const size_t frames = nbytes / frame_bytes;
    size_t written = 0;
    if (data) {
      written = self->ring->write(static_cast<const float*>(data), frames * size_t(self->channels),
                                  size_t(self->channels));
    } else {
      // A hole (the server lost data): keep the timeline by writing silence.
      size_t left = frames * size_t(self->channels);
      while (left > 0) {
        const size_t n = std::min(left, self->silence.size());
        const size_t w = self->ring->write(self->silence.data(), n, size_t(self->channels));
        written += w;
        if (w < n) break;
        left -= n;
      }
    }
    const size_t written_frames = written / size_t(self->channels);
    if (written_frames < frames)
      self->overflow_frames.fetch_add(frames - written_frames, std::memory_order_relaxed);
    self->captured_frames.fetch_add(written_frames, std::memory_order_relaxed);
    if (written_frames > 0 && self->first_sample_ns.load(std::memory_order_relaxed) == 0)
      self->first_sample_ns.store(now_ns(), std::memory_order_release);
    pa_stream_drop(s);
  }
}

void Capture::Impl::on_stream_state(pa_stream* s, void* userdata) {
  auto* self = static_cast<Impl*>(userdata);
  const pa_stream_state_t st = pa_stream_get_state(s);
  if (st == PA_STREAM_FAILED) self->stream_failed.store(true, std::memory_order_relaxed);
  pa_threaded_mainloop_signal(self->pulse.loop(), 0);
}

void Capture::Impl::emit(const float* out, size_t n) {
  if (n == 0) return;
  std::lock_guard lock(session_mutex);
  emitted += int64_t(n);
  if (tap) {
    // Whole blocks only: a partial one would shift every later position.
    if (tap->capacity() - tap->available() >= n) tap->write(out, n);
    else tap_dropped->fetch_add(n, std::memory_order_relaxed);
  }
  if (pre_roll_cap > 0 || hold_from >= 0) {
    pre_roll.insert(pre_roll.end(), out, out + n);
    trim_pre_roll();
  }
  if (session_open) emit_locked(out, n);
}

void Capture::Impl::set_retain(int retain_ms) {
  pre_roll_cap = std::max(pre_roll_use, size_t(std::clamp(retain_ms, 0, 30000)) * kOutRate / 1000);
  trim_pre_roll();
}

void Capture::Impl::trim_pre_roll() {
  size_t keep = pre_roll_cap;
  if (hold_from >= 0 && hold_from < emitted)
    keep = std::max(keep, size_t(std::min<int64_t>(emitted - hold_from, int64_t(WarmCapture::kMaxHoldMs) * kOutRate / 1000)));
  if (pre_roll.size() > keep) pre_roll.erase(pre_roll.begin(), pre_roll.end() - std::ptrdiff_t(keep));
}

void Capture::Impl::emit_locked(const float* out, size_t n) {
  // Quantise once here and keep exactly what the WAV stores, so that transcribing these
  // samples and transcribing the file give the same text.
  std::vector<short> pcm(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = std::clamp(out[i], -1.0f, 32767.0f / 32768.0f);
    pcm[i] = short(std::lrint(v * 32768.0f));
    samples.push_back(float(pcm[i]) / 32768.0f);
  }
  if (wav && writer_error.empty()) {
    if (sf_write_short(wav, pcm.data(), sf_count_t(n)) != sf_count_t(n))
      writer_error = "audio: writing " + options.wav_path + " failed: " + sf_strerror(wav);
  }
}

void Capture::Impl::consume(const float* in, size_t frames, std::vector<float>& mono,
                            std::vector<float>& resampled, double& level_sq, float& level_peak,
                            size_t& level_frames, size_t level_window) {
  mono.resize(frames);
  const float inv = 1.0f / float(channels);
  for (size_t f = 0; f < frames; ++f) {
    float sum = 0;
    for (int c = 0; c < channels; ++c) sum += in[f * size_t(channels) + size_t(c)];
    const float m = sum * inv;
    mono[f] = m;
    level_sq += double(m) * m;
    level_peak = std::max(level_peak, std::fabs(m));
    if (++level_frames == level_window) {
      std::lock_guard lock(session_mutex);
      if (session_open && on_level)
        on_level({to_dbfs(std::sqrt(level_sq / double(level_window))), to_dbfs(level_peak)});
      level_sq = 0;
      level_peak = 0;
      level_frames = 0;
    }
  }
  size_t offset = 0;
  while (offset < frames) {
    size_t idone = 0, odone = 0;
    soxr_process(resampler, mono.data() + offset, frames - offset, &idone, resampled.data(),
                 resampled.size(), &odone);
    emit(resampled.data(), odone);
    offset += idone;
    if (idone == 0 && odone == 0) break;  // cannot happen with an adequate output buffer
  }
}

void Capture::Impl::write_loop() {
  // About 20 ms of device audio per read: small enough for a 40 Hz meter.
  const size_t frames_per_read = std::max<size_t>(256, size_t(rate) / 50);
  std::vector<float> in(frames_per_read * size_t(channels));
  std::vector<float> mono;
  std::vector<float> resampled(frames_per_read * kOutRate / size_t(rate) + 1024);
  const size_t level_window = std::max<size_t>(1, size_t(std::lround(rate * kLevelPeriodS)));
  double level_sq = 0;
  float level_peak = 0;
  size_t level_frames = 0;
  for (;;) {
    // Read the flag before the ring: if stop was already set, an empty ring means done.
    const bool stopping = stop.load(std::memory_order_acquire);
    const size_t n = ring->read(in.data(), in.size());
    if (n == 0) {
      if (stopping) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(4));
      continue;
    }
    consume(in.data(), n / size_t(channels), mono, resampled, level_sq, level_peak, level_frames,
            level_window);
    processed_frames.fetch_add(n / size_t(channels), std::memory_order_release);
  }
  // Flush the resampler's delay line so the last word is not clipped.
  for (;;) {
    size_t odone = 0;
    soxr_process(resampler, nullptr, 0, nullptr, resampled.data(), resampled.size(), &odone);
    if (odone == 0) break;
    emit(resampled.data(), odone);
  }
}

Capture::Capture(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Capture::~Capture() {
  if (impl_ && !impl_->stopped) (void)stop();
}

namespace {

// Creates the WAV 0600 from the start: it holds what the user said.
Result<SNDFILE*> open_wav(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("audio: cannot create recording " + path + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  SF_INFO info{};
  info.samplerate = kOutRate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* wav = sf_open_fd(fd, SFM_WRITE, &info, /*close_desc=*/1);
  if (!wav) {
    ::close(fd);
    return make_error("audio: cannot write WAV " + path + ": " + sf_strerror(nullptr));
  }
  return wav;
}

}  // namespace

Result<void> Capture::Impl::open_device() {
  if (auto r = pulse.connect(); !r) return make_error(r.error());
  // Find the device's native format: we record it as is and do our own conversion.
  std::vector<InputDevice> found;
  {
    PulseConnection::Lock lock(pulse.loop());
    SourceQuery q{pulse.loop(), &found};
    const std::string name = options.device.empty() ? "@DEFAULT_SOURCE@" : options.device;
    pulse.wait_for(pa_context_get_source_info_by_name(pulse.context(), name.c_str(), on_source_info, &q));
  }
  if (found.empty()) {
    if (options.device.empty())
      return make_error("audio: the audio server has no default input device (see `thoth devices`)");
    return make_error("audio: no input device named '" + options.device + "' (see `thoth devices` for the names)");
  }
  device = found.front().name;
  rate = found.front().sample_rate;
  channels = found.front().channels;
  if (rate <= 0 || channels <= 0 || channels > 32)
    return make_error("audio: input device '" + device + "' reports an unusable format");
  return {};
}

Result<void> Capture::Impl::start_stream() {
  soxr_error_t err = nullptr;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  resampler = soxr_create(double(rate), double(kOutRate), 1, &err, &io, &quality, nullptr);
  if (!resampler) {
    if (wav) sf_close(wav);
    wav = nullptr;
    stopped = true;
    return make_error(std::string("audio: cannot create the resampler: ") + (err ? err : "unknown"));
  }

  ring = std::make_unique<RingBuffer>(size_t(kRingSeconds * rate) * size_t(channels));
  silence.assign(4096u * size_t(channels), 0.0f);
  samples.reserve(size_t(kOutRate) * 30);

  writer = std::thread([this] { write_loop(); });

  auto fail = [&](std::string message) -> Error {
    stop.store(true, std::memory_order_release);
    writer.join();
    soxr_delete(resampler);
    resampler = nullptr;
    if (wav) sf_close(wav);
    wav = nullptr;
    stopped = true;
    return make_error(std::move(message));
  };

  {
    PulseConnection::Lock lock(pulse.loop());
    pa_sample_spec spec{};
    spec.format = PA_SAMPLE_FLOAT32NE;
    spec.rate = uint32_t(rate);
    spec.channels = uint8_t(channels);
    pa_channel_map map;
    pa_channel_map_init_extend(&map, spec.channels, PA_CHANNEL_MAP_DEFAULT);
    stream = pa_stream_new(pulse.context(), "Thoth dictation", &spec, &map);
    if (!stream) return fail("audio: cannot create a record stream: " + pulse.last_error());
    pa_stream_set_state_callback(stream, &Impl::on_stream_state, this);
    pa_stream_set_read_callback(stream, &Impl::on_read, this);
    // 10 ms fragments: the first samples arrive quickly and the meter stays live.
    pa_buffer_attr attr;
    attr.maxlength = uint32_t(-1);
    attr.tlength = attr.prebuf = attr.minreq = uint32_t(-1);
    attr.fragsize = uint32_t(pa_usec_to_bytes(10'000, &spec));
    if (pa_stream_connect_record(stream, device.c_str(), &attr, PA_STREAM_ADJUST_LATENCY) < 0)
      return fail("audio: cannot record from '" + device + "': " + pulse.last_error());
    for (;;) {
      const pa_stream_state_t st = pa_stream_get_state(stream);
      if (st == PA_STREAM_READY) break;
      if (!PA_STREAM_IS_GOOD(st)) {
        std::string msg = "audio: cannot record from '" + device + "': " + pulse.last_error();
        pa_stream_unref(stream);
        stream = nullptr;
        return fail(std::move(msg));
      }
      pa_threaded_mainloop_wait(pulse.loop());
    }
  }
  ready_ns = now_ns();
  return {};
}

void Capture::Impl::close_stream() {
  {
    // Once disconnect returns under the loop lock, the read callback cannot run again.
    PulseConnection::Lock lock(pulse.loop());
    if (stream) {
      pa_stream_set_read_callback(stream, nullptr, nullptr);
      pa_stream_set_state_callback(stream, nullptr, nullptr);
      pa_stream_disconnect(stream);
      pa_stream_unref(stream);
      stream = nullptr;
    }
  }
  stop.store(true, std::memory_order_release);
  writer.join();
  stopped = true;
  soxr_delete(resampler);
  resampler = nullptr;
}

Result<std::unique_ptr<Capture>> Capture::start(CaptureOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->start_request_ns = now_ns();
  impl->options = std::move(options);
  impl->on_level = impl->options.on_level;
  if (auto r = impl->open_device(); !r) return make_error(r.error());
  auto wav = open_wav(impl->options.wav_path);
  if (!wav) return make_error(wav.error());
  impl->wav = *wav;
  if (auto r = impl->start_stream(); !r) return make_error(r.error());
  return std::unique_ptr<Capture>(new Capture(std::move(impl)));
}

Recording Capture::stop() {
  Impl& im = *impl_;
  Recording rec = im.recording_header();
  if (im.stopped) return rec;
  im.wait_for_tail();
  im.close_stream();
  if (sf_close(im.wav) != 0 && im.writer_error.empty())
    im.writer_error = "audio: closing " + im.options.wav_path + " failed";
  im.wav = nullptr;

  rec.captured_frames = im.captured_frames.load(std::memory_order_relaxed);
  rec.overflow_frames = im.overflow_frames.load(std::memory_order_relaxed);
  const int64_t first = im.first_sample_ns.load(std::memory_order_acquire);
  if (first != 0) rec.start_latency_ms = double(first - im.start_request_ns) / 1e6;
  rec.samples = std::move(im.samples);
  rec.duration_s = double(rec.samples.size()) / kOutRate;
  if (im.stream_failed.load(std::memory_order_relaxed))
    rec.error = im.lost_device_error();
  else
    rec.error = im.writer_error;
  return rec;
}

WarmCapture::WarmCapture(std::unique_ptr<Capture::Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<WarmCapture>> WarmCapture::open(std::string device, int pre_roll_ms, int retain_ms) {
  auto impl = std::make_unique<Capture::Impl>();
  impl->start_request_ns = now_ns();
  impl->options.device = std::move(device);
  impl->session_open = false;
  impl->pre_roll_use = size_t(std::clamp(pre_roll_ms, 0, 1000)) * kOutRate / 1000;
  impl->set_retain(retain_ms);
  if (auto r = impl->open_device(); !r) return make_error(r.error());
  if (auto r = impl->start_stream(); !r) return make_error(r.error());
  return std::unique_ptr<WarmCapture>(new WarmCapture(std::move(impl)));
}

WarmCapture::~WarmCapture() {
  if (recording_) (void)end();
  if (impl_ && !impl_->stopped) impl_->close_stream();
}

int64_t WarmCapture::attach_tap(std::shared_ptr<RingBuffer> ring, std::shared_ptr<std::atomic<uint64_t>> dropped) {
  std::lock_guard lock(impl_->session_mutex);
  impl_->tap = std::move(ring);
  impl_->tap_dropped = std::move(dropped);
  return impl_->emitted;
}

int64_t WarmCapture::detach_tap() {
  std::lock_guard lock(impl_->session_mutex);
  impl_->tap.reset();
  impl_->tap_dropped.reset();
  return impl_->emitted;
}

void WarmCapture::retain(int retain_ms) {
  std::lock_guard lock(impl_->session_mutex);
  impl_->set_retain(retain_ms);
}

void WarmCapture::hold(int64_t from_position) {
  std::lock_guard lock(impl_->session_mutex);
  impl_->hold_from = from_position;
  impl_->trim_pre_roll();
}

bool WarmCapture::failed() const { return impl_->stream_failed.load(std::memory_order_relaxed); }
const std::string& WarmCapture::device() const { return impl_->device; }

Result<void> WarmCapture::begin(const std::string& wav_path, LevelCallback on_level, int64_t from_position) {
  auto& im = *impl_;
  if (recording_) return make_error("audio: a recording is already in progress");
  if (failed()) return make_error(im.lost_device_error());
  auto wav = open_wav(wav_path);
  if (!wav) return make_error(wav.error());
  begin_captured_ = im.captured_frames.load(std::memory_order_relaxed);
  begin_overflow_ = im.overflow_frames.load(std::memory_order_relaxed);
  // The live audio's latency: from this request to the next block the callback delivers
  // (it stamps the first block after the reset).
  im.start_request_ns = now_ns();
  im.first_sample_ns.store(0, std::memory_order_release);
  std::lock_guard lock(im.session_mutex);
  im.options.wav_path = wav_path;
  im.wav = *wav;
  im.writer_error.clear();
  im.samples.clear();
  im.on_level = std::move(on_level);
  im.session_open = true;
  // pre_roll holds positions [emitted - size, emitted). A plain begin() takes the pre-roll
  // but nothing the previous recording already has; a hands-free one goes back to its
  // speech's padding even when that is in the previous recording's tail.
  const int64_t first = im.emitted - int64_t(im.pre_roll.size());
  const int64_t from = from_position >= 0
                           ? std::clamp(from_position, first, im.emitted)
                           : std::max({first, im.session_end, im.emitted - int64_t(im.pre_roll_use)});
  im.session_start = from;
  im.hold_from = -1;
  const std::vector<float> pre(im.pre_roll.begin() + std::ptrdiff_t(from - first), im.pre_roll.end());
  if (!pre.empty()) im.emit_locked(pre.data(), pre.size());
  recording_ = true;
  return {};
}

Recording WarmCapture::end(int64_t until_position) {
  auto& im = *impl_;
  Recording rec = im.recording_header();
  if (!recording_) return rec;
  recording_ = false;
  // As Capture::stop, and then the audio that arrived is in the ring: wait, as briefly, until
  // the writer has processed all of it.
  const int64_t give_up = im.wait_for_tail();
  const uint64_t captured = im.captured_frames.load(std::memory_order_relaxed);
  while (im.processed_frames.load(std::memory_order_acquire) < captured && now_ns() < give_up + kStopTailWaitNs)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  {
    std::lock_guard lock(im.session_mutex);
    im.session_open = false;
    im.on_level = nullptr;
    const int64_t keep = until_position - im.session_start;
    if (until_position >= 0 && keep < int64_t(im.samples.size()) && im.writer_error.empty()) {
      sf_count_t frames = std::max<int64_t>(keep, 0);
      if (sf_command(im.wav, SFC_FILE_TRUNCATE, &frames, sizeof(frames)) == 0)
        im.samples.resize(size_t(frames));
      else
        im.writer_error = "audio: cannot trim " + im.options.wav_path + " (recording kept whole)";
    }
    im.session_end = im.session_start + int64_t(im.samples.size());
    if (sf_close(im.wav) != 0 && im.writer_error.empty()) im.writer_error = "audio: closing " + im.options.wav_path + " failed";
    im.wav = nullptr;
    rec.samples = std::move(im.samples);
    im.samples = {};
    rec.error = im.writer_error;
  }
  rec.captured_frames = im.captured_frames.load(std::memory_order_relaxed) - begin_captured_;
  rec.overflow_frames = im.overflow_frames.load(std::memory_order_relaxed) - begin_overflow_;
  const int64_t first = im.first_sample_ns.load(std::memory_order_acquire);
  rec.start_latency_ms = first != 0 ? double(first - im.start_request_ns) / 1e6 : -1;
  rec.duration_s = double(rec.samples.size()) / kOutRate;
  if (failed()) rec.error = im.lost_device_error();
  return rec;
}

bool WarmCapture::has_first_sample() const {
  return impl_->first_sample_ns.load(std::memory_order_acquire) != 0;
}

bool Capture::has_first_sample() const {
  return impl_->first_sample_ns.load(std::memory_order_acquire) != 0;
}
uint64_t Capture::overflow_frames() const {
  return impl_->overflow_frames.load(std::memory_order_relaxed);
}
double Capture::captured_seconds() const {
  return double(impl_->captured_frames.load(std::memory_order_relaxed)) / double(impl_->rate);
}

// ---- recovery of WAVs left by a killed writer ----

namespace {
uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void put_le32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
}  // namespace

Result<bool> repair_wav(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return make_error("audio: cannot open " + path + " for repair: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) return make_error("audio: cannot stat " + path);
  const uint64_t file_len = uint64_t(st.st_size);
  unsigned char head[12];
  if (file_len < 12 || ::pread(fd, head, 12, 0) != 12 || std::memcmp(head, "RIFF", 4) != 0 ||
      std::memcmp(head + 8, "WAVE", 4) != 0)
    return make_error("audio: " + path + " is not a WAV file (no RIFF/WAVE header)");

  uint64_t pos = 12;
  uint32_t block_align = 0;
  while (pos + 8 <= file_len) {
    unsigned char chunk[8];
    if (::pread(fd, chunk, 8, off_t(pos)) != 8) break;
    const uint32_t size = le32(chunk + 4);
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      unsigned char fmt[16];
      if (size < 16 || ::pread(fd, fmt, 16, off_t(pos + 8)) != 16)
        return make_error("audio: " + path + " has a damaged fmt chunk");
      block_align = uint32_t(fmt[12]) | uint32_t(fmt[13]) << 8;
    }
    if (std::memcmp(chunk, "data", 4) == 0) {
      if (block_align == 0) return make_error("audio: " + path + " has no fmt chunk before its data");
      const uint64_t data_off = pos + 8;
      uint64_t data_len = file_len - data_off;
      data_len -= data_len % block_align;
      if (data_len > 0xFFFFFFFFull - data_off) data_len = (0xFFFFFFFFull - data_off) / block_align * block_align;
      const uint64_t total = data_off + data_len;
      const uint32_t riff_size = uint32_t(total - 8);
      if (size == data_len && le32(head + 4) == riff_size && total == file_len) return false;
      if (total != file_len && ::ftruncate(fd, off_t(total)) != 0)
        return make_error("audio: cannot truncate " + path + ": " + std::strerror(errno));
      unsigned char v[4];
      put_le32(v, uint32_t(data_len));
      if (::pwrite(fd, v, 4, off_t(pos + 4)) != 4) return make_error("audio: cannot rewrite " + path);
      put_le32(v, riff_size);
      if (::pwrite(fd, v, 4, 4) != 4) return make_error("audio: cannot rewrite " + path);
      ::fsync(fd);
      return true;
    }
    const uint64_t next = pos + 8 + size + (size & 1);
    if (next <= pos) break;
    pos = next;
  }
  return make_error("audio: " + path + " has no data chunk; nothing to recover");
}

RecoveryReport recover_recordings(const std::string& dir) {
  RecoveryReport report;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec) || entry.path().extension() != ".wav") continue;
    auto r = repair_wav(entry.path().string());
    if (!r) report.errors.push_back(r.error());
    else if (*r) report.repaired.push_back(entry.path().string());
  }
  return report;
}

}  // namespace thoth::audio
