// thoth transcribe FILE...: audio files through our Whisper engine, printed as text, SRT,
// VTT or JSON. Gated by Silero VAD as the config's vad group says (on by default): only the
// speech reaches the engine, times stay those of the file, and a file without speech gives
// no text. --vad insists (a missing VAD model is an error); without it a missing model only
// costs the gating, with a one-line warning.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "asr/transcript_format.h"
#include "asr/vad_gate.h"
#include "asr/whisper.h"
#include "audio/audio_file.h"
#include "cli/commands.h"
#include "core/config.h"
#include "models/lookup.h"
#include "pipeline/engine_transcriber.h"

namespace thoth::cli {

namespace {

struct TranscribeArgs {
  std::vector<std::string> files;
  std::string model;
  std::string language = "en";
  int beam_size = 5;
  int best_of = 5;
  bool no_fallback = false;
  bool no_timestamps = false;
  std::string prompt;
  bool translate = false;
  int threads = 0;
  std::string format = "text";
  bool srt = false, vtt = false, json = false;
  bool vad = false, no_vad = false;
  std::string vad_model;
};

// Set by SIGINT; the engine polls it between decoding steps. A lock-free atomic store is all a
// signal handler may do here.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void on_sigint(int) { g_interrupted.store(true, std::memory_order_relaxed); }

int run(const TranscribeArgs& a, const GlobalOptions& global) {
  asr::TranscriptFormat format = asr::TranscriptFormat::Text;
  if (a.format == "srt" || a.srt) format = asr::TranscriptFormat::Srt;
  if (a.format == "vtt" || a.vtt) format = asr::TranscriptFormat::Vtt;
  if (a.format == "json" || a.json) format = asr::TranscriptFormat::Json;

  auto config = load_config();
  if (!config) {
    std::fprintf(stderr, "thoth: %s\n", config.error().c_str());
    return 1;
  }
  Config::Vad vad_config = config->vad;
  if (a.no_vad) vad_config.enabled = false;
  if (!a.vad_model.empty()) vad_config.model = a.vad_model;
  std::string vad_warning;
  auto gate = pipeline::speech_gate_from_config(vad_config, a.vad, &vad_warning);
  if (!gate) {
    std::fprintf(stderr, "thoth: %s\n", gate.error().c_str());
    return 1;
  }
  if (!vad_warning.empty() && !global.quiet) std::fprintf(stderr, "thoth: warning: %s\n", vad_warning.c_str());

  auto path = models::resolve_model(a.model);
  if (!path) {
    std::fprintf(stderr, "thoth: %s\n", path.error().c_str());
    return 1;
  }
  auto model = asr::Model::load(*path);
  if (!model) {
    std::fprintf(stderr, "thoth: %s\n", model.error().c_str());
    return 1;
  }

  asr::TranscribeOptions opts;
  opts.language = a.language;
  opts.translate = a.translate;
  opts.beam_size = a.beam_size;
  opts.best_of = a.best_of;
  opts.temperature_fallback = !a.no_fallback;
  opts.timestamps = !a.no_timestamps;
  opts.initial_prompt = a.prompt;
  opts.n_threads = a.threads;
  opts.cancel = &g_interrupted;

  auto previous = std::signal(SIGINT, on_sigint);
  asr::Session session(*model);
  int status = 0;
  for (const auto& file : a.files) {
    auto audio = audio::load_audio_16k_mono(file);
    if (!audio) {
      std::fprintf(stderr, "thoth: %s\n", audio.error().c_str());
      status = 1;
      continue;
    }
    auto gated = asr::transcribe_gated(session, gate->model, gate->params, audio->data(), audio->size(), opts);
    if (!gated) {
      std::fprintf(stderr, "thoth: %s: %s\n", file.c_str(), gated.error().c_str());
      status = 1;
      break;  // bad options fail every file alike
    }
    if (gated->no_speech && !global.quiet) std::fprintf(stderr, "thoth: %s: no speech detected\n", file.c_str());
    else if (gated->gated && global.verbosity > 0)
      std::fprintf(stderr, "thoth: %s: VAD kept %.1f of %.1f s (%zu speech segments) in %.0f ms\n", file.c_str(),
                   double(gated->engine_samples) / asr::kVadSampleRate, double(audio->size()) / asr::kVadSampleRate,
                   gated->speech.size(), gated->vad_ms);
    const asr::Transcript* result = &gated->transcript;
    if (a.files.size() > 1 && format != asr::TranscriptFormat::Json) std::printf("==> %s <==\n", file.c_str());
    const std::string out = asr::format_transcript(*result, format);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    if (result->cancelled) {
      if (!global.quiet) std::fprintf(stderr, "thoth: interrupted; the transcript above is partial\n");
      status = 130;
      break;
    }
  }
  std::signal(SIGINT, previous);
  return status;
}

}  // namespace

void add_transcribe_command(CLI::App& app, const GlobalOptions& global) {
  auto* sub = app.add_subcommand("transcribe", "Transcribe audio files (or - for standard input)");
  static TranscribeArgs a;
  sub->add_option("files", a.files, "Audio files: WAV, FLAC, OGG, MP3; - reads standard input")->required();
  sub->add_option("-m,--model", a.model,
                  "Model: a file path or a name (base.en, ...) found in $THOTH_MODEL_PATH or the models dir");
  sub->add_option("-l,--language", a.language, "Spoken language code (en, de, ...) or auto")->capture_default_str();
  sub->add_option("--beam-size", a.beam_size, "Beam size; 1 = greedy")->capture_default_str()->check(CLI::Range(1, 8));
  sub->add_option("--best-of", a.best_of, "Candidates when sampling at a fallback temperature")
      ->capture_default_str()
      ->check(CLI::Range(1, 8));
  sub->add_flag("--no-fallback", a.no_fallback, "Do not retry at higher temperatures when unsure");
  sub->add_flag("--no-timestamps", a.no_timestamps, "Decode without timestamps (one segment per window)");
  sub->add_option("--prompt", a.prompt, "Initial prompt: words, names or style to steer the first window");
  sub->add_flag("--translate", a.translate, "Translate to English (multilingual models)");
  sub->add_option("-t,--threads", a.threads, "Threads (default: all cores, at most 8)")->check(CLI::Range(0, 64));
  sub->add_option("--format", a.format, "Output: text, srt, vtt or json")
      ->check(CLI::IsMember({"text", "srt", "vtt", "json"}))
      ->capture_default_str();
  sub->add_flag("--srt", a.srt, "Same as --format srt");
  sub->add_flag("--vtt", a.vtt, "Same as --format vtt");
  sub->add_flag("--json", a.json, "Same as --format json");
  auto* vad = sub->add_flag("--vad", a.vad,
                            "Gate with voice activity detection even if vad.enabled is false; fail if the VAD model is missing");
  sub->add_flag("--no-vad", a.no_vad, "Give the engine all the audio (no voice activity detection)")->excludes(vad);
  sub->add_option("--vad-model", a.vad_model, "Silero VAD model: a path or a name (default: vad.model in the config)");
  on_run(sub, [&global] { return run(a, global); });
}

}  // namespace thoth::cli
