// thoth shortcuts check: validates the configured shortcuts and says how they would work in
// this session (which backend; on X11, whether every key can be grabbed; with the Wayland
// desktop portal, the triggers the daemon will ask the desktop for).
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "core/config.h"
#include "input/backend.h"
#include "input/dictation_keys.h"
#include "input/x11_hotkeys.h"

namespace thoth::cli {

void add_shortcuts_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto* shortcuts = app.add_subcommand("shortcuts", "Global keyboard shortcuts (config keys shortcuts.*)");
  shortcuts->require_subcommand(1);
  auto* check = shortcuts->add_subcommand(
      "check", "Validate the configured shortcuts and show how this session would deliver them");
  on_run(check, [] {
    auto config = load_config();
    if (!config) return exit_with(kExitFailure, config.error());
    auto settings = input::shortcut_settings(config->shortcuts);
    if (!settings) return exit_with(kExitFailure, settings.error() + " (fix with thoth config set)");

    std::printf("%-11s%s\n", "mode", config->shortcuts.mode.c_str());
    for (auto action : {input::kRecord, input::kCancel, input::kCopyLast, input::kHandsFree}) {
      std::string shown = "(unbound)";
      for (const auto& b : settings->bindings)
        if (b.action == action) shown = input::format_accelerator(b.accelerator);
      std::printf("%-11s%s\n", std::string(action).c_str(), shown.c_str());
    }
    const input::BackendChoice backend = input::choose_backend();
    std::printf("%-11s%s\n", "backend", backend.reason.c_str());
    if (backend.backend == input::Backend::portal) {
      // Binding here would make the desktop ask the user twice (now and at the daemon's
      // start): say what the daemon will ask for instead.
      std::string triggers;
      for (const auto& b : settings->bindings)
        triggers += (triggers.empty() ? "" : ", ") + b.action + " " + input::xdg_trigger(b.accelerator);
      std::printf("%-11s%s\n", "portal", ("the daemon asks for " + (triggers.empty() ? "nothing" : triggers)).c_str());
      return 0;
    }
    if (backend.backend != input::Backend::x11) return 0;

    // Grab for a moment on a registry of our own: the server says whether each key is free.
    input::ShortcutRegistry registry;
    if (auto r = registry.replace(settings->bindings); !r) return exit_with(kExitFailure, r.error());
    auto hotkeys = input::X11Hotkeys::start(registry, [](const input::ShortcutEvent&) {}, backend.display);
    if (!hotkeys) return exit_with(kExitFailure, hotkeys.error());
    if (auto grabs = (*hotkeys)->grab_status(); !grabs) {
      std::string lines = grabs.error();
      for (size_t at = 0; (at = lines.find('\n', at)) != std::string::npos; at += 2) lines.replace(at, 1, "; ");
      return exit_with(kExitFailure, lines + " (a running `thoth daemon` holds its own shortcuts too)");
    }
    std::printf("%-11s%s\n", "grabs", "every shortcut is free to use");
    return 0;
  });
}

}  // namespace thoth::cli
