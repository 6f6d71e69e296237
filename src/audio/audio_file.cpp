#include "audio/audio_file.h"

#include <fcntl.h>
#include <sndfile.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <string_view>

#include "audio/resampler.h"

namespace thoth::audio {
namespace {

constexpr sf_count_t kBlockFrames = 8192;

// libsndfile reads standard input only when it is seekable; a pipe is not, so the bytes are
// read into memory and served through its virtual I/O.
struct MemoryFile {
  std::string_view data;
  sf_count_t pos = 0;
};

sf_count_t mem_length(void* user) {
  return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->data.size());
}
sf_count_t mem_seek(sf_count_t offset, int whence, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : mem_length(user);
  sf_count_t target = base + offset;
  if (target < 0) return -1;
  m->pos = std::min<sf_count_t>(target, mem_length(user));
  return m->pos;
}
sf_count_t mem_read(void* ptr, sf_count_t count, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  sf_count_t n = std::max<sf_count_t>(0, std::min(count, mem_length(user) - m->pos));
  std::memcpy(ptr, m->data.data() + m->pos, static_cast<size_t>(n));
  m->pos += n;
  return n;
}
sf_count_t mem_write(const void*, sf_count_t, void*) { return 0; }
sf_count_t mem_tell(void* user) { return static_cast<MemoryFile*>(user)->pos; }

Result<std::string> read_all_stdin() {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(std::string("standard input: cannot read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

// The first bytes of a file, for naming formats libsndfile does not read.
std::string read_head(const std::string& path, size_t n) {
  std::string out(n, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  ssize_t got = ::pread(fd, out.data(), n, 0);
  ::close(fd);
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

// The last bytes of a file, where an Ogg stream keeps its end-of-stream page.
std::string read_tail(const std::string& path, size_t n) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  struct stat st{};
  std::string out;
  if (::fstat(fd, &st) == 0) {
    off_t start = st.st_size > static_cast<off_t>(n) ? st.st_size - static_cast<off_t>(n) : 0;
    out.resize(static_cast<size_t>(st.st_size - start));
    ssize_t got = ::pread(fd, out.data(), out.size(), start);
    out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  ::close(fd);
  return out;
}

// Names a container libsndfile cannot decode, so the message can say what the file is.
std::optional<std::string> known_unsupported(std::string_view head) {
  auto starts = [&](std::string_view magic, size_t at = 0) {
    return head.size() >= at + magic.size() && head.substr(at, magic.size()) == magic;
  };
  if (starts("ftyp", 4)) return "MP4/M4A (AAC)";
  if (starts("\x1A\x45\xDF\xA3")) return "Matroska/WebM";
  if (starts("ADIF")) return "AAC";
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0xFF &&
      (static_cast<unsigned char>(head[1]) & 0xF6) == 0xF0)
    return "AAC (ADTS)";
  if (starts("\x30\x26\xB2\x75\x8E\x66\xCF\x11")) return "WMA/ASF";
  if (starts("#!AMR")) return "AMR";
  return std::nullopt;
}

// Names a container libsndfile does read, to say which kind of file is damaged.
std::optional<std::string> known_supported(std::string_view head) {
  auto starts = [&](std::string_view magic, size_t at = 0) {
    return head.size() >= at + magic.size() && head.substr(at, magic.size()) == magic;
  };
  if (starts("RIFF") || starts("RIFX") || starts("RF64")) return "WAV";
  if (starts("fLaC")) return "FLAC";
  if (starts("OggS")) return "Ogg";
  if (starts("FORM")) return "AIFF";
  if (starts("ID3") || (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0xFF &&
                        (static_cast<unsigned char>(head[1]) & 0xE0) == 0xE0))
    return "MP3";
  return std::nullopt;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

// A WAV/AIFF whose data chunk is cut short opens fine: libsndfile trims the frame count
// to what is there and only notes it in its log ("data : 352800 (should be 99920)"). A
// declared size of 0 or 0xFFFFFFFF is how streaming writers say "unknown", not truncation,
// and a shortfall under one frame (`frame_bytes`) is a sloppy writer, not lost audio.
std::optional<std::string> truncated_chunk(SNDFILE* sf, unsigned long long frame_bytes) {
  char log[16384] = {0};
  sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log - 1);
  std::string_view text(log);
  for (std::string_view chunk : {"data : ", "SSND : "}) {
    size_t at = text.find(chunk);
    if (at == std::string_view::npos) continue;
    size_t eol = text.find('\n', at);
    std::string line(text.substr(at, eol == std::string_view::npos ? eol : eol - at));
    unsigned long long declared = 0, actual = 0;
    if (std::sscanf(line.c_str() + chunk.size(), "%llu (should be %llu)", &declared, &actual) == 2 &&
        declared >= actual + frame_bytes && declared != 0 && declared != 0xFFFFFFFFull &&
        line.find("0x") == std::string::npos) {
      return "the header promises " + std::to_string(declared) + " bytes of audio, the file holds " +
             std::to_string(actual);
    }
  }
  return std::nullopt;
}

// An Ogg stream ends with a page flagged end-of-stream; a file cut short has none.
bool ogg_stream_complete(std::string_view tail) {
  size_t at = tail.rfind("OggS");
  if (at == std::string_view::npos || at + 6 > tail.size()) return false;
  return (static_cast<unsigned char>(tail[at + 5]) & 0x04) != 0;
}

class SoundFile {
 public:
  ~SoundFile() {
    if (sf_) sf_close(sf_);
  }
  SNDFILE* sf_ = nullptr;
  SF_INFO info_{};
  MemoryFile memory_;
  SF_VIRTUAL_IO io_{mem_length, mem_seek, mem_read, mem_write, mem_tell};
};

Result<void> open_error(const std::string& name, std::string_view head) {
  int code = sf_error(nullptr);
  if (head.empty()) return make_error(name + ": file is empty");
  if (auto what = known_unsupported(head))
    return make_error(name + ": " + *what +
                      " is not supported; use WAV, FLAC, OGG (Vorbis/Opus) or MP3, e.g. "
                      "ffmpeg -i FILE -ar 16000 -ac 1 out.wav");
  if (auto kind = known_supported(head))
    return make_error(name + ": damaged or truncated " + *kind + " file (" +
                      sf_strerror(nullptr) + ")");
  if (code == SF_ERR_UNRECOGNISED_FORMAT)
    return make_error(name + ": not a recognised audio file (WAV, FLAC, OGG/Vorbis/Opus or MP3)");
  if (code == SF_ERR_MALFORMED_FILE || code == SF_ERR_UNSUPPORTED_ENCODING)
    return make_error(name + ": damaged or truncated audio file (" + sf_strerror(nullptr) + ")");
  return make_error(name + ": cannot decode: " + sf_strerror(nullptr));
}

}  // namespace

Result<std::vector<float>> load_audio_16k_mono(const std::string& path) {
  const bool from_stdin = path == "-";
  const std::string name = from_stdin ? std::string("standard input") : path;
  SoundFile file;
  std::string stdin_data;
  std::string head, tail;

  if (from_stdin) {
    auto data = read_all_stdin();
    if (!data) return make_error(data.error());
    stdin_data = std::move(*data);
    if (stdin_data.empty()) return make_error("standard input: no audio data (it was empty)");
    head = stdin_data.substr(0, 64);
    tail = stdin_data.substr(stdin_data.size() > 65536 ? stdin_data.size() - 65536 : 0);
    file.memory_.data = stdin_data;
    file.sf_ = sf_open_virtual(&file.io_, SFM_READ, &file.info_, &file.memory_);
  } else {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
      return make_error(name + ": " + (errno == ENOENT ? std::string("no such file")
                                                       : std::string(std::strerror(errno))));
    if (S_ISDIR(st.st_mode)) return make_error(name + ": is a directory, not an audio file");
    if (::access(path.c_str(), R_OK) != 0)
      return make_error(name + ": cannot read: " + std::strerror(errno));
    if (S_ISREG(st.st_mode) && st.st_size == 0) return make_error(name + ": file is empty");
    head = read_head(path, 64);
    file.sf_ = sf_open(path.c_str(), SFM_READ, &file.info_);
  }
  if (!file.sf_) {
    auto err = open_error(name, head);
    return make_error(err.error());
  }

  const SF_INFO& info = file.info_;
  if (info.channels <= 0 || info.samplerate <= 0)
    return make_error(name + ": invalid header (" + std::to_string(info.channels) + " channels at " +
                      std::to_string(info.samplerate) + " Hz)");
  // Widest sample libsndfile reads is 8 bytes (double).
  if (auto cut = truncated_chunk(file.sf_, 8ull * static_cast<unsigned>(info.channels)))
    return make_error(name + ": truncated: " + *cut);
  const int major = info.format & SF_FORMAT_TYPEMASK;
  if (major == SF_FORMAT_OGG) {
    if (!from_stdin) tail = read_tail(path, 65536);
    if (!ogg_stream_complete(tail))
      return make_error(name + ": truncated: the Ogg stream has no end-of-stream page");
  }

  auto resampler = Resampler::create(info.samplerate, kWhisperRate);
  if (!resampler) return make_error(name + ": " + resampler.error());

  const int channels = info.channels;
  std::vector<float> block(static_cast<size_t>(kBlockFrames) * channels);
  std::vector<float> mono(kBlockFrames);
  std::vector<float> out;
  // Frame counts of MP3 and some Ogg files are estimates, so they only size the buffer.
  const bool length_known = info.frames > 0 && info.frames != SF_COUNT_MAX;
  if (length_known)
    out.reserve(static_cast<size_t>(std::min<double>(
                    static_cast<double>(info.frames) * kWhisperRate / info.samplerate, 1e9)) +
                1024);
  sf_count_t total = 0;
  size_t non_finite = 0;
  for (;;) {
    sf_count_t n = sf_readf_float(file.sf_, block.data(), kBlockFrames);
    if (n <= 0) break;
    for (sf_count_t i = 0; i < n; ++i) {
      float sum = 0;
      for (int c = 0; c < channels; ++c) sum += block[static_cast<size_t>(i * channels + c)];
      float v = sum / static_cast<float>(channels);
      // One NaN would smear across the resampler's whole filter length.
      if (!std::isfinite(v)) {
        v = 0;
        ++non_finite;
      }
      mono[static_cast<size_t>(i)] = v;
    }
    if (auto r = resampler->process(mono.data(), static_cast<size_t>(n), out); !r)
      return make_error(name + ": " + r.error());
    total += n;
  }
  if (sf_error(file.sf_) != SF_ERR_NO_ERROR)
    return make_error(name + ": damaged or truncated audio data after " +
                      seconds(static_cast<double>(total) / info.samplerate) + " (" +
                      sf_strerror(file.sf_) + ")");
  if (length_known && major != SF_FORMAT_MPEG && total < info.frames)
    return make_error(name + ": truncated: the header promises " +
                      seconds(static_cast<double>(info.frames) / info.samplerate) +
                      ", the file holds " + seconds(static_cast<double>(total) / info.samplerate));
  if (total == 0) return make_error(name + ": holds no audio (0 samples)");
  if (auto r = resampler->flush(out); !r) return make_error(name + ": " + r.error());
  if (non_finite > 0)
    spdlog::warn("{}: {} samples were NaN or infinite and were replaced by silence", name,
                 non_finite);

  // soxr's output length can differ from the exact ratio by a sample; trim to the exact
  // duration so timestamps line up with the source.
  const size_t expected = static_cast<size_t>(
      std::llround(static_cast<double>(total) * kWhisperRate / info.samplerate));
  if (out.size() > expected) out.resize(expected);
  spdlog::debug("{}: {} Hz, {} channel(s), {:.2f} s", name, info.samplerate, channels,
                static_cast<double>(total) / info.samplerate);
  return out;
}

Result<void> write_wav_16k_mono(const std::string& path, const std::vector<float>& samples) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(path + ": cannot create: " + std::strerror(errno));
  // An existing file keeps its old mode through O_TRUNC; recordings are private.
  if (::fchmod(fd, 0600) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(path + ": cannot make private: " + std::strerror(err));
  }
  SF_INFO info{};
  info.samplerate = kWhisperRate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* sf = sf_open_fd(fd, SFM_WRITE, &info, /*close_desc=*/SF_TRUE);
  if (!sf) {
    ::close(fd);
    return make_error(path + ": cannot write WAV: " + sf_strerror(nullptr));
  }
  // Out-of-range samples clip instead of wrapping around.
  sf_command(sf, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  sf_count_t written = sf_writef_float(sf, samples.data(), static_cast<sf_count_t>(samples.size()));
  std::string err = written == static_cast<sf_count_t>(samples.size()) ? "" : sf_strerror(sf);
  if (sf_close(sf) != 0 && err.empty()) err = "close failed";
  if (!err.empty()) return make_error(path + ": cannot write WAV: " + err);
  return {};
}

}  // namespace thoth::audio
