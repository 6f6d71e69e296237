// The real Transcriber: our Whisper engine (asr/). The model is loaded once and shared
// (immutable); each dictation gets its own Session.
#pragma once
#include <memory>
#include <string>

#include "asr/whisper.h"
#include "pipeline/stages.h"

namespace thoth::pipeline {

class EngineTranscriber final : public Transcriber {
 public:
  static Result<std::shared_ptr<EngineTranscriber>> load(const std::string& model_path,
                                                         asr::TranscribeOptions options = {});
  EngineTranscriber(std::shared_ptr<const asr::Model> model, asr::TranscribeOptions options, std::string name)
      : model_(std::move(model)), options_(std::move(options)), name_(std::move(name)) {}

  Result<Transcription> transcribe(const std::vector<float>& pcm, const std::atomic<bool>& cancel) override;
  std::string model_name() const override { return name_; }
  const asr::TranscribeOptions& options() const { return options_; }

 private:
  std::shared_ptr<const asr::Model> model_;
  asr::TranscribeOptions options_;
  std::string name_;
};

}  // namespace thoth::pipeline
