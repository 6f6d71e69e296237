// The daemon as a user runs it: the real `thoth daemon` process, its control socket driven
// by the real `thoth` client commands, its HTTP API by a real HTTP client, dictations
// recorded from a private PulseAudio server through the real pipeline and our engine.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "audio/audio_file.h"
#include "models/test_model_server.h"
#include "server/control.h"
#include "store/history.h"
#include "support/background.h"
#include "support/ollama_stand_in.h"
#include "support/process.h"
#include "support/pulse_server.h"
#include "support/session_bus.h"
#include "support/shared_data.h"
#include "support/signal_match.h"
#include "support/tray_host.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using thoth::test::PulseServer;
using thoth::test::run_thoth;
using thoth::test::ScratchDir;

using thoth::test::eventually;
using Background = thoth::test::BackgroundThoth;
std::string slurp(const std::filesystem::path& p) { return thoth::test::read_text_file(p); }

std::string mini_model() { return thoth::test::shared_file("models/mini.en-f16.bin").string(); }

struct TwoUtterances;  // hands-free tests' speech, below

// A fresh THOTH_HOME for the test and the processes it starts.
class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("THOTH_HOME", home_.path().c_str(), 1);
    setenv("DISPLAY", ":987", 1);  // no X server: typing fails clearly, the text stays
    unsetenv("WAYLAND_DISPLAY");
  }
  void TearDown() override {
    daemon_.reset();
    unsetenv("THOTH_HOME");
  }

  void start_pulse() {
    std::string error;
    pulse_ = PulseServer::start(&error);
    ASSERT_TRUE(pulse_) << error;
  }

  // Starts `thoth daemon` on a free port and waits until its socket answers.
  void start_daemon(std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args{"daemon", "--model", mini_model(), "--port", "0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    daemon_ = std::make_unique<Background>(args);
    ASSERT_GT(daemon_->pid(), 0);
    ASSERT_TRUE(eventually([&] { return thoth::server::control_request(json{{"cmd", "status"}}).ok() || !daemon_->alive(); }))
        << daemon_->err();
    ASSERT_TRUE(daemon_->alive()) << daemon_->err();
    status_ = thoth::server::control_request(json{{"cmd", "status"}}).value()["status"];
    port_ = status_["http_port"];
    token_ = slurp(home_ / "api-token");
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
  }

  json status() {
    auto r = run_thoth({"status", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  std::vector<thoth::store::HistoryEntry> history() {
    auto store = thoth::store::HistoryStore::open(home_ / "history.db");
    EXPECT_TRUE(store) << store.error();
    auto rows = store->search({});
    EXPECT_TRUE(rows) << rows.error();
    return rows ? *rows : std::vector<thoth::store::HistoryEntry>{};
  }

  std::vector<thoth::store::HistoryEntry> hands_free_dictations_of(const TwoUtterances& speech);

  httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_bearer_token_auth(token_.c_str());
    c.set_read_timeout(60, 0);
    return c;
  }

  ScratchDir home_;
  std::unique_ptr<PulseServer> pulse_;
  std::unique_ptr<Background> daemon_;
  json status_;
  int port_ = 0;
  std::string token_;
};

// ---------------------------------------------------------------- control socket

TEST_F(DaemonTest, ClientWithoutDaemonPrintsOneClearLine) {
  for (const char* cmd : {"status", "toggle", "start", "stop", "cancel", "events"}) {
    auto r = run_thoth({cmd});
    EXPECT_EQ(r.exit_code, 1) << cmd;
    EXPECT_EQ(r.err, "thoth: no daemon running; start it with `thoth daemon`\n") << cmd;
  }
}

TEST_F(DaemonTest, SecondStartIsRefusedNamingTheFirst) {
  start_daemon();
  auto r = run_thoth({"daemon", "--model", mini_model(), "--port", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already running"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(daemon_->pid())), std::string::npos) << r.err;
  EXPECT_NE(r.err.find((home_ / "run" / "control.sock").string()), std::string::npos) << r.err;
  // The refused start left the first one intact.
  EXPECT_EQ(status()["pid"], daemon_->pid());
}

TEST_F(DaemonTest, StatusAndPrivateFiles) {
  start_daemon();
  const json s = status();
  EXPECT_EQ(s["state"], "idle");
  EXPECT_EQ(s["running"], false);
  EXPECT_EQ(s["pid"], daemon_->pid());
  EXPECT_EQ(s["model_loaded"], false);  // loaded on the first dictation, not at start
  EXPECT_GT(s["http_port"].get<int>(), 0);
  struct stat st{};
  ASSERT_EQ(stat((home_ / "run" / "control.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((home_ / "api-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_GE(token_.size(), 32u);
  auto text = run_thoth({"status"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("state: idle"), std::string::npos) << text.out;
}

TEST_F(DaemonTest, MissingModelFailsAtStartNamingIt) {
  thoth::test::RunOptions o;
  o.env["THOTH_MODEL_PATH"] = std::nullopt;
  auto r = run_thoth({"daemon", "--model", "no-such-model", "--port", "0"}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no-such-model"), std::string::npos) << r.err;
}

// The tray icon, with a tray host on a private session bus as a panel would be: it follows
// the dictation, and its middle click starts one.
TEST_F(DaemonTest, TrayIconFollowsTheDictationAndItsMiddleClickStartsOne) {
  std::string error;
  auto session = thoth::test::SessionBus::start(&error);
  ASSERT_TRUE(session) << error;
  auto host = thoth::test::TrayHost::start(*session, &error);
  ASSERT_TRUE(host) << error;
  start_pulse();
  start_daemon();
  ASSERT_TRUE(eventually([&] { return !host->items().empty(); })) << daemon_->err();
  const std::string item = host->items().front();
  EXPECT_EQ(host->property(item, "Status"), "Active");
  EXPECT_EQ(host->tooltip(item), "Thoth: ready | Hold Ctrl+Alt+Space to dictate");

  ASSERT_TRUE(host->click(item, "SecondaryActivate"));
  ASSERT_TRUE(eventually([&] { return status()["state"] == "recording"; }));
  EXPECT_TRUE(eventually([&] { return host->property(item, "IconName") == "media-record"; }));
  EXPECT_EQ(host->tooltip(item), "Thoth: recording | Hold Ctrl+Alt+Space to dictate");

  auto r = run_thoth({"cancel"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Cancelled is not failed: back to ready.
  EXPECT_TRUE(eventually([&] { return host->property(item, "IconName") == "audio-input-microphone"; }));
  EXPECT_EQ(host->property(item, "Status"), "Active");
}

TEST_F(DaemonTest, ToggleCancelAndEventStream) {
  start_pulse();
  start_daemon();
  Background events({"events"});
  // The stream opens with the state it joined in.
  ASSERT_TRUE(eventually([&] { return events.out().find("daemon-status") != std::string::npos; })) << events.err();

  auto r = run_thoth({"toggle"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "recording\n");
  EXPECT_EQ(status()["state"], "recording");
  // A second start while one runs is refused.
  r = run_thoth({"start"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already running"), std::string::npos) << r.err;

  // The level meter reaches the stream while recording.
  EXPECT_TRUE(eventually([&] { return events.out().find("input-level") != std::string::npos; })) << events.out();
  r = run_thoth({"cancel"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "cancelled\n");
  ASSERT_TRUE(eventually([&] { return status()["state"] == "idle"; }));
  r = run_thoth({"cancel"});
  EXPECT_EQ(r.out, "nothing to cancel\n");
  r = run_thoth({"stop"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not recording"), std::string::npos) << r.err;

  // The cancelled run is in the history with its audio.
  auto rows = history();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, thoth::store::DictationStatus::cancelled);
  EXPECT_TRUE(std::filesystem::exists(rows[0].audio_path)) << rows[0].audio_path;

  ASSERT_TRUE(eventually([&] { return events.out().find("\"Cancelled\"") != std::string::npos; })) << events.out();
  EXPECT_EQ(events.signal_and_wait(SIGINT), 0);
  std::vector<json> lines;
  std::istringstream in(events.out());
  for (std::string line; std::getline(in, line);) {
    lines.push_back(json::parse(line, nullptr, false));
    ASSERT_FALSE(lines.back().is_discarded()) << line;
  }
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0]["event"], "daemon-status");
  bool saw_recording = false;
  for (const auto& l : lines)
    if (l["event"] == "pipeline-progress" && l["state"] == "recording") saw_recording = true;
  EXPECT_TRUE(saw_recording) << events.out();
  EXPECT_EQ(lines.back()["state"], "idle");
}

TEST_F(DaemonTest, DictationTranscribesWithTheSharedModel) {
  start_pulse();
  start_daemon();
  const auto jfk = thoth::test::shared_file("speech/jfk.wav");
  for (int run = 0; run < 2; ++run) {
    ASSERT_EQ(run_thoth({"toggle"}).exit_code, 0);
    ASSERT_EQ(pulse_->play(jfk), 0);
    auto r = run_thoth({"toggle"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "transcribing\n");
    ASSERT_TRUE(eventually([&] { return status()["state"] == "idle"; }, 120s));
  }
  EXPECT_EQ(status()["model_loaded"], true);
  // No X display here, so typing failed: both runs kept their audio and their text.
  auto rows = history();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.status, thoth::store::DictationStatus::failed);
    EXPECT_NE(row.error.find(":987"), std::string::npos) << row.error;
    EXPECT_FALSE(row.raw_text.empty());
    EXPECT_EQ(row.transcription_model, "mini.en-f16.bin");
    EXPECT_TRUE(std::filesystem::exists(row.audio_path));
    EXPECT_GE(row.audio_duration_s, 10.5);  // jfk.wav is 11.0 s, played while recording
  }
}

// audio.keep_stream_warm (the default) with audio.pre_roll_ms: once the stream is warm, a
// recording begins with the audio from just before the start.
TEST_F(DaemonTest, PreRollKeepsTheSecondBeforeTheStart) {
  std::ofstream(home_ / "config.json") << R"({"audio": {"pre_roll_ms": 1000}})";
  start_pulse();
  start_daemon();
  // The first dictation opens the warm stream.
  ASSERT_EQ(run_thoth({"start"}).exit_code, 0);
  ASSERT_EQ(run_thoth({"cancel"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return status()["state"] == "idle"; }));
  // Speech plays while nothing records; the start comes 4 s in (the null sink's monitor
  // delivers nothing until the player is up, which takes a while on a loaded machine).
  const pid_t player = pulse_->play_async(thoth::test::shared_file("speech/long-en.wav"));
  std::this_thread::sleep_for(4s);
  ASSERT_EQ(run_thoth({"start"}).exit_code, 0);
  ASSERT_EQ(run_thoth({"cancel"}).exit_code, 0);
  kill(player, SIGTERM);
  PulseServer::wait_player(player);
  ASSERT_TRUE(eventually([&] { return status()["state"] == "idle"; }));
  auto rows = history();
  ASSERT_EQ(rows.size(), 2u);
  auto pcm = thoth::audio::load_audio_16k_mono(rows[0].audio_path);
  ASSERT_TRUE(pcm) << pcm.error();
  std::string profile;
  for (size_t i = 0; i + 1600 <= pcm->size(); i += 1600) {
    double e = 0;
    for (size_t j = i; j < i + 1600; ++j) e += double((*pcm)[j]) * (*pcm)[j];
    profile += std::to_string(int(10 * std::log10(e / 1600 + 1e-20))) + " ";
  }
  // The full second of pre-roll, and it holds the speech from before the start.
  ASSERT_GE(pcm->size(), 16000u) << profile << " rows[1] " << rows[1].audio_duration_s;
  double sq = 0;
  for (size_t i = 0; i < 16000; ++i) sq += double((*pcm)[i]) * (*pcm)[i];
  const double rms_dbfs = 10 * std::log10(sq / 16000 + 1e-20);
  EXPECT_GT(rms_dbfs, -40.0);
}

TEST_F(DaemonTest, SigtermFinishesTheRecordingAndExitsCleanly) {
  start_pulse();
  start_daemon();
  ASSERT_EQ(run_thoth({"start"}).exit_code, 0);
  ASSERT_EQ(pulse_->play(thoth::test::shared_file("speech/jfk.wav")), 0);
  EXPECT_EQ(daemon_->signal_and_wait(SIGTERM, 120s), 0) << daemon_->err();
  EXPECT_NE(daemon_->err().find("daemon stopped"), std::string::npos) << daemon_->err();
  EXPECT_FALSE(std::filesystem::exists(home_ / "run" / "control.sock"));
  // on_shutdown=finish: the recording was transcribed (typing failed: no display).
  auto rows = history();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, thoth::store::DictationStatus::failed);
  EXPECT_FALSE(rows[0].raw_text.empty());
  EXPECT_TRUE(std::filesystem::exists(rows[0].audio_path));
  // The instance lock went with it: a new daemon starts.
  start_daemon();
}

TEST_F(DaemonTest, SigtermWithDiscardCancelsButKeepsTheAudio) {
  std::ofstream(home_ / "config.json") << R"({"daemon": {"on_shutdown": "discard"}})";
  start_pulse();
  start_daemon();
  Background events({"events"});
  ASSERT_TRUE(eventually([&] { return events.out().find("daemon-status") != std::string::npos; })) << events.err();
  ASSERT_EQ(run_thoth({"start"}).exit_code, 0);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(daemon_->signal_and_wait(SIGINT, 60s), 0) << daemon_->err();
  // The stream saw the run end, then ended with the daemon.
  EXPECT_EQ(events.signal_and_wait(0, 30s), 0) << events.err();
  EXPECT_NE(events.out().find("\"Cancelled\""), std::string::npos) << events.out();
  auto rows = history();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, thoth::store::DictationStatus::cancelled);
  EXPECT_TRUE(std::filesystem::exists(rows[0].audio_path));
}

// ---------------------------------------------------------------- hands-free

// 20 ms frames louder than -40 dBFS, merged across gaps shorter than `max_gap_frames`: the
// utterances a recording holds, as [first, last] frame spans.
std::vector<std::pair<size_t, size_t>> voiced_runs(const std::vector<float>& pcm, size_t max_gap_frames = 30) {
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t f = 0; (f + 1) * 320 <= pcm.size(); ++f) {
    double e = 0;
    for (size_t i = f * 320; i < (f + 1) * 320; ++i) e += double(pcm[i]) * pcm[i];
    if (10 * std::log10(e / 320 + 1e-20) < -40) continue;
    if (!runs.empty() && f - runs.back().second <= max_gap_frames) runs.back().second = f;
    else runs.push_back({f, f});
  }
  return runs;
}

// Two utterances for hands-free tests: "Please open the door.", 3 s of silence, "Thank you
// very much.", 3 s of silence (the second dictation's auto-stop needs 1.2 s of it), after
// half a second of silence (the player's start-up).
struct TwoUtterances {
  ScratchDir dir;
  std::vector<float> a, b;  // each alone, 16 kHz mono
  std::filesystem::path both() const { return dir / "both.wav"; }
};

std::unique_ptr<TwoUtterances> make_two_utterances() {
  auto u = std::make_unique<TwoUtterances>();
  const auto q = [&](const char* name) {
    std::string quoted = "'";  // built up piecewise: GCC 12 warns falsely on "'" + string
    quoted += (u->dir / name).string();
    quoted += "'";
    return quoted;
  };
  for (const std::string& cmd :
       {"espeak-ng -v en-us -s 150 -w " + q("a.wav") + " 'Please open the door.'",
        "espeak-ng -v en-us -s 150 -w " + q("b.wav") + " 'Thank you very much.'",
        "sox " + q("a.wav") + " -r 16000 -c 1 -b 16 " + q("a16.wav"),
        "sox " + q("b.wav") + " -r 16000 -c 1 -b 16 " + q("b16.wav"),
        "sox " + q("a16.wav") + " " + q("a_padded.wav") + " pad 0.5 3",
        "sox " + q("b16.wav") + " " + q("b_padded.wav") + " pad 0 3",
        "sox " + q("a_padded.wav") + " " + q("b_padded.wav") + " " + q("both.wav")}) {
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << cmd;
      return nullptr;
    }
  }
  auto a = thoth::audio::load_audio_16k_mono((u->dir / "a16.wav").string());
  auto b = thoth::audio::load_audio_16k_mono((u->dir / "b16.wav").string());
  if (!a || !b) {
    ADD_FAILURE() << "the utterances cannot be read";
    return nullptr;
  }
  u->a = std::move(*a);
  u->b = std::move(*b);
  return u;
}

// A hands-free dictation's recording holds `own` whole and nothing of `other`: one utterance,
// from a little before its first sound (the padding) to the padding after its last.
void expect_one_utterance(const thoth::store::HistoryEntry& row, const std::vector<float>& own,
                          const std::vector<float>& other) {
  auto pcm = thoth::audio::load_audio_16k_mono(row.audio_path);
  ASSERT_TRUE(pcm) << pcm.error();
  const auto runs = voiced_runs(*pcm);
  std::string shape;
  for (auto [a, b] : runs) {  // piecewise: GCC 12 warns falsely on "[" + string here
    shape += '[';
    shape += std::to_string(a * 20);
    shape += '-';
    shape += std::to_string(b * 20);
    shape += " ms] ";
  }
  // One utterance, not both and not a fragment.
  ASSERT_EQ(runs.size(), 1u) << shape << "of " << pcm->size() / 16 << " ms";
  const double voiced_s = double(runs[0].second - runs[0].first + 1) * 0.02;
  const auto own_runs = voiced_runs(own);
  ASSERT_FALSE(own_runs.empty());
  const double own_s = double(own_runs[0].second - own_runs[0].first + 1) * 0.02;
  EXPECT_NEAR(voiced_s, own_s, 0.3) << shape;
  // The padding: the recording starts before the first sound (>= 100 ms of it kept).
  EXPECT_GE(runs[0].first * 20, 100u) << shape;
  // It ends where the words did plus the padding (300 ms; the VAD places the end within a
  // few 32 ms chunks of the last faint sound), not where the auto-stop silence was noticed,
  // however late the stop is acted on.
  const double tail_s = double(pcm->size()) / 16000 - double(runs[0].second + 1) * 0.02;
  EXPECT_GE(tail_s, 0.1) << shape;
  EXPECT_LE(tail_s, 0.6) << shape;
  // It is the utterance played for it, and not the other one.
  const auto matched = thoth::test::best_alignment(*pcm, own, long(pcm->size()));
  const auto mismatched = thoth::test::best_alignment(*pcm, other, long(pcm->size()));
  EXPECT_GT(matched.ncc, 0.6) << shape;
  EXPECT_LT(mismatched.ncc, matched.ncc - 0.2) << shape;
  EXPECT_FALSE(row.raw_text.empty());
}

// Waits for the two utterances' hands-free dictations to be done (typing fails: no display;
// the text and audio stay) and checks that each holds its own utterance; on any failure the
// daemon's log follows. The dictations in order, or none if they did not come.
std::vector<thoth::store::HistoryEntry> DaemonTest::hands_free_dictations_of(const TwoUtterances& speech) {
  if (!eventually([&] { return history().size() == 2 && status()["state"] == "idle"; }, 180s)) {
    ADD_FAILURE() << history().size() << " dictations; " << daemon_->err();
    return {};
  }
  auto rows = history();
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  {
    SCOPED_TRACE("dictation 1");
    expect_one_utterance(rows[0], speech.a, speech.b);
  }
  {
    SCOPED_TRACE("dictation 2");
    expect_one_utterance(rows[1], speech.b, speech.a);
  }
  if (HasFailure()) ADD_FAILURE() << "the daemon's log:\n" << daemon_->err();
  return rows;
}

json hands_free_config() {
  return json{{"hands_free", {{"enabled", true}}},
              {"vad", {{"model", thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string()}}}};
}

// Hands-free mode from the config, on the virtual microphone: speech, a 3 s pause, speech
// gives two dictations, each holding its own utterance from a little before its first sound.
TEST_F(DaemonTest, HandsFreeSpeechPauseSpeechGivesTwoDictations) {
  std::ofstream(home_ / "config.json") << hands_free_config().dump();
  const auto speech = make_two_utterances();
  ASSERT_TRUE(speech);

  start_pulse();
  start_daemon({"-vv"});
  EXPECT_EQ(status_["hands_free"], true) << status_.dump();  // hands_free.enabled honoured at start
  Background events({"events"});
  ASSERT_TRUE(eventually([&] { return events.out().find("daemon-status") != std::string::npos; })) << events.err();

  ASSERT_EQ(pulse_->play(speech->both()), 0);
  ASSERT_EQ(hands_free_dictations_of(*speech).size(), 2u);

  // The switch: the CLI, the HTTP API, status and the event stream agree.
  auto r = run_thoth({"hands-free", "off"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hands-free: off\n");
  EXPECT_EQ(status()["hands_free"], false);
  r = run_thoth({"hands-free", "toggle"});
  EXPECT_EQ(r.out, "hands-free: on\n");
  auto c = client();
  auto h = c.Post("/api/hands-free", R"({"enabled": false})", "application/json");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200) << h->body;
  EXPECT_EQ(json::parse(h->body)["hands_free"], false);
  auto st = c.Get("/api/status");
  ASSERT_TRUE(st);
  EXPECT_EQ(json::parse(st->body)["hands_free"], false);
  h = c.Post("/api/hands-free", R"({"on": 1})", "application/json");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 400);
  r = run_thoth({"hands-free", "status"});
  EXPECT_EQ(r.out, "hands-free: off\n");
  r = run_thoth({"hands-free", "sideways"});
  EXPECT_NE(r.exit_code, 0);
  // Off: speech starts nothing.
  ASSERT_EQ(pulse_->play(speech->dir / "a_padded.wav"), 0);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(status()["state"], "idle");
  EXPECT_EQ(history().size(), 2u);
  ASSERT_TRUE(eventually([&] { return events.out().find("\"hands-free\"") != std::string::npos; })) << events.out();
}

// Speech that begins while the previous hands-free dictation is still being processed (here
// its LLM polishing takes 20 s, longer than the 15 s of audio the stream retains anyway) waits
// for its own dictation, and none of it is lost meanwhile: it is recorded whole once that
// dictation can start.
TEST_F(DaemonTest, HandsFreeSpeechDuringASlowDictationIsKeptWhole) {
  thoth::test::OllamaStandIn llm("Polished.", 20s);
  json config = hands_free_config();
  config["enhancement"] = {{"enabled", true}, {"base_url", llm.url()}, {"timeout_ms", 60000}};
  std::ofstream(home_ / "config.json") << config.dump();
  const auto speech = make_two_utterances();
  ASSERT_TRUE(speech);

  start_pulse();
  start_daemon({"-vv"});
  ASSERT_EQ(pulse_->play(speech->both()), 0);
  // The second speech ended while the first dictation was still being processed (its
  // polishing alone outlasts what the stream retains).
  EXPECT_EQ(history().size(), 0u);
  const auto rows = hands_free_dictations_of(*speech);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) EXPECT_EQ(row.text, "Polished.");
}

// While a dictation started by command runs, speech starts no hands-free dictation and the
// listener does not stop the other one.
TEST_F(DaemonTest, HandsFreeLeavesACommandDictationAlone) {
  const auto vad = thoth::test::shared_file("models/silero-v6.2.0-ggml.bin");
  std::ofstream(home_ / "config.json") << json{{"vad", {{"model", vad.string()}}}}.dump();
  start_pulse();
  start_daemon();
  EXPECT_EQ(status_["hands_free"], false);
  ASSERT_EQ(run_thoth({"hands-free", "on"}).exit_code, 0);
  ASSERT_EQ(run_thoth({"start"}).exit_code, 0);
  ASSERT_EQ(pulse_->play(thoth::test::shared_file("speech/jfk.wav")), 0);  // ends in silence
  std::this_thread::sleep_for(2s);
  auto s = status();
  EXPECT_EQ(s["state"], "recording") << "the listener must not stop a dictation it did not start";
  EXPECT_EQ(s["hands_free_dictation"], false);
  ASSERT_EQ(run_thoth({"stop"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return status()["state"] == "idle"; }, 120s));
  EXPECT_EQ(history().size(), 1u);
}

// ---------------------------------------------------------------- HTTP API

TEST_F(DaemonTest, HttpRequiresTheToken) {
  start_daemon();
  httplib::Client anonymous("127.0.0.1", port_);
  auto r = anonymous.Get("/api/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("missing API token"), std::string::npos) << r->body;
  anonymous.set_bearer_token_auth("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  r = anonymous.Get("/api/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("invalid API token"), std::string::npos) << r->body;
  // Even an unknown route says 401 first: nothing is revealed without the token.
  r = anonymous.Post("/api/start");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  auto ok = client().Get("/api/status");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(json::parse(ok->body)["state"], "idle");
}

TEST_F(DaemonTest, HttpRefusesCrossOrigin) {
  start_daemon();
  auto c = client();
  auto r = c.Get("/api/status", {{"Origin", "http://evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = c.Post("/api/start", {{"Origin", "http://127.0.0.1:1"}}, "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = c.Get("/api/status", {{"Origin", "http://127.0.0.1:" + std::to_string(port_)}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(DaemonTest, HttpBadRequests) {
  start_daemon();
  auto c = client();
  auto r = c.Put("/api/config", "{\"server\": ", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("malformed JSON"), std::string::npos) << r->body;
  r = c.Put("/api/config", R"({"server": {"prot": 1}})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("server.prot"), std::string::npos) << r->body;
  r = c.Put("/api/config", std::string(100 * 1024, ' '), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  r = c.Get("/api/nothing-here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("no such route"), std::string::npos) << r->body;
  r = c.Delete("/api/history/12345");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = c.Get("/api/history?limit=lots");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = c.Get("/api/history/export?format=xml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = c.Post("/api/stop");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
}

TEST_F(DaemonTest, HttpConfigRoundTrip) {
  start_daemon();
  auto c = client();
  auto r = c.Get("/api/config");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["daemon"]["on_shutdown"], "finish");
  r = c.Put("/api/config", R"({"daemon": {"on_shutdown": "discard"}})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["daemon"]["on_shutdown"], "discard");
  r = c.Get("/api/config");
  EXPECT_EQ(json::parse(r->body)["daemon"]["on_shutdown"], "discard");
  struct stat st{};
  ASSERT_EQ(stat((home_ / "config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto shown = run_thoth({"config", "get", "daemon.on_shutdown"});
  EXPECT_NE(shown.out.find("discard"), std::string::npos) << shown.out << shown.err;

  r = c.Get("/api/models");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const json models = json::parse(r->body);
  EXPECT_FALSE(models["models"].empty());
  EXPECT_EQ(models["resolved"], mini_model());
}

TEST_F(DaemonTest, HttpDoubleStartEventsAndHistory) {
  start_pulse();
  start_daemon();
  std::mutex mutex;
  std::string sse;
  std::atomic<bool> enough{false};
  std::thread reader([&] {
    auto c = client();
    c.Get("/api/events", [&](const char* data, size_t len) {
      std::lock_guard lock(mutex);
      sse.append(data, len);
      return !enough.load();
    });
  });
  auto seen = [&](const std::string& s) {
    std::lock_guard lock(mutex);
    return sse.find(s) != std::string::npos;
  };
  ASSERT_TRUE(eventually([&] { return seen("event: daemon-status"); }));

  auto c = client();
  auto r = c.Post("/api/start");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  r = c.Post("/api/start");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_NE(r->body.find("already running"), std::string::npos) << r->body;
  EXPECT_TRUE(eventually([&] { return seen("event: input-level"); }));
  r = c.Post("/api/cancel");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["cancelled"], true);
  EXPECT_TRUE(eventually([&] { return seen("\"Cancelled\""); }));
  enough = true;
  reader.join();
  EXPECT_TRUE(seen("event: pipeline-progress\ndata: {\"event\":\"pipeline-progress\",\"message\":\"Recording to"));

  r = c.Get("/api/history?limit=5");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const json rows = json::parse(r->body);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["status"], "cancelled");
  const int64_t id = rows[0]["id"];
  const std::string audio = rows[0]["audio_path"];
  EXPECT_TRUE(std::filesystem::exists(audio));
  r = c.Get("/api/history/export?format=csv");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find(audio), std::string::npos) << r->body;
  r = c.Delete("/api/history/" + std::to_string(id));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(std::filesystem::exists(audio));
  r = c.Get("/api/history");
  EXPECT_EQ(json::parse(r->body).size(), 0u);
}

TEST_F(DaemonTest, HttpHistoryWithBrokenUtf8IsServed) {
  start_daemon();
  {
    auto store = thoth::store::HistoryStore::open(home_ / "history.db");
    ASSERT_TRUE(store) << store.error();
    thoth::store::HistoryEntry e;
    e.text = "caf\xc3";  // a model's token cut inside a UTF-8 sequence
    ASSERT_TRUE(store->add(e));
  }
  auto r = client().Get("/api/history");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const json rows = json::parse(r->body);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["text"], "caf\xef\xbf\xbd");  // U+FFFD
  EXPECT_EQ(status()["state"], "idle");  // and the daemon is still up
}

TEST_F(DaemonTest, HttpServesTwoHundredConcurrentClients) {
  start_daemon();
  constexpr int kClients = 200;
  std::atomic<int> served{0};
  std::mutex mutex;
  std::string failures;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&] {
      auto c = client();
      c.set_connection_timeout(20, 0);
      c.set_read_timeout(20, 0);
      auto r = c.Get("/api/status");
      if (r && r->status == 200 && json::parse(r->body, nullptr, false).value("state", "") == "idle") {
        ++served;
      } else {
        std::lock_guard lock(mutex);
        failures += (r ? "status " + std::to_string(r->status) : httplib::to_string(r.error())) + "; ";
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(served.load(), kClients) << failures;
}

}  // namespace

namespace {

// POST /api/models/pull downloads from the model server (a real one on loopback here) on
// the daemon's own thread; GET /api/models/pull follows it to the installed file.
TEST_F(DaemonTest, HttpModelPullWithProgress) {
  thoth::models::test::TestModelServer server;
  const std::string bytes = thoth::models::test::random_bytes(300 * 1024 + 7, 3);
  server.add("ggml-pull-test.bin", {bytes});
  const auto catalog = home_ / "catalog.tsv";
  std::ofstream(catalog) << "name\tfile\tbytes\tsha256\npull-test\tggml-pull-test.bin\t" << bytes.size() << "\t"
                         << thoth::models::test::sha256_hex(bytes) << "\n";
  setenv("THOTH_MODEL_CATALOG", catalog.c_str(), 1);
  setenv("THOTH_MODEL_BASE_URL", server.url().c_str(), 1);
  start_daemon();
  unsetenv("THOTH_MODEL_CATALOG");
  unsetenv("THOTH_MODEL_BASE_URL");
  auto c = client();

  auto bad = c.Post("/api/models/pull", "{\"nom\": 1}", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto unknown = c.Post("/api/models/pull", R"({"name": "no-such-model"})", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;

  auto started = c.Post("/api/models/pull", R"({"name": "pull-test"})", "application/json");
  ASSERT_TRUE(started);
  EXPECT_EQ(started->status, 202) << started->body;
  json progress;
  ASSERT_TRUE(eventually([&] {
    auto r = c.Get("/api/models/pull");
    if (!r || r->status != 200) return false;
    progress = json::parse(r->body, nullptr, false);
    return progress.value("state", "") == "done" || progress.value("state", "") == "failed";
  }));
  EXPECT_EQ(progress["state"], "done") << progress.dump();
  EXPECT_EQ(progress["done"], bytes.size());
  EXPECT_EQ(progress["total"], bytes.size());
  const std::filesystem::path file = progress["file"].get<std::string>();
  EXPECT_EQ(std::filesystem::file_size(file), bytes.size());
  EXPECT_EQ(slurp(file), bytes);

  // Installed now: a second pull says so and downloads nothing.
  auto again = c.Post("/api/models/pull", R"({"name": "pull-test"})", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(json::parse(again->body)["installed"], true);
}

}  // namespace

namespace {

// Settings saved through the API that the config schema accepts but the shortcuts cannot
// (an unknown key name) are refused whole, and the file keeps what it had.
TEST_F(DaemonTest, HttpConfigRefusesShortcutsThatCannotBeBound) {
  start_daemon();
  auto c = client();
  auto current = c.Get("/api/config");
  ASSERT_TRUE(current && current->status == 200);
  json doc = json::parse(current->body);
  doc["shortcuts"]["record"] = "Ctrl+Alt+Spcae";
  auto refused = c.Put("/api/config", doc.dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("shortcuts.record"), std::string::npos) << refused->body;
  EXPECT_NE(refused->body.find("Spcae"), std::string::npos) << refused->body;
  auto after = c.Get("/api/config");
  EXPECT_EQ(json::parse(after->body)["shortcuts"]["record"], json::parse(current->body)["shortcuts"]["record"]);

  doc["shortcuts"]["record"] = "Super+D";
  auto saved = c.Put("/api/config", doc.dump(), "application/json");
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->status, 200) << saved->body;
  EXPECT_EQ(json::parse(saved->body)["shortcuts"]["record"], "Super+D");
}

// A config file edited by hand while the daemon runs takes effect; an invalid one (bad JSON,
// or shortcuts that cannot be bound) is logged in one line and the settings in use stay.
TEST_F(DaemonTest, ConfigFileEditedByHandIsReloaded) {
  start_daemon();
  auto c = client();
  auto record = [&] {
    auto r = c.Get("/api/config");
    return r && r->status == 200 ? json::parse(r->body)["shortcuts"]["record"].get<std::string>() : std::string();
  };
  ASSERT_EQ(record(), "Ctrl+Alt+Space");
  const auto file = home_ / "config.json";
  std::ofstream(file) << R"({"shortcuts": {"record": "Super+D"}})" << "\n";
  ASSERT_TRUE(eventually([&] { return record() == "Super+D"; }, 30s)) << daemon_->err();

  std::ofstream(file) << R"({"shortcuts": {"record": )" << "\n";  // half an edit
  ASSERT_TRUE(eventually([&] { return daemon_->err().find("config file not reloaded") != std::string::npos; }, 30s))
      << daemon_->err();
  EXPECT_EQ(record(), "Super+D");

  // Schema-valid but not a key: refused by the shortcuts, as PUT /api/config would be.
  std::ofstream(file) << R"({"shortcuts": {"record": "Ctrl+Alt+Spcae"}})" << "\n";
  ASSERT_TRUE(eventually([&] { return daemon_->err().find("Spcae") != std::string::npos; }, 30s)) << daemon_->err();
  EXPECT_EQ(record(), "Super+D");
  EXPECT_NE(daemon_->err().find("config file not reloaded, the previous settings stay: shortcuts.record: unknown key "
                                "'Spcae' in 'Ctrl+Alt+Spcae'"),
            std::string::npos)
      << daemon_->err();

  // A later valid edit applies again: the watch survives refused ones.
  std::ofstream(file) << R"({"shortcuts": {"record": "Super+F7"}})" << "\n";
  ASSERT_TRUE(eventually([&] { return record() == "Super+F7"; }, 30s)) << daemon_->err();
}

}  // namespace
