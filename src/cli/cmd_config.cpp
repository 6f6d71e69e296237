// thoth config path|dirs|show|get KEY|set KEY VALUE|unset KEY
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "core/config.h"
#include "core/paths.h"

namespace thoth::cli {
namespace {

void print_value(const nlohmann::json& v) {
  // Strings bare, so `$(thoth config get transcription.model)` is usable in scripts.
  std::string text = v.is_string() ? v.get<std::string>() : v.dump(v.is_structured() ? 2 : -1);
  std::printf("%s\n", text.c_str());
}

// Unknown keys and unparsable values are command-line mistakes (exit 2); a config file
// that cannot be read or written is a failure (exit 1).
bool key_known(const std::string& key) { return config_get(Config{}, key).ok(); }

}  // namespace

void add_config_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto* config = app.add_subcommand("config", "Show or change settings (" +
                                                  paths::config_file().string() + ")");
  config->require_subcommand(1);

  auto* path = config->add_subcommand("path", "Print the config file's path");
  on_run(path, [] {
    std::printf("%s\n", paths::config_file().c_str());
    return 0;
  });

  auto* dirs = config->add_subcommand("dirs", "Print where Thoth keeps config, data and runtime files");
  on_run(dirs, [] {
    const std::pair<const char*, std::filesystem::path> rows[] = {
        {"config", paths::config_file()},   {"templates", paths::templates_dir()},
        {"data", paths::data_dir()},        {"models", paths::models_dir()},
        {"recordings", paths::recordings_dir()}, {"history", paths::history_db()},
        {"cache", paths::cache_dir()},      {"runtime", paths::runtime_dir()}};
    for (const auto& [name, p] : rows) std::printf("%-11s%s\n", name, p.c_str());
    return 0;
  });

  auto* show = config->add_subcommand("show", "Print the effective settings (defaults included) as JSON");
  on_run(show, [] {
    auto c = load_config();
    if (!c) return exit_with(kExitFailure, c.error());
    std::printf("%s\n", config_to_json(*c).dump(2).c_str());
    return 0;
  });

  static std::string key, value;
  auto* get = config->add_subcommand("get", "Print one setting, e.g. thoth config get output.method");
  get->add_option("KEY", key, "Dotted key, e.g. enhancement.timeout_ms")->required();
  on_run(get, [] {
    auto c = load_config();
    if (!c) return exit_with(kExitFailure, c.error());
    auto v = config_get(*c, key);
    if (!v) return exit_with(kExitUsage, v.error());
    print_value(*v);
    return 0;
  });

  auto* set = config->add_subcommand("set", "Change one setting, e.g. thoth config set output.method paste");
  set->add_option("KEY", key, "Dotted key, e.g. enhancement.timeout_ms")->required();
  set->add_option("VALUE", value, "New value: text, number, true/false, or JSON for lists")
      ->required();
  on_run(set, [] {
    if (!key_known(key)) return exit_with(kExitUsage, config_get(Config{}, key).error());
    auto v = config_value_from_text(key, value);
    if (!v) return exit_with(kExitUsage, v.error());
    auto c = config_set(paths::config_file(), key, *v);
    if (!c) return exit_with(kExitFailure, c.error());
    return 0;
  });

  auto* unset = config->add_subcommand("unset", "Return one setting to its default");
  unset->add_option("KEY", key, "Dotted key")->required();
  on_run(unset, [] {
    if (!key_known(key)) return exit_with(kExitUsage, config_get(Config{}, key).error());
    auto c = config_unset(paths::config_file(), key);
    if (!c) return exit_with(kExitFailure, c.error());
    return 0;
  });
}

}  // namespace thoth::cli
