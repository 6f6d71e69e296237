// The real Transcriber: our Whisper engine (asr/), gated by Silero VAD as the config's vad
// group asks. The models are loaded once and shared (immutable); each dictation gets its own
// Session. A recording without speech never reaches the engine.
#pragma once
#include <memory>
#include <string>

#include "asr/vad.h"
#include "asr/whisper.h"
#include "core/config.h"
#include "pipeline/stages.h"

namespace thoth::pipeline {

// The VAD in front of the engine; no model means the engine hears everything.
struct SpeechGate {
  std::shared_ptr<const asr::VadModel> model;
  asr::VadParams params;
  std::string model_path;
};

// vad.threshold, min_speech_ms, min_silence_ms, speech_pad_ms and max_speech_s (0 = no limit).
asr::VadParams vad_params_from_config(const Config::Vad& vad);

// The gate the config asks for. vad.enabled false (and not `required`): no gate. A model that
// cannot be found or loaded fails only when `required` (the user asked for VAD explicitly);
// otherwise transcription goes ungated and `warning` (if given) says why, in one line.
Result<SpeechGate> speech_gate_from_config(const Config::Vad& vad, bool required, std::string* warning);

class EngineTranscriber final : public Transcriber {
 public:
  static Result<std::shared_ptr<EngineTranscriber>> load(const std::string& model_path,
                                                         asr::TranscribeOptions options = {},
                                                         SpeechGate gate = {});
  EngineTranscriber(std::shared_ptr<const asr::Model> model, asr::TranscribeOptions options, std::string name,
                    SpeechGate gate = {})
      : model_(std::move(model)), options_(std::move(options)), name_(std::move(name)), gate_(std::move(gate)) {}

  Result<Transcription> transcribe(const std::vector<float>& pcm, const std::atomic<bool>& cancel) override;
  std::string model_name() const override { return name_; }
  const asr::TranscribeOptions& options() const { return options_; }
  bool gated() const { return gate_.model != nullptr; }

 private:
  std::shared_ptr<const asr::Model> model_;
  asr::TranscribeOptions options_;
  std::string name_;
  SpeechGate gate_;
};

}  // namespace thoth::pipeline
