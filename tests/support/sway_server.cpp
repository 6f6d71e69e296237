#include "support/sway_server.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/process.h"

namespace thoth::test {

namespace {

using namespace std::chrono_literals;
constexpr const char* kUser = "thoth-test";

// Starts argv as kUser in a session of its own (so the whole group can be stopped), with
// output to `log`.
pid_t spawn_as_user(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  setsid();
  const int devnull = ::open("/dev/null", O_RDONLY);
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  dup2(devnull, 0);
  dup2(out, 1);
  dup2(out, 2);
  std::vector<std::string> full = {"runuser", "-u", kUser, "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (auto& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  execvp("runuser", args.data());
  _exit(127);
}

void stop_group(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(20ms);
  }
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::unique_ptr<SwayServer> SwayServer::start(std::string* error) {
  if (geteuid() != 0) {
    *error = "the Wayland tests run sway as a separate user and need root (see TESTING.md)";
    return nullptr;
  }
  passwd* pw = getpwnam(kUser);
  if (!pw) {
    RunOptions o;
    o.timeout = 30s;
    run_program({"/usr/sbin/useradd", "-m", kUser}, o);
    pw = getpwnam(kUser);
  }
  if (!pw) {
    *error = std::string("cannot create the user ") + kUser + " for sway";
    return nullptr;
  }
  char tmpl[] = "/tmp/thoth-sway-XXXXXX";
  if (!mkdtemp(tmpl)) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  std::unique_ptr<SwayServer> s(new SwayServer());
  s->runtime_dir_ = tmpl;
  if (chown(tmpl, pw->pw_uid, pw->pw_gid) != 0 || chmod(tmpl, 0700) != 0) {
    *error = "cannot hand the runtime dir to " + std::string(kUser);
    return nullptr;
  }
  s->pid_ = spawn_as_user({"env", "XDG_RUNTIME_DIR=" + s->runtime_dir_.string(), "WLR_BACKENDS=headless",
                           "WLR_LIBINPUT_NO_DEVICES=1", "WLR_RENDERER=pixman", "sway", "-c", "/dev/null"},
                          s->runtime_dir_ / "sway.log");
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(s->runtime_dir_ / "wayland-1")) return s;
    if (waitpid(s->pid_, nullptr, WNOHANG) == s->pid_) {
      s->pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  *error = "sway did not start (is it installed? ./setup.sh): " + read_file(s->runtime_dir_ / "sway.log");
  return nullptr;
}

SwayServer::~SwayServer() {
  stop_group(window_pid_);
  stop_group(pid_);
  std::error_code ec;
  if (!runtime_dir_.empty()) std::filesystem::remove_all(runtime_dir_, ec);
}

std::map<std::string, std::optional<std::string>> SwayServer::client_env() const {
  return {{"XDG_RUNTIME_DIR", runtime_dir_.string()}, {"WAYLAND_DISPLAY", "wayland-1"}, {"DISPLAY", std::nullopt}};
}

void SwayServer::enter() const {
  for (const auto& [k, v] : client_env()) {
    if (v) setenv(k.c_str(), v->c_str(), 1);
    else unsetenv(k.c_str());
  }
}

bool SwayServer::open_recording_window(std::string* error) {
  typed_file_ = runtime_dir_ / "typed.txt";
  window_pid_ = spawn_as_user({"env", "XDG_RUNTIME_DIR=" + runtime_dir_.string(), "WAYLAND_DISPLAY=wayland-1", "foot",
                               "-e", "sh", "-c", "cat > " + typed_file_.string()},
                              runtime_dir_ / "foot.log");
  // The shell may run before the window is mapped: ready means sway says the foot window
  // has the keyboard focus (its first start can take seconds building the font cache).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(typed_file_) && foot_has_focus()) return true;
    if (waitpid(window_pid_, nullptr, WNOHANG) == window_pid_) break;
    std::this_thread::sleep_for(50ms);
  }
  *error = "the foot window did not come up: " + read_file(runtime_dir_ / "foot.log");
  return false;
}

bool SwayServer::foot_has_focus() const {
  std::filesystem::path ipc;
  for (const auto& e : std::filesystem::directory_iterator(runtime_dir_))
    if (e.path().filename().string().rfind("sway-ipc.", 0) == 0) ipc = e.path();
  if (ipc.empty()) return false;
  RunOptions o;
  o.env["SWAYSOCK"] = ipc.string();
  o.timeout = 5s;
  const RunResult r = run_program({"/usr/bin/swaymsg", "-t", "get_tree", "--raw"}, o);
  if (r.exit_code != 0) return false;
  const auto tree = nlohmann::json::parse(r.out, nullptr, false);
  std::function<bool(const nlohmann::json&)> focused_foot = [&](const nlohmann::json& node) {
    if (node.value("focused", false) && node.value("app_id", "") == "foot") return true;
    for (const char* key : {"nodes", "floating_nodes"})
      if (node.contains(key))
        for (const auto& child : node[key])
          if (focused_foot(child)) return true;
    return false;
  };
  return !tree.is_discarded() && focused_foot(tree);
}

std::string SwayServer::typed_text() const { return read_file(typed_file_); }

std::string SwayServer::wait_for_lines(size_t lines, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string text;
  for (;;) {
    text = typed_text();
    size_t n = 0;
    for (char c : text) n += c == '\n';
    if (n >= lines || std::chrono::steady_clock::now() > deadline) return text;
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace thoth::test
