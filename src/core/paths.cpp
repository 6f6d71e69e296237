#include "core/paths.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace thoth::paths {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHint = " (set THOTH_HOME to a writable directory)";

// The XDG spec says relative values are invalid and must be ignored.
const char* absolute_env(const char* name) {
  const char* v = std::getenv(name);
  return (v && v[0] == '/') ? v : nullptr;
}

fs::path thoth_home() {
  const char* v = std::getenv("THOTH_HOME");
  if (!v || !*v) return {};
  std::error_code ec;
  fs::path p = fs::absolute(v, ec);
  return ec ? fs::path(v) : p;
}

fs::path home_dir() {
  if (const char* h = absolute_env("HOME")) return h;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* out = nullptr;
  if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &out) == 0 && out && out->pw_dir)
    return out->pw_dir;
  return "/";  // no home at all (a bare container); ensure_dir will then say what failed
}

fs::path xdg(const char* var, const char* fallback_under_home) {
  if (const char* v = absolute_env(var)) return fs::path(v) / "thoth";
  return home_dir() / fallback_under_home / "thoth";
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

fs::path config_dir() {
  if (auto h = thoth_home(); !h.empty()) return h;
  return xdg("XDG_CONFIG_HOME", ".config");
}
fs::path config_file() { return config_dir() / "config.json"; }
fs::path templates_dir() { return config_dir() / "templates"; }

fs::path data_dir() {
  if (auto h = thoth_home(); !h.empty()) return h;
  return xdg("XDG_DATA_HOME", ".local/share");
}
fs::path models_dir() { return data_dir() / "models"; }
fs::path recordings_dir() { return data_dir() / "recordings"; }
fs::path history_db() { return data_dir() / "history.db"; }

fs::path cache_dir() {
  if (auto h = thoth_home(); !h.empty()) return h / "cache";
  return xdg("XDG_CACHE_HOME", ".cache");
}

fs::path runtime_dir() {
  if (auto h = thoth_home(); !h.empty()) return h / "run";
  if (const char* v = absolute_env("XDG_RUNTIME_DIR")) return fs::path(v) / "thoth";
  return fs::path("/tmp") / ("thoth-" + std::to_string(getuid()));
}

Result<fs::path> ensure_dir(const fs::path& dir, std::string_view what) {
  const std::string name = std::string(what) + " " + dir.string();
  // Walk down from the first existing ancestor, creating each level 0700 (XDG asks for
  // 0700 on directories it has to create; user data lives below).
  std::vector<fs::path> missing;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st{};
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return make_error("cannot create " + name + ": " + p.string() + " is not a directory" +
                          std::string(kHint));
      break;
    }
    if (errno != ENOENT && errno != ENOTDIR)  // ENOTDIR: a file higher up, reported below
      return make_error("cannot use " + name + ": " + p.string() + ": " + errno_text(errno) +
                        std::string(kHint));
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST)
      return make_error("cannot create " + name + ": " + it->string() + ": " +
                        errno_text(errno) + std::string(kHint));
  }
  // access() answers for the real uid, which is ours; it also reports read-only mounts.
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return make_error(name + " is not writable: " + errno_text(errno) + std::string(kHint));
  return dir;
}

Result<fs::path> ensure_runtime_dir() {
  fs::path dir = runtime_dir();
  auto made = ensure_dir(dir, "runtime dir");
  if (!made) return made;
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0)
    return make_error("cannot use runtime dir " + dir.string() + ": " + errno_text(errno));
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid())
    return make_error("runtime dir " + dir.string() +
                      " belongs to another user; remove it or set XDG_RUNTIME_DIR");
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
    return make_error("cannot make runtime dir " + dir.string() + " private: " +
                      errno_text(errno));
  return dir;
}

Result<void> write_file_atomic(const fs::path& file, std::string_view content) {
  std::string tmpl = file.string() + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmpl.data());  // mkstemp creates 0600
  if (fd < 0) return make_error("cannot write " + file.string() + ": " + errno_text(errno));
  auto fail = [&](const char* step) {
    int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    return make_error("cannot write " + file.string() + ": " + step + ": " + errno_text(err));
  };
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0600) != 0) return fail("chmod");
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return make_error("cannot write " + file.string() + ": close: " + errno_text(err));
  }
  if (::rename(tmpl.c_str(), file.c_str()) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return make_error("cannot write " + file.string() + ": " + errno_text(err));
  }
  // Make the rename itself durable.
  int dfd = ::open(file.parent_path().empty() ? "." : file.parent_path().c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<std::string> read_file(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot read " + file.string() + ": " + errno_text(errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return make_error("cannot read " + file.string() + ": " + errno_text(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace thoth::paths
