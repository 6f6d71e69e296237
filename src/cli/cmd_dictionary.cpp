// thoth dictionary list | import FILE | export [-o FILE]
// The user dictionary lives in the config (filters.dictionary); these move it in and out as
// JSON in the original app's format: {"entries": [{from, to, caseSensitive, regex}]}.
#include <algorithm>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/config.h"
#include "core/paths.h"
#include "text/filter.h"

namespace thoth::cli {
namespace {

struct DictionaryArgs {
  std::string file;
  std::string output;
};

nlohmann::json rules_json(const std::vector<DictionaryRule>& rules) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : rules) {
    list.push_back({{"from", r.from}, {"to", r.to}, {"caseSensitive", r.case_sensitive}, {"regex", r.regex}});
  }
  return list;
}

int run_list() {
  auto config = load_config();
  if (!config) return exit_with(kExitFailure, config.error());
  const auto& rules = config->filters.dictionary;
  if (rules.empty()) {
    std::fprintf(stderr, "thoth: the dictionary is empty (thoth dictionary import FILE adds rules)\n");
    return 0;
  }
  for (const auto& r : rules) {
    std::string line = r.from + "\t->\t" + r.to;
    if (r.case_sensitive) line += "\t[case-sensitive]";
    if (r.regex) line += "\t[regex]";
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

int run_import(const DictionaryArgs& args) {
  auto content = paths::read_file(args.file);
  if (!content) return exit_with(kExitFailure, content.error());
  // Parse and compile every rule before touching the config: a bad regex is reported with
  // its entry number and nothing is imported.
  auto imported = text::Dictionary::from_json(*content);
  if (!imported) return exit_with(kExitFailure, args.file + ": " + imported.error());
  auto config = load_config();
  if (!config) return exit_with(kExitFailure, config.error());

  // Merge: a rule for the same words (and kind) is updated, others are added at the end.
  std::vector<DictionaryRule> rules = config->filters.dictionary;
  int added = 0, updated = 0;
  for (const auto& e : imported->entries()) {
    DictionaryRule rule{e.from, e.to, e.case_sensitive, e.regex};
    auto same = std::find_if(rules.begin(), rules.end(), [&](const DictionaryRule& r) {
      return r.from == rule.from && r.regex == rule.regex;
    });
    if (same == rules.end()) {
      rules.push_back(std::move(rule));
      ++added;
    } else if (!(*same == rule)) {
      *same = std::move(rule);
      ++updated;
    }
  }
  auto saved = config_set(paths::config_file(), "filters.dictionary", rules_json(rules));
  if (!saved) return exit_with(kExitFailure, saved.error());
  std::fprintf(stderr, "thoth: dictionary: %d rules added, %d updated, %zu in all (%s)\n", added,
               updated, rules.size(), paths::config_file().c_str());
  return 0;
}

int run_export(const DictionaryArgs& args) {
  auto config = load_config();
  if (!config) return exit_with(kExitFailure, config.error());
  const std::string json = nlohmann::json{{"entries", rules_json(config->filters.dictionary)}}.dump(2) + "\n";
  if (args.output.empty() || args.output == "-") {
    std::fwrite(json.data(), 1, json.size(), stdout);
    return 0;
  }
  auto saved = paths::write_file_atomic(args.output, json);
  if (!saved) return exit_with(kExitFailure, saved.error());
  return 0;
}

}  // namespace

void add_dictionary_command(CLI::App& app, const GlobalOptions& /*global*/) {
  static DictionaryArgs args;
  auto* dict = app.add_subcommand("dictionary", "List, import and export the user dictionary (replacement rules)");
  dict->require_subcommand(1);
  auto* list = dict->add_subcommand("list", "Show the rules, in the order they apply");
  on_run(list, [] { return run_list(); });
  auto* imp = dict->add_subcommand("import", "Add rules from a JSON file; rules for the same words are updated");
  imp->add_option("file", args.file, "JSON: [{\"from\", \"to\", \"caseSensitive\", \"regex\"}] or {\"entries\": [...]}")
      ->required();
  on_run(imp, [] { return run_import(args); });
  auto* exp = dict->add_subcommand("export", "Write the rules as JSON");
  exp->add_option("-o,--output", args.output, "File to write (default: standard output)");
  on_run(exp, [] { return run_export(args); });
}

}  // namespace thoth::cli
