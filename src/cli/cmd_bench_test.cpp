// `thoth bench` end to end on the small shared model: the figures exist and are positive
// (never how fast: timings on a loaded CI machine say nothing).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "support/process.h"
#include "support/shared_data.h"

namespace thoth {
namespace {

using nlohmann::json;

std::string shared(const std::string& rel) { return test::shared_file(rel).string(); }

void expect_positive(const json& j, const char* key) {
  ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
  ASSERT_TRUE(j[key].is_number()) << key;
  EXPECT_GT(j[key].get<double>(), 0.0) << key;
}

void expect_model_figures(const json& m) {
  for (const char* k : {"load_ms", "mel_ms", "encoder_ms", "encoder_ms_min", "encoder_gflop", "encoder_gflops",
                        "encoder_peak_percent", "decoder_ms_per_token", "decoder_bytes_per_token", "decoder_gb_per_s",
                        "decoder_stream_gb_per_s", "decoder_bandwidth_percent", "peak_rss_mb", "threads"})
    expect_positive(m, k);
  EXPECT_EQ(m["decoder_tokens"], 4);
  EXPECT_EQ(m["encoder_windows"], 1);
}

TEST(BenchCli, JsonHasEveryFigureForOneModel) {
  const auto r = test::run_thoth({"bench", "--model", shared("models/mini.en-f16.bin"), "--windows", "1", "--tokens",
                                  "4", "--threads", "2", "--audio", shared("speech/jfk.wav"), "--json"},
                                 {.timeout = std::chrono::minutes(5)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  const json& machine = j["machine"];
  for (const char* k : {"cores", "logical_cpus", "f32_lanes", "fma_units", "clock_ghz", "peak_gflops", "core_peak_gflops",
                        "memory_read_gb_per_s"})
    expect_positive(machine, k);
  EXPECT_FALSE(machine["cpu_model"].get<std::string>().empty());
  EXPECT_FALSE(machine["isa"].get<std::string>().empty());
  ASSERT_EQ(j["models"].size(), 1u);
  const json& m = j["models"][0];
  expect_model_figures(m);
  EXPECT_EQ(m["weights"], "f16");
  ASSERT_TRUE(m["e2e"].is_object());
  for (const char* k : {"audio_s", "wall_ms", "rtf", "tokens"}) expect_positive(m["e2e"], k);
}

TEST(BenchCli, SeveralModelsRunInTheirOwnProcesses) {
  const auto r = test::run_thoth({"bench", "--model", shared("models/mini.en-f16.bin"), "--model",
                                  shared("models/mini.en-q5_1.bin"), "--windows", "1", "--tokens", "4", "--threads", "1",
                                  "--rss-audio", shared("speech/jfk.wav"), "--json"},
                                 {.timeout = std::chrono::minutes(5)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["models"].size(), 2u);
  EXPECT_EQ(j["models"][0]["weights"], "f16");
  EXPECT_EQ(j["models"][1]["weights"], "q5_1");
  for (const auto& m : j["models"]) {
    expect_model_figures(m);
    EXPECT_TRUE(m["e2e"].is_null());
    // The transcription's own process: the model and one file's decoding, not the stages.
    expect_positive(m, "transcription_rss_mb");
    EXPECT_EQ(m["transcription_rss_audio"], shared("speech/jfk.wav"));
  }
}

TEST(BenchCli, TranscriptionRssOfAMissingFileIsAnError) {
  const auto r = test::run_thoth({"bench", "--model", shared("models/mini.en-f16.bin"), "--windows", "1", "--tokens",
                                  "4", "--threads", "1", "--rss-audio", "/nonexistent/x.wav"},
                                 {.timeout = std::chrono::minutes(5)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("x.wav"), std::string::npos) << r.err;
}

TEST(BenchCli, TextOutputNamesTheCpuAndKernels) {
  const auto r = test::run_thoth({"bench", "--model", shared("models/mini.en-q8_0.bin"), "--windows", "1", "--tokens",
                                  "4", "--threads", "1"},
                                 {.timeout = std::chrono::minutes(5)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CPU:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Kernels:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mini.en-q8_0.bin"), std::string::npos) << r.out;
}

TEST(BenchCli, WithoutAModelIsAUsageError) {
  const auto r = test::run_thoth({"bench"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
}

TEST(BenchCli, AnUnknownKernelVariantIsAnErrorAtStartUp) {
  const auto r = test::run_thoth({"bench", "--model", shared("models/mini.en-f16.bin")},
                                 {.env = {{"THOTH_KERNELS", "sse9"}}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("THOTH_KERNELS=sse9"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace thoth
