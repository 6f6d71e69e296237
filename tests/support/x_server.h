// X11 for tests: a private Xvfb server (stopped by its own pid) and a small client window
// that takes the input focus and records the text its key events spell, the reliable
// reader of what Thoth types.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace thoth::test {

class XvfbServer {
 public:
  static std::unique_ptr<XvfbServer> start(std::string* error);
  ~XvfbServer();
  const std::string& display() const { return display_; }  // ":N"

 private:
  XvfbServer() = default;
  pid_t pid_ = -1;
  std::string display_;
};

class TypedTextRecorder {
 public:
  // Opens a window on `display`, gives it the focus, and records key presses as UTF-8.
  static std::unique_ptr<TypedTextRecorder> start(const std::string& display, std::string* error);
  ~TypedTextRecorder();
  std::string text() const;
  // Waits until the recorded text has at least `chars` code points (or the timeout).
  bool wait_for_chars(size_t chars, std::chrono::milliseconds timeout) const;
  // Waits until nothing new arrived for `quiet` (or the timeout); returns the text.
  std::string settle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const;

 private:
  TypedTextRecorder() = default;
  void run();
  void* display_ = nullptr;  // Display*
  unsigned long window_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string text_;
  size_t chars_ = 0;
  std::chrono::steady_clock::time_point last_;
  std::thread thread_;
};

}  // namespace thoth::test
