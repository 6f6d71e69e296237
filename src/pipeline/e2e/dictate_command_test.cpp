// `thoth devices` and `thoth dictate` as a user runs them, against a PulseAudio server
// started by the test (the binary finds it through PULSE_SERVER, inherited).
#include <gtest/gtest.h>
#include <signal.h>
#include <sndfile.h>

#include <cstdio>
#include <filesystem>

#include "store/history.h"
#include "support/process.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"

namespace {

using thoth::test::PulseServer;
using thoth::test::run_thoth;
using thoth::test::RunOptions;
using thoth::test::ScratchDir;

std::string mini_model() { return thoth::test::shared_file("models/mini.en-f16.bin").string(); }


// Records for a fixed time while speech plays, transcribes with our engine, prints the
// text, keeps the WAV in the recordings dir and stores the run in the history.
TEST(DictateCommand, RecordsForSecondsAndKeepsTheWavAndHistory) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir home;
  RunOptions o;
  o.env["THOTH_HOME"] = home.path().string();
  // Greedy decoding keeps the random-weight model quick; the engine has its own tests.
  std::filesystem::create_directories(home.path());
  std::FILE* conf = std::fopen((home / "config.json").c_str(), "w");
  std::fputs("{\"transcription\": {\"beam_size\": 1}}", conf);
  std::fclose(conf);
  o.timeout = std::chrono::milliseconds(300000);
  o.env["THOTH_VAD_MODEL"] = thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string();  // gated, as users run it
  const pid_t player = server->play_async(thoth::test::shared_file("speech/jfk.wav"));
  auto r = run_thoth({"dictate", "--now", "--seconds", "4", "--device", PulseServer::kMonitor, "--model", mini_model()}, o);
  kill(player, SIGTERM);
  PulseServer::wait_player(player);
  EXPECT_NE(r.err.find("Recording to " + (home.path() / "recordings").string()), std::string::npos) << r.err;

  std::vector<std::filesystem::path> wavs;
  for (const auto& e : std::filesystem::directory_iterator(home / "recordings")) wavs.push_back(e.path());
  ASSERT_EQ(wavs.size(), 1u);
  SF_INFO info{};
  SNDFILE* f = sf_open(wavs[0].c_str(), SFM_READ, &info);
  ASSERT_NE(f, nullptr);
  sf_close(f);
  EXPECT_EQ(info.samplerate, 16000);
  EXPECT_GT(info.frames, 16000);

  auto store = thoth::store::HistoryStore::open(home / "history.db");
  ASSERT_TRUE(store) << store.error();
  auto rows = store->search({});
  ASSERT_TRUE(rows) << rows.error();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).audio_path, wavs[0].string());
  EXPECT_GT(rows->at(0).audio_duration_s, 1.0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rows->at(0).status, thoth::store::DictationStatus::completed);
  EXPECT_EQ(rows->at(0).text + "\n", r.out);
  EXPECT_EQ(rows->at(0).transcription_model, "mini.en-f16.bin");
}

// Nothing is said: the engine is not run, nothing is printed, and the history keeps the
// recording under the no-speech status.
TEST(DictateCommand, SilenceIsNoSpeechWithTheRecordingKept) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir home;
  RunOptions o;
  o.env["THOTH_HOME"] = home.path().string();
  o.env["THOTH_VAD_MODEL"] = thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string();
  o.timeout = std::chrono::milliseconds(300000);
  auto r = run_thoth({"dictate", "--now", "--seconds", "3", "--device", PulseServer::kMonitor, "--model", mini_model()}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("no speech detected; nothing typed"), std::string::npos) << r.err;

  auto store = thoth::store::HistoryStore::open(home / "history.db");
  ASSERT_TRUE(store) << store.error();
  auto rows = store->search({});
  ASSERT_TRUE(rows) << rows.error();
  ASSERT_EQ(rows->size(), 1u);
  const auto& row = rows->at(0);
  EXPECT_EQ(row.status, thoth::store::DictationStatus::no_speech);
  EXPECT_EQ(row.text, "");
  // An idle sink's monitor starts late (up to its latency): some audio, not all 3 s.
  EXPECT_GT(row.audio_duration_s, 0.0);
  EXPECT_TRUE(std::filesystem::exists(row.audio_path)) << row.audio_path;
  EXPECT_NE(r.err.find(row.audio_path), std::string::npos) << r.err;
  // `thoth history` says so too.
  auto listed = run_thoth({"history"}, o);
  EXPECT_NE(listed.out.find("no-speech"), std::string::npos) << listed.out << listed.err;
}

}  // namespace
