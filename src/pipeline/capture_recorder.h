// The real Recorder: audio::Capture on a PulseAudio/PipeWire input device.
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "audio/capture.h"
#include "pipeline/stages.h"

namespace thoth::pipeline {

class CaptureRecorder final : public Recorder {
 public:
  explicit CaptureRecorder(std::string device = "") : device_(std::move(device)) {}
  Result<void> start(const std::string& wav_path, audio::LevelCallback on_level) override;
  audio::Recording stop() override;

 private:
  std::string device_;
  std::unique_ptr<audio::Capture> capture_;
};

}  // namespace thoth::pipeline
