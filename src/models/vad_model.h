// Finding the Silero VAD model file (ggml): `--model PATH`, then $THOTH_VAD_MODEL, then its
// published file names in the dirs Whisper models are looked up in ($THOTH_MODEL_PATH's, then
// the models dir).
#pragma once
#include <string>

#include "core/result.h"

namespace thoth::models {

// The names the file goes by: whisper.cpp publishes the first; its converter writes the second.
inline constexpr const char* kVadModelFileNames[] = {"ggml-silero-v6.2.0.bin", "silero-v6.2.0-ggml.bin"};

// `path` (from --model or the config) wins when not empty. Nothing found: one line saying
// where to put the file.
Result<std::string> resolve_vad_model(const std::string& path = "");

// The config's vad.model. A path (anything with a '/', or an existing file) is taken as it is.
// The default name "silero-v6.2.0" (or empty) means resolve_vad_model(): $THOTH_VAD_MODEL, then
// the published file names in the model dirs. Any other name is a file name (".bin" optional)
// looked up in the model dirs.
inline constexpr const char* kVadModelName = "silero-v6.2.0";
Result<std::string> resolve_vad_model_setting(const std::string& name_or_path);

}  // namespace thoth::models
