// A `thoth` process running in the background for a test (the daemon, `thoth events`), its
// output in files, killed if the test ends without stopping it; and the polling helpers
// such tests wait with.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "support/shared_data.h"

namespace thoth::test {

// The whole file (empty if it cannot be read).
std::string read_text_file(const std::filesystem::path& path);

// Polls until `done` holds; false after `timeout` (a hang, not a slow machine).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(30));

class BackgroundThoth {
 public:
  explicit BackgroundThoth(const std::vector<std::string>& args);
  ~BackgroundThoth();  // SIGKILL if still running
  BackgroundThoth(const BackgroundThoth&) = delete;
  BackgroundThoth& operator=(const BackgroundThoth&) = delete;

  pid_t pid() const { return pid_; }
  std::string out() const { return read_text_file(io_ / "out"); }
  std::string err() const { return read_text_file(io_ / "err"); }
  bool alive();
  // Sends `sig` and waits for the exit; returns the exit code, -1 if it did not exit in time
  // (then it is killed).
  int signal_and_wait(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  ScratchDir io_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace thoth::test
