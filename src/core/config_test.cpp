#include "core/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "core/paths.h"
#include "support/shared_data.h"

namespace thoth {
namespace {

using nlohmann::json;

std::string error_of(std::string_view text) {
  auto c = parse_config(text, "config.json");
  EXPECT_FALSE(c.ok()) << "accepted: " << text;
  return c.ok() ? "" : c.error();
}

TEST(Config, EmptyDocumentGivesDefaults) {
  auto c = parse_config("{}", "config.json");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(config_to_json(*c), config_to_json(Config{}));
  EXPECT_EQ(c->transcription.model, "base.en");
  EXPECT_EQ(c->enhancement.provider, "ollama");
  EXPECT_EQ(c->output.method, "auto");
  EXPECT_EQ(c->hands_free.auto_stop_ms, 1200);
  EXPECT_FALSE(c->filters.filler_words.empty());
}

TEST(Config, DefaultsDocumentCoversTheProduct) {
  json d = config_to_json(Config{});
  for (const char* key :
       {"transcription", "audio", "vad", "filters", "enhancement", "output", "shortcuts",
        "hands_free", "server", "daemon", "history"})
    EXPECT_TRUE(d.contains(key)) << key;
  EXPECT_EQ(d["enhancement"]["template"], "fix-grammar");
  EXPECT_TRUE(d["filters"]["dictionary"].is_array());
  // And the defaults are themselves a valid document.
  EXPECT_TRUE(config_from_json(d, "defaults").ok());
}

TEST(Config, PartialDocumentOverridesOnlyItsKeys) {
  auto c = parse_config(R"({
    "transcription": {"model": "small.en", "threads": 4, "remote": {"enabled": true}},
    "enhancement": {"enabled": true, "provider": "openai", "template": "formal",
                    "base_url": "https://api.example.com", "temperature": 0},
    "filters": {"filler_words": ["like"],
                "dictionary": [{"from": "thoth", "to": "Thoth"},
                               {"from": "k8s", "to": "Kubernetes", "caseSensitive": true},
                               {"from": "(\\d+) percent", "to": "$1%", "regex": true}]},
    "vad": {"threshold": 1}
  })",
                        "config.json");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->transcription.model, "small.en");
  EXPECT_EQ(c->transcription.threads, 4);
  EXPECT_EQ(c->transcription.language, "auto");
  EXPECT_TRUE(c->transcription.remote.enabled);
  EXPECT_EQ(c->transcription.remote.model, "whisper-1");
  EXPECT_EQ(c->enhancement.provider, "openai");
  EXPECT_EQ(c->enhancement.prompt_template, "formal");
  EXPECT_EQ(c->enhancement.temperature, 0.0);
  EXPECT_EQ(c->enhancement.timeout_ms, 30000);
  EXPECT_EQ(c->filters.filler_words, std::vector<std::string>{"like"});
  ASSERT_EQ(c->filters.dictionary.size(), 3u);
  EXPECT_EQ(c->filters.dictionary[0], (DictionaryRule{"thoth", "Thoth", false, false}));
  EXPECT_EQ(c->filters.dictionary[1], (DictionaryRule{"k8s", "Kubernetes", true, false}));
  EXPECT_EQ(c->filters.dictionary[2], (DictionaryRule{"(\\d+) percent", "$1%", false, true}));
  EXPECT_EQ(c->vad.threshold, 1.0);  // an integer is a fine number
}

TEST(Config, WrongTypesNameTheKeyPath) {
  EXPECT_EQ(error_of(R"({"enhancement": {"timeout_ms": "30s"}})"),
            "config.json: enhancement.timeout_ms: expected integer, got string");
  EXPECT_EQ(error_of(R"({"enhancement": {"timeout_ms": 1.5}})"),
            "config.json: enhancement.timeout_ms: expected integer, got number");
  EXPECT_EQ(error_of(R"({"output": {"leading_space": "yes"}})"),
            "config.json: output.leading_space: expected boolean, got string");
  EXPECT_EQ(error_of(R"({"vad": {"threshold": null}})"),
            "config.json: vad.threshold: expected number, got null");
  EXPECT_EQ(error_of(R"({"transcription": {"remote": 3}})"),
            "config.json: transcription.remote: expected object, got integer");
  EXPECT_EQ(error_of(R"({"filters": {"filler_words": "um"}})"),
            "config.json: filters.filler_words: expected array, got string");
  EXPECT_EQ(error_of(R"({"filters": {"filler_words": ["um", 3]}})"),
            "config.json: filters.filler_words[1]: expected string, got integer");
  EXPECT_EQ(error_of(R"({"filters": {"dictionary": [{"from": "a", "to": "b", "caseSensitive": 1}]}})"),
            "config.json: filters.dictionary[0].caseSensitive: expected boolean, got integer");
  EXPECT_EQ(error_of("[]"), "config.json: top level: expected object, got array");
}

TEST(Config, UnknownKeysAreRejectedWithASuggestion) {
  EXPECT_EQ(error_of(R"({"enhancement": {"timout_ms": 5}})"),
            "config.json: unknown key \"enhancement.timout_ms\" (did you mean \"timeout_ms\"?)");
  EXPECT_EQ(error_of(R"({"colour": "blue"})"), "config.json: unknown key \"colour\"");
  EXPECT_EQ(error_of(R"({"filters": {"dictionary": [{"from": "a", "to": "b", "case": true}]}})"),
            "config.json: unknown key \"filters.dictionary[0].case\"");
}

TEST(Config, ValuesOutsideTheirDomain) {
  EXPECT_EQ(error_of(R"({"output": {"method": "telepathy"}})"),
            "config.json: output.method: \"telepathy\" is not one of auto, type, paste, clipboard");
  EXPECT_EQ(error_of(R"({"enhancement": {"provider": "Ollama"}})"),
            "config.json: enhancement.provider: \"Ollama\" is not one of ollama, openai");
  EXPECT_EQ(error_of(R"({"server": {"port": 70000}})"),
            "config.json: server.port: 70000 is out of range (0 to 65535)");
  EXPECT_EQ(error_of(R"({"vad": {"threshold": 1.5}})"),
            "config.json: vad.threshold: 1.5 is out of range (0 to 1)");
  EXPECT_EQ(error_of(R"({"transcription": {"threads": 99999999999}})"),
            "config.json: transcription.threads: 99999999999 is out of range");
  EXPECT_EQ(error_of(R"({"audio": {"pre_roll_ms": -1}})"),
            "config.json: audio.pre_roll_ms: -1 is out of range (0 to 1000)");
  EXPECT_EQ(error_of(R"({"enhancement": {"base_url": "localhost:11434"}})"),
            "config.json: enhancement.base_url: \"localhost:11434\" is not an http:// or https:// URL");
  EXPECT_EQ(error_of(R"({"transcription": {"language": "English"}})"),
            "config.json: transcription.language: \"English\" is not a language code (like en, de, zh) or auto");
  EXPECT_EQ(error_of(R"({"filters": {"dictionary": [{"to": "b"}]}})"),
            "config.json: filters.dictionary[0]: missing \"from\"");
  EXPECT_EQ(error_of(R"({"filters": {"dictionary": [{"from": "", "to": "b"}]}})"),
            "config.json: filters.dictionary[0].from: must not be empty");
}

TEST(Config, SyntaxErrorsGiveLineAndColumn) {
  std::string e = error_of("{\n  \"server\": {\n    \"port\": 80,\n  }\n}\n");
  EXPECT_EQ(e.rfind("config.json:4:3: syntax error", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  e = error_of("{\"a\": tru}");
  EXPECT_EQ(e.rfind("config.json:1:", 0), 0u) << e;
  e = error_of("");
  EXPECT_EQ(e.rfind("config.json:1:1: ", 0), 0u) << e;
}

class ConfigFile : public ::testing::Test {
 protected:
  test::ScratchDir dir_;
  std::filesystem::path file_ = dir_ / "thoth/config.json";
  json stored() {
    auto text = paths::read_file(file_);
    EXPECT_TRUE(text.ok());
    return json::parse(text.ok() ? *text : "null");
  }
};

TEST_F(ConfigFile, MissingFileMeansDefaults) {
  auto c = load_config(file_);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(config_to_json(*c), config_to_json(Config{}));
}

TEST_F(ConfigFile, LoadNamesTheFileInErrors) {
  std::filesystem::create_directories(file_.parent_path());
  std::ofstream(file_) << R"({"server": {"port": "eighty"}})";
  auto c = load_config(file_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), file_.string() + ": server.port: expected integer, got string");
}

TEST_F(ConfigFile, SetStoresOnlyUserKeysPrivately) {
  auto c = config_set(file_, "enhancement.timeout_ms", json(5000));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->enhancement.timeout_ms, 5000);
  c = config_set(file_, "output.method", json("paste"));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(stored(), json::parse(R"({"enhancement": {"timeout_ms": 5000},
                                      "output": {"method": "paste"}})"));
  struct stat st{};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(file_.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto loaded = load_config(file_);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->output.method, "paste");
}

TEST_F(ConfigFile, SetRejectsBadValuesAndKeepsTheFile) {
  ASSERT_TRUE(config_set(file_, "server.port", json(8080)).ok());
  auto c = config_set(file_, "server.port", json("http"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), "server.port: expected integer, got string");
  c = config_set(file_, "server.prot", json(1));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), "unknown key \"server.prot\" (did you mean \"port\"?)");
  EXPECT_EQ(stored(), json::parse(R"({"server": {"port": 8080}})"));
}

TEST_F(ConfigFile, SetAGroupOrAList) {
  auto rules = json::parse(R"([{"from": "gee pee tee", "to": "GPT"}])");
  auto c = config_set(file_, "filters.dictionary", rules);
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c->filters.dictionary.size(), 1u);
  EXPECT_EQ(c->filters.dictionary[0].to, "GPT");
  c = config_set(file_, "hands_free", json::parse(R"({"enabled": true, "auto_stop_ms": 2000})"));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->hands_free.enabled);
  EXPECT_EQ(c->hands_free.padding_ms, 300);
}

TEST_F(ConfigFile, SetRefusesToEditAFileWithASyntaxError) {
  std::filesystem::create_directories(file_.parent_path());
  std::ofstream(file_) << "{ \"server\": ";
  auto c = config_set(file_, "server.port", json(1234));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().rfind(file_.string() + ":1:", 0), 0u) << c.error();
  auto text = paths::read_file(file_);
  EXPECT_EQ(*text, "{ \"server\": ");
}

TEST_F(ConfigFile, UnsetReturnsToTheDefaultAndTidiesGroups) {
  ASSERT_TRUE(config_set(file_, "enhancement.model", json("qwen2.5")).ok());
  ASSERT_TRUE(config_set(file_, "server.port", json(9000)).ok());
  auto c = config_unset(file_, "enhancement.model");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->enhancement.model, "llama3.2");
  EXPECT_EQ(stored(), json::parse(R"({"server": {"port": 9000}})"));
  EXPECT_TRUE(config_unset(file_, "vad.threshold").ok()) << "unsetting an unset key is fine";
  EXPECT_FALSE(config_unset(file_, "vad.nope").ok());
}

TEST_F(ConfigFile, ReplaceValidatesTheWholeDocument) {
  auto bad = config_replace(file_, json::parse(R"({"output": {"method": "fax"}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(std::filesystem::exists(file_));
  auto good = config_replace(file_, json::parse(R"({"output": {"method": "type"}})"));
  ASSERT_TRUE(good.ok()) << good.error();
  EXPECT_EQ(good->output.method, "type");
}

TEST_F(ConfigFile, UnwritableConfigDir) {
  std::ofstream(dir_ / "blocker") << "a file where the config dir should be";
  auto c = config_set(dir_ / "blocker/config.json", "server.port", json(1234));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("cannot create config dir"), std::string::npos) << c.error();
}

// The README's table is the user's reference: every key of the schema must be in it, with
// its default.
TEST(ConfigDocs, ReadmeDocumentsEveryKey) {
  auto readme = paths::read_file(test::source_root() / "README.md");
  ASSERT_TRUE(readme.ok()) << readme.error();
  std::vector<std::pair<std::string, json>> leaves;
  std::function<void(const std::string&, const json&)> walk = [&](const std::string& p,
                                                                  const json& v) {
    if (!v.is_object()) {
      leaves.emplace_back(p, v);
      return;
    }
    for (auto it = v.begin(); it != v.end(); ++it) walk(p.empty() ? it.key() : p + "." + it.key(), *it);
  };
  walk("", config_to_json(Config{}));
  for (const auto& [key, value] : leaves) {
    std::string row = "| `" + key + "` | `";
    auto at = readme->find(row);
    ASSERT_NE(at, std::string::npos) << "README.md lacks a row for " << key;
    if (value.is_array()) continue;  // lists are abbreviated
    std::string shown = value.is_number_float() && value.get<double>() == std::floor(value.get<double>())
                            ? std::to_string(static_cast<long long>(value.get<double>()))
                            : value.dump();
    EXPECT_EQ(readme->compare(at + row.size(), shown.size() + 1, shown + "`"), 0)
        << "README.md default of " << key << " should be " << shown;
  }
}

TEST(ConfigKeys, GetReturnsEffectiveValues) {
  Config c;
  c.server.port = 1234;
  EXPECT_EQ(*config_get(c, "server.port"), json(1234));
  EXPECT_EQ(*config_get(c, "enhancement.template"), json("fix-grammar"));
  EXPECT_EQ((*config_get(c, "server"))["enabled"], json(true));
  auto bad = config_get(c, "server.port.number");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "unknown key \"server.port.number\"");
  EXPECT_FALSE(config_get(c, "").ok());
  EXPECT_FALSE(config_get(c, "server..port").ok());
}

TEST(ConfigKeys, ValuesFromCommandLineText) {
  EXPECT_EQ(*config_value_from_text("transcription.model", "tiny.en"), json("tiny.en"));
  EXPECT_EQ(*config_value_from_text("transcription.initial_prompt", "42"), json("42"));
  EXPECT_EQ(*config_value_from_text("output.leading_space", "true"), json(true));
  EXPECT_EQ(*config_value_from_text("server.port", "8080"), json(8080));
  EXPECT_EQ(*config_value_from_text("vad.threshold", "0.35"), json(0.35));
  EXPECT_EQ(*config_value_from_text("filters.filler_words", R"(["um","er"])"),
            json::parse(R"(["um","er"])"));
  EXPECT_EQ(config_value_from_text("server.port", "80x").error(),
            "server.port: expected integer, got \"80x\"");
  EXPECT_EQ(config_value_from_text("output.leading_space", "yes").error(),
            "output.leading_space: expected true or false, got \"yes\"");
  EXPECT_EQ(config_value_from_text("vad.threshold", "high").error(),
            "vad.threshold: expected number, got \"high\"");
  EXPECT_EQ(config_value_from_text("filters.dictionary", "[{").error(),
            "filters.dictionary: expected array as JSON, got \"[{\"");
  EXPECT_FALSE(config_value_from_text("nope", "1").ok());
}

}  // namespace
}  // namespace thoth
