// The catalogue of published ggml Whisper model files: what `thoth models pull` can fetch
// and what `verify` checks installed files against.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace thoth::models {

struct ModelEntry {
  std::string name;    // "base.en", "tiny-q5_1"
  std::string file;    // "ggml-base.en.bin"
  std::uint64_t bytes = 0;
  std::string sha256;  // lowercase hex
};

// The built-in catalogue (the publisher's files at one pinned revision).
const std::vector<ModelEntry>& builtin_catalog();

// The catalogue in effect: $THOTH_MODEL_CATALOG (a TSV file in the format of the built-in
// one: name, file, bytes, sha256; '#' comments; header line) replaces the built-in table
// when set — for mirrors serving other files, and for tests. An unreadable or malformed
// override is an error naming the file and line.
Result<std::vector<ModelEntry>> catalog();

// Parses catalogue TSV text; `origin` names the source in error messages.
Result<std::vector<ModelEntry>> parse_catalog(const std::string& text, const std::string& origin);

// The entry whose name or file name is `name_or_file`, or nullptr.
const ModelEntry* find_entry(const std::vector<ModelEntry>& entries, const std::string& name_or_file);

// Where model files are served from: $THOTH_MODEL_BASE_URL if set, else the publisher's
// model repository at the pinned revision.
std::string base_url();

// Download URL of an entry: base_url() + "/" + file.
std::string model_url(const ModelEntry& entry);

// The model suggested when none is installed.
inline constexpr const char* kSuggestedModel = "base.en";

}  // namespace thoth::models
