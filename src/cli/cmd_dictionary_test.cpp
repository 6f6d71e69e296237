// `thoth dictionary` against a scratch THOTH_HOME: rules go into config.json and back out.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <fstream>

#include "support/process.h"
#include "support/shared_data.h"

namespace thoth {
namespace {

using nlohmann::json;

class DictionaryCli : public ::testing::Test {
 protected:
  test::ScratchDir scratch_;
  std::filesystem::path home_ = scratch_ / "home";
  test::RunOptions opts() const {
    test::RunOptions o;
    o.env["THOTH_HOME"] = home_.string();
    return o;
  }
  test::RunResult run(const std::vector<std::string>& args) { return test::run_thoth(args, opts()); }
  std::filesystem::path write(const std::string& name, const std::string& text) {
    const auto path = scratch_ / name;
    std::ofstream(path) << text;
    return path;
  }
  json config_file() {
    std::ifstream in(home_ / "config.json");
    return json::parse(in);
  }
};

TEST_F(DictionaryCli, ImportListExportRoundTrip) {
  auto empty = run({"dictionary", "list"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_NE(empty.err.find("empty"), std::string::npos) << empty.err;

  const auto file = write("dict.json", R"([
    {"from": "get hub", "to": "GitHub"},
    {"from": "(\\d+) percent", "to": "$1%", "regex": true},
    {"from": "\u00E9cole", "to": "\u00C9cole", "caseSensitive": true}
  ])");
  auto imported = run({"dictionary", "import", file.string()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.err.find("3 rules added"), std::string::npos) << imported.err;

  const json stored = config_file()["filters"]["dictionary"];
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[1]["from"], "(\\d+) percent");
  EXPECT_EQ(stored[1]["regex"], true);
  EXPECT_EQ(stored[2]["to"], "\u00C9cole");

  auto list = run({"dictionary", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("get hub\t->\tGitHub"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("[regex]"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("[case-sensitive]"), std::string::npos) << list.out;

  const auto out_file = scratch_ / "exported.json";
  auto exported = run({"dictionary", "export", "-o", out_file.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  struct stat st{};
  ASSERT_EQ(::stat(out_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::ifstream in(out_file);
  const json back = json::parse(in);
  ASSERT_EQ(back["entries"].size(), 3u);
  EXPECT_EQ(back["entries"], stored);

  // Exported files import again: same rules, nothing added or changed.
  auto again = run({"dictionary", "import", out_file.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("0 rules added, 0 updated, 3 in all"), std::string::npos) << again.err;
}

TEST_F(DictionaryCli, ImportUpdatesRulesForTheSameWords) {
  ASSERT_EQ(run({"dictionary", "import", write("a.json", R"([{"from": "k8s", "to": "K8s"}])").string()}).exit_code, 0);
  auto r = run({"dictionary", "import",
                write("b.json", R"({"entries": [{"from": "k8s", "to": "Kubernetes"}, {"from": "js", "to": "JavaScript"}]})").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 rules added, 1 updated, 2 in all"), std::string::npos) << r.err;
  const json stored = config_file()["filters"]["dictionary"];
  EXPECT_EQ(stored[0]["to"], "Kubernetes");
}

TEST_F(DictionaryCli, BadFilesChangeNothing) {
  auto bad_regex = run({"dictionary", "import",
                        write("bad.json", R"([{"from": "ok", "to": "fine"}, {"from": "([a-z", "to": "x", "regex": true}])").string()});
  EXPECT_EQ(bad_regex.exit_code, 1);
  EXPECT_NE(bad_regex.err.find("bad.json"), std::string::npos) << bad_regex.err;
  EXPECT_NE(bad_regex.err.find("entry 2"), std::string::npos) << bad_regex.err;
  EXPECT_FALSE(std::filesystem::exists(home_ / "config.json"));

  auto not_json = run({"dictionary", "import", write("x.json", "{oops").string()});
  EXPECT_EQ(not_json.exit_code, 1);
  EXPECT_NE(not_json.err.find("not valid JSON"), std::string::npos) << not_json.err;

  auto missing = run({"dictionary", "import", (scratch_ / "nope.json").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.json"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace thoth
