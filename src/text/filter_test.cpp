#include "text/filter.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace thoth::text {
namespace {

std::string without_fillers(std::string_view text,
                            const std::vector<std::string>& words = default_filler_words()) {
  auto remover = FillerRemover::create(words);
  EXPECT_TRUE(remover) << remover.error();
  return remover->apply(text);
}

// --- Fillers ------------------------------------------------------------------------------

TEST(FillerRemover, RemovesDefaultFillersWithTheirCommas) {
  EXPECT_EQ(without_fillers("So, um, I think we should go."), "So, I think we should go.");
  EXPECT_EQ(without_fillers("Um, hello there"), "hello there");
  EXPECT_EQ(without_fillers("I think um."), "I think.");
  EXPECT_EQ(without_fillers("Hello um world"), "Hello world");
  EXPECT_EQ(without_fillers("Hello, uh."), "Hello.");
  EXPECT_EQ(without_fillers("um, uh, hmm, so"), "so");
  EXPECT_EQ(without_fillers("Well er... fine"), "Well fine");
  EXPECT_EQ(without_fillers("Wait uh\u2026 no"), "Wait no");
  EXPECT_EQ(without_fillers("um"), "");
}

TEST(FillerRemover, IsCaseInsensitive) {
  EXPECT_EQ(without_fillers("UM, fine. Uh yes. HMM ok"), "fine. yes. ok");
}

TEST(FillerRemover, WholeWordsOnly) {
  EXPECT_EQ(without_fillers("The umbrella is huge, ahead of summer"),
            "The umbrella is huge, ahead of summer");
  EXPECT_EQ(without_fillers("her mum uttered hmmm"), "her mum uttered hmmm");
  // Joined by hyphen or apostrophe: part of a word, not a filler.
  EXPECT_EQ(without_fillers("she said uh-huh and er's"), "she said uh-huh and er's");
}

TEST(FillerRemover, WordBoundariesNextToNonAsciiLetters) {
  // Byte-based \b would treat the bytes of é, ß, ж as non-letters and cut these words.
  EXPECT_EQ(without_fillers("caf\u00E9er ist gro\u00DFer"), "caf\u00E9er ist gro\u00DFer");
  EXPECT_EQ(without_fillers("\u00E9um \u00FCber um\u00E4 \u0436um"),
            "\u00E9um \u00FCber um\u00E4 \u0436um");
  EXPECT_EQ(without_fillers("Caf\u00E9, um, cr\u00E8me br\u00FBl\u00E9e"),
            "Caf\u00E9, cr\u00E8me br\u00FBl\u00E9e");
  EXPECT_EQ(without_fillers("\u4F60\u597D um \u4E16\u754C"), "\u4F60\u597D \u4E16\u754C");
}

TEST(FillerRemover, NonAsciiFillerWordsCaseInsensitive) {
  EXPECT_EQ(without_fillers("\u00C4HM, also \u00E4hm gut", {"\u00E4hm"}), "also gut");
  EXPECT_EQ(without_fillers("\u00E4hmlich", {"\u00E4hm"}), "\u00E4hmlich");
}

TEST(FillerRemover, CustomListAndMultiWordFillers) {
  EXPECT_EQ(without_fillers("It was, you know, like, fine", {"you know", "like"}), "It was, fine");
  EXPECT_EQ(without_fillers("I like it", {"you know"}), "I like it");
}

TEST(FillerRemover, TextWithoutFillersIsUntouched) {
  const std::string text = "  Spaces  stay   when nothing was removed ";
  EXPECT_EQ(without_fillers(text), text);
}

TEST(FillerRemover, RejectsEmptyWord) {
  auto remover = FillerRemover::create({"um", "  "});
  ASSERT_FALSE(remover);
  EXPECT_NE(remover.error().find("empty"), std::string::npos);
}

TEST(FillerRemover, RegexCharactersInWordsAreLiteral) {
  EXPECT_EQ(without_fillers("a.b axb (x) b", {"a.b", "(x)"}), "axb b");
}

// --- Dictionary ---------------------------------------------------------------------------

std::string with_dictionary(std::string_view text, std::vector<DictionaryEntry> entries) {
  auto dict = Dictionary::create(std::move(entries));
  EXPECT_TRUE(dict) << dict.error();
  return dict->apply(text);
}

TEST(Dictionary, WholeWordCaseInsensitiveByDefault) {
  EXPECT_EQ(with_dictionary("use get hub and GET HUB, not gethub", {{"get hub", "GitHub"}}),
            "use GitHub and GitHub, not gethub");
  EXPECT_EQ(with_dictionary("teh cat; tehran", {{"teh", "the"}}), "the cat; tehran");
}

TEST(Dictionary, PhraseMatchesAcrossAnyWhitespace) {
  EXPECT_EQ(with_dictionary("open  ai\tand open\nai", {{"open ai", "OpenAI"}}),
            "OpenAI\tand OpenAI");
}

TEST(Dictionary, CaseSensitiveRule) {
  EXPECT_EQ(with_dictionary("Rust and rust", {{"Rust", "Rust\u2122", true}}),
            "Rust\u2122 and rust");
}

TEST(Dictionary, NonAsciiWordsAndBoundaries) {
  EXPECT_EQ(with_dictionary("\u00C9COLE, \u00E9cole, \u00E9coles", {{"\u00E9cole", "school"}}),
            "school, school, \u00E9coles");
  // "na" must not match inside "naïve" or "ñana".
  EXPECT_EQ(with_dictionary("na na\u00EFve \u00F1ana", {{"na", "NA"}}), "NA na\u00EFve \u00F1ana");
  EXPECT_EQ(with_dictionary("\u041C\u043E\u0441\u043A\u0432\u0430 \u043C\u043E\u0441\u043A\u0432\u0430",
                            {{"\u043C\u043E\u0441\u043A\u0432\u0430", "Moscow"}}),
            "Moscow Moscow");
}

TEST(Dictionary, ReplacementIsLiteralForPlainRules) {
  EXPECT_EQ(with_dictionary("cost", {{"cost", "$1 \\u"}}), "$1 \\u");
}

TEST(Dictionary, EndsThatAreNotLettersNeedNoBoundary) {
  EXPECT_EQ(with_dictionary("I write c++ daily", {{"c++", "C++"}}), "I write C++ daily");
  EXPECT_EQ(with_dictionary("dot net and .net", {{".net", ".NET"}, {"dot net", ".NET"}}),
            ".NET and .NET");
}

TEST(Dictionary, RegexRulesWithCaptureGroups) {
  EXPECT_EQ(with_dictionary("call 555 1234 now",
                            {{"(\\d{3}) (\\d{4})", "$1-$2", false, true}}),
            "call 555-1234 now");
  EXPECT_EQ(with_dictionary("Mr Smith and mr jones",
                            {{"\\bmr (\\w+)", "Mr. \\u$1", false, true}}),
            "Mr. Smith and Mr. Jones");
  // Unicode-aware \w inside user regexes.
  EXPECT_EQ(with_dictionary("Gr\u00FC\u00DFe aus M\u00FCnchen",
                            {{"aus (\\w+)", "from $1", false, true}}),
            "Gr\u00FC\u00DFe from M\u00FCnchen");
}

TEST(Dictionary, RegexCaseSensitivity) {
  EXPECT_EQ(with_dictionary("ABC abc", {{"abc", "x", true, true}}), "ABC x");
  EXPECT_EQ(with_dictionary("ABC abc", {{"abc", "x", false, true}}), "x x");
}

TEST(Dictionary, RulesApplyInOrder) {
  EXPECT_EQ(with_dictionary("alpha", {{"alpha", "beta"}, {"beta", "gamma"}}), "gamma");
}

TEST(Dictionary, BadRulesAreRejectedByNumber) {
  auto empty = Dictionary::create({{"ok", "fine"}, {"  ", "x"}});
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("entry 2"), std::string::npos) << empty.error();

  auto bad = Dictionary::create({{"([a-z", "x", false, true}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("entry 1"), std::string::npos) << bad.error();

  auto matches_nothing = Dictionary::create({{"x*", "y", false, true}});
  ASSERT_FALSE(matches_nothing);
  EXPECT_NE(matches_nothing.error().find("empty"), std::string::npos);
}

TEST(Dictionary, PathologicalRegexIsSkippedWithWarning) {
  auto dict = Dictionary::create({{"(a+)+$", "x", false, true}, {"b", "c"}});
  ASSERT_TRUE(dict);
  std::vector<std::string> warnings;
  EXPECT_EQ(dict->apply(std::string(40, 'a') + "! b", &warnings), std::string(40, 'a') + "! c");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("entry 1"), std::string::npos);
}

TEST(Dictionary, JsonRoundTrip) {
  std::vector<DictionaryEntry> entries = {
      {"get hub", "GitHub", false, false},
      {"(\\d+) percent", "$1%", true, true},
      {"\u00E9cole", "\u00C9cole \"quoted\"", false, false},
  };
  auto dict = Dictionary::create(entries);
  ASSERT_TRUE(dict);
  auto back = Dictionary::from_json(dict->to_json());
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->entries(), entries);
  EXPECT_EQ(back->apply("50 percent on get hub"), "50% on GitHub");
}

TEST(Dictionary, JsonImportAcceptsPlainArrayWithDefaults) {
  auto dict = Dictionary::from_json(R"([{"from": "k8s", "to": "Kubernetes"}])");
  ASSERT_TRUE(dict) << dict.error();
  ASSERT_EQ(dict->entries().size(), 1u);
  EXPECT_FALSE(dict->entries()[0].case_sensitive);
  EXPECT_FALSE(dict->entries()[0].regex);
  EXPECT_EQ(dict->apply("K8S rocks"), "Kubernetes rocks");
}

TEST(Dictionary, JsonImportErrorsNameThePlace) {
  auto check = [](std::string_view json, std::string_view expected) {
    auto dict = Dictionary::from_json(json);
    ASSERT_FALSE(dict) << json;
    EXPECT_NE(dict.error().find(expected), std::string::npos) << dict.error();
  };
  check("{not json", "not valid JSON");
  check(R"({"rules": []})", "\"entries\"");
  check(R"({"entries": 3})", "must be an array");
  check(R"([{"from": "a", "to": 1}])", "[0].to must be a string");
  check(R"([{"from": "a", "to": "b"}, {"from": "c", "to": "d", "caseSensitive": "yes"}])",
        "[1].caseSensitive must be true or false");
  check(R"([{"from": "a"}])", "needs both");
  check(R"([{"from": "a", "to": "b", "colour": 1}])", "unknown key \"colour\"");
  check(R"({"entries": [{"from": "(", "to": "b", "regex": true}]})", "entry 1");
}

TEST(Dictionary, VocabularyListsPlainReplacements) {
  auto dict = Dictionary::create(
      {{"get hub", "GitHub"}, {"git hub", "GitHub"}, {"x(\\d)", "$1", false, true}, {"k8s", "Kubernetes"}});
  ASSERT_TRUE(dict);
  EXPECT_EQ(dict->vocabulary(), (std::vector<std::string>{"GitHub", "Kubernetes"}));
}

// --- Tidy-up ------------------------------------------------------------------------------

TEST(Tidy, CollapsesWhitespaceAndTrims) {
  EXPECT_EQ(tidy("  Hello   there\t\tfriend  "), "Hello there friend");
  EXPECT_EQ(tidy("Line one  \n  line two"), "Line one\nLine two");
  EXPECT_EQ(tidy(""), "");
  EXPECT_EQ(tidy("   "), "");
}

TEST(Tidy, NoSpaceBeforeClosingPunctuation) {
  EXPECT_EQ(tidy("Hello , world . Really ? Yes ! ( maybe ) ok ;fine"),
            "Hello, world. Really? Yes! (Maybe) ok;fine");
  EXPECT_EQ(tidy("Wait \u2026"), "Wait\u2026");
}

TEST(Tidy, CapitalisesSentenceStarts) {
  EXPECT_EQ(tidy("hello. how are you? fine! ok"), "Hello. How are you? Fine! Ok");
  EXPECT_EQ(tidy("\u00E9t\u00E9 chaud. \u00E9cole ferm\u00E9e. \u0436\u0430\u0440\u043A\u043E"),
            "\u00C9t\u00E9 chaud. \u00C9cole ferm\u00E9e. \u0416\u0430\u0440\u043A\u043E");
  EXPECT_EQ(tidy("\"quoted start. \u00BFqu\u00E9 tal?"), "\"Quoted start. \u00BFQu\u00E9 tal?");
  EXPECT_EQ(tidy("first line\nsecond line"), "First line\nSecond line");
}

TEST(Tidy, LeavesAbbreviationsEllipsesAndMixedCaseAlone) {
  EXPECT_EQ(tidy("Fruit, e.g. apples. fine"), "Fruit, e.g. apples. Fine");
  EXPECT_EQ(tidy("Wait... then go"), "Wait... then go");
  EXPECT_EQ(tidy("iPhone sales. eBay too"), "iPhone sales. eBay too");
  EXPECT_EQ(tidy("see example.com today"), "See example.com today");
  EXPECT_EQ(tidy("3 apples. 4 pears"), "3 apples. 4 pears");
}

TEST(Tidy, CapitalisationCanBeTurnedOff) {
  EXPECT_EQ(tidy("hello. world", {.capitalise_sentences = false}), "hello. world");
}

TEST(Tidy, OptionalLeadingSpace) {
  EXPECT_EQ(tidy("  next bit", {.leading_space = true}), " Next bit");
  EXPECT_EQ(tidy("   ", {.leading_space = true}), "");
}

TEST(Tidy, InvalidUtf8IsRepairedNotDropped) {
  EXPECT_EQ(tidy("ok \xFF then"), "Ok \uFFFD then");
}

// --- Whole stage --------------------------------------------------------------------------

TEST(TextFilter, FillersThenDictionaryThenTidy) {
  TextFilterOptions options;
  options.dictionary = {{"get hub", "GitHub"}, {"new line", "\n", false, false}};
  auto filter = TextFilter::create(options);
  ASSERT_TRUE(filter) << filter.error();
  auto out = filter->apply("  um, so I pushed it to get hub , uh. then er we merged new line done");
  EXPECT_EQ(out.text, "So I pushed it to GitHub. Then we merged\nDone");
  EXPECT_TRUE(out.warnings.empty());
}

TEST(TextFilter, NonAsciiTranscript) {
  TextFilterOptions options;
  options.filler_words = {"\u00E4h", "\u00E4hm"};
  options.dictionary = {{"stra\u00DFe", "Stra\u00DFe"}};
  options.tidy.leading_space = true;
  auto filter = TextFilter::create(options);
  ASSERT_TRUE(filter);
  EXPECT_EQ(filter->apply("\u00E4hm, die stra\u00DFe ist \u00C4H lang. \u00FCbrigens gut").text,
            " Die Stra\u00DFe ist lang. \u00DCbrigens gut");
}

TEST(TextFilter, FillerRemovalCanBeOff) {
  TextFilterOptions options;
  options.remove_fillers = false;
  auto filter = TextFilter::create(options);
  ASSERT_TRUE(filter);
  EXPECT_EQ(filter->apply("um, hello").text, "Um, hello");
}

TEST(TextFilter, BadDictionaryFailsCreation) {
  TextFilterOptions options;
  options.dictionary = {{"(", "x", false, true}};
  EXPECT_FALSE(TextFilter::create(options));
}

TEST(TextFilter, SharedAcrossThreads) {
  auto filter = TextFilter::create({});
  ASSERT_TRUE(filter);
  std::vector<std::thread> threads;
  std::vector<std::string> results(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) results[t] = filter->apply("um, hello  world .").text;
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, "Hello world.");
}

}  // namespace
}  // namespace thoth::text
