#include <cstdio>
#include <map>

#include "asr/matmul.h"
#include "cli/commands.h"
#include "core/log.h"
#include "core/version.h"

namespace thoth::cli {
namespace {
std::map<const CLI::App*, CommandBody>& bodies() {
  static std::map<const CLI::App*, CommandBody> b;
  return b;
}

// Catches a mistyped command or global option before CLI11 reports it less clearly ("A
// subcommand is required", "arguments were not expected"). Global options are flags only,
// so the first word not starting with '-' is the command.
int check_command_line(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return 0;
    if (arg.rfind("--", 0) == 0) {
      if (arg == "--help" || arg == "--version" || arg == "--verbose" || arg == "--quiet") continue;
      return exit_with(kExitUsage, "unknown option '" + arg + "'; see thoth --help");
    }
    if (arg[0] == '-') {
      if (arg.size() > 1 && arg.find_first_not_of("hVvq", 1) == std::string::npos) continue;
      return exit_with(kExitUsage, "unknown option '" + arg + "'; see thoth --help");
    }
    std::string names;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(arg)) return 0;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    return exit_with(kExitUsage, "unknown command '" + arg + "' (commands: " + names +
                    "); see thoth --help");
  }
  return 0;
}

// "thoth config set", the command whose parsing failed, for the --help hint.
std::string command_path(const CLI::App& app) {
  std::string path = "thoth";
  const CLI::App* node = &app;
  while (true) {
    auto subs = node->get_subcommands();
    if (subs.empty()) break;
    node = subs.front();
    path += " " + node->get_name();
  }
  return path;
}
}  // namespace

void on_run(CLI::App* sub, CommandBody body) { bodies()[sub] = std::move(body); }

int exit_with(int code, const std::string& message) {
  std::fprintf(stderr, "thoth: %s\n", message.c_str());
  return code;
}

}  // namespace thoth::cli

int main(int argc, char** argv) {
  using namespace thoth::cli;
  CLI::App app{"Thoth: local voice dictation with our own Whisper engine", "thoth"};
  app.set_version_flag("-V,--version", std::string("thoth ") + thoth::version_string());
  app.require_subcommand(1);
  // Subcommands created below inherit this, so `thoth config show -v` works like
  // `thoth -v config show`.
  app.fallthrough();
  GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity, "More log output (repeat for debug, trace)");
  app.add_flag("-q,--quiet", global.quiet, "Only errors");

  add_transcribe_command(app, global);
  add_devices_command(app, global);
  add_dictate_command(app, global);
  add_config_command(app, global);
  add_vad_command(app, global);
  add_models_command(app, global);
  add_models_quantize_command(app);
  add_history_command(app, global);
  add_dictionary_command(app, global);
  add_daemon_command(app, global);
  add_control_commands(app, global);
  add_shortcuts_command(app, global);
  add_bench_command(app, global);
  add_ui_command(app, global);

  if (int code = check_command_line(app, argc, argv)) return code;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return exit_with(kExitUsage, std::string(e.what()) + "; see " + command_path(app) + " --help");
  }
  thoth::log::init(global.verbosity, global.quiet);
  // A mistyped THOTH_KERNELS is the user's to fix: say so before any work, not mid-run.
  if (auto kernels = thoth::asr::init_kernels(); !kernels.ok()) return exit_with(kExitFailure, kernels.error());

  for (const auto* sub : app.get_subcommands()) {
    // The deepest chosen subcommand owns the run (e.g. `models pull`).
    const CLI::App* leaf = sub;
    while (!leaf->get_subcommands().empty()) leaf = leaf->get_subcommands().front();
    auto it = bodies().find(leaf);
    if (it != bodies().end()) return it->second();
  }
  return exit_with(kExitUsage, "nothing to run; see thoth --help");
}
