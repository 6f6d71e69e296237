// Wayland for tests: a headless sway compositor and a real Wayland client window (foot
// running `cat` into a file) that records the text typed into it. sway refuses to run as
// root, so both run as an unprivileged user created once (see ../shared/TESTING.md).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace thoth::test {

class SwayServer {
 public:
  static std::unique_ptr<SwayServer> start(std::string* error);
  ~SwayServer();

  // What a Wayland client needs in its environment to reach this compositor.
  std::map<std::string, std::optional<std::string>> client_env() const;
  // Puts client_env() into this process's environment (for code under test that spawns
  // wtype / wl-copy) and takes DISPLAY away, so the session looks like pure Wayland.
  void enter() const;
  const std::filesystem::path& runtime_dir() const { return runtime_dir_; }

  // Opens a terminal window (foot) that takes the focus and writes every line typed into it
  // to a file; returns false with `error` set if it did not come up.
  bool open_recording_window(std::string* error);
  // The text typed into that window so far (complete lines only: it is a terminal).
  std::string typed_text() const;
  // Waits until typed_text() holds `lines` newline characters (or the timeout).
  std::string wait_for_lines(size_t lines, std::chrono::milliseconds timeout) const;

 private:
  SwayServer() = default;
  bool foot_has_focus() const;
  pid_t pid_ = -1;
  pid_t window_pid_ = -1;
  std::filesystem::path runtime_dir_;
  std::filesystem::path typed_file_;
};

}  // namespace thoth::test
