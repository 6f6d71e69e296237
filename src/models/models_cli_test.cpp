// `thoth models ...` run as a user would: the built binary, THOTH_HOME in a scratch dir, the
// catalogue and base URL pointing at a real HTTP server on loopback.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

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

  // The environment the binary sees: ours minus THOTH_* settings, plus the test's.
  std::vector<std::string> environment() const {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "THOTH_", 6) != 0) env.emplace_back(*e);
    env.push_back("THOTH_HOME=" + home.string());
    env.push_back("THOTH_MODEL_CATALOG=" + catalog_file.string());
    env.push_back("THOTH_MODEL_BASE_URL=" + server.url());
    return env;
  }

  // Starts the binary; its stdout and stderr go to files (or both to a new pseudo-terminal
  // when `pty_fd` is given). Everything the child needs is built before fork(): the test
  // server's threads keep running in the parent.
  pid_t spawn(const std::string& args, const std::vector<std::string>& extra_env, int* pty_fd = nullptr) {
    std::vector<std::string> argv_s{thoth::test::thoth_binary().string()};
    std::istringstream in(args);
    for (std::string a; in >> a;) argv_s.push_back(a);
    std::vector<std::string> env_s;
    for (const auto& e : environment()) {
      bool overridden = false;
      for (const auto& x : extra_env)
        overridden |= e.substr(0, e.find('=') + 1) == x.substr(0, x.find('=') + 1);
      if (!overridden) env_s.push_back(e);
    }
    for (const auto& x : extra_env) env_s.push_back(x);
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
    pid_t pid = pty_fd ? ::forkpty(pty_fd, nullptr, nullptr, nullptr) : ::fork();
    if (pid == 0) {
      if (!pty_fd) {
        int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int n = ::open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || n < 0) ::_exit(126);
        ::dup2(n, 0);
        ::dup2(o, 1);
        ::dup2(e, 2);
      }
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    return pid;
  }

  // Waits for the child; kills it if it outlives `limit`. Returns its exit code (-1: signal).
  static int wait_exit(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    for (;;) {
      pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) break;
      if (r < 0) return -2;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "thoth did not exit within " << limit.count() << " s";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  CliRun run_thoth(const std::string& args, const std::vector<std::string>& extra_env = {}) {
    CliRun run;
    pid_t pid = spawn(args, extra_env);
    if (pid < 0) return run;
    run.code = wait_exit(pid);
    run.out = slurp(dir / "stdout");
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

  auto bad_catalog = run_thoth("models list", {"THOTH_MODEL_CATALOG=/nonexistent.tsv"});
  EXPECT_EQ(bad_catalog.code, 1);
  EXPECT_NE(bad_catalog.err.find("/nonexistent.tsv"), std::string::npos) << bad_catalog.err;

  auto no_sub = run_thoth("models");
  EXPECT_NE(no_sub.code, 0);
}

TEST_F(ModelsCli, UnwritableDataDirIsNamed) {
  server.add("ggml-small-test.bin", ServedFile{small});
  std::ofstream(dir / "blocker") << "not a directory";
  auto pull = run_thoth("models pull small", {"THOTH_HOME=" + (dir / "blocker").string()});
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

namespace thoth::models {
namespace {

TEST_F(ModelsCli, TerminalGetsAProgressBar) {
  server.add("ggml-small-test.bin", ServedFile{small});
  int master = -1;
  pid_t pid = spawn("models pull small", {}, &master);
  ASSERT_GT(pid, 0);
  std::string screen;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) screen.append(buf, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;  // EIO once the child has gone
  }
  ::close(master);
  EXPECT_EQ(wait_exit(pid), 0) << screen;
  EXPECT_NE(screen.find("\rggml-small-test.bin ["), std::string::npos) << screen;
  EXPECT_NE(screen.find("] 100%"), std::string::npos) << screen;
  EXPECT_NE(screen.find("/s"), std::string::npos) << screen;
  EXPECT_NE(screen.find("ETA"), std::string::npos) << screen;
  EXPECT_EQ(slurp(models_dir() / "ggml-small-test.bin"), small);
}

TEST_F(ModelsCli, InterruptKeepsThePartForResume) {
  server.add("ggml-small-test.bin", ServedFile{small, Behaviour::kStall, 50 * 1024});
  const fs::path part = models_dir() / "ggml-small-test.bin.part";
  pid_t pid = spawn("models pull small", {});
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::error_code ec;
  while (fs::file_size(part, ec) != 50 * 1024 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(fs::file_size(part, ec), 50u * 1024);
  auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  EXPECT_EQ(wait_exit(pid), 130);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  std::string err = slurp(dir / "stderr");
  EXPECT_NE(err.find("thoth: download of ggml-small-test.bin cancelled"), std::string::npos) << err;
  EXPECT_EQ(fs::file_size(part, ec), 50u * 1024);
}

}  // namespace
}  // namespace thoth::models
