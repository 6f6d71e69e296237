#include "core/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace thoth {

namespace {

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads what is there without waiting; false at EOF or error.
bool drain(int fd, std::string& into) {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, size_t(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    return false;
  }
}

}  // namespace

bool program_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st{};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0)
      return true;
    start = end + 1;
  }
  return false;
}

Result<ChildResult> run_child(const std::vector<std::string>& argv, const ChildOptions& options) {
  if (argv.empty()) return make_error("internal: no program to run");
  if (!program_on_path(argv[0])) return make_error(argv[0] + " is not installed");

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in, out, err})
      for (int i = 0; i < 2; ++i)
        if (p[i] >= 0) close(p[i]), p[i] = -1;
  };
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
      (options.capture_stdout && pipe2(out, O_CLOEXEC) != 0)) {
    close_all();
    return make_error(std::string("cannot create pipes for ") + argv[0] + ": " + std::strerror(errno));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  if (options.capture_stdout) posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  else posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  // Our copies of the child's ends go, so EOF on its side means the child (and whatever it
  // forked) closed them.
  close(in[0]), in[0] = -1;
  close(err[1]), err[1] = -1;
  if (out[1] >= 0) close(out[1]), out[1] = -1;
  if (rc != 0) {
    close_all();
    return make_error(std::string("cannot run ") + argv[0] + ": " + std::strerror(rc));
  }

  // Small inputs fit the pipe buffer; larger ones are written as the child reads.
  std::string pending = options.input.value_or("");
  set_nonblocking(in[1]);
  set_nonblocking(err[0]);
  if (out[0] >= 0) set_nonblocking(out[0]);
  signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill us through its stdin

  ChildResult result;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  int status = 0;
  bool exited = false;
  std::string why_killed;
  while (!exited) {
    if (in[1] >= 0) {
      while (!pending.empty()) {
        const ssize_t n = write(in[1], pending.data(), pending.size());
        if (n > 0) pending.erase(0, size_t(n));
        else break;
      }
      if (pending.empty()) close(in[1]), in[1] = -1;
    }
    if (err[0] >= 0 && !drain(err[0], result.err)) close(err[0]), err[0] = -1;
    if (out[0] >= 0 && !drain(out[0], result.out)) close(out[0]), out[0] = -1;
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    if (options.cancel && options.cancel->load(std::memory_order_acquire)) why_killed = "cancelled";
    else if (std::chrono::steady_clock::now() > deadline) why_killed = "timed out";
    if (!why_killed.empty()) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    pollfd fds[2];
    nfds_t n = 0;
    if (err[0] >= 0) fds[n++] = {err[0], POLLIN, 0};
    if (out[0] >= 0) fds[n++] = {out[0], POLLIN, 0};
    poll(fds, n, 5);
  }
  // What the child wrote just before exiting (a forked server may keep the pipe open, so
  // only what is already there).
  if (err[0] >= 0) drain(err[0], result.err);
  if (out[0] >= 0) drain(out[0], result.out);
  close_all();
  if (!why_killed.empty()) return make_error(argv[0] + " " + why_killed);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  while (!result.err.empty() && (result.err.back() == '\n' || result.err.back() == ' ')) result.err.pop_back();
  return result;
}

}  // namespace thoth
