// Runs the built `thoth` binary and checks what a user sees: output, errors, exit codes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/version.h"
#include "support/process.h"
#include "support/shared_data.h"

namespace thoth {
namespace {

using nlohmann::json;
using test::run_thoth;
using test::RunOptions;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every config test gets its own THOTH_HOME, so nothing touches the real user's files.
class ThothHome : public ::testing::Test {
 protected:
  test::ScratchDir scratch_;
  std::filesystem::path home_ = scratch_ / "home";
  RunOptions opts() const {
    RunOptions o;
    o.env["THOTH_HOME"] = home_.string();
    return o;
  }
  void write_config(const std::string& text) {
    std::filesystem::create_directories(home_);
    std::ofstream(home_ / "config.json") << text;
  }
};

TEST(Cli, Help) {
  auto r = run_thoth({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Usage")) << r.out;
  EXPECT_TRUE(contains(r.out, "transcribe")) << r.out;
  EXPECT_TRUE(contains(r.out, "config")) << r.out;
  EXPECT_TRUE(contains(r.out, "--verbose")) << r.out;
  EXPECT_TRUE(contains(r.out, "--quiet")) << r.out;
  auto sub = run_thoth({"config", "--help"});
  EXPECT_EQ(sub.exit_code, 0) << sub.err;
  EXPECT_TRUE(contains(sub.out, "set")) << sub.out;
}

TEST(Cli, Version) {
  for (const char* flag : {"--version", "-V"}) {
    auto r = run_thoth({flag});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::string("thoth ") + version_string() + "\n");
  }
}

TEST(Cli, NoCommandIsAUsageError) {
  auto r = run_thoth({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(contains(r.err, "thoth: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "thoth --help")) << r.err;
}

TEST(Cli, UnknownCommand) {
  auto r = run_thoth({"-v", "transcirbe", "x.wav"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.rfind("thoth: unknown command 'transcirbe' (commands: ", 0), 0u) << r.err;
  EXPECT_TRUE(contains(r.err, "transcribe")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
}

TEST(Cli, UnknownOption) {
  auto r = run_thoth({"--frobnicate", "config", "path"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--frobnicate")) << r.err;
  r = run_thoth({"config", "show", "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--bogus")) << r.err;
  r = run_thoth({"--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "thoth: unknown option '--bogus'; see thoth --help\n");
  r = run_thoth({"-vx", "config", "path"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "thoth: unknown option '-vx'; see thoth --help\n");
  r = run_thoth({"config", "set", "server.port"});  // missing VALUE
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "thoth: VALUE is required; see thoth config set --help\n");
  r = run_thoth({"config"});  // missing subcommand
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(ThothHome, ConfigPathAndDirs) {
  auto r = run_thoth({"config", "path"}, opts());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, (home_ / "config.json").string() + "\n");
  r = run_thoth({"config", "dirs"}, opts());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, (home_ / "models").string())) << r.out;
  EXPECT_TRUE(contains(r.out, (home_ / "run").string())) << r.out;
  EXPECT_FALSE(std::filesystem::exists(home_)) << "printing paths creates nothing";
}

TEST_F(ThothHome, ConfigPathFollowsXdg) {
  RunOptions o;
  o.env["THOTH_HOME"] = std::nullopt;
  o.env["XDG_CONFIG_HOME"] = (scratch_ / "xdg").string();
  auto r = run_thoth({"config", "path"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, (scratch_ / "xdg/thoth/config.json").string() + "\n");
}

TEST_F(ThothHome, ConfigShowGivesDefaults) {
  auto r = run_thoth({"config", "show"}, opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json shown = json::parse(r.out);
  EXPECT_EQ(shown["output"]["method"], "auto");
  EXPECT_EQ(shown["enhancement"]["template"], "fix-grammar");
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(ThothHome, ConfigSetGetShow) {
  auto r = run_thoth({"config", "set", "server.port", "8080"}, opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_thoth({"config", "set", "enhancement.model", "qwen2.5:7b"}, opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_thoth({"config", "set", "filters.dictionary",
                 R"([{"from": "thoth", "to": "Thoth", "caseSensitive": true}])"},
                opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = run_thoth({"config", "get", "server.port"}, opts());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "8080\n");
  r = run_thoth({"config", "get", "enhancement.model"}, opts());
  EXPECT_EQ(r.out, "qwen2.5:7b\n") << "strings print bare";
  r = run_thoth({"config", "get", "filters.dictionary"}, opts());
  EXPECT_EQ(json::parse(r.out)[0]["to"], "Thoth");

  r = run_thoth({"config", "show"}, opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json shown = json::parse(r.out);
  EXPECT_EQ(shown["server"]["port"], 8080);
  EXPECT_EQ(shown["server"]["enabled"], true);

  struct stat st{};
  ASSERT_EQ(::stat((home_ / "config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(home_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  r = run_thoth({"config", "unset", "server.port"}, opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_thoth({"config", "get", "server.port"}, opts());
  EXPECT_EQ(r.out, "7373\n");
}

TEST_F(ThothHome, ConfigSetRejectsBadInput) {
  auto r = run_thoth({"config", "set", "server.port", "eighty"}, opts());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "thoth: server.port: expected integer, got \"eighty\"\n");
  r = run_thoth({"config", "set", "server.prot", "80"}, opts());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "thoth: unknown key \"server.prot\" (did you mean \"port\"?)\n");
  r = run_thoth({"config", "set", "output.method", "fax"}, opts());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "thoth: output.method: \"fax\" is not one of auto, type, paste, clipboard\n");
  r = run_thoth({"config", "get", "nothing.here"}, opts());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(home_ / "config.json")) << "nothing was written";
}

TEST_F(ThothHome, ConfigSyntaxError) {
  write_config("{\n  \"server\": {\"port\": 80,}\n}\n");
  for (auto args : std::vector<std::vector<std::string>>{
           {"config", "show"}, {"config", "get", "server.port"}, {"config", "set", "server.port", "1"}}) {
    auto r = run_thoth(args, opts());
    EXPECT_EQ(r.exit_code, 1) << args[1];
    EXPECT_EQ(r.err.rfind("thoth: " + (home_ / "config.json").string() + ":2:", 0), 0u) << r.err;
    EXPECT_TRUE(contains(r.err, "syntax error")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  // The broken file is left for the user to fix, not overwritten.
  std::ifstream in(home_ / "config.json");
  std::string text{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(text, "{\n  \"server\": {\"port\": 80,}\n}\n");
}

TEST_F(ThothHome, ConfigWrongTypeNamesTheKey) {
  write_config(R"({"enhancement": {"timeout_ms": "30s"}})");
  auto r = run_thoth({"config", "show"}, opts());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "thoth: " + (home_ / "config.json").string() +
                       ": enhancement.timeout_ms: expected integer, got string\n");
  write_config(R"({"enhancement": {"timeout": 5}})");
  r = run_thoth({"config", "show"}, opts());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "unknown key \"enhancement.timeout\"")) << r.err;
}

TEST_F(ThothHome, UnwritableHomeBlockedByAFile) {
  std::ofstream(scratch_ / "file") << "not a directory";
  RunOptions o;
  o.env["THOTH_HOME"] = (scratch_ / "file/thoth").string();
  auto r = run_thoth({"config", "set", "server.port", "8080"}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "thoth: cannot create config dir " + (scratch_ / "file/thoth").string() + ": " +
                       (scratch_ / "file").string() +
                       " is not a directory (set THOTH_HOME to a writable directory)\n");
}

// A data dir the user may not write to (permissions, not a missing dir). Root may write
// anywhere, so as root the binary runs as the unprivileged user "nobody".
TEST_F(ThothHome, UnwritableHomeWithoutPermission) {
  std::filesystem::create_directories(home_);
  ::chmod(scratch_.path().c_str(), 0755);
  ::chmod(home_.c_str(), 0555);
  std::vector<std::string> argv;
  if (::geteuid() == 0)
    argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  argv.push_back(test::thoth_binary().string());
  for (const char* a : {"config", "set", "server.port", "8080"}) argv.push_back(a);
  auto r = test::run_program(argv, opts());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err, "thoth: config dir " + home_.string() +
                       " is not writable: Permission denied (set THOTH_HOME to a writable directory)\n");
  ::chmod(home_.c_str(), 0700);
}

// Commands that store data (history database, downloaded models) refuse an unusable data
// dir with one line naming it, before doing any work.
TEST_F(ThothHome, UnwritableDataDir) {
  std::ofstream(scratch_ / "file") << "not a directory";
  RunOptions o;
  o.env["THOTH_HOME"] = (scratch_ / "file/thoth").string();
  auto r = run_thoth({"history"}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("thoth: cannot create data dir " + (scratch_ / "file/thoth").string(), 0), 0u)
      << r.err;
  EXPECT_TRUE(contains(r.err, "THOTH_HOME")) << r.err;
  r = run_thoth({"models", "pull", "tiny.en"}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("thoth: cannot create models dir " + (scratch_ / "file/thoth/models").string(), 0), 0u)
      << r.err;

  // Present but read-only for the user (as root: run as "nobody", since root writes anywhere).
  std::filesystem::create_directories(home_);
  ::chmod(scratch_.path().c_str(), 0755);
  ::chmod(home_.c_str(), 0555);
  std::vector<std::string> argv;
  if (::geteuid() == 0)
    argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  argv.push_back(test::thoth_binary().string());
  argv.push_back("history");
  r = test::run_program(argv, opts());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "thoth: data dir " + home_.string() +
                       " is not writable: Permission denied (set THOTH_HOME to a writable directory)\n");
  ::chmod(home_.c_str(), 0700);
}

TEST_F(ThothHome, VerbosityFlags) {
  auto quiet = run_thoth({"config", "show"}, opts());
  EXPECT_TRUE(quiet.err.empty()) << quiet.err;
  auto debug = run_thoth({"-vv", "config", "show"}, opts());
  EXPECT_EQ(debug.exit_code, 0);
  EXPECT_TRUE(contains(debug.err, "debug")) << debug.err;
  EXPECT_TRUE(contains(debug.err, (home_ / "config.json").string())) << debug.err;
  // Flags also work after the subcommand.
  auto after = run_thoth({"config", "show", "-v", "-v"}, opts());
  EXPECT_TRUE(contains(after.err, "debug")) << after.err;
  auto q = run_thoth({"-q", "-vv", "config", "show"}, opts());
  EXPECT_TRUE(q.err.empty()) << "--quiet wins: " << q.err;
  EXPECT_EQ(json::parse(debug.out), json::parse(quiet.out)) << "logs never go to stdout";
}

}  // namespace
}  // namespace thoth
