// Test double of the dictation the shortcuts drive: records every call, and is recording
// between start() and stop()/cancel() as a real dictation would be.
#pragma once
#include <mutex>
#include <string>
#include <vector>

#include "input/dictation_keys.h"

namespace thoth::input::test {

class RecordingDictation : public DictationControl {
 public:
  bool recording() const override {
    std::lock_guard lock(mutex_);
    return recording_;
  }
  void start() override { call("start", true); }
  void stop() override { call("stop", false); }
  void cancel() override { call("cancel", false); }
  void copy_last() override { call("copy_last", recording()); }
  void toggle_hands_free() override { call("toggle_hands_free", recording()); }
  std::vector<std::string> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  void call(const char* name, bool recording) {
    std::lock_guard lock(mutex_);
    calls_.push_back(name);
    recording_ = recording;
  }
  mutable std::mutex mutex_;
  bool recording_ = false;
  std::vector<std::string> calls_;
};

}  // namespace thoth::input::test
