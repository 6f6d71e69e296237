// `thoth models list|pull NAME|verify [NAME]|rm NAME|path`: the model manager's face.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "cli/commands.h"
#include "core/paths.h"
#include "models/catalog.h"
#include "models/download.h"
#include "models/lookup.h"
#include "models/progress.h"
#include "models/sha256.h"

namespace thoth::cli {
namespace {
namespace fs = std::filesystem;
using models::ModelEntry;

// Set by SIGINT during a pull; lock-free, so storing to it is async-signal-safe.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int) { g_interrupted.store(true, std::memory_order_relaxed); }

int fail(const std::string& message) {
  std::fprintf(stderr, "thoth: %s\n", message.c_str());
  return 1;
}

std::uint64_t size_or_zero(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

bool present(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

int run_list() {
  auto entries = models::catalog();
  if (!entries) return fail(entries.error());
  const fs::path dir = models::models_dir();
  std::printf("%-22s %10s  %-30s %s\n", "NAME", "SIZE", "FILE", "STATUS");
  for (const auto& e : *entries) {
    const fs::path file = dir / e.file;
    std::string status;
    if (present(file)) {
      status = size_or_zero(file) == e.bytes ? "installed" : "installed (wrong size: run thoth models verify)";
    } else if (present(models::part_path(file))) {
      status = "partial " + std::to_string(size_or_zero(models::part_path(file)) * 100 / e.bytes) +
               "% (thoth models pull " + e.name + " resumes)";
    } else if (present(models::rejected_path(file))) {
      status = "rejected download kept as " + models::rejected_path(file).filename().string();
    }
    char row[512];
    std::snprintf(row, sizeof row, "%-22s %10s  %-30s %s", e.name.c_str(), models::format_bytes(e.bytes).c_str(),
                  e.file.c_str(), status.c_str());
    std::string line = row;
    line.erase(line.find_last_not_of(' ') + 1);
    std::printf("%s\n", line.c_str());
  }
  std::printf("models dir: %s\n", dir.c_str());
  return 0;
}

int run_pull(const std::string& name, const GlobalOptions& global) {
  auto entries = models::catalog();
  if (!entries) return fail(entries.error());
  const ModelEntry* entry = models::find_entry(*entries, name);
  if (!entry) return fail("unknown model '" + name + "'; see thoth models list for the names");
  auto target = models::pull_target(*entry);
  if (!target) return fail(target.error());
  const fs::path dest = target->dest;
  if (target->installed) {
    std::printf("%s is already installed: %s\n", entry->name.c_str(), dest.c_str());
    return 0;
  }

  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  models::ProgressPrinter printer(stderr, terminal, entry->file);
  models::DownloadOptions options;
  options.cancel = &g_interrupted;
  if (!global.quiet) options.on_progress = [&](const models::DownloadProgress& p) { printer.update(p); };

  // Ctrl-C stops the transfer cleanly so the part file stays resumable.
  struct sigaction sa {}, old {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  if (!global.quiet) std::fprintf(stderr, "fetching %s from %s\n", entry->name.c_str(), models::model_url(*entry).c_str());
  auto result = models::download({models::model_url(*entry), dest, entry->bytes, entry->sha256}, options);
  sigaction(SIGINT, &old, nullptr);
  printer.finish();
  if (!result) {
    fail(result.error());
    return g_interrupted.load() ? 130 : 1;
  }
  std::printf("installed %s: %s\n", entry->name.c_str(), dest.c_str());
  return 0;
}

int run_verify(const std::string& name) {
  auto entries = models::catalog();
  if (!entries) return fail(entries.error());
  const fs::path dir = models::models_dir();
  std::vector<const ModelEntry*> targets;
  if (!name.empty()) {
    const ModelEntry* entry = models::find_entry(*entries, name);
    if (!entry) return fail("unknown model '" + name + "'; see thoth models list for the names");
    if (!present(dir / entry->file))
      return fail(entry->name + " is not installed in " + dir.string() + "; run: thoth models pull " + entry->name);
    targets.push_back(entry);
  } else {
    for (const auto& e : *entries)
      if (present(dir / e.file)) targets.push_back(&e);
    if (targets.empty()) {
      std::printf("no models installed in %s; run: thoth models pull %s\n", dir.c_str(), models::kSuggestedModel);
      return 0;
    }
  }
  int bad = 0;
  for (const auto* e : targets) {
    const fs::path file = dir / e->file;
    auto size = size_or_zero(file);
    if (size != e->bytes) {
      ++bad;
      std::printf("BAD  %-22s %s has %llu bytes, expected %llu; run: thoth models rm %s && thoth models pull %s\n",
                  e->name.c_str(), file.c_str(), static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(e->bytes), e->name.c_str(), e->name.c_str());
      continue;
    }
    auto digest = models::sha256_file(file);
    if (!digest) {
      ++bad;
      std::printf("BAD  %-22s %s\n", e->name.c_str(), digest.error().c_str());
    } else if (*digest != e->sha256) {
      ++bad;
      std::printf("BAD  %-22s %s has SHA-256 %s, expected %s; run: thoth models rm %s && thoth models pull %s\n",
                  e->name.c_str(), file.c_str(), digest->c_str(), e->sha256.c_str(), e->name.c_str(), e->name.c_str());
    } else {
      std::printf("ok   %-22s %s\n", e->name.c_str(), file.c_str());
    }
  }
  return bad ? 1 : 0;
}

int run_rm(const std::string& name) {
  auto entries = models::catalog();
  if (!entries) return fail(entries.error());
  const fs::path dir = models::models_dir();
  const ModelEntry* entry = models::find_entry(*entries, name);
  std::string file = entry ? entry->file : name;
  // Only files inside the models dir: rm never takes a path.
  if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
    return fail("'" + name + "' is not a model name; see thoth models list");
  const fs::path dest = dir / file;
  int removed = 0;
  for (const fs::path& p : {dest, models::part_path(dest), models::rejected_path(dest)}) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    if (!fs::remove(p, ec) || ec) return fail("cannot remove " + p.string() + ": " + ec.message());
    std::printf("removed %s\n", p.c_str());
    ++removed;
  }
  if (!removed) return fail(name + " is not installed in " + dir.string());
  return 0;
}

}  // namespace

void add_models_command(CLI::App& app, const GlobalOptions& global) {
  auto* models_cmd = app.add_subcommand("models", "List, fetch, verify and remove Whisper model files");
  models_cmd->require_subcommand(1);

  auto* list = models_cmd->add_subcommand("list", "Show the catalogue and what is installed");
  on_run(list, [] { return run_list(); });

  static std::string pull_name;
  auto* pull = models_cmd->add_subcommand("pull", "Download a model (resumes a partial download)");
  pull->add_option("name", pull_name, "Model name from `thoth models list`, e.g. base.en")->required();
  on_run(pull, [&global] { return run_pull(pull_name, global); });

  static std::string verify_name;
  auto* verify = models_cmd->add_subcommand("verify", "Check installed models against their SHA-256");
  verify->add_option("name", verify_name, "Only this model (default: every installed one)");
  on_run(verify, [] { return run_verify(verify_name); });

  static std::string rm_name;
  auto* rm = models_cmd->add_subcommand("rm", "Remove an installed model (and any partial download)");
  rm->add_option("name", rm_name, "Model name or file name")->required();
  on_run(rm, [] { return run_rm(rm_name); });

  auto* path = models_cmd->add_subcommand("path", "Print the directory models are installed in");
  on_run(path, [] {
    std::printf("%s\n", models::models_dir().c_str());
    return 0;
  });
}

}  // namespace thoth::cli
