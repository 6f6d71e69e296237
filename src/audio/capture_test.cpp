// Capture against a real PulseAudio server started by the test: a null sink whose monitor
// is the input, fed with paplay, so what was played is what must be recorded.
#include "audio/capture.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>
#include <utility>

#include "audio/ring_buffer.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"
#include "support/signal_match.h"

namespace thoth::audio {
namespace {

using thoth::test::PulseServer;
using thoth::test::ScratchDir;

struct WavContent {
  int rate = 0, channels = 0, format = 0;
  std::vector<float> samples;
  bool ok = false;
};

WavContent read_wav(const std::string& path) {
  WavContent w;
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) return w;
  w.rate = info.samplerate;
  w.channels = info.channels;
  w.format = info.format;
  w.samples.resize(size_t(info.frames) * size_t(info.channels));
  w.samples.resize(size_t(sf_readf_float(f, w.samples.data(), info.frames)) * size_t(info.channels));
  sf_close(f);
  w.ok = true;
  return w;
}

// Re-executed as a recorder child (WavOfAKilledRecorder...): record until SIGKILL. Runs
// before main() so that no test machinery is involved in the child.
[[maybe_unused]] const bool kRecorderChild = [] {
  const char* wav = std::getenv("THOTH_TEST_RECORD_UNTIL_KILLED");
  if (!wav) return false;
  const int ready_fd = std::atoi(std::getenv("THOTH_TEST_READY_FD"));
  auto cap = Capture::start({PulseServer::kMonitor, wav, nullptr});
  if (!cap) {
    std::fprintf(stderr, "recorder child: %s\n", cap.error().c_str());
    _exit(3);
  }
  while ((*cap)->captured_seconds() < 1.5) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  char c = 1;
  (void)!write(ready_fd, &c, 1);
  for (;;) pause();
}();


TEST(CaptureDevices, ListsTheServersInputsWithTheDefaultMarked) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  auto devices = list_input_devices();
  ASSERT_TRUE(devices) << devices.error();
  int defaults = 0;
  bool monitor_found = false;
  for (const auto& d : *devices) {
    defaults += d.is_default;
    if (d.name == PulseServer::kMonitor) {
      monitor_found = true;
      EXPECT_TRUE(d.is_default);
      EXPECT_TRUE(d.is_monitor);
      EXPECT_GT(d.sample_rate, 0);
      EXPECT_GT(d.channels, 0);
      EXPECT_FALSE(d.description.empty());
    }
  }
  EXPECT_TRUE(monitor_found);
  EXPECT_EQ(defaults, 1);
}

TEST(Capture, RecordsWhatIsPlayedAs16kMonoWav) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir dir;
  const auto jfk = thoth::test::shared_file("speech/jfk.wav");
  const std::string wav = (dir / "take.wav").string();

  std::atomic<int> level_calls{0};
  std::atomic<float> loudest{-200.0f};
  std::atomic<bool> level_on_test_thread{false};
  const auto test_thread = std::this_thread::get_id();
  CaptureOptions options;
  options.device = PulseServer::kMonitor;
  options.wav_path = wav;
  options.on_level = [&](const InputLevel& l) {
    level_calls.fetch_add(1, std::memory_order_relaxed);
    if (std::this_thread::get_id() == test_thread) level_on_test_thread = true;
    if (l.peak_dbfs > loudest.load()) loudest = l.peak_dbfs;
  };
  auto cap = Capture::start(options);
  ASSERT_TRUE(cap) << cap.error();
  ASSERT_EQ(server->play(jfk), 0);
  Recording rec = (*cap)->stop();

  EXPECT_EQ(rec.error, "");
  EXPECT_EQ(rec.device, PulseServer::kMonitor);
  EXPECT_EQ(rec.overflow_frames, 0u);
  // Measured, not bounded here: an idle null sink's monitor delivers its first block up to
  // its latency late, more on a loaded machine; bench_capture reports the figure.
  EXPECT_GT(rec.start_latency_ms, 0.0);
  EXPECT_GT(rec.captured_frames, 0u);

  struct stat st{};
  ASSERT_EQ(stat(wav.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const WavContent on_disk = read_wav(wav);
  ASSERT_TRUE(on_disk.ok);
  EXPECT_EQ(on_disk.rate, 16000);
  EXPECT_EQ(on_disk.channels, 1);
  EXPECT_EQ(on_disk.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  // The samples handed back are exactly what the file holds.
  ASSERT_EQ(on_disk.samples.size(), rec.samples.size());
  EXPECT_TRUE(on_disk.samples == rec.samples);

  const WavContent played = read_wav(jfk.string());
  ASSERT_TRUE(played.ok);
  const double played_s = double(played.samples.size()) / played.rate;
  EXPECT_NEAR(rec.duration_s, played_s, 0.05 * played_s);
  const auto match = thoth::test::best_alignment(rec.samples, played.samples, 2 * 16000);
  EXPECT_GE(match.ncc, 0.9) << "lag " << match.lag;

  // 40 Hz meter: one update per 25 ms of device audio, from the writer thread.
  EXPECT_GE(level_calls.load(), int(20 * rec.duration_s));
  EXPECT_FALSE(level_on_test_thread.load());
  EXPECT_GT(loudest.load(), -20.0f);
}

TEST(Capture, UnknownDeviceIsAClearError) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir dir;
  auto cap = Capture::start({"no-such-mic", (dir / "x.wav").string(), nullptr});
  ASSERT_FALSE(cap);
  EXPECT_NE(cap.error().find("no-such-mic"), std::string::npos) << cap.error();
  EXPECT_NE(cap.error().find("thoth devices"), std::string::npos) << cap.error();
}

TEST(Capture, UnwritableRecordingPathIsAClearError) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir dir;
  const std::string path = (dir / "missing-dir" / "x.wav").string();
  auto cap = Capture::start({PulseServer::kMonitor, path, nullptr});
  ASSERT_FALSE(cap);
  EXPECT_NE(cap.error().find(path), std::string::npos) << cap.error();
}

TEST(Capture, NoAudioServerIsAClearError) {
  ScratchDir dir;
  const char* old = std::getenv("PULSE_SERVER");
  const std::string saved = old ? old : "";
  setenv("PULSE_SERVER", ("unix:" + (dir / "nothing-here").string()).c_str(), 1);
  auto cap = Capture::start({"", (dir / "x.wav").string(), nullptr});
  auto devices = list_input_devices();
  if (old) setenv("PULSE_SERVER", saved.c_str(), 1);
  else unsetenv("PULSE_SERVER");
  ASSERT_FALSE(cap);
  EXPECT_NE(cap.error().find("cannot connect"), std::string::npos) << cap.error();
  ASSERT_FALSE(devices);
  EXPECT_NE(devices.error().find("audio server"), std::string::npos) << devices.error();
}

// The writer drains the ring on its own thread; when it stalls (here: a meter callback
// that blocks, as a slow disk would) the ring fills, the callback drops what does not fit,
// and the drops are counted and reported, never waited for.
TEST(Capture, OverflowIsCountedWhenTheWriterStalls) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir dir;
  std::atomic<bool> stalled{false};
  CaptureOptions options;
  options.device = PulseServer::kMonitor;
  options.wav_path = (dir / "stall.wav").string();
  options.on_level = [&](const InputLevel&) {
    if (!stalled.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(6000));
  };
  auto cap = Capture::start(options);
  ASSERT_TRUE(cap) << cap.error();
  while (!stalled.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(6500));
  const uint64_t live_overflow = (*cap)->overflow_frames();
  Recording rec = (*cap)->stop();
  EXPECT_GT(live_overflow, 0u);
  EXPECT_GE(rec.overflow_frames, live_overflow);
  // What reached the WAV is what the ring accepted, resampled to 16 kHz.
  EXPECT_NEAR(rec.duration_s, double(rec.captured_frames) / rec.device_rate, 0.05);
  EXPECT_EQ(rec.error, "");
}

// A recorder killed with SIGKILL leaves a WAV whose header does not match its length;
// recover_recordings() fixes it so that every recorded sample is readable.
TEST(Capture, WavOfAKilledRecorderIsRecoveredAtNextStart) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir dir;
  const std::string wav = (dir / "killed.wav").string();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  // libpulse refuses to run in a forked child of a process that used it, so the recorder is
  // this test binary re-executed (see kRecorderChild above).
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    setenv("THOTH_TEST_RECORD_UNTIL_KILLED", wav.c_str(), 1);
    setenv("THOTH_TEST_READY_FD", std::to_string(ready[1]).c_str(), 1);
    execl("/proc/self/exe", "capture-child", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "child could not record";
  close(ready[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the writer write
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);

  struct stat st{};
  ASSERT_EQ(stat(wav.c_str(), &st), 0);
  const double bytes_recorded_s = double(st.st_size - 44) / (2 * 16000);
  ASSERT_GT(bytes_recorded_s, 1.0);

  std::ofstream(dir / "notes.txt") << "not audio";
  const RecoveryReport report = recover_recordings(dir.path().string());
  ASSERT_EQ(report.repaired.size(), 1u);
  EXPECT_EQ(report.repaired[0], wav);
  EXPECT_TRUE(report.errors.empty());

  const WavContent fixed = read_wav(wav);
  ASSERT_TRUE(fixed.ok);
  EXPECT_NEAR(double(fixed.samples.size()) / 16000, bytes_recorded_s, 0.01);
  auto again = repair_wav(wav);
  ASSERT_TRUE(again) << again.error();
  EXPECT_FALSE(*again);
}

// Where the 320 samples at `block` (20 ms of noise: unique) occur in `hay`, or -1.
constexpr size_t kBlock = 320;
long find_block(const std::vector<float>& hay, const float* block) {
  for (size_t i = 0; i + kBlock <= hay.size(); ++i)
    if (std::equal(block, block + kBlock, hay.begin() + long(i))) return long(i);
  return -1;
}

// Whether x[0, n) are the tapped stream's samples from `at` on, as the WAV quantises them.
bool same_samples(const std::vector<float>& tapped, size_t at, const std::vector<float>& x, size_t n) {
  if (at + n > tapped.size() || n > x.size()) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::fabs(tapped[at + i] - x[i]) > 1.0f / 32768) return false;
  return true;
}

// Where the first block of `x` lies in the tapped stream, or -1.
long tapped_position(const std::vector<float>& tapped, const std::vector<float>& x) {
  for (size_t at = 0; at + kBlock <= tapped.size(); ++at)
    if (same_samples(tapped, at, x, kBlock)) return long(at);
  return -1;
}

// A warm stream on a private PulseAudio server while 5 s of white noise play into it: each
// 20 ms block of it is unique, so where a recording's samples lie in the stream can be found.
class WarmCaptureUnderNoise : public ::testing::Test {
 protected:
  // Opens the stream, starts the noise and lets `lead_ms` of it play.
  void open(int pre_roll_ms, int retain_ms, int lead_ms) {
    server_ = PulseServer::start_or_fail();
    ASSERT_TRUE(server_);
    const std::string noise = path("noise.wav");
    ASSERT_EQ(std::system(("sox -n -r 16000 -c 1 -b 16 '" + noise + "' synth 5 whitenoise vol 0.3").c_str()), 0);
    auto warm = WarmCapture::open(PulseServer::kMonitor, pre_roll_ms, retain_ms);
    ASSERT_TRUE(warm) << warm.error();
    warm_ = std::move(*warm);
    player_ = server_->play_async(noise);
    std::this_thread::sleep_for(std::chrono::milliseconds(lead_ms));
  }
  // A recording of `ms` of the stream (from `from_position` if given), then ended.
  Recording record(const char* name, int ms, int64_t from_position = -1) {
    auto begun = warm_->begin(path(name), nullptr, from_position);
    EXPECT_TRUE(begun) << begun.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return warm_->end();
  }
  // Waits for the noise to end; the player's exit status.
  int player_status() { return PulseServer::wait_player(std::exchange(player_, -1)); }
  void TearDown() override {
    if (player_ > 0) (void)player_status();
  }
  std::string path(const char* name) const { return (dir_ / name).string(); }

  ScratchDir dir_;
  std::unique_ptr<PulseServer> server_;
  std::unique_ptr<WarmCapture> warm_;
  pid_t player_ = -1;
};

// A tap on the warm stream, and everything it has received so far.
struct Tap {
  std::shared_ptr<RingBuffer> ring = std::make_shared<RingBuffer>(1 << 17);
  std::shared_ptr<std::atomic<uint64_t>> dropped = std::make_shared<std::atomic<uint64_t>>(0);
  // Waits (up to 4 s) until at least `n` samples have arrived.
  bool wait_for(size_t n) const {
    for (int i = 0; i < 400 && ring->available() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return ring->available() >= n;
  }
  std::vector<float> drain() const {
    std::vector<float> out(ring->available());
    out.resize(ring->read(out.data(), out.size()));
    return out;
  }
};

// A hands-free start (from a stream position) reaches back as far as the retained audio,
// across the previous recording if need be: when one speech begins while the previous
// dictation is still stopping, its padding is in both. A plain start takes its pre-roll but
// never what the previous recording already holds.
TEST_F(WarmCaptureUnderNoise, AHandsFreeStartReachesIntoThePreviousRecordingAPlainOneDoesNot) {
  ASSERT_NO_FATAL_FAILURE(open(300, 3000, 1000));
  const Recording a = record("a.wav", 1500);
  const Recording b = record("b.wav", 300, /*from_position=*/0);
  const Recording c = record("c.wav", 300);
  EXPECT_EQ(player_status(), 0);
  ASSERT_EQ(a.error + b.error + c.error, "");
  ASSERT_GT(a.samples.size(), 8000u);

  ASSERT_GT(c.samples.size(), kBlock);
  // `a` (up to 1.8 s with its pre-roll) lies whole inside `b`, which starts 3 s back (found
  // by a's last block: the noise is surely playing by then).
  const long tail = find_block(b.samples, a.samples.data() + a.samples.size() - kBlock);
  ASSERT_GE(tail, 0) << "b does not hold a's end";
  const long at = tail + long(kBlock) - long(a.samples.size());
  ASSERT_GE(at, 0) << "b does not reach back to a's start";
  EXPECT_TRUE(std::equal(a.samples.begin(), a.samples.end(), b.samples.begin() + at));
  // `c` holds nothing of `b`, and only the little that arrived between the two.
  EXPECT_EQ(find_block(b.samples, c.samples.data()), -1);
  EXPECT_LT(c.samples.size(), size_t(16000 * (0.3 + 0.3 + 0.5)));
}

// A hands-free recording ends where its speech did, not where the silence that ended it was
// noticed: end(position) keeps the audio up to that position of the tap's timeline, in the
// WAV and in the samples, exactly the stream's samples from the start position on; what was
// cut is no recording's, so the next plain start's pre-roll takes it.
TEST_F(WarmCaptureUnderNoise, EndAtAPositionCutsTheRecordingThere) {
  ASSERT_NO_FATAL_FAILURE(open(1000, 3000, 1000));
  Tap tap;
  const int64_t origin = warm_->attach_tap(tap.ring, tap.dropped);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string wav = path("a.wav");
  ASSERT_TRUE(warm_->begin(wav, nullptr, /*from_position=*/origin));
  ASSERT_TRUE(tap.wait_for(20000));
  // 100 ms before the newest audio the tap has seen: within the next start's pre-roll (1 s;
  // end() waits for the audio up to its call, a fragment of the monitor's, ~0.3 s).
  const int64_t cut = origin + int64_t(tap.ring->available()) - 1600;
  const Recording a = warm_->end(cut);
  const Recording b = record("b.wav", 200);
  warm_->detach_tap();
  EXPECT_EQ(player_status(), 0);
  ASSERT_EQ(a.error + b.error, "");
  EXPECT_EQ(tap.dropped->load(), 0u);

  const size_t kept = size_t(cut - origin);
  ASSERT_GT(kept, 16000u);
  ASSERT_EQ(a.samples.size(), kept);
  EXPECT_DOUBLE_EQ(a.duration_s, double(kept) / 16000);
  const WavContent on_disk = read_wav(wav);
  ASSERT_TRUE(on_disk.ok);
  EXPECT_EQ(on_disk.samples, a.samples);
  // The stream's own samples from `origin` on.
  const std::vector<float> tapped = tap.drain();
  ASSERT_GT(tapped.size(), kept);
  EXPECT_TRUE(same_samples(tapped, 0, a.samples, kept));
  // The next plain start's pre-roll (1 s) takes what was cut, and nothing a holds: it begins
  // exactly at the cut.
  ASSERT_GT(b.samples.size(), kBlock);
  EXPECT_EQ(tapped_position(tapped, b.samples), long(kept));
}

// A hands-free speech waiting for the previous dictation to be processed: hold() keeps its
// audio past the retention (here 300 ms) until its recording begins, which then starts
// exactly where it was asked to; begin() lets go, and the retention applies again.
TEST_F(WarmCaptureUnderNoise, HeldAudioOutlivesTheRetention) {
  ASSERT_NO_FATAL_FAILURE(open(100, 300, 500));
  Tap tap;
  const int64_t origin = warm_->attach_tap(tap.ring, tap.dropped);
  warm_->hold(origin);
  ASSERT_TRUE(tap.wait_for(24000));  // well past the 300 ms retained
  const Recording a = record("a.wav", 200, origin);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const Recording b = record("b.wav", 200, origin);
  warm_->detach_tap();
  EXPECT_EQ(player_status(), 0);
  ASSERT_EQ(a.error + b.error, "");
  EXPECT_EQ(tap.dropped->load(), 0u);

  const std::vector<float> tapped = tap.drain();
  ASSERT_GT(a.samples.size(), 24000u);
  EXPECT_TRUE(same_samples(tapped, 0, a.samples, a.samples.size()));
  // Nothing held b's start: it goes back only as far as the retention reaches, after a's end.
  ASSERT_GT(b.samples.size(), kBlock);
  const long b_at = tapped_position(tapped, b.samples);
  ASSERT_GE(b_at, 0) << "b's start is not in the stream";
  EXPECT_GT(b_at, long(a.samples.size()) + 8000);
}

// ---- repair_wav on crafted files: no audio server needed ----

void write_test_wav(const std::string& path, size_t n) {
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr);
  std::vector<short> pcm(n);
  for (size_t i = 0; i < n; ++i) pcm[i] = short(i * 7);
  sf_write_short(f, pcm.data(), sf_count_t(n));
  sf_close(f);
}

void poke32(const std::string& path, long offset, uint32_t v) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  for (int i = 0; i < 4; ++i) f.put(char(v >> (8 * i)));
}

TEST(RepairWav, ConsistentFileIsLeftAlone) {
  ScratchDir dir;
  const std::string p = (dir / "a.wav").string();
  write_test_wav(p, 1000);
  auto r = repair_wav(p);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(*r);
  EXPECT_EQ(read_wav(p).samples.size(), 1000u);
}

TEST(RepairWav, ZeroSizesAndTrailingHalfSampleAreFixed) {
  ScratchDir dir;
  const std::string p = (dir / "a.wav").string();
  write_test_wav(p, 1000);
  poke32(p, 4, 0);   // RIFF size as a killed writer leaves it
  poke32(p, 40, 0);  // data size
  std::ofstream(p, std::ios::app | std::ios::binary).put('\x7f');  // half a sample
  auto r = repair_wav(p);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(*r);
  const auto w = read_wav(p);
  ASSERT_TRUE(w.ok);
  ASSERT_EQ(w.samples.size(), 1000u);
  EXPECT_FLOAT_EQ(w.samples[999], float(short(999 * 7)) / 32768.0f);
  EXPECT_EQ(std::filesystem::file_size(p), 44u + 2000u);
}

TEST(RepairWav, NonWavAndEmptyFilesAreClearErrors) {
  ScratchDir dir;
  const std::string text = (dir / "t.wav").string();
  std::ofstream(text) << "hello, this is not a wave file at all";
  auto r = repair_wav(text);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(text), std::string::npos);
  const std::string empty = (dir / "e.wav").string();
  std::ofstream{empty};
  EXPECT_FALSE(repair_wav(empty));
  EXPECT_FALSE(repair_wav((dir / "missing.wav").string()));
  const RecoveryReport report = recover_recordings(dir.path().string());
  EXPECT_TRUE(report.repaired.empty());
  EXPECT_EQ(report.errors.size(), 2u);
}

}  // namespace
}  // namespace thoth::audio
