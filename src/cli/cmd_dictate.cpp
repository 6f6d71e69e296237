// `thoth dictate`: one dictation in the foreground, through the same Pipeline the daemon
// drives. Start on Enter (or --now), stop on Enter, after --seconds, or on Ctrl+C; a second
// Ctrl+C cancels. The text goes to standard output; progress and the level meter to stderr.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "audio/capture.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/paths.h"
#include "models/lookup.h"
#include "pipeline/capture_recorder.h"
#include "pipeline/engine_transcriber.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage_adapters.h"

namespace thoth::cli {
namespace {

// Ctrl+C only writes a byte to a pipe that the main loop polls (async-signal-safe).
int g_signal_pipe[2] = {-1, -1};
void on_sigint(int) {
  const char c = 'i';
  (void)!write(g_signal_pipe[1], &c, 1);
}

// Prints the text on standard output: the output stage of a foreground dictation.
class StdoutOutput final : public pipeline::Output {
 public:
  Result<pipeline::Delivery> deliver(const std::string& text, const std::atomic<bool>&) override {
    if (std::printf("%s\n", text.c_str()) < 0 || std::fflush(stdout) != 0)
      return make_error("output: cannot write to standard output");
    return pipeline::Delivery{method_name(), {}};
  }
  std::string method_name() const override { return "stdout"; }
};

enum class Input { Enter, Interrupt, Timeout, Closed };

// Waits for Enter on stdin, Ctrl+C, or the deadline (ms < 0: none).
Input wait_input(bool& stdin_open, int timeout_ms) {
  pollfd fds[2] = {{g_signal_pipe[0], POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
  const int nfds = stdin_open ? 2 : 1;
  for (;;) {
    const int r = poll(fds, nfds, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Input::Timeout;
    if (fds[0].revents & POLLIN) {
      char c;
      (void)!read(g_signal_pipe[0], &c, 1);
      return Input::Interrupt;
    }
    if (nfds > 1 && fds[1].revents) {
      char buf[256];
      const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;  // EOF: only the deadline or Ctrl+C can end the recording now
        return Input::Closed;
      }
      for (ssize_t i = 0; i < n; ++i)
        if (buf[i] == '\n') return Input::Enter;
    }
  }
}

struct DictateOptions {
  bool now = false;
  double seconds = 0;
  std::string device;
  std::string model;
  bool type = false;
  bool paste = false;
};

int run_dictate(const DictateOptions& opt, const GlobalOptions& global) {
  auto config = load_config();
  if (!config) {
    std::fprintf(stderr, "thoth: %s\n", config.error().c_str());
    return 1;
  }
  auto configured = pipeline::stages_from_config(*config);
  if (!configured) {
    std::fprintf(stderr, "thoth: %s\n", configured.error().c_str());
    return 1;
  }
  auto rec_dir = paths::ensure_dir(paths::recordings_dir(), "recordings dir");
  if (!rec_dir) {
    std::fprintf(stderr, "thoth: %s\n", rec_dir.error().c_str());
    return 1;
  }
  // WAVs left by a killed dictation become readable again before anything else happens.
  const auto recovery = audio::recover_recordings(rec_dir->string());
  if (!global.quiet)
    for (const auto& p : recovery.repaired) std::fprintf(stderr, "thoth: repaired interrupted recording %s\n", p.c_str());

  if (pipe(g_signal_pipe) != 0) {
    std::fprintf(stderr, "thoth: cannot set up signal handling\n");
    return 1;
  }
  struct sigaction sa{};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);

  pipeline::EventBus bus;
  const bool tty = isatty(STDERR_FILENO);
  std::atomic<bool> meter_shown{false};
  const auto sub = bus.subscribe([&](const pipeline::PipelineEvent& e) {
    if (global.quiet) return;
    using K = pipeline::PipelineEvent::Kind;
    if (e.kind == K::Level) {
      if (!tty) return;
      const int bars = std::clamp(int(std::lround((e.rms_dbfs + 60.0f) / 3.0f)), 0, 20);
      std::fprintf(stderr, "\r  level [%-20.*s] %6.1f dBFS ", bars, "####################", double(e.rms_dbfs));
      meter_shown = true;
      return;
    }
    if (meter_shown.exchange(false)) std::fputc('\n', stderr);
    if (e.kind == K::Progress && (global.verbosity > 0 || e.state == pipeline::PipelineState::Recording ||
                                  e.state == pipeline::PipelineState::Transcribing))
      std::fprintf(stderr, "thoth: %s\n", e.message.c_str());
  });

  // The model loads before recording starts, so a missing model fails at once.
  auto model_path = models::resolve_model(opt.model.empty() ? config->transcription.model : opt.model);
  if (!model_path) {
    std::fprintf(stderr, "thoth: %s\n", model_path.error().c_str());
    return 1;
  }
  asr::TranscribeOptions engine_options;
  engine_options.language = config->transcription.language;
  engine_options.translate = config->transcription.translate;
  engine_options.n_threads = config->transcription.threads;
  engine_options.beam_size = config->transcription.beam_size;
  engine_options.initial_prompt = config->transcription.initial_prompt;
  std::string vad_warning;
  auto gate = pipeline::speech_gate_from_config(config->vad, false, &vad_warning);
  if (!gate) {
    std::fprintf(stderr, "thoth: %s\n", gate.error().c_str());
    return 1;
  }
  if (!vad_warning.empty() && !global.quiet) std::fprintf(stderr, "thoth: warning: %s\n", vad_warning.c_str());
  auto engine = pipeline::EngineTranscriber::load(*model_path, engine_options, std::move(*gate));
  if (!engine) {
    std::fprintf(stderr, "thoth: %s\n", engine.error().c_str());
    return 1;
  }

  pipeline::Stages stages;
  stages.transcriber = *engine;
  stages.recorder = std::make_shared<pipeline::CaptureRecorder>(opt.device.empty() ? config->audio.device : opt.device);
  stages.filter = configured->filter;
  stages.enhancer = configured->enhancer;
  stages.history = configured->history;
  if (opt.paste || opt.type) {
    auto options = pipeline::output_options_from_config(*config);
    options.method = opt.paste ? "paste" : "type";
    auto desktop = pipeline::DesktopTextOutput::create(options);
    if (!desktop) {
      std::fprintf(stderr, "thoth: %s\n", desktop.error().c_str());
      return 1;
    }
    stages.output = *desktop;
  } else {
    stages.output = std::make_shared<StdoutOutput>();
  }
  pipeline::Pipeline pipe_line(std::move(stages), {rec_dir->string()}, bus);

  bool stdin_open = true;
  if (!opt.now) {
    if (!global.quiet) std::fprintf(stderr, "thoth: press Enter to start recording\n");
    for (;;) {
      const Input in = wait_input(stdin_open, -1);
      if (in == Input::Enter) break;
      if (in == Input::Interrupt) return 130;
      if (in == Input::Closed) {
        std::fprintf(stderr, "thoth: standard input closed before Enter; use --now to start at once\n");
        return 2;
      }
    }
  }
  if (auto started = pipe_line.start(); !started) {
    std::fprintf(stderr, "thoth: %s\n", started.error().c_str());
    return 1;
  }
  if (!global.quiet)
    std::fprintf(stderr, "thoth: %s\n", opt.seconds > 0 ? "recording (Enter or Ctrl+C stops early)"
                                                        : "recording: press Enter (or Ctrl+C) to stop");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(opt.seconds);
  for (;;) {
    int timeout_ms = -1;
    if (opt.seconds > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      timeout_ms = int(std::max<int64_t>(0, left.count()));
    }
    const Input in = wait_input(stdin_open, timeout_ms);
    if (in == Input::Closed) continue;
    break;  // Enter, Ctrl+C or the deadline
  }
  (void)pipe_line.stop();

  // A further Ctrl+C while the text is being produced cancels the dictation.
  std::atomic<bool> done{false};
  std::thread canceller([&] {
    bool open = false;
    while (!done.load(std::memory_order_acquire)) {
      if (wait_input(open, 50) == Input::Interrupt) {
        pipe_line.cancel();
        break;
      }
    }
  });
  auto result = pipe_line.wait();
  done.store(true, std::memory_order_release);
  canceller.join();
  bus.flush(sub, std::chrono::seconds(1));
  bus.unsubscribe(sub);

  if (!result) return 1;
  for (const auto& w : result->warnings) std::fprintf(stderr, "thoth: warning: %s\n", w.c_str());
  if (result->cancelled) {
    std::fprintf(stderr, "thoth: cancelled; the recording is kept at %s\n", result->audio_path.c_str());
    return 130;
  }
  if (result->final_state != pipeline::PipelineState::Completed) {
    std::fprintf(stderr, "thoth: %s\n", result->error.c_str());
    if (result->error.find(result->audio_path) == std::string::npos)
      std::fprintf(stderr, "thoth: the recording is kept at %s\n", result->audio_path.c_str());
    return 1;
  }
  if (result->no_speech) {
    // Not a failure: there was simply nothing to write.
    if (!global.quiet)
      std::fprintf(stderr, "thoth: no speech detected; nothing typed (the recording is kept at %s)\n",
                   result->audio_path.c_str());
    return 0;
  }
  if (opt.type || opt.paste) std::printf("%s\n", result->text.c_str());
  if (global.verbosity > 0)
    std::fprintf(stderr, "thoth: %.1f s of audio; stop->text %.0f ms (drain %.0f, transcribe %.0f, filter %.0f, enhance %.0f, output %.0f)\n",
                 result->audio_seconds, result->timings.total_ms, result->timings.drain_ms,
                 result->timings.transcribe_ms, result->timings.filter_ms, result->timings.enhance_ms,
                 result->timings.output_ms);
  return 0;
}

}  // namespace

void add_dictate_command(CLI::App& app, const GlobalOptions& global) {
  auto* sub = app.add_subcommand("dictate", "Record one dictation and print its text");
  static DictateOptions opt;
  sub->add_flag("--now", opt.now, "Start recording at once instead of waiting for Enter");
  sub->add_option("--seconds", opt.seconds, "Stop after this many seconds")->check(CLI::PositiveNumber);
  sub->add_option("-d,--device", opt.device, "Input device (see `thoth devices`); default: audio.device in the config, else the system's");
  sub->add_option("-m,--model", opt.model, "Whisper model: a path or a name (thoth models list); default: transcription.model");
  sub->add_flag("--type", opt.type, "Also type the text into the focused window (Wayland or X11)");
  sub->add_flag("--paste", opt.paste, "Also paste the text into the focused window (clipboard restored)");
  on_run(sub, [&global] { return run_dictate(opt, global); });
}

}  // namespace thoth::cli
