// Silero VAD: loader (bad files, seeded mutation fuzzing), the stream's state, and the segment
// rules with scripted probabilities.
#include "asr/vad.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "asr/vad_test_util.h"
#include "support/shared_data.h"

namespace thoth::asr {
namespace {

using Bytes = std::vector<char>;

const Bytes& model_bytes() {
  static const Bytes b = test::read_bytes(thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string());
  return b;
}

std::shared_ptr<const VadModel> real_model() {
  static const std::shared_ptr<const VadModel> m = [] {
    auto r = VadModel::parse(model_bytes().data(), model_bytes().size(), "silero");
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : nullptr;
  }();
  return m;
}

// Offsets of the parts of a VAD file, walked here independently of the loader.
struct Layout {
  size_t first_tensor = 0;
  struct Tensor {
    size_t header, data, end;
    int32_t n_dims, name_len;
  };
  std::vector<Tensor> tensors;
};

int32_t get_i32(const Bytes& b, size_t at) {
  int32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
void put_i32(Bytes& b, size_t at, int32_t v) { std::memcpy(b.data() + at, &v, 4); }

Layout layout_of(const Bytes& b) {
  Layout l;
  size_t at = 8 + static_cast<size_t>(get_i32(b, 4)) + 5 * 4;  // magic, type, version, window, context
  at += 4 + 4 * 12 + 4 * 4;                                      // layers, 4 x (in, out, kernel), lstm, final
  l.first_tensor = at;
  while (at < b.size()) {
    Layout::Tensor t{};
    t.header = at;
    t.n_dims = get_i32(b, at);
    t.name_len = get_i32(b, at + 4);
    const int32_t type = get_i32(b, at + 8);
    size_t count = 1;
    for (int d = 0; d < t.n_dims; ++d) count *= static_cast<size_t>(get_i32(b, at + 12 + 4 * d));
    t.data = at + 12 + 4 * static_cast<size_t>(t.n_dims) + static_cast<size_t>(t.name_len);
    t.end = t.data + count * (type == 1 ? 2 : 4);
    l.tensors.push_back(t);
    at = t.end;
  }
  return l;
}

std::string parse_error(const Bytes& b) {
  auto r = VadModel::parse(b.data(), b.size(), "bad.bin");
  if (r.ok()) return "(loaded)";
  return r.error();
}

#define EXPECT_REFUSED(bytes, needle)                                       \
  do {                                                                      \
    const std::string err_ = parse_error(bytes);                            \
    EXPECT_NE(err_.find("bad.bin: "), std::string::npos) << err_;           \
    EXPECT_NE(err_.find(needle), std::string::npos) << err_;                \
    EXPECT_EQ(err_.find('\n'), std::string::npos) << "one line: " << err_; \
  } while (0)

TEST(VadModelLoad, RealModel) {
  auto m = VadModel::load(thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string());
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ((*m)->model_type(), "silero-16k");
  EXPECT_EQ((*m)->version(), "6.2.0");
  const auto& w = (*m)->weights();
  EXPECT_EQ(w.stft_basis.size(), 258u * 256u);
  EXPECT_EQ(w.encoder[0].row % VadModel::kRowAlign, 0);
  EXPECT_EQ(w.lstm_weight.size(), 512u * 256u);
  // Padding of weight rows is zero so it adds nothing to the dot products.
  const auto& e0 = w.encoder[0];
  for (int o = 0; o < e0.out; ++o) {
    for (int i = e0.in * e0.kernel; i < e0.row; ++i) ASSERT_EQ(e0.weight[static_cast<size_t>(o) * e0.row + i], 0.0f);
  }
}

TEST(VadModelLoad, LayoutWalkSeesFifteenTensors) {
  const Layout l = layout_of(model_bytes());
  ASSERT_EQ(l.tensors.size(), 15u);
  EXPECT_EQ(l.tensors.back().end, model_bytes().size());
}

TEST(VadModelLoad, EmptyAndTinyFiles) {
  EXPECT_REFUSED(Bytes{}, "empty file");
  EXPECT_REFUSED(Bytes(3, 'l'), "truncated");
}

TEST(VadModelLoad, WrongMagic) {
  Bytes b = model_bytes();
  b[0] = 'X';
  EXPECT_REFUSED(b, "not a ggml model file");
  Bytes riff = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E'};
  EXPECT_REFUSED(riff, "not a ggml model file");
}

TEST(VadModelLoad, WhisperModelIsNamed) {
  const Bytes whisper = test::read_bytes(thoth::test::shared_file("models/mini.en-f16.bin").string());
  EXPECT_REFUSED(whisper, "Whisper model, not a Silero VAD model");
}

TEST(VadModelLoad, TruncatedAnywhere) {
  const Bytes& full = model_bytes();
  const Layout l = layout_of(full);
  for (size_t cut : {size_t{6}, size_t{20}, size_t{40}, size_t{100}, l.first_tensor + 5, l.first_tensor + 30,
                     l.tensors[3].data + 10, full.size() - 1}) {
    Bytes b(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_REFUSED(b, "truncated");
  }
  Bytes b(full.begin(), full.end() - 100);
  EXPECT_REFUSED(b, "_model.stft.forward_basis_buffer");
}

TEST(VadModelLoad, TrailingBytes) {
  Bytes b = model_bytes();
  b.push_back(1);
  b.push_back(0);
  EXPECT_REFUSED(b, "truncated");
}

TEST(VadModelLoad, WrongArchitecture) {
  const size_t type_end = 8 + 10;
  Bytes b = model_bytes();
  put_i32(b, type_end + 12, 256);  // window
  EXPECT_REFUSED(b, "window of 256 samples");
  b = model_bytes();
  put_i32(b, type_end + 20, 5);  // encoder layers
  EXPECT_REFUSED(b, "5 encoder layers");
  b = model_bytes();
  put_i32(b, type_end + 24 + 12 + 4, 32);  // layer 1 out channels
  EXPECT_REFUSED(b, "encoder layer 1");
  b = model_bytes();
  put_i32(b, type_end + 24 + 48 + 4, 64);  // LSTM hidden
  EXPECT_REFUSED(b, "LSTM");
  b = model_bytes();
  put_i32(b, 4, 100000);  // model type length
  EXPECT_REFUSED(b, "not a Silero VAD model");
  b = model_bytes();
  b[9] = '\x01';
  EXPECT_REFUSED(b, "not text");
}

TEST(VadModelLoad, BadTensors) {
  const Layout l = layout_of(model_bytes());
  const auto& t0 = l.tensors[0];
  Bytes b = model_bytes();
  b[t0.data - 3] = 'X';  // name "..._conv.weXght"
  EXPECT_REFUSED(b, "unknown tensor '_model.encoder.0.reparam_conv.weiXht'");

  b = model_bytes();
  put_i32(b, t0.header + 12, 5);
  EXPECT_REFUSED(b, "has shape [5, 129, 128], expected [3, 129, 128]");

  b = model_bytes();
  put_i32(b, t0.header + 8, 8);  // q8_0
  EXPECT_REFUSED(b, "type 8");

  b = model_bytes();
  put_i32(b, t0.header, 7);
  EXPECT_REFUSED(b, "7 dimensions");

  b = model_bytes();
  put_i32(b, t0.header + 4, 1 << 30);
  EXPECT_REFUSED(b, "name of 1073741824 bytes");

  b = model_bytes();
  put_i32(b, t0.header + 12, -3);
  EXPECT_REFUSED(b, "shape [-3");

  // A tensor twice.
  b = model_bytes();
  b.insert(b.end(), b.begin() + static_cast<std::ptrdiff_t>(t0.header), b.begin() + static_cast<std::ptrdiff_t>(t0.end));
  EXPECT_REFUSED(b, "duplicate tensor '_model.encoder.0.reparam_conv.weight'");

  // A tensor missing (the last one, cut off cleanly at its header).
  b = model_bytes();
  b.resize(l.tensors.back().header);
  EXPECT_REFUSED(b, "'_model.stft.forward_basis_buffer' is missing");

  // A weight that is not a number.
  b = model_bytes();
  const auto& bias = l.tensors[1];  // encoder 0 bias, f32
  const float nan = std::nanf("");
  std::memcpy(b.data() + bias.data + 8, &nan, 4);
  EXPECT_REFUSED(b, "non-finite");
}

TEST(VadModelLoad, PathProblems) {
  thoth::test::ScratchDir dir;
  auto missing = VadModel::load((dir / "nope.bin").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("nope.bin: cannot open VAD model: no such file"), std::string::npos) << missing.error();

  auto directory = VadModel::load(dir.path().string());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.error().find("not a regular file"), std::string::npos) << directory.error();

  // A huge (sparse) file is refused before anything is read.
  const auto huge = dir / "huge.bin";
  { std::ofstream(huge).put('x'); }
  std::filesystem::resize_file(huge, 200u << 20);
  auto big = VadModel::load(huge.string());
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().find("far larger than any VAD model"), std::string::npos) << big.error();

  const auto good = dir / "good.bin";
  {
    std::ofstream out(good, std::ios::binary);
    out.write(model_bytes().data(), static_cast<std::streamsize>(model_bytes().size()));
  }
  EXPECT_TRUE(VadModel::load(good.string()).ok());
}

// Seeded mutations of the real file: the loader refuses or accepts, never crashes, hangs or
// allocates wildly; whatever it accepts runs. Bounded to a couple of seconds.
TEST(VadModelLoad, MutationFuzz) {
  const Bytes& good = model_bytes();
  const Layout l = layout_of(good);
  std::vector<size_t> fields;  // every int32 of the header and the tensor headers
  for (size_t at = 0; at < l.first_tensor; at += 4) fields.push_back(at);
  for (const auto& t : l.tensors) {
    for (size_t at = t.header; at < t.header + 12 + 4 * static_cast<size_t>(t.n_dims); at += 4) fields.push_back(at);
  }
  const int32_t interesting[] = {0, 1, -1, 2, 3, 4, 64, 128, 129, 512, 51864, 65535, 1 << 20, INT32_MAX, INT32_MIN};

  std::mt19937_64 rng(20261125);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  int runs = 0, accepted = 0;
  std::vector<float> audio(kVadChunkSamples);
  for (float& s : audio) s = std::uniform_real_distribution<float>(-1, 1)(rng);
  while (std::chrono::steady_clock::now() < deadline && runs < 4000) {
    Bytes b = good;
    const int n_mut = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < n_mut; ++m) {
      switch (rng() % 5) {
        case 0:
          put_i32(b, fields[rng() % fields.size()], interesting[rng() % std::size(interesting)]);
          break;
        case 1:
          b[fields[rng() % fields.size()] + rng() % 4] ^= static_cast<char>(1u << (rng() % 8));
          break;
        case 2:
          b.resize(rng() % (b.size() + 1));
          break;
        case 3:
          if (!b.empty()) b[rng() % b.size()] = static_cast<char>(rng());
          break;
        case 4: {  // cut or repeat a span
          if (b.size() < 2) break;
          const size_t from = rng() % b.size(), len = 1 + rng() % std::min<size_t>(b.size() - from, 4096);
          if (rng() % 2) {
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + len));
          } else {
            Bytes span(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + len));
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(rng() % b.size()), span.begin(), span.end());
          }
          break;
        }
      }
      if (b.empty()) break;
    }
    auto r = VadModel::parse(b.data(), b.size(), "fuzz.bin");
    ++runs;
    if (r.ok()) {
      ++accepted;
      VadStream stream(*r);
      const float p = stream.process(audio.data());
      EXPECT_TRUE(std::isnan(p) || (p >= 0.0f && p <= 1.0f));
    } else {
      EXPECT_EQ(r.error().rfind("fuzz.bin: ", 0), 0u) << r.error();
    }
  }
  EXPECT_GT(runs, 50);
  RecordProperty("runs", runs);
  RecordProperty("accepted", accepted);
}

// ---------------------------------------------------------------------------------------------
// Inference

TEST(VadStreamTest, SilenceIsNotSpeech) {
  auto model = real_model();
  ASSERT_TRUE(model);
  std::vector<float> silence(kVadSampleRate * 3, 0.0f);
  const auto probs = vad_probabilities(model, silence.data(), silence.size());
  ASSERT_EQ(probs.size(), (silence.size() + 511) / 512);
  for (float p : probs) EXPECT_LT(p, 0.1f);
  EXPECT_TRUE(vad_detect_speech(model, silence.data(), silence.size(), VadParams{}).empty());
}

TEST(VadStreamTest, StreamEqualsBatchAndResetForgets) {
  auto model = real_model();
  ASSERT_TRUE(model);
  const auto pcm = test::read_wav_16k_mono(thoth::test::shared_file("speech/jfk.wav").string());
  const auto batch = vad_probabilities(model, pcm.data(), pcm.size());
  VadStream stream(model);
  std::vector<float> streamed;
  for (size_t at = 0; at < pcm.size(); at += kVadChunkSamples) {
    streamed.push_back(stream.process(pcm.data() + at, std::min<size_t>(kVadChunkSamples, pcm.size() - at)));
  }
  EXPECT_EQ(streamed, batch);
  float max_p = 0;
  for (float p : batch) max_p = std::max(max_p, p);
  EXPECT_GT(max_p, 0.9f) << "jfk.wav is speech";

  stream.reset();
  EXPECT_EQ(stream.process(pcm.data()), batch[0]);
  EXPECT_TRUE(vad_probabilities(model, pcm.data(), 0).empty());
}

TEST(VadStreamTest, NonFiniteSamplesDoNotPoisonTheState) {
  auto model = real_model();
  ASSERT_TRUE(model);
  const auto pcm = test::read_wav_16k_mono(thoth::test::shared_file("speech/jfk.wav").string());
  std::vector<float> bad(pcm.begin(), pcm.begin() + 4 * kVadChunkSamples);
  bad[5] = std::nanf("");
  bad[700] = INFINITY;
  bad[1500] = -INFINITY;
  VadStream stream(model);
  for (size_t at = 0; at < bad.size(); at += kVadChunkSamples) EXPECT_TRUE(std::isfinite(stream.process(bad.data() + at)));
  for (size_t at = 0; at + kVadChunkSamples <= pcm.size(); at += kVadChunkSamples) {
    ASSERT_TRUE(std::isfinite(stream.process(pcm.data() + at)));
  }
}

// ---------------------------------------------------------------------------------------------
// Segments from scripted probabilities. One probability per 512 samples; segment times are in
// centiseconds (160 samples).

std::vector<float> script(int n, std::initializer_list<std::tuple<int, int, float>> runs) {
  std::vector<float> p(static_cast<size_t>(n), 0.0f);
  for (const auto& [from, to, v] : runs) {
    for (int i = from; i < to; ++i) p[static_cast<size_t>(i)] = v;
  }
  return p;
}

using Segs = std::vector<VadSegment>;

TEST(VadSegments, NoSpeech) { EXPECT_TRUE(vad_segments_from_probs(script(100, {}), {}).empty()); }

TEST(VadSegments, OneRunWithPadding) {
  // Speech in chunks [10, 30): samples 5120..15360, padded by 480 on each side.
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 30, 0.9f}}), {}), (Segs{{29, 99}}));
}

TEST(VadSegments, MinSpeechDropsShortRuns) {
  // 7 chunks = 3584 samples < 250 ms (4000); 8 chunks = 4096 are kept.
  EXPECT_TRUE(vad_segments_from_probs(script(100, {{10, 17, 0.9f}}), {}).empty());
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 18, 0.9f}}), {}).size(), 1u);
  VadParams shorter;
  shorter.min_speech_ms = 100;
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 17, 0.9f}}), shorter).size(), 1u);
}

TEST(VadSegments, ShortPauseDoesNotSplit) {
  // 2 silent chunks (64 ms) < min silence 100 ms.
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 30, 0.9f}, {32, 50, 0.9f}}), {}), (Segs{{29, 163}}));
}

TEST(VadSegments, LongPauseSplits) {
  // 20 silent chunks (640 ms).
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 30, 0.9f}, {50, 70, 0.9f}}), {}), (Segs{{29, 99}, {157, 227}}));
  // With min silence above the pause, it no longer splits.
  VadParams patient;
  patient.min_silence_ms = 700;
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 30, 0.9f}, {50, 70, 0.9f}}), patient), (Segs{{29, 227}}));
}

TEST(VadSegments, NeighboursUnder200msMerge) {
  // A 160 ms pause ends the first segment (>= 100 ms) but the gap is under 200 ms: one segment.
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 30, 0.9f}, {35, 55, 0.9f}}), {}), (Segs{{29, 179}}));
}

TEST(VadSegments, HysteresisBetweenThresholds) {
  // 0.4 is below the threshold (0.5) but above the silence threshold (0.35): speech goes on.
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 30, 0.9f}, {30, 60, 0.4f}}), {}), (Segs{{29, 195}}));
  // ...but does not start speech.
  EXPECT_TRUE(vad_segments_from_probs(script(100, {{10, 60, 0.4f}}), {}).empty());
  VadParams strict;
  strict.threshold = 0.95f;
  EXPECT_TRUE(vad_segments_from_probs(script(100, {{10, 30, 0.9f}}), strict).empty());
}

TEST(VadSegments, EdgesOfTheAudio) {
  // Open at the end: closes at the audio's length, padding clipped there.
  EXPECT_EQ(vad_segments_from_probs(script(100, {{90, 100, 0.9f}}), {}), (Segs{{285, 320}}));
  // From the first chunk: padding clipped at 0.
  EXPECT_EQ(vad_segments_from_probs(script(100, {{0, 20, 0.9f}}), {}), (Segs{{0, 67}}));
}

TEST(VadSegments, CloseSegmentsSplitThePadding) {
  // Pads of 200 ms (3200 samples) and a gap of 4096 samples: each side gets half the gap.
  VadParams wide;
  wide.speech_pad_ms = 200;
  EXPECT_EQ(vad_segments_from_probs(script(100, {{10, 30, 0.9f}, {38, 60, 0.9f}}), wide), (Segs{{12, 109}, {109, 212}}));
}

TEST(VadSegments, MaxDurationSplitsAtAPause) {
  // 6.4 s of speech with a 256 ms dip, shorter than min silence (500 ms) so it does not end the
  // segment by itself. With at most 3 s per segment the split falls in the dip.
  const auto probs = script(200, {{0, 40, 0.9f}, {40, 48, 0.1f}, {48, 200, 0.9f}});
  VadParams p;
  p.min_silence_ms = 500;
  EXPECT_EQ(vad_segments_from_probs(probs, p), (Segs{{0, 640}}));
  p.max_speech_s = 3.0f;
  EXPECT_EQ(vad_segments_from_probs(probs, p), (Segs{{0, 131}, {151, 640}}));
}

TEST(VadSegments, MaxDurationCutsWithoutAPauseAreMergedBackAsTheReferenceDoes) {
  // Without a pause the reference cuts at the limit, then its 200 ms merge joins the pieces
  // again (they are one chunk apart): one segment, as whisper.cpp reports.
  VadParams p;
  p.max_speech_s = 2.0f;
  EXPECT_EQ(vad_segments_from_probs(script(200, {{0, 200, 0.9f}}), p), (Segs{{0, 640}}));
}

TEST(VadSegments, ValidateParams) {
  EXPECT_TRUE(validate(VadParams{}).ok());
  VadParams p;
  p.threshold = 1.5f;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.threshold = std::nanf("");
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.min_silence_ms = -1;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.max_speech_s = 0;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.max_speech_s = 12.5f;
  EXPECT_TRUE(validate(p).ok());
}

}  // namespace
}  // namespace thoth::asr
