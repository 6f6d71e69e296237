#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/unicode_regex.h"

#include <pcre2.h>

#include <cstdint>

namespace thoth::text {
namespace {

// User rules run on every dictation: a pathological pattern must give up quickly instead
// of hanging the pipeline. Well-formed rules on dictation-sized text stay far below this.
constexpr uint32_t kMatchLimit = 1'000'000;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  int n = pcre2_get_error_message(code, buffer, sizeof buffer);
  if (n < 0) return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

struct MatchData {
  pcre2_match_data* data;
  pcre2_match_context* context;
  explicit MatchData(const pcre2_code* code)
      : data(pcre2_match_data_create_from_pattern(code, nullptr)),
        context(pcre2_match_context_create(nullptr)) {
    pcre2_set_match_limit(context, kMatchLimit);
  }
  ~MatchData() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
  }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
};

}  // namespace

struct UnicodeRegex::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

UnicodeRegex::UnicodeRegex(std::unique_ptr<Compiled> compiled) : compiled_(std::move(compiled)) {}
UnicodeRegex::UnicodeRegex(UnicodeRegex&&) noexcept = default;
UnicodeRegex& UnicodeRegex::operator=(UnicodeRegex&&) noexcept = default;
UnicodeRegex::~UnicodeRegex() = default;

Result<UnicodeRegex> UnicodeRegex::compile(std::string_view pattern, Options options) {
  uint32_t flags = PCRE2_UTF | PCRE2_UCP;
  if (options.case_insensitive) flags |= PCRE2_CASELESS;
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   flags, &error, &offset, nullptr);
  if (code == nullptr) {
    return make_error("bad regular expression \"" + std::string(pattern) + "\" at offset " +
                      std::to_string(offset) + ": " + pcre2_message(error));
  }
  auto compiled = std::make_unique<Compiled>();
  compiled->code = code;
  return UnicodeRegex(std::move(compiled));
}

Result<std::string> UnicodeRegex::substitute(std::string_view subject,
                                             std::string_view replacement,
                                             unsigned syntax) const {
  MatchData match(compiled_->code);
  const uint32_t options = PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH |
                           PCRE2_SUBSTITUTE_UNSET_EMPTY | syntax;
  std::string out(subject.size() + subject.size() / 4 + 64, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    PCRE2_SIZE out_len = out.size();
    int rc = pcre2_substitute(compiled_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                              subject.size(), 0, options, match.data, match.context,
                              reinterpret_cast<PCRE2_SPTR>(replacement.data()),
                              replacement.size(), reinterpret_cast<PCRE2_UCHAR*>(out.data()),
                              &out_len);
    if (rc >= 0) {
      out.resize(out_len);
      return out;
    }
    if (rc == PCRE2_ERROR_NOMEMORY && attempt == 0) {
      // OVERFLOW_LENGTH put the needed size (with the terminating NUL) in out_len.
      out.assign(out_len, '\0');
      continue;
    }
    return make_error(pcre2_message(rc));
  }
  return make_error("replacement output kept growing");
}

Result<std::string> UnicodeRegex::replace_all(std::string_view subject,
                                              std::string_view replacement) const {
  return substitute(subject, replacement, PCRE2_SUBSTITUTE_EXTENDED);
}

Result<std::string> UnicodeRegex::replace_all_literal(std::string_view subject,
                                                      std::string_view replacement) const {
  return substitute(subject, replacement, PCRE2_SUBSTITUTE_LITERAL);
}

bool UnicodeRegex::matches(std::string_view subject) const {
  MatchData match(compiled_->code);
  return pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                     subject.size(), 0, 0, match.data, match.context) >= 0;
}

std::string escape_pattern(std::string_view literal) {
  std::string out;
  out.reserve(literal.size() * 2);
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    // Escaping every ASCII non-alphanumeric is always safe in PCRE2; bytes of multi-byte
    // UTF-8 sequences (>= 0x80) must stay as they are.
    if (u < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      if (c == ' ') {
        out += "\\ ";
      } else if (u < 0x20) {
        static const char* hex = "0123456789abcdef";
        out += "\\x{";
        out += hex[u >> 4];
        out += hex[u & 15];
        out += '}';
      } else {
        out += '\\';
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    }
    bool valid = len > 0 && i + len <= n;
    for (size_t k = 1; valid && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) valid = false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (valid) {
      // Overlong forms, surrogates and values past U+10FFFF are invalid too.
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) valid = false;
    }
    if (valid) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace thoth::text
