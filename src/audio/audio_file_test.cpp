#include "audio/audio_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numbers>
#include <random>
#include <thread>

#include "audio/resampler.h"
#include "support/shared_data.h"

namespace thoth::audio {
namespace {

namespace fs = std::filesystem;

constexpr double kFreq = 440.0;
constexpr double kAmp = 0.5;

// Writes `seconds` of a kFreq sine (same phase in every channel) with libsndfile itself.
void write_sine(const fs::path& path, int format, int rate, int channels, double seconds,
                double freq = kFreq, bool invert_second_channel = false) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  ASSERT_TRUE(sf_format_check(&info)) << "libsndfile cannot write format " << std::hex << format;
  SNDFILE* sf = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(sf, nullptr) << sf_strerror(nullptr);
  const auto frames = static_cast<size_t>(seconds * rate);
  std::vector<float> data(frames * channels);
  for (size_t i = 0; i < frames; ++i) {
    float v = static_cast<float>(kAmp * std::sin(2 * std::numbers::pi * freq * i / rate));
    for (int c = 0; c < channels; ++c)
      data[i * channels + c] = (invert_second_channel && c == 1) ? -v : v;
  }
  ASSERT_EQ(sf_writef_float(sf, data.data(), static_cast<sf_count_t>(frames)),
            static_cast<sf_count_t>(frames));
  sf_close(sf);
}

double rms(const std::vector<float>& x, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += double(x[i]) * x[i];
  return std::sqrt(s / double(to - from));
}

// Frequency from rising zero crossings over the middle of the signal (edges hold codec and
// filter transients).
double frequency(const std::vector<float>& x, int rate) {
  size_t from = x.size() / 5, to = x.size() * 4 / 5;
  size_t first = 0, last = 0, crossings = 0;
  for (size_t i = from + 1; i < to; ++i) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      if (crossings == 0) first = i;
      last = i;
      ++crossings;
    }
  }
  if (crossings < 2) return 0;
  return double(crossings - 1) * rate / double(last - first);
}

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

struct Format {
  const char* name;
  int format;
  double duration_tolerance_s;  // lossy codecs add encoder delay/padding
  double rms_tolerance;
};

const Format kFormats[] = {
    {"wav-u8", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 0.001, 0.01},
    {"wav-s16", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 0.001, 0.005},
    {"wav-s24", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 0.001, 0.005},
    {"wav-s32", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 0.001, 0.005},
    {"wav-f32", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.001, 0.005},
    {"wav-f64", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 0.001, 0.005},
    {"flac-16", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 0.001, 0.005},
    {"flac-24", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 0.001, 0.005},
    {"ogg-vorbis", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 0.06, 0.03},
    {"mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 0.08, 0.03},
};

class DecodeFormats : public ::testing::TestWithParam<std::tuple<Format, int, int>> {};

TEST_P(DecodeFormats, SineSurvivesDecodeMixAndResample) {
  auto [fmt, rate, channels] = GetParam();
  test::ScratchDir dir;
  auto path = dir / (std::string(fmt.name) + ".audio");
  const double seconds = 1.5;
  write_sine(path, fmt.format, rate, channels, seconds);
  auto pcm = load_audio_16k_mono(path);
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  EXPECT_NEAR(pcm->size() / 16000.0, seconds, fmt.duration_tolerance_s);
  EXPECT_NEAR(frequency(*pcm, 16000), kFreq, 2.0);
  EXPECT_NEAR(rms(*pcm, pcm->size() / 5, pcm->size() * 4 / 5), kAmp / std::sqrt(2.0),
              fmt.rms_tolerance);
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<Format, int, int>>& p) {
  std::string n = std::string(std::get<0>(p.param).name) + "_" +
                  std::to_string(std::get<1>(p.param)) + "Hz_" +
                  std::to_string(std::get<2>(p.param)) + "ch";
  for (char& c : n)
    if (c == '-') c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Lossless, DecodeFormats,
                         ::testing::Combine(::testing::ValuesIn(kFormats, kFormats + 8),
                                            ::testing::Values(8000, 22050, 44100, 96000),
                                            ::testing::Values(1, 2, 6)),
                         param_name);
// The lossy encoders only take the rates they were designed for.
INSTANTIATE_TEST_SUITE_P(Vorbis, DecodeFormats,
                         ::testing::Combine(::testing::Values(kFormats[8]),
                                            ::testing::Values(16000, 44100, 48000),
                                            ::testing::Values(1, 2)),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Mp3, DecodeFormats,
                         ::testing::Combine(::testing::Values(kFormats[9]),
                                            ::testing::Values(16000, 22050, 44100, 48000),
                                            ::testing::Values(1, 2)),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Opus, DecodeFormats,
                         ::testing::Combine(::testing::Values(Format{"ogg-opus",
                                                                     SF_FORMAT_OGG | SF_FORMAT_OPUS,
                                                                     0.06, 0.03}),
                                            ::testing::Values(8000, 16000, 48000),
                                            ::testing::Values(1, 2)),
                         param_name);

TEST(AudioFile, SixteenKilohertzMonoIsUnchanged) {
  test::ScratchDir dir;
  auto path = dir / "in.wav";
  write_sine(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, 0.5);
  auto pcm = load_audio_16k_mono(path);
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  ASSERT_EQ(pcm->size(), 8000u);
  for (size_t i = 0; i < pcm->size(); ++i)
    ASSERT_FLOAT_EQ((*pcm)[i], static_cast<float>(kAmp * std::sin(2 * std::numbers::pi * kFreq * i / 16000)));
}

TEST(AudioFile, ChannelsAreAveraged) {
  test::ScratchDir dir;
  auto path = dir / "opposed.wav";
  // Left and right in opposite phase cancel in a mono mix.
  write_sine(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, 0.5, kFreq, true);
  auto pcm = load_audio_16k_mono(path);
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  EXPECT_LT(rms(*pcm, 0, pcm->size()), 1e-6);
}

TEST(AudioFile, ResamplingRemovesContentAboveNyquist) {
  test::ScratchDir dir;
  auto path = dir / "high.wav";
  // 12 kHz cannot exist at 16 kHz: a high-quality filter removes it instead of aliasing it
  // down to 4 kHz.
  write_sine(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, 1.0, 12000);
  auto pcm = load_audio_16k_mono(path);
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  EXPECT_LT(rms(*pcm, 1000, pcm->size() - 1000), 0.001);
}

TEST(AudioFile, SharedSpeechRecording) {
  auto pcm = load_audio_16k_mono(test::shared_file("speech/jfk.wav"));
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  EXPECT_NEAR(pcm->size() / 16000.0, 11.0, 0.01);
  EXPECT_GT(rms(*pcm, 0, pcm->size()), 0.01);
}

// Feeds `bytes` to standard input through a pipe (not seekable, as in `cat f | thoth`).
Result<std::vector<float>> load_via_stdin_pipe(const std::string& bytes) {
  int fds[2];
  if (::pipe(fds) != 0) return make_error("pipe");
  int saved = ::dup(STDIN_FILENO);
  ::dup2(fds[0], STDIN_FILENO);
  ::close(fds[0]);
  std::thread writer([&] {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(fds[1], bytes.data() + off, bytes.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  auto result = load_audio_16k_mono("-");
  writer.join();
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  return result;
}

TEST(AudioFile, StandardInputPipe) {
  test::ScratchDir dir;
  for (int format : {SF_FORMAT_WAV | SF_FORMAT_PCM_16, SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
                     SF_FORMAT_OGG | SF_FORMAT_VORBIS, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III}) {
    auto path = dir / "in";
    write_sine(path, format, 44100, 2, 1.0);
    auto pcm = load_via_stdin_pipe(bytes_of(path));
    ASSERT_TRUE(pcm.ok()) << std::hex << format << ": " << pcm.error();
    EXPECT_NEAR(pcm->size() / 16000.0, 1.0, 0.08) << std::hex << format;
    EXPECT_NEAR(frequency(*pcm, 16000), kFreq, 2.0) << std::hex << format;
  }
}

TEST(AudioFile, EmptyStandardInput) {
  auto pcm = load_via_stdin_pipe("");
  ASSERT_FALSE(pcm.ok());
  EXPECT_EQ(pcm.error(), "standard input: no audio data (it was empty)");
}

TEST(AudioFile, GarbageOnStandardInput) {
  auto pcm = load_via_stdin_pipe(std::string(5000, 'x'));
  ASSERT_FALSE(pcm.ok());
  EXPECT_NE(pcm.error().find("standard input: not a recognised audio file"), std::string::npos)
      << pcm.error();
}

TEST(AudioFile, MissingFile) {
  test::ScratchDir dir;
  auto pcm = load_audio_16k_mono(dir / "nope.wav");
  ASSERT_FALSE(pcm.ok());
  EXPECT_EQ(pcm.error(), (dir / "nope.wav").string() + ": no such file");
}

TEST(AudioFile, Directory) {
  test::ScratchDir dir;
  auto pcm = load_audio_16k_mono(dir.path());
  ASSERT_FALSE(pcm.ok());
  EXPECT_NE(pcm.error().find("is a directory"), std::string::npos) << pcm.error();
}

TEST(AudioFile, EmptyFile) {
  test::ScratchDir dir;
  write_bytes(dir / "empty.wav", "");
  auto pcm = load_audio_16k_mono(dir / "empty.wav");
  ASSERT_FALSE(pcm.ok());
  EXPECT_EQ(pcm.error(), (dir / "empty.wav").string() + ": file is empty");
}

TEST(AudioFile, WavWithNoSamples) {
  test::ScratchDir dir;
  write_sine(dir / "zero.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 0.0);
  auto pcm = load_audio_16k_mono(dir / "zero.wav");
  ASSERT_FALSE(pcm.ok());
  EXPECT_NE(pcm.error().find("holds no audio"), std::string::npos) << pcm.error();
}

TEST(AudioFile, GarbageFile) {
  test::ScratchDir dir;
  std::mt19937 rng(7);
  std::string junk(20000, '\0');
  for (char& c : junk) c = static_cast<char>(rng());
  write_bytes(dir / "junk.wav", junk);
  auto pcm = load_audio_16k_mono(dir / "junk.wav");
  ASSERT_FALSE(pcm.ok());
  EXPECT_NE(pcm.error().find("junk.wav: "), std::string::npos) << pcm.error();
  write_bytes(dir / "notes.txt", "this is a shopping list, not a recording\n");
  pcm = load_audio_16k_mono(dir / "notes.txt");
  ASSERT_FALSE(pcm.ok());
  EXPECT_NE(pcm.error().find("notes.txt: not a recognised audio file"), std::string::npos)
      << pcm.error();
}

TEST(AudioFile, UnsupportedContainersAreNamed) {
  test::ScratchDir dir;
  std::string m4a("\0\0\0\x20" "ftypM4A \0\0\0\0M4A mp42isom", 28);
  m4a += std::string(2000, '\0');
  write_bytes(dir / "voice.m4a", m4a);
  auto pcm = load_audio_16k_mono(dir / "voice.m4a");
  ASSERT_FALSE(pcm.ok());
  EXPECT_NE(pcm.error().find("voice.m4a: MP4/M4A (AAC) is not supported"), std::string::npos)
      << pcm.error();
  write_bytes(dir / "clip.webm", std::string("\x1A\x45\xDF\xA3", 4) + std::string(2000, '\x01'));
  pcm = load_audio_16k_mono(dir / "clip.webm");
  ASSERT_FALSE(pcm.ok());
  EXPECT_NE(pcm.error().find("Matroska/WebM is not supported"), std::string::npos) << pcm.error();
}

// Cuts each format short (inside the header and inside the audio) and expects an error
// that says so, never a silently shorter result.
TEST(AudioFile, TruncatedFilesAreRejected) {
  test::ScratchDir dir;
  struct Case {
    const char* name;
    int format;
    int rate;
  } cases[] = {{"t.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100},
               {"t24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 48000},
               {"t.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100},
               {"t.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100},
               {"t.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000}};
  for (const auto& c : cases) {
    auto full = dir / (std::string("full-") + c.name);
    write_sine(full, c.format, c.rate, 2, 3.0, 300);
    std::string bytes = bytes_of(full);
    for (size_t keep : {size_t{30}, bytes.size() / 2}) {
      auto cut = dir / c.name;
      write_bytes(cut, bytes.substr(0, keep));
      auto pcm = load_audio_16k_mono(cut);
      ASSERT_FALSE(pcm.ok()) << c.name << " cut to " << keep << " bytes decoded "
                             << (pcm.ok() ? pcm->size() : 0) << " samples";
      EXPECT_EQ(pcm.error().rfind(cut.string() + ": ", 0), 0u) << pcm.error();
      EXPECT_NE(pcm.error().find("truncated"), std::string::npos) << pcm.error();
      EXPECT_EQ(pcm.error().find('\n'), std::string::npos) << "one line: " << pcm.error();
    }
  }
}

TEST(AudioFile, WavShortOfItsLastByteStillLoads) {
  test::ScratchDir dir;
  write_sine(dir / "full.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, 1.0);
  std::string bytes = bytes_of(dir / "full.wav");
  write_bytes(dir / "short.wav", bytes.substr(0, bytes.size() - 1));
  auto pcm = load_audio_16k_mono(dir / "short.wav");
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  EXPECT_EQ(pcm->size(), 15999u);
}

TEST(AudioFile, WriteWavRoundTripsAndIsPrivate) {
  test::ScratchDir dir;
  std::vector<float> samples(16000);
  for (size_t i = 0; i < samples.size(); ++i)
    samples[i] = static_cast<float>(0.25 * std::sin(2 * std::numbers::pi * 300 * i / 16000.0));
  samples[10] = 3.0f;  // out of range: must clip, not wrap
  auto path = dir / "rec.wav";
  ASSERT_TRUE(write_wav_16k_mono(path, samples).ok());
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  SF_INFO info{};
  SNDFILE* sf = sf_open(path.c_str(), SFM_READ, &info);
  ASSERT_NE(sf, nullptr);
  EXPECT_EQ(info.samplerate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  sf_close(sf);

  auto back = load_audio_16k_mono(path);
  ASSERT_TRUE(back.ok()) << back.error();
  ASSERT_EQ(back->size(), samples.size());
  EXPECT_NEAR((*back)[10], 1.0f, 1e-4);
  for (size_t i = 0; i < samples.size(); ++i) {
    if (i == 10) continue;
    ASSERT_NEAR((*back)[i], samples[i], 1.0 / 32768 + 1e-6) << i;
  }
}

TEST(AudioFile, WriteWavTightensAnExistingFile) {
  test::ScratchDir dir;
  auto path = dir / "old.wav";
  write_bytes(path, "old");
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(write_wav_16k_mono(path, std::vector<float>(160, 0.1f)).ok());
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AudioFile, WriteWavIntoMissingDirectoryFails) {
  test::ScratchDir dir;
  auto r = write_wav_16k_mono(dir / "no/such/dir.wav", {0.0f});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot create"), std::string::npos) << r.error();
}

TEST(Resampler, StreamedBlocksMatchOneShot) {
  std::vector<float> in(44100);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<float>(std::sin(2 * std::numbers::pi * 1000 * i / 44100.0));
  auto whole = resample(in, 44100, 16000);
  ASSERT_TRUE(whole.ok());
  auto r = Resampler::create(44100, 16000);
  ASSERT_TRUE(r.ok());
  std::vector<float> out;
  for (size_t off = 0; off < in.size(); off += 1000)
    ASSERT_TRUE(r->process(in.data() + off, std::min<size_t>(1000, in.size() - off), out).ok());
  ASSERT_TRUE(r->flush(out).ok());
  ASSERT_EQ(out.size(), whole->size());
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], (*whole)[i], 1e-5) << i;
  EXPECT_NEAR(double(out.size()), 16000.0, 2.0);
}

TEST(Resampler, RejectsInvalidRates) {
  EXPECT_FALSE(Resampler::create(0, 16000).ok());
  EXPECT_FALSE(Resampler::create(44100, -1).ok());
  EXPECT_FALSE(Resampler::create(NAN, 16000).ok());
}

}  // namespace
}  // namespace thoth::audio

namespace thoth::audio {
namespace {

// Peak normalised cross-correlation of `a` and `b` over lags up to `max_lag` (codecs delay
// the signal by their encoder padding).
double best_correlation(const std::vector<float>& a, const std::vector<float>& b, int max_lag) {
  double best = 0;
  for (int lag = -max_lag; lag <= max_lag; lag += 1) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      long j = static_cast<long>(i) + lag;
      if (j < 0 || j >= static_cast<long>(b.size())) continue;
      ab += double(a[i]) * b[j];
      aa += double(a[i]) * a[i];
      bb += double(b[j]) * b[j];
    }
    if (aa > 0 && bb > 0) best = std::max(best, ab / std::sqrt(aa * bb));
  }
  return best;
}

int sh(const std::string& command) { return std::system(command.c_str()); }

// Real speech (espeak-ng) converted by sox, an independent tool, into other rates, channel
// counts and codecs must decode to the same 16 kHz signal as the original.
TEST(AudioFile, SpeechThroughSoxConversions) {
  test::ScratchDir dir;
  auto voice = dir / "voice.wav";
  ASSERT_EQ(sh("espeak-ng -w '" + voice.string() + "' 'Ask not what your country can do for you' 2>/dev/null"), 0);
  auto reference = load_audio_16k_mono(voice);  // espeak-ng writes 22050 Hz mono
  ASSERT_TRUE(reference.ok()) << reference.error();
  ASSERT_GT(reference->size(), 16000u);
  struct Conversion {
    const char* file;
    const char* sox_options;
    int max_lag;
    double min_correlation;
  } conversions[] = {
      {"s48k.wav", "-r 48000 -c 2 -b 24", 4, 0.99},
      {"s44k.flac", "-r 44100 -c 2", 4, 0.99},
      {"s8k.wav", "-r 8000 -c 1 -b 8", 4, 0.95},  // telephone band: most speech energy is below 4 kHz
      {"s32k.ogg", "-r 32000 -c 2", 400, 0.95},
      {"s44k.mp3", "-r 44100 -c 2", 1200, 0.95},
  };
  for (const auto& c : conversions) {
    auto out = dir / c.file;
    ASSERT_EQ(sh("sox -q '" + voice.string() + "' " + c.sox_options + " '" + out.string() + "' 2>/dev/null"), 0)
        << c.file;
    auto pcm = load_audio_16k_mono(out);
    ASSERT_TRUE(pcm.ok()) << c.file << ": " << pcm.error();
    EXPECT_NEAR(double(pcm->size()), double(reference->size()), 0.06 * 16000) << c.file;
    double corr = best_correlation(*reference, *pcm, c.max_lag);
    EXPECT_GE(corr, c.min_correlation) << c.file;
    std::printf("%s: correlation %.4f, %zu samples (reference %zu)\n", c.file, corr, pcm->size(), reference->size());
  }
}

}  // namespace
}  // namespace thoth::audio
