#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "core/version.h"

namespace thoth::cli {
namespace {
std::map<const CLI::App*, CommandBody>& bodies() {
  static std::map<const CLI::App*, CommandBody> b;
  return b;
}
}  // namespace

void on_run(CLI::App* sub, CommandBody body) { bodies()[sub] = std::move(body); }

}  // namespace thoth::cli

int main(int argc, char** argv) {
  using namespace thoth::cli;
  CLI::App app{"Thoth: local voice dictation with our own Whisper engine", "thoth"};
  app.set_version_flag("-V,--version", std::string("thoth ") + thoth::version_string());
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity, "More log output (repeat for debug)");
  app.add_flag("-q,--quiet", global.quiet, "Only errors");

  add_transcribe_command(app, global);
  add_vad_command(app, global);
  add_models_command(app, global);
  add_history_command(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (const auto* sub : app.get_subcommands()) {
    // The deepest chosen subcommand owns the run (e.g. `models pull`).
    const CLI::App* leaf = sub;
    while (!leaf->get_subcommands().empty()) leaf = leaf->get_subcommands().front();
    auto it = bodies().find(leaf);
    if (it != bodies().end()) return it->second();
  }
  std::fprintf(stderr, "thoth: nothing to run; see thoth --help\n");
  return 2;
}
