#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace thoth::cli {

void add_transcribe_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto* sub = app.add_subcommand("transcribe", "Transcribe audio files (or - for standard input)");
  static std::vector<std::string> files;
  sub->add_option("files", files, "Audio files: WAV, FLAC, OGG, MP3; - reads standard input")->required();
  on_run(sub, [] {
    std::fprintf(stderr, "thoth: the Whisper engine is not built into this version yet\n");
    return 1;
  });
}

}  // namespace thoth::cli
