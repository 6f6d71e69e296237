#include "text/unicode_regex.h"

#include <gtest/gtest.h>

namespace thoth::text {
namespace {

TEST(UnicodeRegex, WordBoundariesSeeNonAsciiLetters) {
  // With a byte-based \b, "er" inside "caféer" would match (0xA9 is not a word byte).
  auto re = UnicodeRegex::compile("\\ber\\b");
  ASSERT_TRUE(re);
  EXPECT_FALSE(re->matches("caf\u00E9er"));
  EXPECT_FALSE(re->matches("er\u00DF"));
  EXPECT_FALSE(re->matches("\u0436er"));  // Cyrillic zhe
  EXPECT_TRUE(re->matches("caf\u00E9 er"));
}

TEST(UnicodeRegex, CaseInsensitiveBeyondAscii) {
  auto re = UnicodeRegex::compile("\u00E9cole", {.case_insensitive = true});
  ASSERT_TRUE(re);
  EXPECT_TRUE(re->matches("\u00C9COLE"));
  auto greek = UnicodeRegex::compile("\u03BB\u03CC\u03B3\u03BF\u03C2", {.case_insensitive = true});
  ASSERT_TRUE(greek);
  EXPECT_TRUE(greek->matches("\u039B\u038C\u0393\u039F\u03A3"));
}

TEST(UnicodeRegex, ReplaceWithGroupsAndCaseEscapes) {
  auto re = UnicodeRegex::compile("(\\w+)@(\\w+)");
  ASSERT_TRUE(re);
  auto out = re->replace_all("mail jo@host and ann@dom", "$2 at ${1}");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "mail host at jo and dom at ann");

  auto first = UnicodeRegex::compile("^(\\p{Ll})");
  ASSERT_TRUE(first);
  EXPECT_EQ(*first->replace_all("\u00E9t\u00E9", "\\u$1"), "\u00C9t\u00E9");
}

TEST(UnicodeRegex, LiteralReplacementKeepsDollarsAndBackslashes) {
  auto re = UnicodeRegex::compile("price");
  ASSERT_TRUE(re);
  EXPECT_EQ(*re->replace_all_literal("the price", "$1 \\u C:\\dir"), "the $1 \\u C:\\dir");
}

TEST(UnicodeRegex, OutputLongerThanFirstGuessGrows) {
  auto re = UnicodeRegex::compile("a");
  ASSERT_TRUE(re);
  std::string subject(1000, 'a');
  auto out = re->replace_all_literal(subject, "bbbbbbbbbb");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->size(), 10000u);
}

TEST(UnicodeRegex, BadPatternNamesOffset) {
  auto re = UnicodeRegex::compile("foo(bar");
  ASSERT_FALSE(re);
  EXPECT_NE(re.error().find("foo(bar"), std::string::npos);
  EXPECT_NE(re.error().find("offset 7"), std::string::npos);
}

TEST(UnicodeRegex, CatastrophicBacktrackingGivesUpWithError) {
  auto re = UnicodeRegex::compile("(a+)+$");
  ASSERT_TRUE(re);
  auto out = re->replace_all(std::string(40, 'a') + "!", "x");
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("limit"), std::string::npos) << out.error();
}

TEST(EscapePattern, EveryAsciiPunctuationMatchesItself) {
  std::string literal;
  for (char c = 0x20; c < 0x7F; ++c) literal += c;
  literal += "\u00E9\u4E2D\t";
  std::string pattern = "^";
  pattern += escape_pattern(literal);
  pattern += '$';
  auto re = UnicodeRegex::compile(pattern);
  ASSERT_TRUE(re) << re.error();
  EXPECT_TRUE(re->matches(literal));
  EXPECT_FALSE(re->matches("x" + literal));
}

TEST(SanitizeUtf8, KeepsValidTextAndReplacesInvalidBytes) {
  const std::string valid = "na\u00EFve \u4E2D\u6587 \U0001F600";
  EXPECT_EQ(sanitize_utf8(valid), valid);
  EXPECT_EQ(sanitize_utf8("a\xFF" "b"), "a\uFFFD" "b");
  EXPECT_EQ(sanitize_utf8("\xC3"), "\uFFFD");                // truncated sequence
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\uFFFD\uFFFD");      // overlong '/'
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");  // surrogate
}

}  // namespace
}  // namespace thoth::text
