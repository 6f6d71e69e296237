#include "asr/tokenizer.h"

#include <gtest/gtest.h>

namespace thoth::asr {
namespace {

Tokenizer small_tokenizer(std::vector<std::string> words) {
  // Pad to the English-only layout so the special ids are where SpecialTokens expects them.
  std::vector<std::string> vocab(51864);
  for (size_t i = 0; i < vocab.size(); ++i) vocab[i] = "[_extra_token_" + std::to_string(i) + "]";
  for (size_t i = 0; i < words.size(); ++i) vocab[i] = words[i];
  return Tokenizer(std::move(vocab), SpecialTokens{}, false, 0);
}

TEST(Utf8, ValidTextPassesUnchanged) {
  const std::string s = "Grüße, 世界! 🎉 done";
  EXPECT_EQ(to_valid_utf8(s), s);
}

TEST(Utf8, InvalidSequencesBecomeReplacementCharacters) {
  const std::string rep = "\xEF\xBF\xBD";
  EXPECT_EQ(to_valid_utf8("a\xC3"), "a" + rep);                 // truncated at the end
  EXPECT_EQ(to_valid_utf8("\xA9x"), rep + "x");                 // stray continuation byte
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), rep + rep);              // overlong lead byte
  EXPECT_EQ(to_valid_utf8("\xE0\x80\x80"), rep + rep + rep);    // overlong 3-byte form
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), rep + rep + rep);    // UTF-16 surrogate
  EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80"), rep + rep + rep + rep);  // above U+10FFFF
  EXPECT_EQ(to_valid_utf8("\xE4\xB8x"), rep + "x");             // maximal subpart: one U+FFFD
  EXPECT_EQ(to_valid_utf8("\xFF"), rep);
}

TEST(Tokenizer, ByteLevelTokensAreJoinedBeforeConversion) {
  // "é" is C3 A9 and "世" is E4 B8 96: split over tokens as byte-level BPE does.
  Tokenizer tok = small_tokenizer({"caf", "\xC3", "\xA9", " \xE4", "\xB8\x96", "!"});
  const std::vector<int32_t> ids = {0, 1, 2, 3, 4, 5};
  EXPECT_EQ(tok.decode(ids), "café 世!");
  // A character cut off at the end is replaced, never emitted as broken bytes.
  const std::vector<int32_t> cut = {0, 1};
  EXPECT_EQ(tok.decode(cut), "caf\xEF\xBF\xBD");
}

TEST(Tokenizer, DecodeSkipsSpecialAndTimestampTokens) {
  Tokenizer tok = small_tokenizer({"Hello", " world"});
  const SpecialTokens sp;
  const std::vector<int32_t> ids = {sp.sot, sp.timestamp_begin + 3, 0, 1, sp.timestamp_begin + 40, sp.eot};
  EXPECT_EQ(tok.decode(ids), "Hello world");
}

TEST(Tokenizer, FindPrefersTheLastDuplicateAsTheReferenceMapDoes) {
  Tokenizer tok = small_tokenizer({"a", "b", "a"});
  EXPECT_EQ(tok.find("a"), 2);
  EXPECT_EQ(tok.find("b"), 1);
  EXPECT_EQ(tok.find("zzz-not-there"), -1);
}

TEST(Tokenizer, EncodeSplitsLikeGpt2AndTakesTheLongestMatch) {
  Tokenizer tok = small_tokenizer({"Hello", " wor", " world", "ld", "'s", " ", "  ", "!", "H", "e", "l", "o", " 4",
                                   "2", " \xC3\xA9", "t", "\xC3\xA9"});
  // ' world' is one token although ' wor' + 'ld' also covers it; "'s" is a contraction piece.
  EXPECT_EQ(tok.encode("Hello world's!"), (std::vector<int32_t>{0, 2, 4, 7}));
  // Digits form their own piece; letters beyond ASCII fall into the punctuation class, and
  // the greedy match runs over their bytes.
  EXPECT_EQ(tok.encode(" 42"), (std::vector<int32_t>{12, 13}));
  EXPECT_EQ(tok.encode(" \xC3\xA9t\xC3\xA9"), (std::vector<int32_t>{14, 15, 16}));
  // Pieces with no token at all are skipped byte by byte, as the reference does.
  EXPECT_EQ(tok.encode("Hello#"), (std::vector<int32_t>{0}));
  EXPECT_TRUE(tok.encode("").empty());
}

TEST(Languages, TableFollowsTheReferenceOrder) {
  ASSERT_EQ(languages().size(), 100u);
  EXPECT_EQ(language_id("en"), 0);
  EXPECT_EQ(language_id("german"), 2);
  EXPECT_EQ(language_id("lb"), 86);
  EXPECT_EQ(language_id("yue"), 99);
  EXPECT_EQ(language_id("xx"), -1);
  EXPECT_EQ(language_code(86), "lb");
  EXPECT_EQ(language_code(100), "");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(languages()[i].id, i);
  const auto& by_code = language_ids_by_code();
  ASSERT_EQ(by_code.size(), 100u);
  EXPECT_EQ(language_code(by_code.front()), "af");
  EXPECT_EQ(language_code(by_code.back()), "zh");
}

}  // namespace
}  // namespace thoth::asr
