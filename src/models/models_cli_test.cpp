// `thoth models ...` run as a user would: the built binary, THOTH_HOME in a scratch dir, the
// catalogue and base URL pointing at a real HTTP server on loopback.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "models/test_model_server.h"
#include "support/shared_data.h"

namespace thoth::models {
namespace {
namespace fs = std::filesystem;
using test::Behaviour;
using test::ServedFile;

struct CliRun {
  int code = -1;
  std::string out, err;
};

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct ModelsCli : ::testing::Test {
  thoth::test::ScratchDir dir;
  test::TestModelServer server;
  std::string small = test::random_bytes(200 * 1024 + 5, 1);
  std::string other = test::random_bytes(150 * 1024, 2);
  fs::path home = dir / "home";
  fs::path catalog_file = dir / "catalog.tsv";

  void SetUp() override {
    std::ofstream(catalog_file) << "# test catalogue\nname\tfile\tbytes\tsha256\n"
                                << "small\tggml-small-test.bin\t" << small.size() << "\t" << test::sha256_hex(small)
                                << "\n"
                                << "other\tggml-other-test.bin\t" << other.size() << "\t" << test::sha256_hex(other)
                                << "\n";
  }

  CliRun run_thoth(const std::string& args, const std::string& extra_env = "") {
    std::string cmd = "env -u THOTH_MODEL_PATH THOTH_HOME=" + quoted(home.string()) +
                      " THOTH_MODEL_CATALOG=" + quoted(catalog_file.string()) +
                      " THOTH_MODEL_BASE_URL=" + quoted(server.url()) + " " + extra_env + " " +
                      quoted(thoth::test::thoth_binary().string()) + " " + args + " 2>" +
                      quoted((dir / "stderr").string()) + " </dev/null";
    CliRun run;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return run;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) run.out.append(buf, n);
    int status = ::pclose(p);
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.err = slurp(dir / "stderr");
    return run;
  }

  fs::path models_dir() {
    auto r = run_thoth("models path");
    EXPECT_EQ(r.code, 0) << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
};

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST_F(ModelsCli, PathIsUnderThothHome) {
  auto d = models_dir();
  EXPECT_EQ(d.string().rfind(home.string() + "/", 0), 0u) << d;
}

TEST_F(ModelsCli, PullListVerifyRemove) {
  server.add("ggml-small-test.bin", ServedFile{small});
  auto list = run_thoth("models list");
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("small"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("205 kB"), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find("installed"), std::string::npos) << list.out;

  auto pull = run_thoth("models pull small");
  ASSERT_EQ(pull.code, 0) << pull.err;
  const fs::path file = models_dir() / "ggml-small-test.bin";
  EXPECT_EQ(slurp(file), small);
  EXPECT_NE(pull.out.find("installed small: " + file.string()), std::string::npos) << pull.out;
  // Not a terminal: plain progress lines, no carriage returns.
  EXPECT_NE(pull.err.find("ggml-small-test.bin: 100%"), std::string::npos) << pull.err;
  EXPECT_EQ(pull.err.find('\r'), std::string::npos) << pull.err;

  auto again = run_thoth("models pull ggml-small-test.bin");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("already installed"), std::string::npos) << again.out;

  list = run_thoth("models list");
  EXPECT_NE(list.out.find("installed"), std::string::npos) << list.out;

  auto verify = run_thoth("models verify");
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("ok   small"), std::string::npos) << verify.out;

  {  // one flipped byte, same size
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put(static_cast<char>(small[1000] ^ 0x40));
  }
  verify = run_thoth("models verify small");
  EXPECT_EQ(verify.code, 1);
  EXPECT_NE(verify.out.find("BAD  small"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("thoth models rm small"), std::string::npos) << verify.out;

  auto rm = run_thoth("models rm small");
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_FALSE(fs::exists(file));
  rm = run_thoth("models rm small");
  EXPECT_EQ(rm.code, 1);
  EXPECT_NE(rm.err.find("small is not installed"), std::string::npos) << rm.err;
}

TEST_F(ModelsCli, InterruptedPullResumesOnTheNextRun) {
  server.add("ggml-small-test.bin", ServedFile{small, Behaviour::kDropOnce, 70 * 1024});
  auto first = run_thoth("models pull small");
  EXPECT_EQ(first.code, 1);
  EXPECT_NE(first.err.find("run the same command again to resume"), std::string::npos) << first.err;
  auto list = run_thoth("models list");
  EXPECT_NE(list.out.find("partial 34%"), std::string::npos) << list.out;
  auto second = run_thoth("models pull small");
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(slurp(models_dir() / "ggml-small-test.bin"), small);
  EXPECT_EQ(server.ranges().back(), "bytes=" + std::to_string(70 * 1024) + "-");
}

TEST_F(ModelsCli, BadChecksumIsRefusedAndShown) {
  server.add("ggml-other-test.bin", ServedFile{small.substr(0, other.size())});
  auto pull = run_thoth("models pull other");
  EXPECT_EQ(pull.code, 1);
  EXPECT_NE(pull.err.find("thoth: ggml-other-test.bin failed its checksum"), std::string::npos) << pull.err;
  EXPECT_FALSE(fs::exists(models_dir() / "ggml-other-test.bin"));
  EXPECT_TRUE(fs::exists(models_dir() / "ggml-other-test.bin.bad"));
  auto list = run_thoth("models list");
  EXPECT_NE(list.out.find("rejected download kept as ggml-other-test.bin.bad"), std::string::npos) << list.out;
  auto rm = run_thoth("models rm other");  // clears the rejected file too
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_FALSE(fs::exists(models_dir() / "ggml-other-test.bin.bad"));
}

TEST_F(ModelsCli, ErrorsAreOneLineAndNonZero) {
  auto unknown = run_thoth("models pull enormous");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_EQ(unknown.err, "thoth: unknown model 'enormous'; see thoth models list for the names\n");

  auto missing = run_thoth("-q models pull other");  // the server does not have it
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(count_lines(missing.err), 1) << missing.err;
  EXPECT_NE(missing.err.find("HTTP 404"), std::string::npos) << missing.err;

  auto not_installed = run_thoth("models verify other");
  EXPECT_EQ(not_installed.code, 1);
  EXPECT_NE(not_installed.err.find("run: thoth models pull other"), std::string::npos) << not_installed.err;

  auto bad_catalog = run_thoth("models list", "THOTH_MODEL_CATALOG=/nonexistent.tsv");
  EXPECT_EQ(bad_catalog.code, 1);
  EXPECT_NE(bad_catalog.err.find("/nonexistent.tsv"), std::string::npos) << bad_catalog.err;

  auto no_sub = run_thoth("models");
  EXPECT_NE(no_sub.code, 0);
}

TEST_F(ModelsCli, UnwritableDataDirIsNamed) {
  server.add("ggml-small-test.bin", ServedFile{small});
  std::ofstream(dir / "blocker") << "not a directory";
  auto pull = run_thoth("models pull small", "THOTH_HOME=" + quoted((dir / "blocker").string()));
  EXPECT_EQ(pull.code, 1);
  EXPECT_NE(pull.err.find("cannot create models dir " + (dir / "blocker").string()), std::string::npos)
      << pull.err;
}

TEST_F(ModelsCli, VerifyWithNothingInstalledSaysHowToPull) {
  auto verify = run_thoth("models verify");
  EXPECT_EQ(verify.code, 0);
  EXPECT_NE(verify.out.find("no models installed"), std::string::npos) << verify.out;
}

}  // namespace
}  // namespace thoth::models
