// `thoth history` against a real database in a scratch THOTH_HOME.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "core/paths.h"
#include "store/history.h"
#include "support/shared_data.h"

namespace thoth {
namespace {

struct Run {
  int exit_code;
  std::string out;
};

// Runs the thoth binary with THOTH_HOME set; stdout captured, stderr folded in with 2>&1
// when `with_stderr`.
Run run_thoth(const std::filesystem::path& home, const std::string& args, bool with_stderr = false) {
  std::string cmd = "THOTH_HOME='" + home.string() + "' '" + test::thoth_binary().string() + "' " +
                    args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = ::popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class HistoryCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::HistoryStore::open(home_.path() / "history.db");
    ASSERT_TRUE(store) << store.error();
    store::HistoryEntry e;
    e.created_at_ms = 1'700'000'000'000;  // 2023-11-14
    e.text = "First note about llamas";
    e.raw_text = "first note about llamas";
    e.audio_path = (home_.path() / "recordings" / "a.wav").string();
    ids_.push_back(*store->add(e));
    e.created_at_ms = 1'750'000'000'000;  // 2025-06-15
    e.text = "Second, with \"quotes\"";
    e.raw_text = e.text;
    e.status = store::DictationStatus::failed;
    e.error = "output failed";
    std::filesystem::create_directories(home_.path() / "recordings");
    std::ofstream(home_.path() / "recordings" / "b.wav") << "RIFF";
    e.audio_path = (home_.path() / "recordings" / "b.wav").string();
    ids_.push_back(*store->add(e));
  }
  test::ScratchDir home_;
  std::vector<int64_t> ids_;
};

TEST_F(HistoryCli, ListsNewestFirst) {
  auto r = run_thoth(home_.path(), "history");
  ASSERT_EQ(r.exit_code, 0);
  const auto first = r.out.find("Second");
  const auto second = r.out.find("First note");
  ASSERT_NE(first, std::string::npos) << r.out;
  ASSERT_NE(second, std::string::npos) << r.out;
  EXPECT_LT(first, second);
  EXPECT_NE(r.out.find("failed"), std::string::npos);
  EXPECT_NE(r.out.find("[output failed]"), std::string::npos);
}

TEST_F(HistoryCli, SearchLimitAndDates) {
  auto r = run_thoth(home_.path(), "history --search llama");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("First note"), std::string::npos);
  EXPECT_EQ(r.out.find("Second"), std::string::npos);

  r = run_thoth(home_.path(), "history --limit 1");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Second"), std::string::npos);
  EXPECT_EQ(r.out.find("First"), std::string::npos);

  r = run_thoth(home_.path(), "history --since 2024-01-01");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.find("First"), std::string::npos);
  EXPECT_NE(r.out.find("Second"), std::string::npos);

  r = run_thoth(home_.path(), "history --until 2024-01-01");
  EXPECT_NE(r.out.find("First"), std::string::npos);
  EXPECT_EQ(r.out.find("Second"), std::string::npos);

  r = run_thoth(home_.path(), "history --since yesterday", true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--since yesterday"), std::string::npos) << r.out;
}

TEST_F(HistoryCli, ExportFormatsToStdoutAndFile) {
  auto json = run_thoth(home_.path(), "history export --format json");
  ASSERT_EQ(json.exit_code, 0);
  auto parsed = nlohmann::json::parse(json.out);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[1]["text"], "Second, with \"quotes\"");

  auto csv = run_thoth(home_.path(), "history export --format csv");
  ASSERT_EQ(csv.exit_code, 0);
  EXPECT_EQ(csv.out.rfind("id,created_at,status,text,", 0), 0u) << csv.out;
  EXPECT_NE(csv.out.find("\"Second, with \"\"quotes\"\"\""), std::string::npos) << csv.out;

  const auto file = home_.path() / "out" / "export.txt";
  std::filesystem::create_directories(file.parent_path());
  auto txt = run_thoth(home_.path(), "history export --format txt -o '" + file.string() + "'");
  ASSERT_EQ(txt.exit_code, 0);
  std::ifstream in(file);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(content.find("#" + std::to_string(ids_[0])), std::string::npos) << content;
  struct stat st{};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  auto bad = run_thoth(home_.path(), "history export --format xml", true);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("json, csv or txt"), std::string::npos) << bad.out;
}

TEST_F(HistoryCli, RemoveDeletesEntryAndRecording) {
  const auto wav = home_.path() / "recordings" / "b.wav";
  ASSERT_TRUE(std::filesystem::exists(wav));
  auto r = run_thoth(home_.path(), "history rm " + std::to_string(ids_[1]), true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("removed entry"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(wav));
  auto list = run_thoth(home_.path(), "history");
  EXPECT_EQ(list.out.find("Second"), std::string::npos);

  auto again = run_thoth(home_.path(), "history rm " + std::to_string(ids_[1]), true);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.out.find("no history entry with id"), std::string::npos) << again.out;
}

TEST(HistoryCliErrors, CorruptDatabaseGivesOneClearLine) {
  test::ScratchDir home;
  std::ofstream(home.path() / "history.db") << std::string(5000, 'z');
  auto r = run_thoth(home.path(), "history", true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("history.db"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not a database"), std::string::npos) << r.out;
}

TEST(HistoryCliErrors, EmptyHistoryIsNotAnError) {
  test::ScratchDir home;
  auto r = run_thoth(home.path(), "history", true);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("no dictations"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace thoth
