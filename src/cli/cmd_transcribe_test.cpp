// `thoth transcribe` end to end: real audio, a real model, every output format.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/shared_data.h"

namespace thoth {
namespace {

struct CliRun {
  int exit_code;
  std::string out;
};

CliRun run_thoth(const std::string& args, bool with_stderr = false, const std::string& env = "") {
  const std::string cmd = env + "'" + test::thoth_binary().string() + "' " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = ::popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string model(const char* name = "mini.en-f16.bin") {
  return "'" + test::shared_file(std::string("models/") + name).string() + "'";
}
std::string jfk() { return "'" + test::shared_file("speech/jfk.wav").string() + "'"; }

TEST(TranscribeCli, JsonHasTheDocumentedShapeAndMatchesTheGolden) {
  const CliRun r = run_thoth("transcribe -m " + model() + " --no-vad --beam-size 1 --best-of 1 --no-fallback --json " + jfk());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["language"], "en");
  ASSERT_TRUE(j["language_prob"].is_number());
  ASSERT_TRUE(j["segments"].is_array());
  ASSERT_FALSE(j["segments"].empty());
  for (const char* k : {"load", "mel", "encode", "decode"}) EXPECT_TRUE(j["timings_ms"][k].is_number()) << k;
  const auto& s = j["segments"][0];
  for (const char* k : {"start_ms", "end_ms", "text", "tokens"}) EXPECT_TRUE(s.contains(k)) << k;
  EXPECT_EQ(s.size(), 4u);
  ASSERT_FALSE(s["tokens"].empty());
  for (const char* k : {"id", "p", "text", "start_ms", "end_ms"}) EXPECT_TRUE(s["tokens"][0].contains(k)) << k;
  EXPECT_EQ(s["tokens"][0].size(), 5u);
  // Token times run forward inside their segment.
  int64_t prev_end = s["start_ms"].get<int64_t>();
  for (const auto& t : s["tokens"]) {
    const auto t0 = t["start_ms"].get<int64_t>(), t1 = t["end_ms"].get<int64_t>();
    EXPECT_LE(prev_end, t0) << t.dump();
    EXPECT_LE(t0, t1) << t.dump();
    EXPECT_LE(t1, s["end_ms"].get<int64_t>()) << t.dump();
    prev_end = t1;
  }
}

TEST(TranscribeCli, TextSrtAndVtt) {
  const std::string base = "transcribe -m " + model() + " --beam-size 1 --no-fallback ";
  const CliRun text = run_thoth(base + jfk());
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_FALSE(text.out.empty());
  EXPECT_NE(text.out.front(), ' ');
  const CliRun srt = run_thoth(base + "--srt " + jfk());
  ASSERT_EQ(srt.exit_code, 0);
  EXPECT_EQ(srt.out.rfind("1\n00:00:", 0), 0u) << srt.out;
  EXPECT_NE(srt.out.find(" --> 00:00:"), std::string::npos) << srt.out;
  const CliRun vtt = run_thoth(base + "--format vtt " + jfk());
  ASSERT_EQ(vtt.exit_code, 0);
  EXPECT_EQ(vtt.out.rfind("WEBVTT\n\n00:00:", 0), 0u) << vtt.out;
}

TEST(TranscribeCli, BadInputGivesOneLineAndNonZeroExit) {
  test::ScratchDir home;
  CliRun r = run_thoth("transcribe " + jfk(), true, "THOTH_HOME='" + home.path().string() + "' THOTH_MODEL_PATH= ");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("models pull"), std::string::npos) << r.out;

  r = run_thoth("transcribe -m /nonexistent/model.bin " + jfk(), true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("/nonexistent/model.bin"), std::string::npos) << r.out;

  r = run_thoth("transcribe -m " + model() + " /nonexistent/audio.wav", true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("/nonexistent/audio.wav"), std::string::npos) << r.out;

  r = run_thoth("transcribe -m " + model() + " -l de " + jfk(), true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("English-only"), std::string::npos) << r.out;

  r = run_thoth("transcribe -m " + model() + " --beam-size 0 " + jfk(), true);
  EXPECT_NE(r.exit_code, 0);
  r = run_thoth("transcribe -m " + model() + " --format doc " + jfk(), true);
  EXPECT_NE(r.exit_code, 0);
}

TEST(TranscribeCli, ModelByNameFromTheModelPath) {
  const std::string env = "THOTH_MODEL_PATH='" + test::shared_file("models/mini.en-f16.bin").parent_path().string() + "' ";
  const CliRun r = run_thoth("transcribe -m mini.en-f16 --beam-size 1 --no-fallback " + jfk(), false, env);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(r.out.empty());
}

TEST(TranscribeCli, LanguageDetectionOnAMultilingualModel) {
  const CliRun r = run_thoth("transcribe -m " + model("mini-f16.bin") + " -l auto --no-vad --beam-size 1 --no-fallback --json " + jfk());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["language"], "lb");  // the golden oracle's answer for this random-weight model
  EXPECT_NEAR(j["language_prob"].get<double>(), 0.611577, 0.02);
}

// ---- voice activity detection in front of the engine ----

std::string q(const std::filesystem::path& p) {
  std::string quoted = "'";  // appended, not operator+: GCC 12 warns falsely (-Wrestrict) on that
  return quoted.append(p.string()).append("'");
}
std::string vad_model() { return q(test::shared_file("models/silero-v6.2.0-ggml.bin")); }
// A home of its own (no config, no models) so only what the test says is in effect.
std::string env_in(const test::ScratchDir& home, const std::string& vad = "") {
  return "THOTH_HOME=" + q(home.path()) + " THOTH_MODEL_PATH= THOTH_VAD_MODEL=" + vad + " ";
}
void sh(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }
std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
const std::string kQuick = " --beam-size 1 --no-fallback ";

TEST(TranscribeCliVad, NoiseAndSilenceGiveNoText) {
  test::ScratchDir home;
  const std::string noise = q(test::shared_file("speech/noise.wav"));
  CliRun r = run_thoth("transcribe -m " + model() + kQuick + noise, false, env_in(home, vad_model()));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  r = run_thoth("transcribe -m " + model() + kQuick + "--json " + noise, false, env_in(home, vad_model()));
  ASSERT_EQ(r.exit_code, 0);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["segments"].empty());
  EXPECT_EQ(j["timings_ms"]["encode"], 0.0);  // the engine never ran
  r = run_thoth("transcribe -m " + model() + kQuick + noise, true, env_in(home, vad_model()));
  EXPECT_NE(r.out.find("noise.wav: no speech detected"), std::string::npos) << r.out;

  sh("sox -n -r 16000 -c 1 -b 16 " + q(home / "silence.wav") + " trim 0 4");
  r = run_thoth("transcribe --vad-model " + vad_model() + " -m " + model() + kQuick + "--srt " + q(home / "silence.wav"),
                false, env_in(home));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");

  // Ungated (--no-vad, or vad.enabled false in the config) the engine invents text from noise.
  r = run_thoth("transcribe --no-vad -m " + model() + kQuick + noise, false, env_in(home, vad_model()));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out, "");
  sh("echo '{\"vad\": {\"enabled\": false}}' > " + q(home / "config.json"));
  const CliRun off = run_thoth("transcribe -m " + model() + kQuick + noise, false, env_in(home, vad_model()));
  EXPECT_EQ(off.exit_code, 0);
  EXPECT_EQ(off.out, r.out);
}

TEST(TranscribeCliVad, MissingModelWarnsUnlessVadWasAskedFor) {
  test::ScratchDir home;
  const std::string noise = q(test::shared_file("speech/noise.wav"));
  // Not asked for: one warning line, then the file ungated, as with --no-vad.
  const CliRun warned = run_thoth("transcribe -m " + model() + kQuick + noise, true, env_in(home));
  EXPECT_EQ(warned.exit_code, 0);
  const std::string first_line = warned.out.substr(0, warned.out.find('\n'));
  EXPECT_EQ(first_line.rfind("thoth: warning: no VAD model found", 0), 0u) << warned.out;
  EXPECT_NE(first_line.find("without voice activity detection"), std::string::npos) << warned.out;
  EXPECT_EQ(warned.out.find("thoth:", 1), std::string::npos) << warned.out;
  EXPECT_GT(warned.out.size(), first_line.size() + 2);  // the ungated text follows
  // --vad insists.
  CliRun r = run_thoth("transcribe --vad -m " + model() + kQuick + noise, true, env_in(home));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no VAD model found"), std::string::npos) << r.out;
  r = run_thoth("transcribe --vad --vad-model " + q(home / "nope.bin") + " -m " + model() + kQuick + noise, true,
                env_in(home));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("nope.bin"), std::string::npos) << r.out;
  r = run_thoth("transcribe --vad --no-vad -m " + model() + " " + noise, true, env_in(home));
  EXPECT_NE(r.exit_code, 0);
}

// Speech, 8 s of silence, speech: text comes out, and its times are those of the file.
TEST(TranscribeCliVad, LongPauseKeepsOriginalTimes) {
  test::ScratchDir dir;
  sh("espeak-ng -v en-us -s 150 -w " + q(dir / "a.wav") + " 'The quick brown fox jumps over the lazy dog.'");
  sh("espeak-ng -v en-us -s 150 -w " + q(dir / "b.wav") + " 'Tomorrow we will climb the highest mountain.'");
  sh("sox " + q(dir / "a.wav") + " -r 16000 -c 1 -b 16 " + q(dir / "a16.wav") + " pad 0 8");
  sh("sox " + q(dir / "b.wav") + " -r 16000 -c 1 -b 16 " + q(dir / "b16.wav"));
  sh("sox " + q(dir / "a16.wav") + " " + q(dir / "b16.wav") + " " + q(dir / "both.wav"));
  sh("soxi -D " + q(dir / "a16.wav") + " " + q(dir / "both.wav") + " > " + q(dir / "lengths.txt"));
  const std::string lengths = read_text(dir / "lengths.txt");
  double first_s = 0, total_s = 0;
  ASSERT_EQ(std::sscanf(lengths.c_str(), "%lf %lf", &first_s, &total_s), 2) << lengths;
  const double second_onset_ms = first_s * 1000;

  const CliRun r = run_thoth("transcribe -v -m " + model() + kQuick + "--json " + q(dir / "both.wav"), false,
                             env_in(dir, vad_model()));
  ASSERT_EQ(r.exit_code, 0);
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["segments"].empty());
  std::string text;
  int64_t prev = 0;
  for (const auto& s : j["segments"]) {
    text += s["text"].get<std::string>();
    EXPECT_GE(s["start_ms"].get<int64_t>(), prev);
    EXPECT_GE(s["end_ms"].get<int64_t>(), s["start_ms"].get<int64_t>());
    prev = s["end_ms"].get<int64_t>();
  }
  EXPECT_FALSE(text.empty());
  // The engine heard about 7 s; the transcript reaches into the second sentence, after the pause.
  EXPECT_GE(double(j["segments"].back()["end_ms"].get<int64_t>()), second_onset_ms);
  EXPECT_LE(double(j["segments"].back()["end_ms"].get<int64_t>()), total_s * 1000 + 20);
}

}  // namespace
}  // namespace thoth
