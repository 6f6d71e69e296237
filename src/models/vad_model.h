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

}  // namespace thoth::models
