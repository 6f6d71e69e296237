// A private PulseAudio server for tests: its own 0700 runtime dir, a null sink "virt" whose
// monitor "virt.monitor" is the default input, so what a test plays into the sink is what
// capture records. Stopped by its own pid; the process env points libpulse clients at it
// (PULSE_SERVER, no autospawn) while the object lives.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/shared_data.h"

namespace thoth::test {

class PulseServer {
 public:
  // Starts the server; on failure returns null and explains in *error.
  static std::unique_ptr<PulseServer> start(std::string* error);
  // start() inside a test: a failure is recorded as a test failure with its reason.
  static std::unique_ptr<PulseServer> start_or_fail();
  ~PulseServer();
  PulseServer(const PulseServer&) = delete;
  PulseServer& operator=(const PulseServer&) = delete;

  static constexpr const char* kSink = "virt";
  static constexpr const char* kMonitor = "virt.monitor";

  // Plays an audio file into the null sink and waits until it has been played; returns
  // the exit status of paplay (0 on success).
  int play(const std::filesystem::path& file) const;
  // Starts playing without waiting; returns the player's pid (reap with wait_player).
  pid_t play_async(const std::filesystem::path& file) const;
  static int wait_player(pid_t pid);

  const std::filesystem::path& runtime_dir() const { return dir_.path(); }
  std::string server_address() const;

 private:
  PulseServer() = default;
  ScratchDir dir_;
  pid_t pid_ = -1;
  std::vector<std::pair<std::string, std::string>> saved_env_;
};

}  // namespace thoth::test
