// End to end with real parts: a PulseAudio server playing jfk.wav into a null sink, real
// capture from its monitor, our engine on mini.en-f16.bin, the text typed into a real X11
// window on Xvfb, and a real SQLite history.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "audio/audio_file.h"
#include "pipeline/capture_recorder.h"
#include "pipeline/engine_transcriber.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage_adapters.h"
#include "support/process.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"
#include "support/signal_match.h"
#include "support/x_server.h"

namespace thoth::pipeline {
namespace {

using namespace std::chrono_literals;
using thoth::test::PulseServer;
using thoth::test::ScratchDir;

asr::TranscribeOptions engine_options() {
  asr::TranscribeOptions o;
  o.beam_size = 1;  // greedy: the pipeline is under test here, not the decoder
  o.n_threads = 2;
  return o;
}

struct E2E {
  std::unique_ptr<PulseServer> pulse;
  std::unique_ptr<thoth::test::XvfbServer> x;
  std::unique_ptr<thoth::test::TypedTextRecorder> window;
  std::shared_ptr<EngineTranscriber> engine;
  std::shared_ptr<HistoryStage> history;
  ScratchDir dir;
  std::string error;

  bool up() {
    pulse = PulseServer::start(&error);
    if (!pulse) return false;
    x = thoth::test::XvfbServer::start(&error);
    if (!x) return false;
    window = thoth::test::TypedTextRecorder::start(x->display(), &error);
    if (!window) return false;
    auto e = EngineTranscriber::load(thoth::test::shared_file("models/mini.en-f16.bin").string(), engine_options());
    if (!e) {
      error = e.error();
      return false;
    }
    engine = *e;
    auto store = store::HistoryStore::open(dir / "history.db");
    if (!store) {
      error = store.error();
      return false;
    }
    history = std::make_shared<HistoryStage>(std::move(*store));
    return true;
  }
  Stages stages(std::shared_ptr<Output> output = nullptr) {
    Stages s;
    s.recorder = std::make_shared<CaptureRecorder>(PulseServer::kMonitor);
    s.transcriber = engine;
    s.output = output ? output : x11_output(x->display());
    s.history = history;
    return s;
  }
  std::vector<store::HistoryEntry> rows() {
    auto store = store::HistoryStore::open(dir / "history.db");
    auto r = store->search({});
    return r ? *r : std::vector<store::HistoryEntry>{};
  }
};

TEST(DictationEndToEnd, SpokenAudioIsRecordedTranscribedTypedAndStored) {
  E2E e;
  ASSERT_TRUE(e.up()) << e.error;
  EventBus bus;
  Pipeline p(e.stages(), {(e.dir / "recordings").string()}, bus);
  const auto jfk = thoth::test::shared_file("speech/jfk.wav");
  ASSERT_TRUE(p.start());
  ASSERT_EQ(e.pulse->play(jfk), 0);
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  ASSERT_TRUE(result);
  ASSERT_EQ(result->final_state, PipelineState::Completed) << result->error;

  // The recording is what was played.
  auto recorded = audio::load_audio_16k_mono(result->audio_path);
  ASSERT_TRUE(recorded) << recorded.error();
  auto played = audio::load_audio_16k_mono(jfk.string());
  ASSERT_TRUE(played) << played.error();
  const double played_s = double(played->size()) / 16000;
  EXPECT_NEAR(double(recorded->size()) / 16000, played_s, 0.05 * played_s);
  EXPECT_GE(thoth::test::best_alignment(*recorded, *played, 2 * 16000).ncc, 0.9);

  // The typed text is the engine's transcript of that WAV, character for character.
  asr::Session session(asr::Model::load(thoth::test::shared_file("models/mini.en-f16.bin").string()).value());
  auto reference = session.transcribe(recorded->data(), recorded->size(), engine_options());
  ASSERT_TRUE(reference) << reference.error();
  const std::string expected = reference->text();
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(result->text, expected);
  const std::string typed = e.window->settle(500ms, 20s);
  EXPECT_EQ(typed, expected);

  // The history row holds it, with per-stage timings.
  const auto rows = e.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].text, expected);
  EXPECT_EQ(rows[0].raw_text, expected);
  EXPECT_EQ(rows[0].audio_path, result->audio_path);
  EXPECT_EQ(rows[0].status, store::DictationStatus::completed);
  EXPECT_TRUE(rows[0].durations.record_ms && rows[0].durations.transcribe_ms && rows[0].durations.output_ms);
  EXPECT_EQ(rows[0].transcription_model, "mini.en-f16.bin");
}

TEST(DictationEndToEnd, FailuresAndCancelKeepAudioAndText) {
  E2E e;
  ASSERT_TRUE(e.up()) << e.error;
  const auto jfk = thoth::test::shared_file("speech/jfk.wav");
  EventBus bus;
  {
    // Output fails (no such display): the run fails, audio and text stay.
    Pipeline p(e.stages(x11_output(":987")), {(e.dir / "recordings").string()}, bus);
    ASSERT_TRUE(p.start());
    ASSERT_EQ(e.pulse->play(jfk), 0);
    ASSERT_TRUE(p.stop());
    auto r = p.wait();
    EXPECT_EQ(r->final_state, PipelineState::Failed);
    EXPECT_NE(r->error.find(":987"), std::string::npos);
    EXPECT_FALSE(r->raw_text.empty());
  }
  {
    // Cancelled while recording: the WAV and the row stay, nothing is typed.
    Pipeline p(e.stages(), {(e.dir / "recordings").string()}, bus);
    ASSERT_TRUE(p.start());
    const pid_t player = e.pulse->play_async(jfk);
    std::this_thread::sleep_for(3s);
    p.cancel();
    auto r = p.wait();
    kill(player, SIGTERM);
    PulseServer::wait_player(player);
    EXPECT_TRUE(r->cancelled);
    EXPECT_TRUE(std::filesystem::exists(r->audio_path));
  }
  const auto rows = e.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].status, store::DictationStatus::failed);
  EXPECT_FALSE(rows[1].raw_text.empty());
  EXPECT_TRUE(std::filesystem::exists(rows[1].audio_path));
  EXPECT_EQ(rows[0].status, store::DictationStatus::cancelled);
  EXPECT_TRUE(std::filesystem::exists(rows[0].audio_path));
  EXPECT_EQ(e.window->settle(300ms, 5s), "");

  {
    // Enhancement fails (nothing listens on the LLM's port): the unenhanced text is typed,
    // the row says why, the audio stays.
    Stages s = e.stages();
    enhance::EndpointConfig ep;
    ep.base_url = "http://127.0.0.1:9";
    ep.retries = 0;
    ep.connect_timeout = 2000ms;
    ep.total_timeout = 4000ms;
    s.enhancer = std::make_shared<LlmEnhancer>(ep, enhance::builtin_templates().front(), std::vector<std::string>{});
    Pipeline p(std::move(s), {(e.dir / "recordings").string()}, bus);
    ASSERT_TRUE(p.start());
    ASSERT_EQ(e.pulse->play(jfk), 0);
    ASSERT_TRUE(p.stop());
    auto r = p.wait();
    ASSERT_EQ(r->final_state, PipelineState::Completed) << r->error;
    EXPECT_FALSE(r->enhanced);
    ASSERT_FALSE(r->text.empty());
    EXPECT_EQ(e.window->settle(500ms, 20s), r->text);
    const auto after = e.rows();
    ASSERT_EQ(after.size(), 3u);
    EXPECT_EQ(after[0].status, store::DictationStatus::completed);
    EXPECT_NE(after[0].error.find("enhancement failed"), std::string::npos) << after[0].error;
    EXPECT_TRUE(std::filesystem::exists(after[0].audio_path));
  }
}

}  // namespace
}  // namespace thoth::pipeline

namespace thoth::pipeline {
namespace {

// The same dictation delivered by pasting: the window receives the transcript through the
// clipboard, and the clipboard holds what another program put there before.
TEST(DictationEndToEnd, PastedThroughTheClipboardWhichIsRestored) {
  E2E e;
  ASSERT_TRUE(e.up()) << e.error;
  const auto previous = e.dir / "previous.txt";
  {
    std::FILE* f = std::fopen(previous.c_str(), "w");
    std::fputs("copied earlier ✓", f);
    std::fclose(f);
  }
  thoth::test::RunOptions o;
  o.env["DISPLAY"] = e.x->display();
  ASSERT_EQ(thoth::test::run_program({"/usr/bin/xclip", "-selection", "clipboard", "-i", previous.string()}, o).exit_code, 0);

  EventBus bus;
  Pipeline p(e.stages(x11_output(e.x->display(), "paste")), {(e.dir / "recordings").string()}, bus);
  ASSERT_TRUE(p.start());
  ASSERT_EQ(e.pulse->play(thoth::test::shared_file("speech/jfk.wav")), 0);
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  ASSERT_TRUE(result);
  ASSERT_EQ(result->final_state, PipelineState::Completed) << result->error;
  EXPECT_EQ(result->output_method, "x11-paste");
  ASSERT_FALSE(result->text.empty());
  EXPECT_EQ(e.window->settle(500ms, 20s), result->text);
  const auto clip = thoth::test::run_program({"/usr/bin/xclip", "-selection", "clipboard", "-o"}, o);
  EXPECT_EQ(clip.out, "copied earlier ✓");
}

}  // namespace
}  // namespace thoth::pipeline
