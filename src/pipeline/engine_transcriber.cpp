#include "pipeline/engine_transcriber.h"

#include <filesystem>
#include <limits>

#include "asr/vad_gate.h"
#include "models/vad_model.h"

namespace thoth::pipeline {

asr::VadParams vad_params_from_config(const Config::Vad& vad) {
  asr::VadParams p;
  p.threshold = static_cast<float>(vad.threshold);
  p.min_speech_ms = vad.min_speech_ms;
  p.min_silence_ms = vad.min_silence_ms;
  p.speech_pad_ms = vad.speech_pad_ms;
  p.max_speech_s = vad.max_speech_s > 0 ? static_cast<float>(vad.max_speech_s) : std::numeric_limits<float>::infinity();
  return p;
}

Result<SpeechGate> speech_gate_from_config(const Config::Vad& vad, bool required, std::string* warning) {
  SpeechGate gate;
  if (!vad.enabled && !required) return gate;
  gate.params = vad_params_from_config(vad);
  if (auto ok = asr::validate(gate.params); !ok) return make_error("config vad: " + ok.error());
  auto path = models::resolve_vad_model_setting(vad.model);
  Result<std::shared_ptr<const asr::VadModel>> model =
      path ? asr::VadModel::load(*path) : Result<std::shared_ptr<const asr::VadModel>>(make_error(path.error()));
  if (!model) {
    if (required) return make_error(model.error());
    // Dictation must not stop working for want of the VAD: it only costs the gating.
    if (warning)
      *warning = model.error() + "; transcribing without voice activity detection (set vad.enabled false to silence this)";
    return SpeechGate{};
  }
  gate.model = std::move(*model);
  gate.model_path = *path;
  return gate;
}

Result<std::shared_ptr<EngineTranscriber>> EngineTranscriber::load(const std::string& model_path,
                                                                   asr::TranscribeOptions options, SpeechGate gate) {
  auto model = asr::Model::load(model_path);
  if (!model) return make_error(model.error());
  return std::make_shared<EngineTranscriber>(std::move(*model), std::move(options),
                                             std::filesystem::path(model_path).filename().string(), std::move(gate));
}

Result<Transcription> EngineTranscriber::transcribe(const std::vector<float>& pcm, const std::atomic<bool>& cancel) {
  asr::Session session(model_);
  asr::TranscribeOptions opts = options_;
  opts.cancel = &cancel;  // the pipeline's cancel reaches the decoder between windows/tokens
  auto r = asr::transcribe_gated(session, gate_.model, gate_.params, pcm.data(), pcm.size(), opts);
  if (!r) return make_error(r.error());
  Transcription t;
  t.text = r->transcript.text();
  t.cancelled = r->transcript.cancelled;
  t.no_speech = r->no_speech;
  return t;
}

}  // namespace thoth::pipeline
