// A compiled PCRE2 pattern in UTF + Unicode-property mode, so \w, \b, \s and case-insensitive
// matching see code points and letters of every script, not bytes.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace thoth::text {

class UnicodeRegex {
 public:
  struct Options {
    bool case_insensitive = false;
  };

  // Compiles `pattern`; a bad pattern yields a message with the offset of the fault.
  static Result<UnicodeRegex> compile(std::string_view pattern, Options options);
  static Result<UnicodeRegex> compile(std::string_view pattern) { return compile(pattern, {}); }

  // Replaces every match in `subject` (valid UTF-8). `replacement` uses PCRE2's extended
  // syntax: $1 / ${name} for groups, \u \l to change the case of the next character.
  // Fails only when matching gives up (backtracking limit) or the replacement is bad.
  Result<std::string> replace_all(std::string_view subject, std::string_view replacement) const;

  // Same, with `replacement` inserted as it is (no $ or backslash syntax).
  Result<std::string> replace_all_literal(std::string_view subject,
                                          std::string_view replacement) const;

  bool matches(std::string_view subject) const;

  UnicodeRegex(UnicodeRegex&&) noexcept;
  UnicodeRegex& operator=(UnicodeRegex&&) noexcept;
  ~UnicodeRegex();

 private:
  struct Compiled;
  Result<std::string> substitute(std::string_view subject, std::string_view replacement,
                                 unsigned syntax) const;
  explicit UnicodeRegex(std::unique_ptr<Compiled> compiled);
  std::unique_ptr<Compiled> compiled_;
};

// Escapes `literal` so that it matches itself inside a pattern.
std::string escape_pattern(std::string_view literal);

// Replaces every invalid UTF-8 sequence with U+FFFD, so the text can go through the regexes.
std::string sanitize_utf8(std::string_view text);

}  // namespace thoth::text
