// The golden suite for decoding: every case in ../shared/golden transcribed by our engine and
// compared with the reference's output (greedy, beam 5, defaults with fallback, language
// detection, long-form), with the tolerances of the golden README.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "asr/golden_match.h"
#include "asr/whisper.h"
#include "asr/golden_cases.h"

namespace thoth::asr {
namespace {

struct Case {
  std::string dir;    // folder under golden/
  std::string model;  // file under models/
  std::string audio;  // file under speech/
  std::string mode;   // greedy, beam5, fallback
  bool exact;         // f32/f16/q8_0: exact; q5/q4: 90 %
  bool detect;        // language auto
};

// Test names carry the case already; without this gtest prints the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.dir << "/" << c.mode; }

// Beam search in the reference draws each decoder's candidates from the whole distribution
// (std::discrete_distribution over the token probabilities, whisper_sample_token_topk), it does
// not take the top k. On these random-weight models the distribution is flat enough that a draw
// changes with the last few percent of a probability, and quantized models re-quantize every
// activation row to q8_0/q8_1, which turns last-bit float differences into whole quantization
// steps: the quantized beam and fallback cases match only because every op is bit-identical
// to the reference's (its AVX-512 build's summation orders, expf, and q4_0's repacked kernels).

std::vector<Case> all_cases() {
  struct Dir { const char* dir; const char* model; const char* audio; bool exact; bool detect; };
  const Dir dirs[] = {
      {"mini.en-f32-jfk", "mini.en-f32.bin", "jfk.wav", true, false},
      {"mini.en-f16-jfk", "mini.en-f16.bin", "jfk.wav", true, false},
      {"mini.en-q8_0-jfk", "mini.en-q8_0.bin", "jfk.wav", true, false},
      {"mini.en-q5_1-jfk", "mini.en-q5_1.bin", "jfk.wav", false, false},
      {"mini.en-q5_0-jfk", "mini.en-q5_0.bin", "jfk.wav", false, false},
      {"mini.en-q4_0-jfk", "mini.en-q4_0.bin", "jfk.wav", false, false},
      {"mini.en-f16-long", "mini.en-f16.bin", "long-en.wav", true, false},
      {"mini-f16-jfk", "mini-f16.bin", "jfk.wav", true, false},
  };
  std::vector<Case> cases;
  for (const auto& d : dirs)
    for (const char* mode : {"greedy", "beam5", "fallback"})
      cases.push_back({d.dir, d.model, d.audio, mode, d.exact, d.detect});
  cases.push_back({"mini-f16-jfk-auto", "mini-f16.bin", "jfk.wav", "greedy", true, true});
  return cases;
}

std::vector<golden::Seg> golden_segments(const nlohmann::json& j, int32_t eot) {
  std::vector<golden::Seg> segs;
  for (const auto& s : j.at("transcription")) {
    golden::Seg g;
    g.from_ms = s.at("offsets").at("from").get<int64_t>();
    g.to_ms = s.at("offsets").at("to").get<int64_t>();
    for (const auto& t : s.at("tokens"))
      if (t.at("id").get<int32_t>() < eot) g.text_ids.push_back(t.at("id").get<int32_t>());
    segs.push_back(std::move(g));
  }
  return segs;
}

std::vector<golden::Seg> our_segments(const Transcript& t, int32_t eot) {
  std::vector<golden::Seg> segs;
  for (const auto& s : t.segments) {
    golden::Seg g{s.start_ms, s.end_ms, {}};
    for (const auto& tok : s.tokens)
      if (tok.id < eot) g.text_ids.push_back(tok.id);
    segs.push_back(std::move(g));
  }
  return segs;
}

std::string describe(const std::vector<golden::Seg>& segs) {
  std::ostringstream o;
  for (const auto& s : segs) {
    o << "  [" << s.from_ms << ", " << s.to_ms << "]";
    for (int32_t id : s.text_ids) o << ' ' << id;
    o << '\n';
  }
  return o.str();
}

class GoldenDecode : public ::testing::TestWithParam<Case> {};

TEST_P(GoldenDecode, MatchesTheReference) {
  const Case& c = GetParam();
  const auto golden = test::read_json(thoth::test::shared_file("golden/" + c.dir + "/" + c.mode + ".json"));
  auto model = Model::load(thoth::test::shared_file("models/" + c.model).string());
  ASSERT_TRUE(model) << model.error();
  const auto audio = test::read_wav_16k_mono(thoth::test::shared_file("speech/" + c.audio));
  ASSERT_FALSE(audio.empty());

  TranscribeOptions opt;
  opt.language = c.detect ? "auto" : "en";
  opt.n_threads = 2;
  if (c.mode == "greedy") {
    opt.beam_size = 1;
    opt.best_of = 1;
    opt.temperature_fallback = false;
  } else if (c.mode == "beam5") {
    opt.temperature_fallback = false;
  }
  Session session(*model);
  auto result = session.transcribe(audio.data(), audio.size(), opt);
  ASSERT_TRUE(result) << result.error();

  const int32_t eot = (*model)->info().multilingual ? 50257 : 50256;
  const auto ref_segs = golden_segments(golden, eot), our_segs = our_segments(*result, eot);
  const auto m = golden::compare(ref_segs, our_segs, c.exact);
  RecordProperty("token_agreement", std::to_string(m.token_agreement));
  std::printf("[ figures  ] %s/%s: %s\n", c.dir.c_str(), c.mode.c_str(), m.detail.c_str());
  EXPECT_TRUE(m.ok) << c.dir << "/" << c.mode << ": " << m.detail << "\nours:\n"
                    << describe(our_segs) << "reference:\n" << describe(ref_segs);
  EXPECT_EQ(result->language, golden.at("result").at("language").get<std::string>());

  if (c.detect) {
    // The oracle of the same model and audio holds the detected language's probability.
    const auto oracle = test::read_json(thoth::test::shared_file("golden/mini-f16-jfk/oracle.json"));
    EXPECT_EQ(result->language, oracle.at("detected_lang").get<std::string>());
    EXPECT_NEAR(result->language_prob, oracle.at("detected_lang_p").get<float>(), 0.02);
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.dir + "_" + info.param.mode;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenDecode, ::testing::ValuesIn(all_cases()), case_name);

TEST(GoldenLanguage, DetectLanguageMatchesTheOracle) {
  auto model = Model::load(thoth::test::shared_file("models/mini-f16.bin").string());
  ASSERT_TRUE(model) << model.error();
  const auto audio = test::read_wav_16k_mono(thoth::test::shared_file("speech/jfk.wav"));
  ASSERT_FALSE(audio.empty());
  const auto oracle = test::read_json(thoth::test::shared_file("golden/mini-f16-jfk/oracle.json"));
  Session session(*model);
  auto lang = session.detect_language(audio.data(), audio.size(), 2);
  ASSERT_TRUE(lang) << lang.error();
  EXPECT_EQ(lang->first, oracle.at("detected_lang").get<std::string>());
  EXPECT_NEAR(lang->second, oracle.at("detected_lang_p").get<float>(), 0.02);
}

}  // namespace
}  // namespace thoth::asr
