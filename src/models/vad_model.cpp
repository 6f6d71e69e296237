#include "models/vad_model.h"

#include <cstdlib>
#include <filesystem>

#include "models/lookup.h"

namespace thoth::models {

Result<std::string> resolve_vad_model(const std::string& path) {
  if (!path.empty()) return path;
  if (const char* env = std::getenv("THOTH_VAD_MODEL"); env && *env) return std::string(env);
  for (const auto& dir : model_search_dirs(models_dir())) {
    for (const char* name : kVadModelFileNames) {
      std::error_code ec;
      if (std::filesystem::is_regular_file(dir / name, ec)) return (dir / name).string();
    }
  }
  return make_error(std::string("no VAD model found: pass --model PATH, set THOTH_VAD_MODEL, or put ") +
                    kVadModelFileNames[0] + " in " + models_dir().string());
}

Result<std::string> resolve_vad_model_setting(const std::string& name_or_path) {
  if (name_or_path.empty() || name_or_path == kVadModelName) {
    if (auto found = resolve_vad_model()) return found;
    // Said for the config, not for `thoth vad --model`.
    return make_error(std::string("no VAD model found: put ") + kVadModelFileNames[0] + " in " +
                      models_dir().string() + ", or point vad.model or THOTH_VAD_MODEL at the file");
  }
  std::error_code ec;
  if (name_or_path.find('/') != std::string::npos || std::filesystem::is_regular_file(name_or_path, ec))
    return name_or_path;
  std::string dirs;
  for (const auto& dir : model_search_dirs(models_dir())) {
    for (const std::string& name : {name_or_path, name_or_path + ".bin"})
      if (std::filesystem::is_regular_file(dir / name, ec)) return (dir / name).string();
    dirs += (dirs.empty() ? "" : ", ") + dir.string();
  }
  return make_error("VAD model '" + name_or_path + "' not found in " + dirs +
                    ": set vad.model to a file path, or put the file there");
}

}  // namespace thoth::models
