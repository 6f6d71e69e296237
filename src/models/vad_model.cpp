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

}  // namespace thoth::models
