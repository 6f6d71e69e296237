// `thoth vad FILE`: the speech segments Silero VAD finds in an audio file.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "asr/vad.h"
#include "audio/audio_file.h"
#include "cli/commands.h"
#include "models/vad_model.h"

namespace thoth::cli {
namespace {

struct VadOptions {
  std::string file;
  std::string model;
  bool json = false;
  asr::VadParams params;
};

int run_vad(const VadOptions& o) {
  if (auto ok = asr::validate(o.params); !ok) {
    std::fprintf(stderr, "thoth vad: %s\n", ok.error().c_str());
    return 2;
  }
  auto model_path = models::resolve_vad_model(o.model);
  if (!model_path) {
    std::fprintf(stderr, "thoth vad: %s\n", model_path.error().c_str());
    return 1;
  }
  auto model = asr::VadModel::load(*model_path);
  if (!model) {
    std::fprintf(stderr, "thoth vad: %s\n", model.error().c_str());
    return 1;
  }
  auto pcm = audio::load_audio_16k_mono(o.file);
  if (!pcm) {
    std::fprintf(stderr, "thoth vad: %s\n", pcm.error().c_str());
    return 1;
  }
  const auto segments = asr::vad_detect_speech(*model, pcm->data(), pcm->size(), o.params);
  if (o.json) {
    const long long duration_ms = static_cast<long long>(pcm->size()) * 1000 / asr::kVadSampleRate;
    std::printf("{\"duration_ms\": %lld, \"segments\": [", duration_ms);
    for (size_t i = 0; i < segments.size(); ++i) {
      std::printf("%s{\"start_ms\": %lld, \"end_ms\": %lld}", i ? ", " : "",
                  static_cast<long long>(segments[i].start_ms()), static_cast<long long>(segments[i].end_ms()));
    }
    std::printf("]}\n");
  } else {
    for (const auto& s : segments) {
      std::printf("%.2f %.2f\n", static_cast<double>(s.start_cs) / 100.0, static_cast<double>(s.end_cs) / 100.0);
    }
  }
  return 0;
}

}  // namespace

void add_vad_command(CLI::App& app, const GlobalOptions& /*global*/) {
  static VadOptions o;
  auto* sub = app.add_subcommand("vad", "Find the speech in an audio file (Silero VAD): start and end of each segment");
  sub->add_option("file", o.file, "Audio file: WAV, FLAC, OGG, MP3; - reads standard input")->required();
  sub->add_option("-m,--model", o.model, "Silero VAD ggml model (default: $THOTH_VAD_MODEL, then the models dir)");
  sub->add_flag("--json", o.json, "Print {\"segments\": [{\"start_ms\", \"end_ms\"}]}");
  sub->add_option("--threshold", o.params.threshold, "Speech probability threshold")->capture_default_str();
  sub->add_option("--min-speech-ms", o.params.min_speech_ms, "Drop speech shorter than this")->capture_default_str();
  sub->add_option("--min-silence-ms", o.params.min_silence_ms, "Pauses shorter than this do not split")
      ->capture_default_str();
  sub->add_option("--speech-pad-ms", o.params.speech_pad_ms, "Padding added around each segment")->capture_default_str();
  sub->add_option("--max-speech-s", o.params.max_speech_s, "Split segments longer than this (default: no limit)");
  on_run(sub, [] { return run_vad(o); });
}

}  // namespace thoth::cli
