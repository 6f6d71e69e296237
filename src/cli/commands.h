// Each `thoth` subcommand lives in its own cmd_<name>.cpp and registers itself here.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace thoth::cli {

// Options every subcommand sees.
struct GlobalOptions {
  int verbosity = 0;  // -v repeats
  bool quiet = false;
};

// A subcommand's body runs after parsing and returns the process exit code.
using CommandBody = std::function<int()>;

// Registers `sub` so that main() runs `body` when it is chosen.
void on_run(CLI::App* sub, CommandBody body);

// Exit codes: 0 success, 1 failure, 2 usage error (bad command line).
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Prints "thoth: MESSAGE" on standard error and returns `code`:
//   return exit_with(kExitUsage, "unknown key ...");
int exit_with(int code, const std::string& message);

void add_transcribe_command(CLI::App& app, const GlobalOptions& global);
void add_devices_command(CLI::App& app, const GlobalOptions& global);
void add_dictate_command(CLI::App& app, const GlobalOptions& global);
void add_config_command(CLI::App& app, const GlobalOptions& global);
void add_vad_command(CLI::App& app, const GlobalOptions& global);
void add_models_command(CLI::App& app, const GlobalOptions& global);
// Adds `quantize` to `thoth models` (creating `models` if absent); after add_models_command.
void add_models_quantize_command(CLI::App& app);
void add_history_command(CLI::App& app, const GlobalOptions& global);
void add_dictionary_command(CLI::App& app, const GlobalOptions& global);
void add_daemon_command(CLI::App& app, const GlobalOptions& global);
// toggle, start, stop, cancel, status, events: clients of the daemon's control socket.
void add_control_commands(CLI::App& app, const GlobalOptions& global);
void add_shortcuts_command(CLI::App& app, const GlobalOptions& global);
void add_bench_command(CLI::App& app, const GlobalOptions& global);
// `thoth ui`: the daemon's web UI address with its token.
void add_ui_command(CLI::App& app, const GlobalOptions& global);

}  // namespace thoth::cli
