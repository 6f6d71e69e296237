// Running a helper program (wtype, wl-copy, ...) with a deadline and a cancel flag. Only
// the direct child is waited for: tools like wl-copy fork a server that keeps our pipes
// open, and must not hold us up.
#pragma once
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace thoth {

struct ChildOptions {
  std::optional<std::string> input;              // written to its stdin (then closed)
  bool capture_stdout = false;                   // otherwise /dev/null
  std::chrono::milliseconds timeout{10000};      // then SIGKILL, and an error
  const std::atomic<bool>* cancel = nullptr;     // polled every few ms; SIGKILL, and an error
};

struct ChildResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;     // stdout if captured
  std::string err;     // stderr, trailing newlines trimmed
};

// Runs argv[0] (searched on PATH). Errors: the program is not installed, it timed out, or
// it was cancelled. A non-zero exit is not an error here; callers read exit_code.
Result<ChildResult> run_child(const std::vector<std::string>& argv, const ChildOptions& options = {});

// Whether `name` is an executable on PATH.
bool program_on_path(const std::string& name);

}  // namespace thoth
