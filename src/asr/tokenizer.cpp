#include "asr/tokenizer.h"

#include <algorithm>
#include <array>
#include <locale>
#include <regex>

namespace thoth::asr {

namespace {

// whisper.cpp g_lang, by id.
constexpr std::array<Language, 100> kLanguages = {{
    {"en", "english", 0},       {"zh", "chinese", 1},       {"de", "german", 2},
    {"es", "spanish", 3},       {"ru", "russian", 4},       {"ko", "korean", 5},
    {"fr", "french", 6},        {"ja", "japanese", 7},      {"pt", "portuguese", 8},
    {"tr", "turkish", 9},       {"pl", "polish", 10},       {"ca", "catalan", 11},
    {"nl", "dutch", 12},        {"ar", "arabic", 13},       {"sv", "swedish", 14},
    {"it", "italian", 15},      {"id", "indonesian", 16},   {"hi", "hindi", 17},
    {"fi", "finnish", 18},      {"vi", "vietnamese", 19},   {"he", "hebrew", 20},
    {"uk", "ukrainian", 21},    {"el", "greek", 22},        {"ms", "malay", 23},
    {"cs", "czech", 24},        {"ro", "romanian", 25},     {"da", "danish", 26},
    {"hu", "hungarian", 27},    {"ta", "tamil", 28},        {"no", "norwegian", 29},
    {"th", "thai", 30},         {"ur", "urdu", 31},         {"hr", "croatian", 32},
    {"bg", "bulgarian", 33},    {"lt", "lithuanian", 34},   {"la", "latin", 35},
    {"mi", "maori", 36},        {"ml", "malayalam", 37},    {"cy", "welsh", 38},
    {"sk", "slovak", 39},       {"te", "telugu", 40},       {"fa", "persian", 41},
    {"lv", "latvian", 42},      {"bn", "bengali", 43},      {"sr", "serbian", 44},
    {"az", "azerbaijani", 45},  {"sl", "slovenian", 46},    {"kn", "kannada", 47},
    {"et", "estonian", 48},     {"mk", "macedonian", 49},   {"br", "breton", 50},
    {"eu", "basque", 51},       {"is", "icelandic", 52},    {"hy", "armenian", 53},
    {"ne", "nepali", 54},       {"mn", "mongolian", 55},    {"bs", "bosnian", 56},
    {"kk", "kazakh", 57},       {"sq", "albanian", 58},     {"sw", "swahili", 59},
    {"gl", "galician", 60},     {"mr", "marathi", 61},      {"pa", "punjabi", 62},
    {"si", "sinhala", 63},      {"km", "khmer", 64},        {"sn", "shona", 65},
    {"yo", "yoruba", 66},       {"so", "somali", 67},       {"af", "afrikaans", 68},
    {"oc", "occitan", 69},      {"ka", "georgian", 70},     {"be", "belarusian", 71},
    {"tg", "tajik", 72},        {"sd", "sindhi", 73},       {"gu", "gujarati", 74},
    {"am", "amharic", 75},      {"yi", "yiddish", 76},      {"lo", "lao", 77},
    {"uz", "uzbek", 78},        {"fo", "faroese", 79},      {"ht", "haitian creole", 80},
    {"ps", "pashto", 81},       {"tk", "turkmen", 82},      {"nn", "nynorsk", 83},
    {"mt", "maltese", 84},      {"sa", "sanskrit", 85},     {"lb", "luxembourgish", 86},
    {"my", "myanmar", 87},      {"bo", "tibetan", 88},      {"tl", "tagalog", 89},
    {"mg", "malagasy", 90},     {"as", "assamese", 91},     {"tt", "tatar", 92},
    {"haw", "hawaiian", 93},    {"ln", "lingala", 94},      {"ha", "hausa", 95},
    {"ba", "bashkir", 96},      {"jw", "javanese", 97},     {"su", "sundanese", 98},
    {"yue", "cantonese", 99},
}};

void append_replacement(std::string& out) { out += "\xEF\xBF\xBD"; }

}  // namespace

std::span<const Language> languages() { return kLanguages; }

int language_id(std::string_view code_or_name) {
  for (const auto& l : kLanguages)
    if (code_or_name == l.code) return l.id;
  for (const auto& l : kLanguages)
    if (code_or_name == l.name) return l.id;
  return -1;
}

std::string_view language_code(int id) {
  if (id < 0 || id >= static_cast<int>(kLanguages.size())) return {};
  return kLanguages[id].code;
}

const std::vector<int>& language_ids_by_code() {
  static const std::vector<int> ids = [] {
    std::vector<int> v;
    for (const auto& l : kLanguages) v.push_back(l.id);
    std::sort(v.begin(), v.end(), [](int a, int b) {
      return std::string_view(kLanguages[a].code) < std::string_view(kLanguages[b].code);
    });
    return v;
  }();
  return ids;
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;          // no overlongs
      if (c == 0xED) hi = 0x9F;          // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;          // no overlongs
      if (c == 0xF4) hi = 0x8F;          // nothing above U+10FFFF
    } else {
      append_replacement(out);           // stray continuation byte or invalid lead byte
      ++i;
      continue;
    }
    // Consume the longest valid prefix; a truncated sequence becomes one U+FFFD.
    size_t j = i + 1;
    bool ok = true;
    for (int k = 0; k < need; ++k, ++j) {
      const unsigned char b = j < n ? p[j] : 0;
      const unsigned char blo = k == 0 ? lo : 0x80, bhi = k == 0 ? hi : 0xBF;
      if (j >= n || b < blo || b > bhi) {
        ok = false;
        break;
      }
    }
    if (ok) {
      out.append(s.substr(i, need + 1));
    } else {
      append_replacement(out);
    }
    i = j;
  }
  return out;
}

Tokenizer::Tokenizer(std::vector<std::string> vocab, const SpecialTokens& special,
                     bool multilingual, int num_languages)
    : special_(special), multilingual_(multilingual), num_languages_(num_languages) {
  size_t total = 0;
  for (const auto& v : vocab) total += v.size();
  blob_.reserve(total);
  offsets_.reserve(vocab.size() + 1);
  for (const auto& v : vocab) {
    offsets_.push_back(static_cast<uint32_t>(blob_.size()));
    blob_ += v;
    longest_ = std::max(longest_, v.size());
  }
  offsets_.push_back(static_cast<uint32_t>(blob_.size()));
  by_bytes_.resize(vocab.size());
  for (size_t id = 0; id < vocab.size(); ++id) by_bytes_[id] = static_cast<int32_t>(id);
  // Equal byte strings stay in id order: find() takes the last, as the reference's
  // token_to_id[word] = i keeps the highest id.
  std::stable_sort(by_bytes_.begin(), by_bytes_.end(), [this](int32_t a, int32_t b) { return bytes(a) < bytes(b); });
}

std::string_view Tokenizer::bytes(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return {};
  return std::string_view(blob_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
}

int32_t Tokenizer::find(std::string_view bytes) const {
  auto it = std::upper_bound(by_bytes_.begin(), by_bytes_.end(), bytes,
                             [this](std::string_view b, int32_t id) { return b < this->bytes(id); });
  if (it == by_bytes_.begin() || this->bytes(*(it - 1)) != bytes) return -1;
  return *(it - 1);
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string joined;
  for (int32_t id : ids)
    if (id >= 0 && id < special_.eot) joined += bytes(id);
  return to_valid_utf8(joined);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  // The reference's pattern with std::regex (ECMAScript, classic locale): letters and digits
  // are ASCII only, so every other byte falls into the punctuation alternative.
  // Built in the classic locale whatever the process's global locale is.
  static const std::regex re = [] {
    std::regex r;
    r.imbue(std::locale::classic());
    r.assign(R"('s|'t|'re|'ve|'m|'ll|'d| ?[[:alpha:]]+| ?[[:digit:]]+| ?[^\s[:alpha:][:digit:]]+|\s+(?!\S)|\s+)");
    return r;
  }();
  std::vector<std::string> words;
  std::string str(text);
  std::smatch m;
  while (std::regex_search(str, m, re)) {
    for (const auto& x : m) words.push_back(x);
    str = m.suffix();
  }

  std::vector<int32_t> tokens;
  for (const auto& word : words) {
    const size_t n = word.size();
    size_t i = 0;
    while (i < n) {
      bool found = false;
      for (size_t j = std::min(n, i + longest_); j > i; --j) {
        const int32_t id = find(std::string_view(word).substr(i, j - i));
        if (id >= 0) {
          tokens.push_back(id);
          i = j;
          found = true;
          break;
        }
      }
      if (!found) ++i;
    }
  }
  return tokens;
}

}  // namespace thoth::asr
