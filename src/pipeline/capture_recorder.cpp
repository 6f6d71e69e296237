#include "pipeline/capture_recorder.h"

namespace thoth::pipeline {

Result<void> CaptureRecorder::start(const std::string& wav_path, audio::LevelCallback on_level) {
  auto cap = audio::Capture::start({device_, wav_path, std::move(on_level)});
  if (!cap) return make_error(cap.error());
  capture_ = std::move(*cap);
  return {};
}

audio::Recording CaptureRecorder::stop() {
  if (!capture_) {
    audio::Recording none;
    none.error = "audio: the recorder was not started";
    return none;
  }
  audio::Recording rec = capture_->stop();
  capture_.reset();
  return rec;
}

}  // namespace thoth::pipeline
