// `thoth vad` end to end: the real binary on the shared speech files.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "support/shared_data.h"

namespace {

struct CliRun {
  int status = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

CliRun run_thoth(const std::string& args, const std::string& env = "") {
  thoth::test::ScratchDir dir;
  const auto err_file = dir / "stderr";
  const std::string cmd = env + " " + quote(thoth::test::thoth_binary().string()) + " " + args + " 2>" +
                          quote(err_file.string());
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

std::string model() { return quote(thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string()); }
std::string speech(const std::string& name) { return quote(thoth::test::shared_file("speech/" + name).string()); }

TEST(CmdVad, PrintsSegmentsInSeconds) {
  const CliRun r = run_thoth("vad " + speech("jfk.wav") + " --model " + model());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "0.32 2.27\n3.27 4.41\n5.38 7.68\n8.16 10.62\n");
}

TEST(CmdVad, JsonInMilliseconds) {
  const CliRun r = run_thoth("vad --json " + speech("jfk.wav"), "THOTH_VAD_MODEL=" + model());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"segments\": [{\"start_ms\": 320, \"end_ms\": 2270}, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"start_ms\": 8160, \"end_ms\": 10620}]"), std::string::npos) << r.out;
  const CliRun noise = run_thoth("vad --json " + speech("noise.wav") + " -m " + model());
  ASSERT_EQ(noise.status, 0) << noise.err;
  EXPECT_EQ(noise.out, "{\"duration_ms\": 5000, \"segments\": []}\n");
}

TEST(CmdVad, FindsTheModelInTheModelsDir) {
  thoth::test::ScratchDir home;
  std::filesystem::create_directories(home / "models");
  std::filesystem::copy_file(thoth::test::shared_file("models/silero-v6.2.0-ggml.bin"),
                             home / "models" / "ggml-silero-v6.2.0.bin");
  const CliRun r = run_thoth("vad " + speech("jfk.wav"), "THOTH_HOME=" + quote(home.path().string()) + " THOTH_VAD_MODEL=");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 10), "0.32 2.27\n");
}

TEST(CmdVad, ClearErrors) {
  thoth::test::ScratchDir home;
  const std::string env = "THOTH_HOME=" + quote(home.path().string()) + " THOTH_VAD_MODEL= THOTH_MODEL_PATH=";
  CliRun r = run_thoth("vad " + speech("jfk.wav"), env);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no VAD model found: pass --model PATH"), std::string::npos) << r.err;

  r = run_thoth("vad " + speech("jfk.wav") + " -m " + quote(thoth::test::shared_file("models/mini.en-f16.bin").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("this is a Whisper model, not a Silero VAD model"), std::string::npos) << r.err;

  r = run_thoth("vad " + quote((home / "missing.wav").string()) + " -m " + model());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("missing.wav"), std::string::npos) << r.err;

  r = run_thoth("vad " + speech("jfk.wav") + " -m " + model() + " --threshold 1.5");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("threshold must be between 0 and 1 (got 1.5)"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
