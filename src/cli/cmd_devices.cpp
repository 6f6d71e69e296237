#include <cstdio>

#include "audio/capture.h"
#include "cli/commands.h"

namespace thoth::cli {

void add_devices_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto* sub = app.add_subcommand("devices", "List audio input devices (* marks the default)");
  on_run(sub, [] {
    auto devices = audio::list_input_devices();
    if (!devices) {
      std::fprintf(stderr, "thoth: %s\n", devices.error().c_str());
      return 1;
    }
    if (devices->empty()) {
      std::fprintf(stderr, "thoth: the audio server has no input devices\n");
      return 1;
    }
    for (const auto& d : *devices) {
      std::printf("%s %s\n    %s, %d Hz, %d ch%s\n", d.is_default ? "*" : " ", d.name.c_str(),
                  d.description.c_str(), d.sample_rate, d.channels,
                  d.is_monitor ? ", monitor of an output" : "");
    }
    return 0;
  });
}

}  // namespace thoth::cli
