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
#include "server/control.h"
#include "store/history.h"
#include "support/process.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using thoth::test::PulseServer;
using thoth::test::run_thoth;
using thoth::test::ScratchDir;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Waits (polling) until `done` holds; false after `timeout` (a hang, not a slow machine).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// A `thoth` process running in the background, its output in files; killed if the test
// ends without stopping it.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args) {
    std::vector<std::string> argv{thoth::test::thoth_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (io_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, (io_ / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawn(&pid_, cargs[0], &actions, nullptr, cargs.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::string out() const { return slurp(io_ / "out"); }
  std::string err() const { return slurp(io_ / "err"); }
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return false;
    }
    return true;
  }
  // Sends `sig` and waits for the exit; -1 if it did not exit in time (then killed).
  int signal_and_wait(int sig, std::chrono::milliseconds timeout = 60s) {
    if (pid_ > 0) kill(pid_, sig);
    if (!eventually([&] { return !alive(); }, timeout)) return -1;
    return exit_code_;
  }

 private:
  ScratchDir io_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

std::string mini_model() { return thoth::test::shared_file("models/mini.en-f16.bin").string(); }

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
  void start_daemon() {
    daemon_ = std::make_unique<Background>(std::vector<std::string>{"daemon", "--model", mini_model(), "--port", "0"});
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
