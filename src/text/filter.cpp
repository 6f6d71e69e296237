#include "text/filter.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "text/unicode_regex.h"

namespace thoth::text {
namespace {

// Characters that glue a word together without being \w: "uh-huh", "don't", "isn’t".
// A filler or dictionary word next to one of them is part of a bigger word.
constexpr std::string_view kBefore = "(?<![\\w\\-'\u2019])";
constexpr std::string_view kAfter = "(?![\\w\\-'\u2019])";

// Patterns the code itself writes: failing to compile one is a bug, not a user error.
UnicodeRegex must_compile(std::string_view pattern) {
  auto re = UnicodeRegex::compile(pattern);
  if (!re) {
    std::fprintf(stderr, "thoth: internal pattern failed: %s\n", re.error().c_str());
    std::abort();
  }
  return std::move(re).value();
}

std::string must_replace(const UnicodeRegex& re, std::string_view subject,
                         std::string_view replacement) {
  auto out = re.replace_all(subject, replacement);
  // Internal patterns are linear; only invalid UTF-8 could fail, and callers sanitize.
  return out ? std::move(out).value() : std::string(subject);
}

bool starts_with_word_char(std::string_view s) {
  static const UnicodeRegex re = must_compile("^\\w");
  return re.matches(s);
}

bool ends_with_word_char(std::string_view s) {
  static const UnicodeRegex re = must_compile("\\w$");
  return re.matches(s);
}

// A literal phrase as a pattern: its words escaped, any run of spaces between them matching
// any run of whitespace, and word boundaries at the ends that are letters or digits.
std::string phrase_pattern(std::string_view phrase) {
  std::string pattern;
  if (starts_with_word_char(phrase)) pattern += kBefore;
  size_t i = 0;
  bool first = true;
  while (i < phrase.size()) {
    while (i < phrase.size() && (phrase[i] == ' ' || phrase[i] == '\t')) ++i;
    size_t j = i;
    while (j < phrase.size() && phrase[j] != ' ' && phrase[j] != '\t') ++j;
    if (j > i) {
      if (!first) pattern += "\\s+";
      pattern += escape_pattern(phrase.substr(i, j - i));
      first = false;
    }
    i = j;
  }
  if (ends_with_word_char(phrase)) pattern += kAfter;
  return pattern;
}

std::string trim_copy(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

// --- Filler words -------------------------------------------------------------------------

std::vector<std::string> default_filler_words() {
  return {"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "hm", "mm"};
}

struct FillerRemover::Rules {
  UnicodeRegex filler;
  UnicodeRegex comma_before_punctuation = must_compile(",(?=[ \\t]*[.!?,;:])");
  UnicodeRegex double_space = must_compile("[ \\t]{2,}");
};

FillerRemover::FillerRemover(std::unique_ptr<Rules> rules) : rules_(std::move(rules)) {}
FillerRemover::FillerRemover(FillerRemover&&) noexcept = default;
FillerRemover& FillerRemover::operator=(FillerRemover&&) noexcept = default;
FillerRemover::~FillerRemover() = default;

Result<FillerRemover> FillerRemover::create(const std::vector<std::string>& words) {
  std::vector<std::string> sorted;
  for (const auto& w : words) {
    std::string word = trim_copy(sanitize_utf8(w));
    if (word.empty()) return make_error("filler word list holds an empty word");
    sorted.push_back(std::move(word));
  }
  // Longest first, so that "umm" is taken whole rather than as "um" + "m".
  std::sort(sorted.begin(), sorted.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::string alternatives;
  for (const auto& w : sorted) {
    if (!alternatives.empty()) alternatives += '|';
    alternatives += phrase_pattern(w);
  }
  if (alternatives.empty()) alternatives = "(*FAIL)";
  // The spaces before the filler and a comma or ellipsis right after it belonged to it:
  // "So, um, I think" -> "So, I think"; "I think um." -> "I think.".
  std::string pattern = "[ \\t]*(?:" + alternatives + ")(?:[ \\t]*(?:,|\\.\\.\\.|\u2026))?";
  auto filler = UnicodeRegex::compile(pattern, {.case_insensitive = true});
  if (!filler) return make_error("filler words: " + filler.error());
  return FillerRemover(std::make_unique<Rules>(Rules{std::move(filler).value()}));
}

std::string FillerRemover::apply(std::string_view text) const {
  const std::string clean = sanitize_utf8(text);
  std::string out = must_replace(rules_->filler, clean, "");
  if (out == clean) return out;
  out = must_replace(rules_->comma_before_punctuation, out, "");
  out = must_replace(rules_->double_space, out, " ");
  return trim_copy(out);
}

// --- User dictionary ----------------------------------------------------------------------

struct Dictionary::Rules {
  std::vector<UnicodeRegex> patterns;  // one per entry, same order
};

Dictionary::Dictionary(std::vector<DictionaryEntry> entries, std::unique_ptr<Rules> rules)
    : entries_(std::move(entries)), rules_(std::move(rules)) {}
Dictionary::Dictionary(Dictionary&&) noexcept = default;
Dictionary& Dictionary::operator=(Dictionary&&) noexcept = default;
Dictionary::~Dictionary() = default;

Result<Dictionary> Dictionary::create(std::vector<DictionaryEntry> entries) {
  auto rules = std::make_unique<Rules>();
  for (size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    const std::string where = "dictionary entry " + std::to_string(i + 1) + " (\"" + e.from + "\")";
    e.from = sanitize_utf8(e.from);
    e.to = sanitize_utf8(e.to);
    if (trim_copy(e.from).empty()) {
      return make_error("dictionary entry " + std::to_string(i + 1) + ": \"from\" is empty");
    }
    const std::string pattern = e.regex ? e.from : phrase_pattern(trim_copy(e.from));
    auto re = UnicodeRegex::compile(pattern, {.case_insensitive = !e.case_sensitive});
    if (!re) return make_error(where + ": " + re.error());
    if (e.regex && re->matches("")) {
      // A pattern that matches nothing at all would insert `to` between every character.
      return make_error(where + ": the pattern matches empty text");
    }
    rules->patterns.push_back(std::move(re).value());
  }
  return Dictionary(std::move(entries), std::move(rules));
}

std::string Dictionary::apply(std::string_view text, std::vector<std::string>* warnings) const {
  std::string out = sanitize_utf8(text);
  for (size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    const auto& re = rules_->patterns[i];
    auto replaced = e.regex ? re.replace_all(out, e.to) : re.replace_all_literal(out, e.to);
    if (replaced) {
      out = std::move(replaced).value();
    } else if (warnings != nullptr) {
      warnings->push_back("dictionary entry " + std::to_string(i + 1) + " (\"" + e.from +
                          "\") skipped: " + replaced.error());
    }
  }
  return out;
}

std::vector<std::string> Dictionary::vocabulary() const {
  std::vector<std::string> words;
  for (const auto& e : entries_) {
    std::string to = trim_copy(e.to);
    if (e.regex || to.empty()) continue;
    if (std::find(words.begin(), words.end(), to) == words.end()) words.push_back(to);
  }
  return words;
}

Result<std::vector<DictionaryEntry>> Dictionary::entries_from_json(const nlohmann::json& json) {
  const nlohmann::json* list = &json;
  std::string prefix;
  if (json.is_object()) {
    if (!json.contains("entries")) return make_error("dictionary: missing key \"entries\"");
    list = &json["entries"];
    prefix = "entries";
  }
  if (!list->is_array()) {
    return make_error("dictionary: " + (prefix.empty() ? std::string("top level") : prefix) +
                      " must be an array of {\"from\", \"to\"} objects");
  }
  std::vector<DictionaryEntry> entries;
  for (size_t i = 0; i < list->size(); ++i) {
    const auto& item = (*list)[i];
    const std::string path = prefix + "[" + std::to_string(i) + "]";
    if (!item.is_object()) return make_error("dictionary: " + path + " must be an object");
    DictionaryEntry e;
    for (const auto& [key, value] : item.items()) {
      if (key == "from" || key == "to") {
        if (!value.is_string()) return make_error("dictionary: " + path + "." + key + " must be a string");
        (key == "from" ? e.from : e.to) = value.get<std::string>();
      } else if (key == "caseSensitive" || key == "regex") {
        if (!value.is_boolean()) return make_error("dictionary: " + path + "." + key + " must be true or false");
        (key == "regex" ? e.regex : e.case_sensitive) = value.get<bool>();
      } else {
        return make_error("dictionary: " + path + ": unknown key \"" + key + "\"");
      }
    }
    if (!item.contains("from") || !item.contains("to")) {
      return make_error("dictionary: " + path + " needs both \"from\" and \"to\"");
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

Result<Dictionary> Dictionary::from_json(std::string_view json_text) {
  nlohmann::json json = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return make_error("dictionary: not valid JSON");
  auto entries = entries_from_json(json);
  if (!entries) return make_error(entries.error());
  return create(std::move(entries).value());
}

std::string Dictionary::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : entries_) {
    list.push_back({{"from", e.from}, {"to", e.to}, {"caseSensitive", e.case_sensitive},
                    {"regex", e.regex}});
  }
  return nlohmann::json{{"entries", list}}.dump(2);
}

// --- Tidy-up ------------------------------------------------------------------------------

namespace {
struct TidyRules {
  UnicodeRegex spaces = must_compile("[ \\t\\r\\f\\x0B]+");
  UnicodeRegex around_newline = must_compile(" ?\\n ?");
  UnicodeRegex before_closing = must_compile(" +(?=[,.;:!?\u2026)\\]}])");
  UnicodeRegex after_opening = must_compile("(?<=[(\\[{]) +");
  // A lowercase word at the start of the text or of a sentence, after any opening quotes or
  // brackets. Not after an ellipsis or a common abbreviation, whose next word may go on the
  // same sentence, and not when the word has capitals inside ("iPhone", "eBay").
  UnicodeRegex sentence_start = must_compile(
      "((?:^|\\n|(?<!\\.\\.)(?<!(?i)\\be\\.g|\\bi\\.e|\\betc|\\bvs|\\bcf)[.!?][ \\n]+)"
      "[\"'\u201C\u2018\u00AB(\\[\u00BF\u00A1]*)(\\p{Ll})(?=\\p{Ll}*+(?!\\p{L}))");
};
const TidyRules& tidy_rules() {
  static const TidyRules rules;
  return rules;
}
}  // namespace

std::string tidy(std::string_view text, const TidyOptions& options) {
  const auto& r = tidy_rules();
  std::string out = sanitize_utf8(text);
  out = must_replace(r.spaces, out, " ");
  out = must_replace(r.around_newline, out, "\n");
  out = trim_copy(out);
  out = must_replace(r.before_closing, out, "");
  out = must_replace(r.after_opening, out, "");
  if (options.capitalise_sentences) out = must_replace(r.sentence_start, out, "$1\\u$2");
  if (options.leading_space && !out.empty()) out.insert(out.begin(), ' ');
  return out;
}

// --- The whole stage ----------------------------------------------------------------------

TextFilter::TextFilter(TextFilterOptions options, std::unique_ptr<FillerRemover> fillers,
                       Dictionary dictionary)
    : options_(std::move(options)), fillers_(std::move(fillers)), dictionary_(std::move(dictionary)) {}

Result<TextFilter> TextFilter::create(TextFilterOptions options) {
  std::unique_ptr<FillerRemover> fillers;
  if (options.remove_fillers) {
    auto remover = FillerRemover::create(options.filler_words);
    if (!remover) return make_error(remover.error());
    fillers = std::make_unique<FillerRemover>(std::move(remover).value());
  }
  auto dictionary = Dictionary::create(options.dictionary);
  if (!dictionary) return make_error(dictionary.error());
  return TextFilter(std::move(options), std::move(fillers), std::move(dictionary).value());
}

FilteredText TextFilter::apply(std::string_view raw_text) const {
  FilteredText result;
  std::string text = sanitize_utf8(raw_text);
  if (fillers_) text = fillers_->apply(text);
  text = dictionary_.apply(text, &result.warnings);
  result.text = tidy(text, options_.tidy);
  return result;
}

}  // namespace thoth::text
