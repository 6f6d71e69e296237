// The web UI end to end: the real `thoth daemon` with a real dictation (played into a
// private PulseAudio server, transcribed by our engine), its embedded UI served over the
// loopback API, and Debian's headless chromium driving the three screens through
// playwright-core (tests/browser/web_ui.mjs). Screenshots land in the build dir
// (THOTH_WEB_SCREENSHOT_DIR) and are checked here and by the script.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/control.h"
#include "support/background.h"
#include "support/process.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using thoth::test::run_thoth;
using thoth::test::ScratchDir;

using thoth::test::eventually;
using DaemonProcess = thoth::test::BackgroundThoth;
std::string slurp(const std::filesystem::path& p) { return thoth::test::read_text_file(p); }

// Width and height from a PNG's IHDR; {0, 0} when the file is not a PNG.
std::pair<uint32_t, uint32_t> png_size(const std::filesystem::path& file) {
  const std::string b = slurp(file);
  if (b.size() < 24 || b.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || b.compare(12, 4, "IHDR") != 0) return {0, 0};
  auto be32 = [&](size_t at) {
    return uint32_t(uint8_t(b[at])) << 24 | uint32_t(uint8_t(b[at + 1])) << 16 | uint32_t(uint8_t(b[at + 2])) << 8 |
           uint32_t(uint8_t(b[at + 3]));
  };
  return {be32(16), be32(20)};
}

class WebUiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("THOTH_HOME", home_.path().c_str(), 1);
    // Hands-free mode (toggled from the page) listens through the real Silero VAD.
    setenv("THOTH_VAD_MODEL", thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").c_str(), 1);
    setenv("DISPLAY", ":987", 1);  // no X server: typing fails clearly, the text stays in the history
    unsetenv("WAYLAND_DISPLAY");
  }
  void TearDown() override {
    daemon_.reset();
    unsetenv("THOTH_HOME");
  }

  void start_daemon() {
    std::ofstream(home_ / "config.json") << R"({"history": {"enabled": true}})";
    std::string error;
    pulse_ = thoth::test::PulseServer::start(&error);
    ASSERT_TRUE(pulse_) << error;
    const std::string model = thoth::test::shared_file("models/mini.en-f16.bin").string();
    daemon_ = std::make_unique<DaemonProcess>(std::vector<std::string>{"daemon", "--model", model, "--port", "0"});
    ASSERT_GT(daemon_->pid(), 0);
    ASSERT_TRUE(eventually([] { return thoth::server::control_request(json{{"cmd", "status"}}).ok(); }, 60s))
        << daemon_->err();
    port_ = thoth::server::control_request(json{{"cmd", "status"}}).value()["status"]["http_port"];
    token_ = slurp(home_ / "api-token");
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
    ASSERT_GT(port_, 0);
  }

  json status() {
    auto r = run_thoth({"status", "--json"});
    return json::parse(r.out, nullptr, false);
  }

  // One dictation of jfk.wav through the socket, as a key binding would drive it.
  void dictate() {
    ASSERT_EQ(run_thoth({"toggle"}).exit_code, 0);
    ASSERT_EQ(pulse_->play(thoth::test::shared_file("speech/jfk.wav")), 0);
    ASSERT_EQ(run_thoth({"toggle"}).exit_code, 0);
    ASSERT_TRUE(eventually([&] { return status()["state"] == "idle"; }, 180s));
  }

  httplib::Client client(bool with_token) {
    httplib::Client c("127.0.0.1", port_);
    if (with_token) c.set_bearer_token_auth(token_.c_str());
    c.set_read_timeout(60, 0);
    return c;
  }

  ScratchDir home_;
  std::unique_ptr<thoth::test::PulseServer> pulse_;
  std::unique_ptr<DaemonProcess> daemon_;
  int port_ = 0;
  std::string token_;
};

// The UI's files are public, everything with user data still needs the token.
TEST_F(WebUiTest, ServesTheEmbeddedUiWithoutTheTokenAndNothingElse) {
  start_daemon();
  auto anon = client(false);
  auto page = anon.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script type=\"module\" src=\"/static/app.js\">"), std::string::npos);
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  for (const auto& [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"/static/app.js", "text/javascript; charset=utf-8"},
           {"/static/api.js", "text/javascript; charset=utf-8"},
           {"/static/style.css", "text/css; charset=utf-8"}}) {
    auto r = anon.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), type) << path;
    EXPECT_FALSE(r->get_header_value("Content-Security-Policy").empty()) << path;
  }
  // Not a UI file: the token rules apply (401 without, 404 with).
  for (const char* path : {"/static/nope.js", "/static/../api-token", "/api/status", "/api/history/1/audio"}) {
    auto r = anon.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 401) << path;
  }
  auto authed = client(true);
  auto r = authed.Get("/static/nope.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = authed.Get("/api/history/12345/audio");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("12345"), std::string::npos) << r->body;
  // A page from elsewhere cannot even fetch the UI's script through the user's browser.
  r = anon.Get("/static/app.js", {{"Origin", "http://evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
}

TEST_F(WebUiTest, ThothUiPrintsTheAddressWithTheToken) {
  auto none = run_thoth({"ui"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, "thoth: no daemon running; start it with `thoth daemon`\n");
  start_daemon();
  auto r = run_thoth({"ui"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "http://127.0.0.1:" + std::to_string(port_) + "/#token=" + token_ + "\n");
}

TEST_F(WebUiTest, ThreeScreensInHeadlessChromium) {
  const auto script = thoth::test::source_root() / "tests/browser/web_ui.mjs";
  ASSERT_TRUE(std::filesystem::exists(thoth::test::source_root() / "tests/browser/node_modules/playwright-core"))
      << "playwright-core is not installed: run ./setup.sh --no-build (npm ci in tests/browser)";
  const char* chromium_env = std::getenv("CHROMIUM");
  const std::string chromium = chromium_env ? chromium_env : "/usr/bin/chromium";
  ASSERT_TRUE(std::filesystem::exists(chromium)) << chromium << " is missing: run ./setup.sh --no-build";

  start_daemon();
  dictate();
  // The recording is served for the player, and is the WAV the history row names.
  auto authed = client(true);
  auto rows = authed.Get("/api/history");
  ASSERT_TRUE(rows);
  const json list = json::parse(rows->body);
  ASSERT_EQ(list.size(), 1u) << rows->body;
  ASSERT_FALSE(list[0]["text"].get<std::string>().empty()) << rows->body;
  EXPECT_TRUE(list[0]["durations"].contains("transcribe_ms")) << rows->body;
  auto audio = authed.Get("/api/history/" + std::to_string(list[0]["id"].get<int64_t>()) + "/audio");
  ASSERT_TRUE(audio);
  EXPECT_EQ(audio->status, 200);
  EXPECT_EQ(audio->get_header_value("Content-Type"), "audio/wav");
  EXPECT_EQ(audio->body, slurp(list[0]["audio_path"].get<std::string>()));
  EXPECT_EQ(audio->body.compare(0, 4, "RIFF"), 0);

  const std::filesystem::path shots = THOTH_WEB_SCREENSHOT_DIR;
  std::filesystem::remove_all(shots);
  thoth::test::RunOptions o;
  o.env["THOTH_API"] = "http://127.0.0.1:" + std::to_string(port_);
  o.env["THOTH_TOKEN"] = token_;
  o.env["THOTH_SCREENSHOT_DIR"] = shots.string();
  // The test models have random weights (shared/models/README.md), so the words to search
  // for come from what this dictation produced: its longest plain word.
  std::string word, current;
  for (char ch : list[0]["text"].get<std::string>() + " ") {
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
      current += ch;
      continue;
    }
    if (current.size() > word.size()) word = current;
    current.clear();
  }
  ASSERT_GE(word.size(), 3u) << "no word to search for in: " << list[0]["text"];
  o.env["THOTH_SEARCH_WORD"] = word;
  o.env["THOTH_SPEECH_FILE"] = thoth::test::shared_file("speech/jfk.wav").string();
  o.env["CHROMIUM"] = chromium;
  o.timeout = 300s;
  auto r = thoth::test::run_program({"/usr/bin/env", "node", script.string()}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err << "\n" << r.out << "\ndaemon: " << daemon_->err();
  const json summary = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(summary.is_object()) << r.out;
  EXPECT_GT(summary.value("level_updates", 0), 2) << r.out;
  EXPECT_GT(summary.value("played_seconds", 0.0), 10.0) << r.out;  // jfk.wav is 11 s

  for (const char* name : {"status", "hands-free", "recording", "history", "settings", "settings-error"}) {
    const auto file = shots / (std::string(name) + ".png");
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    EXPECT_EQ(png_size(file), std::make_pair(1280u, 800u)) << file;
    EXPECT_GT(std::filesystem::file_size(file), 10000u) << file;  // a blank 1280x800 PNG is a few KB
    EXPECT_GE(summary[name].value("colours", 0), 40) << name << ": " << summary[name].dump();
  }

  // What the settings screen saved is what the daemon now serves.
  auto config = authed.Get("/api/config");
  ASSERT_TRUE(config);
  const json c = json::parse(config->body);
  EXPECT_EQ(c["output"]["method"], "clipboard");
  EXPECT_EQ(c["audio"]["device"], "virt.monitor");
  EXPECT_EQ(c["enhancement"]["base_url"], "http://127.0.0.1:11500");
  // The row deleted on the history screen is gone, the one dictated from the page is there.
  auto after = authed.Get("/api/history");
  ASSERT_TRUE(after);
  const json rows_after = json::parse(after->body);
  ASSERT_EQ(rows_after.size(), 2u) << after->body;
  EXPECT_EQ(rows_after[1]["id"], list[0]["id"]);
}

}  // namespace
