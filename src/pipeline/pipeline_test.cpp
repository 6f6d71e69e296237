// The pipeline with scripted stages (pure orchestration logic) and, at the end, with the
// real capture stage against a PulseAudio server started by the test.
#include "pipeline/pipeline.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sndfile.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "asr/vad_test_util.h"
#include "pipeline/capture_recorder.h"
#include "pipeline/engine_transcriber.h"
#include "pipeline/stage_adapters.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"

namespace thoth::pipeline {
namespace {

using namespace std::chrono_literals;
using thoth::test::ScratchDir;
using S = PipelineState;

// Holds a scripted stage in its state until the test opens it (or the run is cancelled).
class Gate {
 public:
  explicit Gate(bool open = true) : open_(open) {}
  void close() {
    std::lock_guard l(m_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard l(m_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Returns false when it gave up because of the cancel flag.
  bool pass(const std::atomic<bool>* cancel = nullptr) {
    std::unique_lock l(m_);
    while (!open_) {
      if (cancel && cancel->load()) return false;
      cv_.wait_for(l, 2ms);
    }
    return true;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_;
};

class ScriptedRecorder : public Recorder {
 public:
  std::string start_error;
  Result<void> start(const std::string& wav_path, audio::LevelCallback on_level) override {
    if (!start_error.empty()) return make_error(start_error);
    path_ = wav_path;
    samples_.assign(16000, 0.0f);
    for (size_t i = 0; i < samples_.size(); ++i) samples_[i] = 0.25f * std::sin(0.05f * float(i));
    SF_INFO info{};
    info.samplerate = 16000;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(wav_path.c_str(), SFM_WRITE, &info);
    if (!f) return make_error("cannot write " + wav_path);
    sf_write_float(f, samples_.data(), sf_count_t(samples_.size()));
    sf_close(f);
    if (on_level) on_level({-12.0f, -6.0f});
    return {};
  }
  audio::Recording stop() override {
    audio::Recording r;
    r.wav_path = path_;
    r.device = "scripted";
    r.samples = samples_;
    r.duration_s = double(samples_.size()) / 16000;
    return r;
  }

 private:
  std::string path_;
  std::vector<float> samples_;
};

class ScriptedTranscriber : public Transcriber {
 public:
  Gate gate;
  std::string error;
  std::string text = "hello um world";
  bool no_speech = false;
  size_t samples_seen = 0;
  Result<Transcription> transcribe(const std::vector<float>& pcm, const std::atomic<bool>& cancel) override {
    samples_seen = pcm.size();
    if (!gate.pass(&cancel)) return Transcription{"hello", true};  // partial, as the engine does
    if (!error.empty()) return make_error(error);
    if (no_speech) return Transcription{"", false, true};
    return Transcription{text, false};
  }
  std::string model_name() const override { return "scripted-model"; }
};

class ScriptedFilter : public TextFilter {
 public:
  Gate gate;
  Result<std::string> apply(const std::string& text) override {
    gate.pass();
    std::string out = text;
    if (auto p = out.find(" um"); p != std::string::npos) out.erase(p, 3);
    return out;
  }
};

class ScriptedEnhancer : public Enhancer {
 public:
  Gate gate;
  std::string error;
  Result<std::string> enhance(const std::string& text, const std::atomic<bool>& cancel) override {
    if (!gate.pass(&cancel)) return make_error("cancelled");
    if (!error.empty()) return make_error(error);
    return "Enhanced: " + text;
  }
  std::string model_name() const override { return "scripted-llm"; }
  std::string prompt_name() const override { return "fix-grammar"; }
};

class ScriptedOutput : public Output {
 public:
  Gate gate;
  std::string error;
  std::vector<std::string> delivered;
  Result<Delivery> deliver(const std::string& text, const std::atomic<bool>& cancel) override {
    if (!gate.pass(&cancel)) return Delivery{};  // stopped typing
    if (!error.empty()) return make_error(error);
    delivered.push_back(text);
    return Delivery{method_name(), {}};
  }
  std::string method_name() const override { return "scripted-typing"; }
};

class MemoryHistory : public History {
 public:
  std::mutex m;
  std::vector<PipelineResult> rows;
  Result<int64_t> record(const PipelineResult& r) override {
    std::lock_guard l(m);
    rows.push_back(r);
    return int64_t(rows.size());
  }
};

// Collects the bus's events for assertions.
class EventLog {
 public:
  explicit EventLog(EventBus& bus) : bus_(bus) {
    id_ = bus.subscribe([this](const PipelineEvent& e) {
      {
        std::lock_guard l(m_);
        events_.push_back(e);
      }
      cv_.notify_all();
    });
  }
  ~EventLog() { bus_.unsubscribe(id_); }
  bool wait_for_state(S s, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock l(m_);
    return cv_.wait_for(l, timeout, [&] {
      return std::any_of(events_.begin(), events_.end(), [&](const PipelineEvent& e) {
        return e.kind == PipelineEvent::Kind::Progress && e.state == s;
      });
    });
  }
  // The monitor of an idle null sink delivers its first block late (up to its 2 s
  // latency): tests that record from it wait until audio actually flows.
  bool wait_for_level(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock l(m_);
    return cv_.wait_for(l, timeout, [&] {
      return std::any_of(events_.begin(), events_.end(),
                         [&](const PipelineEvent& e) { return e.kind == PipelineEvent::Kind::Level; });
    });
  }
  std::vector<S> progress_states() {
    bus_.flush(id_, 5s);
    std::lock_guard l(m_);
    std::vector<S> out;
    for (const auto& e : events_)
      if (e.kind == PipelineEvent::Kind::Progress) out.push_back(e.state);
    return out;
  }
  std::vector<PipelineEvent> of_kind(PipelineEvent::Kind k) {
    bus_.flush(id_, 5s);
    std::lock_guard l(m_);
    std::vector<PipelineEvent> out;
    for (const auto& e : events_)
      if (e.kind == k) out.push_back(e);
    return out;
  }

 private:
  EventBus& bus_;
  EventBus::SubscriptionId id_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<PipelineEvent> events_;
};

struct Rig {
  ScratchDir dir;
  EventBus bus;
  std::shared_ptr<ScriptedRecorder> recorder = std::make_shared<ScriptedRecorder>();
  std::shared_ptr<ScriptedTranscriber> transcriber = std::make_shared<ScriptedTranscriber>();
  std::shared_ptr<ScriptedFilter> filter = std::make_shared<ScriptedFilter>();
  std::shared_ptr<ScriptedEnhancer> enhancer = std::make_shared<ScriptedEnhancer>();
  std::shared_ptr<ScriptedOutput> output = std::make_shared<ScriptedOutput>();
  std::shared_ptr<MemoryHistory> history = std::make_shared<MemoryHistory>();
  EventLog log{bus};

  Stages stages(bool with_filter = true, bool with_enhancer = true) {
    Stages s;
    s.recorder = recorder;
    s.transcriber = transcriber;
    if (with_filter) s.filter = filter;
    if (with_enhancer) s.enhancer = enhancer;
    s.output = output;
    s.history = history;
    return s;
  }
  PipelineOptions options() { return {(dir / "recordings").string()}; }
};

TEST(PipelineState, TransitionsAreExactlyTheSeeds) {
  const std::set<std::pair<S, S>> forward = {
      {S::Idle, S::Recording},          {S::Recording, S::Transcribing},
      {S::Transcribing, S::Filtering},  {S::Transcribing, S::Enhancing},
      {S::Transcribing, S::Outputting}, {S::Filtering, S::Enhancing},
      {S::Filtering, S::Outputting},    {S::Enhancing, S::Outputting},
      {S::Outputting, S::Completed},    {S::Transcribing, S::Completed},  // no speech
  };
  for (S from : kAllStates) {
    for (S to : kAllStates) {
      bool expected = forward.count({from, to}) > 0;
      if (to == S::Idle) expected = from != S::Idle;  // cancel, or settling after the run
      if (to == S::Failed) expected = is_working(from);
      EXPECT_EQ(is_valid_transition(from, to), expected) << to_string(from) << " -> " << to_string(to);
    }
  }
  EXPECT_EQ(to_string(S::Transcribing), "transcribing");
  EXPECT_EQ(std::size(kAllStates), 8u);
}

TEST(Pipeline, PublishesEveryTransitionAndStoresTheRun) {
  Rig rig;
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  EXPECT_TRUE(p.running());
  EXPECT_EQ(p.state(), S::Recording);
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  ASSERT_TRUE(result);
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.state(), S::Idle);
  EXPECT_EQ(rig.log.progress_states(),
            (std::vector<S>{S::Recording, S::Transcribing, S::Filtering, S::Enhancing, S::Outputting,
                            S::Completed, S::Idle}));
  EXPECT_EQ(result->final_state, S::Completed);
  EXPECT_EQ(result->raw_text, "hello um world");
  EXPECT_EQ(result->filtered_text, "hello world");
  EXPECT_EQ(result->text, "Enhanced: hello world");
  EXPECT_TRUE(result->enhanced);
  EXPECT_TRUE(result->delivered);
  EXPECT_EQ(rig.output->delivered, std::vector<std::string>{"Enhanced: hello world"});
  EXPECT_EQ(rig.transcriber->samples_seen, 16000u);
  EXPECT_TRUE(std::filesystem::exists(result->audio_path));
  EXPECT_EQ(std::filesystem::path(result->audio_path).parent_path(), rig.dir / "recordings");
  EXPECT_EQ(result->transcription_model, "scripted-model");
  EXPECT_EQ(result->enhancement_prompt, "fix-grammar");
  EXPECT_GE(result->timings.total_ms, result->timings.transcribe_ms);

  auto complete = rig.log.of_kind(PipelineEvent::Kind::Complete);
  ASSERT_EQ(complete.size(), 1u);
  EXPECT_EQ(complete[0].name(), "pipeline-complete");
  ASSERT_TRUE(complete[0].result);
  EXPECT_EQ(complete[0].result->text, "Enhanced: hello world");
  EXPECT_EQ(complete[0].result->history_id, 1);
  EXPECT_EQ(rig.log.of_kind(PipelineEvent::Kind::Level).size(), 1u);
  ASSERT_EQ(rig.history->rows.size(), 1u);
  EXPECT_EQ(rig.history->rows[0].raw_text, "hello um world");
  EXPECT_EQ(rig.history->rows[0].final_state, S::Completed);
}

TEST(Pipeline, NoSpeechCompletesWithoutFilteringEnhancingOrTyping) {
  Rig rig;
  rig.transcriber->no_speech = true;
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(rig.log.progress_states(), (std::vector<S>{S::Recording, S::Transcribing, S::Completed, S::Idle}));
  EXPECT_EQ(result->final_state, S::Completed);
  EXPECT_TRUE(result->no_speech);
  EXPECT_FALSE(result->cancelled);
  EXPECT_TRUE(result->error.empty());
  EXPECT_EQ(result->text, "");
  EXPECT_FALSE(result->delivered);
  EXPECT_FALSE(result->filtered);
  EXPECT_TRUE(result->output_method.empty());
  EXPECT_TRUE(rig.output->delivered.empty());
  EXPECT_TRUE(std::filesystem::exists(result->audio_path));
  auto complete = rig.log.of_kind(PipelineEvent::Kind::Complete);
  ASSERT_EQ(complete.size(), 1u);
  EXPECT_EQ(complete[0].message, kNoSpeechMessage);
  ASSERT_TRUE(complete[0].result);
  EXPECT_TRUE(complete[0].result->no_speech);
  ASSERT_EQ(rig.history->rows.size(), 1u);
  EXPECT_TRUE(rig.history->rows[0].no_speech);
  EXPECT_EQ(to_history_entry(*result).status, store::DictationStatus::no_speech);
  EXPECT_EQ(to_history_entry(*result).audio_path, result->audio_path);

  // The next dictation with speech is an ordinary one again.
  rig.transcriber->no_speech = false;
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto next = p.wait();
  EXPECT_FALSE(next->no_speech);
  EXPECT_EQ(rig.output->delivered, std::vector<std::string>{"Enhanced: hello world"});
  EXPECT_EQ(to_history_entry(*next).status, store::DictationStatus::completed);
}

TEST(Pipeline, OptionalStagesAreSkipped) {
  Rig rig;
  Pipeline p(rig.stages(false, false), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  EXPECT_EQ(rig.log.progress_states(),
            (std::vector<S>{S::Recording, S::Transcribing, S::Outputting, S::Completed, S::Idle}));
  EXPECT_EQ(result->text, "hello um world");
  EXPECT_FALSE(result->filtered);
  EXPECT_FALSE(result->enhanced);
}

TEST(Pipeline, SecondStartIsRefusedWhileOneRuns) {
  Rig rig;
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  auto second = p.start();
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("already running"), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("recording"), std::string::npos) << second.error();
  ASSERT_TRUE(p.stop());
  EXPECT_FALSE(p.stop());  // already stopping / past recording
  ASSERT_TRUE(p.wait());
  // Once the run has settled, the pipeline takes the next one.
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  ASSERT_TRUE(p.wait());
  EXPECT_EQ(rig.history->rows.size(), 2u);
}

TEST(Pipeline, ConcurrentStartsLetExactlyOneThrough) {
  Rig rig;
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  std::atomic<int> ok{0}, refused{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      if (p.start()) ok++;
      else refused++;
    });
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), 7);
  ASSERT_TRUE(p.stop());
  ASSERT_TRUE(p.wait());
}

TEST(Pipeline, StopWhenIdleIsAClearError) {
  Rig rig;
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  auto r = p.stop();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not recording"), std::string::npos);
}

class CancelIn : public ::testing::TestWithParam<S> {};

// Holds the run in one state, cancels there, and checks the run ends in idle with its
// audio and the text so far in the history and nothing typed.
TEST_P(CancelIn, EndsIdleAndKeepsAudioAndText) {
  const S where = GetParam();
  Rig rig;
  if (where == S::Transcribing) rig.transcriber->gate.close();
  if (where == S::Filtering) rig.filter->gate.close();
  if (where == S::Enhancing) rig.enhancer->gate.close();
  if (where == S::Outputting) rig.output->gate.close();
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  if (where != S::Recording) {
    ASSERT_TRUE(p.stop());
  }
  ASSERT_TRUE(rig.log.wait_for_state(where));
  p.cancel();
  if (where == S::Filtering) rig.filter->gate.open();  // the filter takes no cancel: it is quick
  auto result = p.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(p.state(), S::Idle);
  EXPECT_FALSE(p.running());
  EXPECT_TRUE(result->cancelled);
  EXPECT_EQ(result->cancelled_in, where);
  EXPECT_EQ(result->final_state, S::Idle);
  EXPECT_TRUE(result->error.empty());
  EXPECT_TRUE(rig.output->delivered.empty());
  EXPECT_TRUE(std::filesystem::exists(result->audio_path));
  ASSERT_EQ(rig.history->rows.size(), 1u);
  EXPECT_EQ(rig.history->rows[0].audio_path, result->audio_path);
  if (where == S::Transcribing) {
    EXPECT_EQ(result->raw_text, "hello");  // the partial text
  }
  if (where > S::Transcribing) {
    EXPECT_EQ(result->raw_text, "hello um world");
  }
  if (where > S::Filtering) {
    EXPECT_EQ(rig.history->rows[0].filtered_text, "hello world");
  }
  const auto states = rig.log.progress_states();
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), S::Idle);
  EXPECT_EQ(std::count(states.begin(), states.end(), S::Completed), 0);
  EXPECT_TRUE(rig.log.of_kind(PipelineEvent::Kind::Complete).empty());
  // The pipeline is free again.
  rig.transcriber->gate.open();
  rig.enhancer->gate.open();
  rig.output->gate.open();
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  EXPECT_EQ(p.wait()->final_state, S::Completed);
}

INSTANTIATE_TEST_SUITE_P(EveryWorkingState, CancelIn,
                         ::testing::Values(S::Recording, S::Transcribing, S::Filtering, S::Enhancing,
                                           S::Outputting),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Pipeline, CancelWhenIdleOrAfterTheRunChangesNothing) {
  Rig rig;
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  p.cancel();  // idle
  EXPECT_EQ(p.state(), S::Idle);
  EXPECT_TRUE(rig.log.progress_states().empty());
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  ASSERT_TRUE(p.wait());
  p.cancel();  // after completed
  EXPECT_EQ(p.wait()->final_state, S::Completed);
  rig.transcriber->error = "boom";
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  EXPECT_EQ(p.wait()->final_state, S::Failed);
  p.cancel();  // after failed
  EXPECT_EQ(p.wait()->final_state, S::Failed);
  EXPECT_EQ(p.state(), S::Idle);
}

TEST(Pipeline, TranscriptionFailureFailsTheRunButKeepsTheAudio) {
  Rig rig;
  rig.transcriber->error = "asr: model file is corrupt";
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  EXPECT_EQ(result->final_state, S::Failed);
  EXPECT_EQ(result->error, "asr: model file is corrupt");
  EXPECT_TRUE(std::filesystem::exists(result->audio_path));
  auto errors = rig.log.of_kind(PipelineEvent::Kind::Error);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].name(), "pipeline-error");
  EXPECT_EQ(errors[0].message, "asr: model file is corrupt");
  EXPECT_EQ(rig.log.progress_states(),
            (std::vector<S>{S::Recording, S::Transcribing, S::Failed, S::Idle}));
  ASSERT_EQ(rig.history->rows.size(), 1u);
  EXPECT_EQ(rig.history->rows[0].error, "asr: model file is corrupt");
  EXPECT_EQ(rig.history->rows[0].audio_path, result->audio_path);
}

TEST(Pipeline, EnhancementFailureIsNotFatal) {
  Rig rig;
  rig.enhancer->error = "enhance: http://127.0.0.1:11434 timed out after 30 s";
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  EXPECT_EQ(result->final_state, S::Completed);
  EXPECT_FALSE(result->enhanced);
  EXPECT_EQ(result->text, "hello world");
  EXPECT_EQ(rig.output->delivered, std::vector<std::string>{"hello world"});
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_NE(result->warnings[0].find("timed out"), std::string::npos);
  EXPECT_EQ(rig.history->rows.at(0).text, "hello world");
}

TEST(Pipeline, OutputFailureKeepsTheTextInHistory) {
  Rig rig;
  rig.output->error = "output: no typing method works on this display";
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  EXPECT_EQ(result->final_state, S::Failed);
  EXPECT_FALSE(result->delivered);
  ASSERT_EQ(rig.history->rows.size(), 1u);
  EXPECT_EQ(rig.history->rows[0].raw_text, "hello um world");
  EXPECT_EQ(rig.history->rows[0].text, "Enhanced: hello world");
  EXPECT_TRUE(std::filesystem::exists(rig.history->rows[0].audio_path));
}

TEST(Pipeline, WithoutAnEngineTheRunFailsClearlyAndKeepsTheRecording) {
  Rig rig;
  Stages s = rig.stages();
  s.transcriber = nullptr;
  Pipeline p(std::move(s), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  EXPECT_EQ(result->final_state, S::Failed);
  EXPECT_NE(result->error.find("no Whisper engine"), std::string::npos);
  EXPECT_NE(result->error.find(result->audio_path), std::string::npos);
  EXPECT_EQ(rig.history->rows.size(), 1u);
}

TEST(Pipeline, RecorderStartFailureLeavesThePipelineFree) {
  Rig rig;
  rig.recorder->start_error = "audio: no input device named 'usb-mic'";
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  auto r = p.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "audio: no input device named 'usb-mic'");
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.state(), S::Idle);
  EXPECT_EQ(rig.log.of_kind(PipelineEvent::Kind::Error).size(), 1u);
  rig.recorder->start_error.clear();
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  EXPECT_EQ(p.wait()->final_state, S::Completed);
}

// ---- the event bus ----

TEST(EventBus, StuckSubscriberNeverBlocksPublishOrOthers) {
  EventBus bus;
  Gate stuck(false);
  std::atomic<bool> entered{false};
  std::vector<std::string> slow_got, fast_got;
  std::mutex m;
  const auto slow = bus.subscribe(
      [&](const PipelineEvent& e) {
        entered = true;
        stuck.pass();
        std::lock_guard l(m);
        slow_got.push_back(e.message);
      },
      4);
  const auto fast = bus.subscribe([&](const PipelineEvent& e) {
    std::lock_guard l(m);
    fast_got.push_back(e.message);
  }, 2000);
  PipelineEvent zero;
  zero.message = "0";
  bus.publish(zero);
  while (!entered) std::this_thread::sleep_for(1ms);  // the stuck handler holds "0"
  // If publish waited for the stuck handler, this loop would never finish.
  for (int i = 1; i < 1000; ++i) {
    PipelineEvent e;
    e.message = std::to_string(i);
    bus.publish(std::move(e));
  }
  ASSERT_TRUE(bus.flush(fast, 5s));
  {
    std::lock_guard l(m);
    ASSERT_EQ(fast_got.size(), 1000u);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(fast_got[size_t(i)], std::to_string(i));
  }
  EXPECT_EQ(bus.dropped(fast), 0u);
  // The stuck one holds 1 event in its handler and its 4 newest in the queue.
  EXPECT_FALSE(bus.flush(slow, 50ms));
  stuck.open();
  ASSERT_TRUE(bus.flush(slow, 5s));
  std::lock_guard l(m);
  ASSERT_EQ(slow_got.size(), 5u);
  EXPECT_EQ(slow_got[0], "0");
  EXPECT_EQ(slow_got[1], "996");
  EXPECT_EQ(slow_got[4], "999");
  EXPECT_EQ(bus.dropped(slow), 995u);
}

TEST(EventBus, LevelUpdatesAreDroppedBeforeStateChanges) {
  EventBus bus;
  Gate stuck(false);
  std::atomic<bool> entered{false};
  std::vector<PipelineEvent> got;
  std::mutex m;
  const auto id = bus.subscribe(
      [&](const PipelineEvent& e) {
        entered = true;
        stuck.pass();
        std::lock_guard l(m);
        got.push_back(e);
      },
      3);
  PipelineEvent first;
  first.message = "first";
  bus.publish(first);
  // Wait until the handler holds "first" so the queue starts empty.
  while (!entered) std::this_thread::sleep_for(1ms);
  PipelineEvent level;
  level.kind = PipelineEvent::Kind::Level;
  PipelineEvent done;
  done.kind = PipelineEvent::Kind::Complete;
  done.message = "done";
  bus.publish(level);
  bus.publish(done);
  for (int i = 0; i < 10; ++i) bus.publish(level);
  stuck.open();
  ASSERT_TRUE(bus.flush(id, 5s));
  std::lock_guard l(m);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].message, "first");
  EXPECT_EQ(got[1].kind, PipelineEvent::Kind::Complete);  // kept; the meter updates went
  EXPECT_EQ(bus.dropped(id), 9u);
}

TEST(EventBus, ManySubscribersEachGetEverythingInOrder) {
  EventBus bus;
  constexpr int kSubs = 6, kEvents = 300;
  std::vector<std::vector<int>> got(kSubs);
  std::vector<EventBus::SubscriptionId> ids;
  for (int s = 0; s < kSubs; ++s)
    ids.push_back(bus.subscribe([&got, s](const PipelineEvent& e) { got[size_t(s)].push_back(std::stoi(e.message)); },
                                kEvents));
  std::thread publisher([&] {
    for (int i = 0; i < kEvents; ++i) {
      PipelineEvent e;
      e.message = std::to_string(i);
      bus.publish(std::move(e));
    }
  });
  publisher.join();
  for (auto id : ids) ASSERT_TRUE(bus.flush(id, 5s));
  bus.unsubscribe(ids[0]);
  for (int s = 0; s < kSubs; ++s) {
    ASSERT_EQ(got[size_t(s)].size(), size_t(kEvents));
    EXPECT_TRUE(std::is_sorted(got[size_t(s)].begin(), got[size_t(s)].end()));
  }
}

TEST(Pipeline, StuckSubscriberDoesNotHoldUpTheDictation) {
  Rig rig;
  Gate stuck(false);
  const auto id = rig.bus.subscribe([&](const PipelineEvent&) { stuck.pass(); }, 2);
  Pipeline p(rig.stages(), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  EXPECT_EQ(result->final_state, S::Completed);
  EXPECT_GT(rig.bus.dropped(id), 0u);
  stuck.open();
  rig.bus.unsubscribe(id);
}

// ---- a real stage next to scripted ones: capture from a PulseAudio server ----

TEST(PipelineWithCapture, CancelMidRecordingKeepsAValidWav) {
  std::string error;
  auto server = thoth::test::PulseServer::start(&error);
  ASSERT_TRUE(server) << error;
  Rig rig;
  Stages s = rig.stages();
  s.recorder = std::make_shared<CaptureRecorder>(thoth::test::PulseServer::kMonitor);
  Pipeline p(std::move(s), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  const pid_t player = server->play_async(thoth::test::shared_file("speech/jfk.wav"));
  ASSERT_TRUE(rig.log.wait_for_level());
  std::this_thread::sleep_for(1000ms);
  p.cancel();
  auto result = p.wait();
  kill(player, SIGTERM);
  thoth::test::PulseServer::wait_player(player);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->cancelled);
  EXPECT_EQ(result->cancelled_in, S::Recording);
  EXPECT_GT(result->audio_seconds, 1.0);
  EXPECT_GT(result->start_latency_ms, 0.0);
  SF_INFO info{};
  SNDFILE* f = sf_open(result->audio_path.c_str(), SFM_READ, &info);
  ASSERT_NE(f, nullptr) << result->audio_path;
  EXPECT_EQ(info.samplerate, 16000);
  EXPECT_NEAR(double(info.frames) / 16000, result->audio_seconds, 1e-6);
  sf_close(f);
  ASSERT_EQ(rig.history->rows.size(), 1u);
  EXPECT_EQ(rig.history->rows[0].audio_path, result->audio_path);
  EXPECT_FALSE(rig.log.of_kind(PipelineEvent::Kind::Level).empty());
  EXPECT_EQ(rig.transcriber->samples_seen, 0u);
}

TEST(PipelineWithCapture, RecordedSamplesReachTheTranscriber) {
  std::string error;
  auto server = thoth::test::PulseServer::start(&error);
  ASSERT_TRUE(server) << error;
  Rig rig;
  Stages s = rig.stages(false, false);
  s.recorder = std::make_shared<CaptureRecorder>(thoth::test::PulseServer::kMonitor);
  Pipeline p(std::move(s), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(rig.log.wait_for_level());
  std::this_thread::sleep_for(600ms);
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  EXPECT_EQ(result->final_state, S::Completed) << result->error;
  EXPECT_EQ(rig.transcriber->samples_seen, size_t(std::lround(result->audio_seconds * 16000)));
  EXPECT_GT(result->audio_seconds, 0.5);
  EXPECT_EQ(rig.output->delivered, std::vector<std::string>{"hello um world"});
}

// ---- real filter, history and enhancer stages next to scripted capture and engine ----

TEST(PipelineWithRealStages, FilteredRunAndFailuresLandInTheSqliteHistory) {
  Rig rig;
  auto store = store::HistoryStore::open(rig.dir / "history.db");
  ASSERT_TRUE(store) << store.error();
  auto history = std::make_shared<HistoryStage>(std::move(*store));
  auto filter = text::TextFilter::create({});
  ASSERT_TRUE(filter) << filter.error();
  Stages s = rig.stages(false, false);
  s.filter = std::make_shared<TextFilterStage>(std::move(*filter));
  s.history = history;
  // Enhancement against a loopback port where nothing listens: it fails, the run does not.
  enhance::EndpointConfig ep;
  ep.base_url = "http://127.0.0.1:9";
  ep.retries = 0;
  ep.connect_timeout = 2000ms;
  ep.total_timeout = 4000ms;
  s.enhancer = std::make_shared<LlmEnhancer>(ep, enhance::builtin_templates().front(), std::vector<std::string>{});
  rig.transcriber->text = " so um I think  the café is open";
  Pipeline p(std::move(s), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto done = p.wait();
  ASSERT_EQ(done->final_state, S::Completed) << done->error;
  EXPECT_EQ(done->text, "So I think the café is open");
  EXPECT_EQ(rig.output->delivered, std::vector<std::string>{"So I think the café is open"});
  EXPECT_FALSE(done->enhanced);

  rig.transcriber->error = "asr: cannot decode";
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto failed = p.wait();
  EXPECT_EQ(failed->final_state, S::Failed);

  auto reopened = store::HistoryStore::open(rig.dir / "history.db");
  ASSERT_TRUE(reopened);
  auto rows = reopened->search({});
  ASSERT_TRUE(rows) << rows.error();
  ASSERT_EQ(rows->size(), 2u);
  const auto& ok_row = rows->at(1);  // newest first
  EXPECT_EQ(ok_row.id, done->history_id);
  EXPECT_EQ(ok_row.status, store::DictationStatus::completed);
  EXPECT_EQ(ok_row.raw_text, " so um I think  the café is open");
  EXPECT_EQ(ok_row.text, "So I think the café is open");
  EXPECT_EQ(ok_row.audio_path, done->audio_path);
  EXPECT_EQ(ok_row.transcription_model, "scripted-model");
  EXPECT_TRUE(ok_row.durations.record_ms.has_value());
  EXPECT_TRUE(ok_row.durations.filter_ms.has_value());
  EXPECT_TRUE(ok_row.durations.enhance_ms.has_value());
  EXPECT_TRUE(ok_row.durations.output_ms.has_value());
  EXPECT_NE(ok_row.error.find("enhancement failed"), std::string::npos) << ok_row.error;
  const auto& failed_row = rows->at(0);
  EXPECT_EQ(failed_row.status, store::DictationStatus::failed);
  EXPECT_EQ(failed_row.error, "asr: cannot decode");
  EXPECT_EQ(failed_row.audio_path, failed->audio_path);
  EXPECT_TRUE(std::filesystem::exists(failed_row.audio_path));
  EXPECT_FALSE(failed_row.durations.output_ms.has_value());
}

// ---- the real engine behind the real VAD, the real SQLite history ----

// Replays a WAV file as if it had just been recorded (the capture has its own tests).
class FileRecorder : public Recorder {
 public:
  explicit FileRecorder(std::string source) : source_(std::move(source)) {}
  Result<void> start(const std::string& wav_path, audio::LevelCallback) override {
    path_ = wav_path;
    std::error_code ec;
    std::filesystem::copy_file(source_, wav_path, ec);
    if (ec) return make_error("cannot copy " + source_ + ": " + ec.message());
    return {};
  }
  audio::Recording stop() override {
    audio::Recording r;
    r.wav_path = path_;
    r.device = "file";
    r.samples = asr::test::read_wav_16k_mono(path_);
    r.duration_s = double(r.samples.size()) / 16000;
    return r;
  }

 private:
  std::string source_, path_;
};

Config::Vad vad_config() {
  Config::Vad v;
  v.model = thoth::test::shared_file("models/silero-v6.2.0-ggml.bin").string();
  return v;
}

std::shared_ptr<EngineTranscriber> gated_engine() {
  std::string warning;
  auto gate = speech_gate_from_config(vad_config(), false, &warning);
  EXPECT_TRUE(gate) << gate.error();
  EXPECT_TRUE(warning.empty()) << warning;
  if (!gate) return nullptr;
  asr::TranscribeOptions o;
  o.beam_size = 1;
  o.temperature_fallback = false;
  o.n_threads = 2;
  auto e = EngineTranscriber::load(thoth::test::shared_file("models/mini.en-f16.bin").string(), o, std::move(*gate));
  EXPECT_TRUE(e) << e.error();
  return e ? *e : nullptr;
}

TEST(PipelineWithRealStages, NoiseIsNoSpeechInTheSqliteHistoryWithItsAudio) {
  Rig rig;
  auto engine = gated_engine();
  ASSERT_TRUE(engine);
  ASSERT_TRUE(engine->gated());
  auto store = store::HistoryStore::open(rig.dir / "history.db");
  ASSERT_TRUE(store) << store.error();
  Stages s = rig.stages();
  s.recorder = std::make_shared<FileRecorder>(thoth::test::shared_file("speech/noise.wav").string());
  s.transcriber = engine;
  s.history = std::make_shared<HistoryStage>(std::move(*store));
  Pipeline p(std::move(s), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->final_state, S::Completed) << result->error;
  EXPECT_TRUE(result->no_speech);
  EXPECT_EQ(result->raw_text, "");
  EXPECT_TRUE(rig.output->delivered.empty());
  auto complete = rig.log.of_kind(PipelineEvent::Kind::Complete);
  ASSERT_EQ(complete.size(), 1u);
  EXPECT_EQ(complete[0].message, kNoSpeechMessage);

  auto reopened = store::HistoryStore::open(rig.dir / "history.db");
  ASSERT_TRUE(reopened);
  auto rows = reopened->search({});
  ASSERT_TRUE(rows) << rows.error();
  ASSERT_EQ(rows->size(), 1u);
  const auto& row = rows->at(0);
  EXPECT_EQ(row.id, result->history_id);
  EXPECT_EQ(row.status, store::DictationStatus::no_speech);
  EXPECT_EQ(row.text, "");
  EXPECT_EQ(row.raw_text, "");
  EXPECT_EQ(row.audio_path, result->audio_path);
  EXPECT_TRUE(std::filesystem::exists(row.audio_path));
  EXPECT_EQ(row.transcription_model, "mini.en-f16.bin");
  EXPECT_FALSE(row.durations.output_ms.has_value());
}

TEST(PipelineWithRealStages, SpeechStillGoesThroughTheGatedEngine) {
  Rig rig;
  auto engine = gated_engine();
  ASSERT_TRUE(engine);
  Stages s = rig.stages(false, false);
  s.recorder = std::make_shared<FileRecorder>(thoth::test::shared_file("speech/jfk.wav").string());
  s.transcriber = engine;
  Pipeline p(std::move(s), rig.options(), rig.bus);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.stop());
  auto result = p.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->final_state, S::Completed) << result->error;
  EXPECT_FALSE(result->no_speech);
  EXPECT_FALSE(result->raw_text.empty());
  ASSERT_EQ(rig.output->delivered.size(), 1u);
  EXPECT_EQ(rig.output->delivered[0], result->raw_text);
}

TEST(SpeechGateFromConfig, DisabledMissingAndRequired) {
  Config::Vad off = vad_config();
  off.enabled = false;
  std::string warning;
  auto none = speech_gate_from_config(off, false, &warning);
  ASSERT_TRUE(none) << none.error();
  EXPECT_FALSE(none->model);
  EXPECT_TRUE(warning.empty());
  // Asked for explicitly, the VAD runs even when the config turns it off.
  auto forced = speech_gate_from_config(off, true, &warning);
  ASSERT_TRUE(forced) << forced.error();
  EXPECT_TRUE(forced->model);

  ScratchDir dir;
  Config::Vad missing;
  missing.model = (dir / "no-such-vad.bin").string();
  auto ungated = speech_gate_from_config(missing, false, &warning);
  ASSERT_TRUE(ungated) << ungated.error();
  EXPECT_FALSE(ungated->model);
  EXPECT_NE(warning.find("no-such-vad.bin"), std::string::npos) << warning;
  EXPECT_NE(warning.find("without voice activity detection"), std::string::npos) << warning;
  EXPECT_EQ(warning.find('\n'), std::string::npos);
  auto failed = speech_gate_from_config(missing, true, nullptr);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("no-such-vad.bin"), std::string::npos) << failed.error();

  Config::Vad tuned = vad_config();
  tuned.threshold = 0.7;
  tuned.min_silence_ms = 300;
  tuned.speech_pad_ms = 50;
  tuned.max_speech_s = 0;
  const asr::VadParams params = vad_params_from_config(tuned);
  EXPECT_FLOAT_EQ(params.threshold, 0.7f);
  EXPECT_EQ(params.min_silence_ms, 300);
  EXPECT_EQ(params.speech_pad_ms, 50);
  EXPECT_TRUE(std::isinf(params.max_speech_s));
  tuned.threshold = 0;  // in the schema's range, but the VAD cannot use it: a clear error
  auto bad = speech_gate_from_config(tuned, false, nullptr);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("config vad"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace thoth::pipeline
