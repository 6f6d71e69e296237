// `thoth transcribe` end to end: real audio, a real model, every output format.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <array>
#include <cstdio>

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
  const CliRun r = run_thoth("transcribe -m " + model() + " --beam-size 1 --best-of 1 --no-fallback --json " + jfk());
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
  const CliRun r = run_thoth("transcribe -m " + model("mini-f16.bin") + " -l auto --beam-size 1 --no-fallback --json " + jfk());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["language"], "lb");  // the golden oracle's answer for this random-weight model
  EXPECT_NEAR(j["language_prob"].get<double>(), 0.611577, 0.02);
}

}  // namespace
}  // namespace thoth
