// Finding the Whisper model file to load: `--model PATH|NAME`, then each dir of
// THOTH_MODEL_PATH, then the models folder of the data dir.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.h"
#include "models/catalog.h"

namespace thoth::models {

// <data dir>/models, where `thoth models pull` installs files (core/paths.h: THOTH_HOME or XDG).
std::filesystem::path models_dir();
std::filesystem::path models_dir(const std::filesystem::path& data_dir);

// The dirs searched for a model name, in order: each entry of $THOTH_MODEL_PATH
// (colon-separated, empty entries ignored), then `models_dir`.
std::vector<std::filesystem::path> model_search_dirs(const std::filesystem::path& models_dir);

// Resolves what the user named to a model file path.
//  - empty: the first catalogue model installed in the search dirs (dir order first, then
//    a preference for base.en and other small English models);
//  - an existing path, or anything containing '/': that file;
//  - otherwise a catalogue name ("base.en") or file name ("ggml-base.en.bin", or any file
//    such as "mini.en-f16.bin", with or without ".bin") looked up in each search dir.
// Nothing found: one line saying which command fetches a model.
Result<std::string> resolve_model(const std::string& name_or_path,
                                  const std::vector<std::filesystem::path>& search_dirs,
                                  const std::vector<ModelEntry>& entries);

// The same with the default search dirs and the catalogue in effect.
Result<std::string> resolve_model(const std::string& name_or_path);

// Where a pull of `entry` installs (models_dir(), created if need be) and whether it is
// already installed there. A file of another size in the way is an error naming the command
// that clears it: it may be the user's own file, so no pull overwrites it.
struct PullTarget {
  std::filesystem::path dest;
  bool installed = false;
};
Result<PullTarget> pull_target(const ModelEntry& entry);

}  // namespace thoth::models
