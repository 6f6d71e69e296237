#include "models/lookup.h"

#include <algorithm>
#include <cstdlib>
#include <system_error>

#include "core/paths.h"

namespace thoth::models {
namespace fs = std::filesystem;

namespace {

bool is_regular(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string join_dirs(const std::vector<fs::path>& dirs) {
  std::string out;
  for (const auto& d : dirs) out += (out.empty() ? "" : ", ") + d.string();
  return out;
}

// Installed models picked without a name: small English models first (dictation is mostly
// English and latency matters), then the catalogue's own order.
std::vector<const ModelEntry*> preference_order(const std::vector<ModelEntry>& entries) {
  static const char* const kPreferred[] = {"base.en", "base.en-q8_0", "base.en-q5_1", "small.en", "small.en-q8_0",
                                           "small.en-q5_1", "tiny.en", "tiny.en-q8_0", "tiny.en-q5_1", "base"};
  std::vector<const ModelEntry*> order;
  for (const char* name : kPreferred)
    if (const auto* e = find_entry(entries, name)) order.push_back(e);
  for (const auto& e : entries)
    if (std::find(order.begin(), order.end(), &e) == order.end()) order.push_back(&e);
  return order;
}

}  // namespace

fs::path models_dir(const fs::path& data) { return data / "models"; }
fs::path models_dir() { return paths::models_dir(); }

std::vector<fs::path> model_search_dirs(const fs::path& installed_dir) {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("THOTH_MODEL_PATH"); env && *env) {
    std::string s = env;
    std::size_t start = 0;
    for (;;) {
      auto colon = s.find(':', start);
      std::string item = s.substr(start, colon - start);
      if (!item.empty()) dirs.emplace_back(item);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  dirs.push_back(installed_dir);
  return dirs;
}

Result<std::string> resolve_model(const std::string& name_or_path, const std::vector<fs::path>& search_dirs,
                                  const std::vector<ModelEntry>& entries) {
  std::error_code ec;
  const std::string fetch_hint = std::string("run: thoth models pull ") + kSuggestedModel;
  if (name_or_path.empty()) {
    for (const auto& dir : search_dirs)
      for (const auto* e : preference_order(entries))
        if (is_regular(dir / e->file)) return (dir / e->file).string();
    return make_error("no Whisper model found (searched " + join_dirs(search_dirs) + "); " + fetch_hint);
  }

  const fs::path as_path(name_or_path);
  if (fs::exists(as_path, ec) || name_or_path.find('/') != std::string::npos) {
    if (!fs::exists(as_path, ec)) return make_error("model file not found: " + name_or_path);
    if (!is_regular(as_path)) return make_error("model path is not a regular file: " + name_or_path);
    return fs::absolute(as_path, ec).string();
  }

  // File names a name may stand for, most specific first.
  std::vector<std::string> candidates;
  const ModelEntry* entry = find_entry(entries, name_or_path);
  if (entry) candidates.push_back(entry->file);
  candidates.push_back(name_or_path);
  candidates.push_back(name_or_path + ".bin");
  candidates.push_back("ggml-" + name_or_path + ".bin");
  for (const auto& dir : search_dirs)
    for (const auto& file : candidates)
      if (is_regular(dir / file)) return (dir / file).string();

  if (entry)
    return make_error("model " + entry->name + " is not installed (searched " + join_dirs(search_dirs) +
                      "); run: thoth models pull " + entry->name);
  return make_error("unknown model '" + name_or_path + "': not a file, not in " + join_dirs(search_dirs) +
                    ", not in the catalogue (see thoth models list)");
}

Result<std::string> resolve_model(const std::string& name_or_path) {
  auto entries = catalog();
  if (!entries) return make_error(entries.error());
  return resolve_model(name_or_path, model_search_dirs(models_dir()), *entries);
}

Result<PullTarget> pull_target(const ModelEntry& entry) {
  auto dir = paths::ensure_dir(models_dir(), "models dir");
  if (!dir) return Error{dir.error()};
  PullTarget t{*dir / entry.file};
  std::error_code ec;
  if (!fs::exists(t.dest, ec)) return t;
  const auto size = fs::file_size(t.dest, ec);
  if (ec || size != entry.bytes)
    return Error{t.dest.string() + " exists but has " + (ec ? std::string("an unreadable size") : std::to_string(size) + " bytes") +
                 " instead of " + std::to_string(entry.bytes) + "; run: thoth models rm " + entry.name +
                 ", then pull again"};
  t.installed = true;
  return t;
}

}  // namespace thoth::models
