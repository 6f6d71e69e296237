// The filtering stage: what Whisper heard becomes what the user meant to write.
// Three steps, each usable alone: filler-word removal, the user dictionary, tidy-up.
// All of them work on UTF-8 and treat letters of every script as parts of words.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace thoth::text {

// --- Filler words -------------------------------------------------------------------------

// um, uh, er, ah, hmm and their common spellings. English-centric: the config replaces it.
std::vector<std::string> default_filler_words();

// Removes whole-word, case-insensitive occurrences of `words` and the commas or ellipsis
// that only existed around them ("So, um, I think, uh..." -> "So, I think").
class FillerRemover {
 public:
  static Result<FillerRemover> create(const std::vector<std::string>& words);
  std::string apply(std::string_view text) const;

  FillerRemover(FillerRemover&&) noexcept;
  FillerRemover& operator=(FillerRemover&&) noexcept;
  ~FillerRemover();

 private:
  struct Rules;
  explicit FillerRemover(std::unique_ptr<Rules> rules);
  std::unique_ptr<Rules> rules_;
};

// --- User dictionary ----------------------------------------------------------------------

// One replacement rule. Plain rules replace `from` as a whole word (or phrase); regex rules
// treat `from` as a PCRE2 pattern and `to` may use $1, ${name} for its groups.
struct DictionaryEntry {
  std::string from;
  std::string to;
  bool case_sensitive = false;
  bool regex = false;

  bool operator==(const DictionaryEntry&) const = default;
};

class Dictionary {
 public:
  // Checks and compiles every rule; the first bad one is named in the error.
  static Result<Dictionary> create(std::vector<DictionaryEntry> entries);

  // Entries as JSON: an array of {"from", "to", "caseSensitive", "regex"} objects, or an
  // object holding such an array under "entries" (the export format).
  static Result<Dictionary> from_json(std::string_view json_text);
  static Result<std::vector<DictionaryEntry>> entries_from_json(const nlohmann::json& json);
  std::string to_json() const;

  // Applies the rules in order, each to the output of the previous one. A rule whose
  // matching gives up (pathological regex) is skipped and its reason added to `warnings`.
  std::string apply(std::string_view text, std::vector<std::string>* warnings = nullptr) const;

  // The words the dictionary produces (plain rules' `to`), as hints for the recogniser's
  // prompt and the enhancement context.
  std::vector<std::string> vocabulary() const;

  const std::vector<DictionaryEntry>& entries() const { return entries_; }

  Dictionary(Dictionary&&) noexcept;
  Dictionary& operator=(Dictionary&&) noexcept;
  ~Dictionary();

 private:
  struct Rules;
  Dictionary(std::vector<DictionaryEntry> entries, std::unique_ptr<Rules> rules);
  std::vector<DictionaryEntry> entries_;
  std::unique_ptr<Rules> rules_;
};

// --- Tidy-up ------------------------------------------------------------------------------

struct TidyOptions {
  bool capitalise_sentences = true;
  bool leading_space = false;  // so consecutive dictations typed in a row stay apart
};

// Collapses runs of spaces, trims, removes spaces before closing punctuation, capitalises
// the first letter of each sentence, and optionally adds one leading space.
std::string tidy(std::string_view text, const TidyOptions& options = {});

// --- The whole stage ----------------------------------------------------------------------

struct TextFilterOptions {
  bool remove_fillers = true;
  std::vector<std::string> filler_words = default_filler_words();
  std::vector<DictionaryEntry> dictionary;
  TidyOptions tidy;
};

struct FilteredText {
  std::string text;
  std::vector<std::string> warnings;  // rules skipped, reported but never fatal
};

// Fillers, then dictionary, then tidy-up. Built once from the config, then used from any
// thread (apply is const and shares nothing mutable).
class TextFilter {
 public:
  static Result<TextFilter> create(TextFilterOptions options);
  FilteredText apply(std::string_view raw_text) const;
  const Dictionary& dictionary() const { return dictionary_; }

 private:
  TextFilter(TextFilterOptions options, std::unique_ptr<FillerRemover> fillers,
             Dictionary dictionary);
  TextFilterOptions options_;
  std::unique_ptr<FillerRemover> fillers_;  // null when filler removal is off
  Dictionary dictionary_;
};

}  // namespace thoth::text
