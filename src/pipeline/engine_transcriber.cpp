#include "pipeline/engine_transcriber.h"

#include <filesystem>

namespace thoth::pipeline {

Result<std::shared_ptr<EngineTranscriber>> EngineTranscriber::load(const std::string& model_path,
                                                                   asr::TranscribeOptions options) {
  auto model = asr::Model::load(model_path);
  if (!model) return make_error(model.error());
  return std::make_shared<EngineTranscriber>(std::move(*model), std::move(options),
                                             std::filesystem::path(model_path).filename().string());
}

Result<Transcription> EngineTranscriber::transcribe(const std::vector<float>& pcm, const std::atomic<bool>& cancel) {
  asr::Session session(model_);
  asr::TranscribeOptions opts = options_;
  opts.cancel = &cancel;  // the pipeline's cancel reaches the decoder between windows/tokens
  auto transcript = session.transcribe(pcm.data(), pcm.size(), opts);
  if (!transcript) return make_error(transcript.error());
  return Transcription{transcript->text(), transcript->cancelled};
}

}  // namespace thoth::pipeline
