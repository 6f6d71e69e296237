// Runs a program for a test and collects what it printed: CLI tests run the real `thoth`
// binary this way.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace thoth::test {

struct RunResult {
  int exit_code = -1;  // 128 + signal number when killed by a signal
  std::string out;     // standard output
  std::string err;     // standard error
};

struct RunOptions {
  // Changes to the inherited environment: a value sets the variable, nullopt removes it.
  std::map<std::string, std::optional<std::string>> env;
  std::optional<std::filesystem::path> stdin_file;  // default: /dev/null
  std::optional<std::filesystem::path> cwd;
  // A program still running after this is killed (SIGKILL) so a hang fails the test
  // instead of stalling the suite.
  std::chrono::milliseconds timeout{60000};
};

// Runs `argv[0]` (a path) with `argv`, waits for it and returns its exit code and output.
RunResult run_program(const std::vector<std::string>& argv, const RunOptions& options = {});

// run_program() on the built `thoth` binary: run_thoth({"config", "show"}, options).
RunResult run_thoth(const std::vector<std::string>& args, const RunOptions& options = {});

}  // namespace thoth::test
