#include "support/pulse_server.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

extern char** environ;

namespace thoth::test {
namespace {

pid_t spawn(const std::vector<std::string>& args, const std::string& log_path,
            const std::vector<std::string>& extra_env = {}) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
  for (const auto& e : extra_env) env_storage.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int wait_status(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::unique_ptr<PulseServer> PulseServer::start(std::string* error) {
  std::unique_ptr<PulseServer> s(new PulseServer());
  const auto dir = s->dir_.path();
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  {
    std::ofstream conf(dir / "client.conf");
    conf << "autospawn = no\n";
  }
  const std::pair<std::string, std::string> env[] = {
      {"XDG_RUNTIME_DIR", dir.string()},
      {"PULSE_SERVER", "unix:" + (dir / "pulse" / "native").string()},
      {"PULSE_CLIENTCONFIG", (dir / "client.conf").string()},
  };
  for (const auto& [k, v] : env) {
    const char* old = std::getenv(k.c_str());
    s->saved_env_.emplace_back(k, old ? std::string(old) : std::string("\x01"));
    setenv(k.c_str(), v.c_str(), 1);
  }
  // HOME only for the server: it keeps its cookie in the scratch dir, not the user's home.
  s->pid_ = spawn({"pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n",
                   "--load=module-native-protocol-unix",
                   std::string("--load=module-null-sink sink_name=") + kSink},
                  (dir / "pulseaudio.log").string(), {"HOME=" + dir.string()});
  if (s->pid_ < 0) {
    *error = "cannot spawn pulseaudio (is it installed? ./setup.sh)";
    return nullptr;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(s->pid_, &status, WNOHANG) == s->pid_) {
      s->pid_ = -1;
      std::ifstream log(dir / "pulseaudio.log");
      *error = "pulseaudio exited at start: " +
               std::string(std::istreambuf_iterator<char>(log), {});
      return nullptr;
    }
    if (std::filesystem::exists(dir / "pulse" / "native")) {
      const pid_t p = spawn({"pactl", "info"}, (dir / "pactl.log").string());
      if (p > 0 && wait_status(p) == 0) return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *error = "pulseaudio did not answer within 10 s";
  return nullptr;
}

PulseServer::~PulseServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  for (const auto& [k, v] : saved_env_) {
    if (v == "\x01") unsetenv(k.c_str());
    else setenv(k.c_str(), v.c_str(), 1);
  }
}

std::string PulseServer::server_address() const {
  return "unix:" + (dir_.path() / "pulse" / "native").string();
}

pid_t PulseServer::play_async(const std::filesystem::path& file) const {
  return spawn({"paplay", std::string("--device=") + kSink, file.string()},
               (dir_.path() / "paplay.log").string());
}

int PulseServer::wait_player(pid_t pid) { return pid > 0 ? wait_status(pid) : -1; }

int PulseServer::play(const std::filesystem::path& file) const { return wait_player(play_async(file)); }

std::unique_ptr<PulseServer> PulseServer::start_or_fail() {
  std::string error;
  auto server = start(&error);
  EXPECT_TRUE(server) << error;
  return server;
}

}  // namespace thoth::test
