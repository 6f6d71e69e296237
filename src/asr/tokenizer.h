// Whisper's vocabulary as the reference uses it: token ids to byte strings, text to token ids
// (whisper_tokenize: a GPT-2 style regex pre-split, then greedy longest match), and the
// language table in the reference's id order.
//
// Tokens are byte strings, not text: a character may be split over several byte-level tokens,
// so bytes are joined first and converted to valid UTF-8 only at the end.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asr/model_file.h"

namespace thoth::asr {

struct Language {
  const char* code;  // "en"
  const char* name;  // "english"
  int id;            // position after the sot token: token = sot + 1 + id
};

// The reference's table (whisper.cpp g_lang), indexed by id: 100 entries ("yue" is id 99 and
// exists only in large-v3 vocabularies).
std::span<const Language> languages();
// Id of a code ("de") or English name ("german"); -1 when unknown.
int language_id(std::string_view code_or_name);
// Code of an id ("en"); "" when out of range.
std::string_view language_code(int id);
// Ids ordered by code, the iteration order of the reference's std::map (language detection
// walks it in this order, which decides ties).
const std::vector<int>& language_ids_by_code();

// Replaces every ill-formed UTF-8 subsequence with U+FFFD (one per maximal subpart, as the
// Unicode standard recommends), so output is always valid UTF-8.
std::string to_valid_utf8(std::string_view bytes);

class Tokenizer {
 public:
  // vocab[id] = bytes of token id (size n_vocab, specials included under their "[_...]" names).
  Tokenizer(std::vector<std::string> vocab, const SpecialTokens& special, bool multilingual,
            int num_languages);
  static Tokenizer from_model(const ModelFile& model);

  int n_vocab() const { return static_cast<int>(offsets_.size()) - 1; }
  const SpecialTokens& special() const { return special_; }
  bool multilingual() const { return multilingual_; }
  int num_languages() const { return num_languages_; }
  int32_t language_token(int lang_id) const { return special_.sot + 1 + lang_id; }

  // Raw bytes of a token (may be part of a UTF-8 character).
  std::string_view bytes(int32_t id) const;
  // Id of the token whose bytes are exactly `bytes`; -1 if none. Duplicate byte strings
  // resolve to the highest id, as the reference's map does.
  int32_t find(std::string_view bytes) const;
  // The text of a token sequence: text tokens (id < eot) joined, then made valid UTF-8.
  std::string decode(std::span<const int32_t> ids) const;

  // Text to tokens exactly as whisper_tokenize does (pieces not in the vocabulary at all are
  // skipped byte by byte, as the reference does after logging "unknown token").
  std::vector<int32_t> encode(std::string_view text) const;

 private:
  // Every token's bytes back to back (token id's at offsets_[id] .. offsets_[id + 1]) and the
  // ids sorted by bytes for find(): a fifth of the memory of a string per token and a map
  // from strings, which a dictation process would carry for its whole life.
  std::string blob_;
  std::vector<uint32_t> offsets_;
  std::vector<int32_t> by_bytes_;
  SpecialTokens special_;
  bool multilingual_ = false;
  int num_languages_ = 0;
  size_t longest_ = 0;
};

}  // namespace thoth::asr
