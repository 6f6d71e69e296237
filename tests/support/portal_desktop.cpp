#include "support/portal_desktop.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

extern char** environ;

namespace thoth::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kBackendName = "org.freedesktop.impl.portal.desktop.thothtest";
constexpr const char* kDesktopPath = "/org/freedesktop/portal/desktop";
constexpr const char* kFrontend = "/usr/libexec/xdg-desktop-portal";

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// fork+exec with environment changes; stdout to `out_fd` (or /dev/null), stderr to `err_path`.
pid_t spawn(const std::vector<std::string>& argv, const std::map<std::string, std::optional<std::string>>& env,
            int out_fd, const std::filesystem::path& err_path) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (!env.count(name)) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : env)
    if (value) env_strings.push_back(name + "=" + *value);
  std::vector<char*> cenv, cargv;
  for (auto& s : env_strings) cenv.push_back(s.data());
  cenv.push_back(nullptr);
  std::vector<std::string> args = argv;
  for (auto& s : args) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(out_fd >= 0 ? out_fd : null_fd, 1);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(err >= 0 ? err : null_fd, 2);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  return pid;
}

void stop_process(pid_t& pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  // "Does not hang": a process ignoring SIGTERM for 10 s is killed.
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      pid = -1;
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  pid = -1;
}

sd_bus* connect(const std::string& address, std::string* error) {
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r >= 0) r = sd_bus_set_address(bus, address.c_str());
  if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
  if (r >= 0) r = sd_bus_start(bus);
  if (r < 0) {
    *error = "cannot connect to the test bus " + address + ": " + std::strerror(-r);
    sd_bus_unref(bus);
    return nullptr;
  }
  return bus;
}

}  // namespace

// The desktop side: org.freedesktop.impl.portal.GlobalShortcuts and the Request/Session
// objects the frontend talks to, on a thread of its own with its own connection.
struct PortalDesktop::Backend {
  sd_bus* bus = nullptr;
  int wake[2] = {-1, -1};
  std::atomic<bool> stop{false};
  std::thread thread;
  std::vector<sd_bus_slot*> slots;

  mutable std::mutex mutex;  // guards everything below
  std::deque<std::function<void()>> tasks;
  uint32_t create_response = 0, bind_response = 0;
  bool bind_lists = true;
  int list_calls = 0;
  std::vector<Shortcut> bound;
  int bind_calls = 0, create_calls = 0;
  std::vector<std::string> sessions, closed;

  ~Backend() {
    stop = true;
    if (wake[1] >= 0) (void)!write(wake[1], "x", 1);
    if (thread.joinable()) thread.join();
    for (auto* s : slots) sd_bus_slot_unref(s);
    if (bus) sd_bus_flush_close_unref(bus);
    for (int fd : wake)
      if (fd >= 0) close(fd);
  }

  static Backend* self(void* userdata) { return static_cast<Backend*>(userdata); }

  static int skip_options(sd_bus_message* m) { return sd_bus_message_skip(m, "a{sv}"); }

  static int reply_shortcuts(sd_bus_message* call, uint32_t code, const std::vector<Shortcut>& shortcuts,
                             bool with_shortcuts = true) {
    sd_bus_message* reply = nullptr;
    int r = sd_bus_message_new_method_return(call, &reply);
    if (r >= 0) r = sd_bus_message_append(reply, "u", code);
    if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "{sv}");
    if (r >= 0 && code == 0 && with_shortcuts) {
      r = sd_bus_message_open_container(reply, 'e', "sv");
      if (r >= 0) r = sd_bus_message_append(reply, "s", "shortcuts");
      if (r >= 0) r = sd_bus_message_open_container(reply, 'v', "a(sa{sv})");
      if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(sa{sv})");
      for (const auto& s : shortcuts) {
        // A desktop describes the trigger in its own words; ours says where it came from.
        const std::string trigger = "test desktop: " + s.preferred_trigger;
        if (r >= 0)
          r = sd_bus_message_append(reply, "(sa{sv})", s.id.c_str(), 2, "description", "s", s.description.c_str(),
                                    "trigger_description", "s", trigger.c_str());
      }
      if (r >= 0) r = sd_bus_message_close_container(reply);
      if (r >= 0) r = sd_bus_message_close_container(reply);
      if (r >= 0) r = sd_bus_message_close_container(reply);
    }
    if (r >= 0) r = sd_bus_message_close_container(reply);
    if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
    sd_bus_message_unref(reply);
    return r;
  }

  static int create_session(sd_bus_message* m, void* userdata, sd_bus_error*) {
    Backend* b = self(userdata);
    const char *handle = nullptr, *session = nullptr, *app_id = nullptr;
    int r = sd_bus_message_read(m, "oos", &handle, &session, &app_id);
    if (r < 0) return r;
    uint32_t code;
    {
      std::lock_guard lock(b->mutex);
      ++b->create_calls;
      code = b->create_response;
      if (code == 0) b->sessions.push_back(session);
    }
    return sd_bus_reply_method_return(m, "ua{sv}", code, 0);
  }

  static int bind_shortcuts(sd_bus_message* m, void* userdata, sd_bus_error*) {
    Backend* b = self(userdata);
    const char *handle = nullptr, *session = nullptr;
    int r = sd_bus_message_read(m, "oo", &handle, &session);
    if (r < 0) return r;
    std::vector<Shortcut> shortcuts;
    if ((r = sd_bus_message_enter_container(m, 'a', "(sa{sv})")) < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'r', "sa{sv}")) > 0) {
      Shortcut s;
      const char* id = nullptr;
      if ((r = sd_bus_message_read(m, "s", &id)) < 0) return r;
      s.id = id;
      if ((r = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0) return r;
      while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* key = nullptr;
        const char* value = nullptr;
        if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
        if ((r = sd_bus_message_read(m, "v", "s", &value)) < 0) return r;
        if (std::strcmp(key, "description") == 0) s.description = value;
        if (std::strcmp(key, "preferred_trigger") == 0) s.preferred_trigger = value;
        if ((r = sd_bus_message_exit_container(m)) < 0) return r;
      }
      if (r < 0) return r;
      if ((r = sd_bus_message_exit_container(m)) < 0) return r;
      if ((r = sd_bus_message_exit_container(m)) < 0) return r;
      shortcuts.push_back(std::move(s));
    }
    if (r < 0) return r;
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    uint32_t code;
    bool lists;
    {
      std::lock_guard lock(b->mutex);
      ++b->bind_calls;
      code = b->bind_response;
      lists = b->bind_lists;
      if (code == 0) b->bound = shortcuts;
    }
    return reply_shortcuts(m, code, shortcuts, lists);
  }

  static int list_shortcuts(sd_bus_message* m, void* userdata, sd_bus_error*) {
    Backend* b = self(userdata);
    std::vector<Shortcut> shortcuts;
    {
      std::lock_guard lock(b->mutex);
      ++b->list_calls;
      shortcuts = b->bound;
    }
    return reply_shortcuts(m, 0, shortcuts);
  }

  static int close_session(sd_bus_message* m, void* userdata, sd_bus_error*) {
    Backend* b = self(userdata);
    {
      std::lock_guard lock(b->mutex);
      b->closed.push_back(sd_bus_message_get_path(m));
    }
    return sd_bus_reply_method_return(m, "");
  }

  static int close_request(sd_bus_message* m, void*, sd_bus_error*) { return sd_bus_reply_method_return(m, ""); }

  static int get_version(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void*, sd_bus_error*) {
    return sd_bus_message_append(reply, "u", uint32_t(1));
  }

  bool start(const std::string& address, std::string* error) {
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
      *error = "cannot create a pipe";
      return false;
    }
    bus = connect(address, error);
    if (!bus) return false;
    static const sd_bus_vtable shortcuts_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("CreateSession", "oosa{sv}", "ua{sv}", create_session, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("BindShortcuts", "ooa(sa{sv})sa{sv}", "ua{sv}", bind_shortcuts, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("ListShortcuts", "oo", "ua{sv}", list_shortcuts, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("version", "u", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_SIGNAL("Activated", "osta{sv}", 0),
        SD_BUS_SIGNAL("Deactivated", "osta{sv}", 0),
        SD_BUS_SIGNAL("ShortcutsChanged", "oa(sa{sv})", 0),
        SD_BUS_VTABLE_END};
    static const sd_bus_vtable session_vtable[] = {
        SD_BUS_VTABLE_START(0), SD_BUS_METHOD("Close", "", "", close_session, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL("Closed", "", 0), SD_BUS_VTABLE_END};
    static const sd_bus_vtable request_vtable[] = {
        SD_BUS_VTABLE_START(0), SD_BUS_METHOD("Close", "", "", close_request, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END};
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_add_object_vtable(bus, &slot, kDesktopPath, "org.freedesktop.impl.portal.GlobalShortcuts",
                                     shortcuts_vtable, this);
    slots.push_back(slot);
    if (r >= 0)
      r = sd_bus_add_fallback_vtable(bus, &slot, "/org/freedesktop/portal/desktop/session",
                                     "org.freedesktop.impl.portal.Session", session_vtable, nullptr, this);
    if (r >= 0) slots.push_back(slot);
    if (r >= 0)
      r = sd_bus_add_fallback_vtable(bus, &slot, "/org/freedesktop/portal/desktop/request",
                                     "org.freedesktop.impl.portal.Request", request_vtable, nullptr, this);
    if (r >= 0) slots.push_back(slot);
    if (r >= 0) r = sd_bus_request_name(bus, kBackendName, 0);
    if (r < 0) {
      *error = std::string("the test portal backend could not register: ") + std::strerror(-r);
      return false;
    }
    thread = std::thread([this] { run(); });
    return true;
  }

  void run() {
    while (!stop) {
      int r;
      while ((r = sd_bus_process(bus, nullptr)) > 0) {
      }
      if (r < 0) return;
      for (;;) {
        std::function<void()> task;
        {
          std::lock_guard lock(mutex);
          if (tasks.empty()) break;
          task = std::move(tasks.front());
          tasks.pop_front();
        }
        task();
      }
      sd_bus_flush(bus);
      pollfd fds[2] = {{sd_bus_get_fd(bus), short(sd_bus_get_events(bus)), 0}, {wake[0], POLLIN, 0}};
      poll(fds, 2, 1000);
      char buf[64];
      while (read(wake[0], buf, sizeof buf) > 0) {
      }
    }
  }

  // Runs `task` on the backend thread and waits for it (bounded: "does not hang").
  bool on_thread(std::function<bool()> task) {
    auto promise = std::make_shared<std::promise<bool>>();
    auto future = promise->get_future();
    {
      std::lock_guard lock(mutex);
      tasks.push_back([task = std::move(task), promise] { promise->set_value(task()); });
    }
    (void)!write(wake[1], "x", 1);
    if (future.wait_for(30s) != std::future_status::ready) return false;
    return future.get();
  }

  bool emit(const std::string& id, const char* member) {
    return on_thread([this, id, member] {
      std::string session;
      {
        std::lock_guard lock(mutex);
        if (sessions.empty()) return false;
        session = sessions.back();
      }
      const int r = sd_bus_emit_signal(bus, kDesktopPath, "org.freedesktop.impl.portal.GlobalShortcuts", member,
                                       "osta{sv}", session.c_str(), id.c_str(), uint64_t(0), 0);
      sd_bus_flush(bus);
      return r >= 0;
    });
  }
};

std::unique_ptr<PortalDesktop> PortalDesktop::start(std::string* error, bool shortcuts_backend) {
  for (const char* tool : {"/usr/bin/dbus-daemon", kFrontend}) {
    if (access(tool, X_OK) != 0) {
      *error = std::string(tool) + " is missing; run ./setup.sh (packages dbus-daemon, xdg-desktop-portal)";
      return nullptr;
    }
  }
  std::unique_ptr<PortalDesktop> d(new PortalDesktop);
  char templ[] = "/tmp/thoth-portal-XXXXXX";
  if (!mkdtemp(templ)) {
    *error = "cannot create a temp dir";
    return nullptr;
  }
  d->dir_ = templ;
  std::filesystem::create_directories(d->dir_ / "services");
  std::filesystem::create_directories(d->dir_ / "portals");
  {
    std::ofstream conf(d->dir_ / "bus.conf");
    conf << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
            " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
            "<busconfig>\n  <type>session</type>\n  <listen>unix:dir="
         << d->dir_.string() << "</listen>\n  <auth>EXTERNAL</auth>\n  <servicedir>" << (d->dir_ / "services").string()
         << "</servicedir>\n  <policy context=\"default\">\n    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
            "    <allow eavesdrop=\"true\"/>\n    <allow own=\"*\"/>\n  </policy>\n</busconfig>\n";
    // The frontend picks a backend whose UseIn names a desktop in XDG_CURRENT_DESKTOP.
    if (shortcuts_backend) {
      std::ofstream portal(d->dir_ / "portals" / "thoth-test.portal");
      portal << "[portal]\nDBusName=" << kBackendName
             << "\nInterfaces=org.freedesktop.impl.portal.GlobalShortcuts;\nUseIn=thoth-test\n";
    }
  }

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    *error = "cannot create a pipe";
    return nullptr;
  }
  d->bus_pid_ = spawn(
      {"/usr/bin/dbus-daemon", "--config-file=" + (d->dir_ / "bus.conf").string(), "--nofork", "--print-address=1"}, {},
      out[1], d->dir_ / "bus.log");
  close(out[1]);
  pollfd pfd{out[0], POLLIN, 0};
  char c;
  while (poll(&pfd, 1, 30'000) > 0 && read(out[0], &c, 1) == 1 && c != '\n') d->address_.push_back(c);
  close(out[0]);
  if (d->address_.empty()) {
    *error = "dbus-daemon did not start: " + read_all(d->dir_ / "bus.log");
    return nullptr;
  }

  // The backend first: the frontend looks for it when it starts.
  d->backend_ = std::make_unique<Backend>();
  if (!d->backend_->start(d->address_, error)) return nullptr;

  if (!d->start_frontend(error)) return nullptr;
  return d;
}

bool PortalDesktop::start_frontend(std::string* error) {
  frontend_pid_ = spawn({kFrontend, "--verbose"},
                        {{"DBUS_SESSION_BUS_ADDRESS", address_},
                         {"XDG_DESKTOP_PORTAL_DIR", (dir_ / "portals").string()},
                         {"XDG_CURRENT_DESKTOP", "thoth-test"},
                         {"GTK_USE_PORTAL", std::nullopt},
                         {"DISPLAY", std::nullopt},
                         {"WAYLAND_DISPLAY", std::nullopt}},
                        -1, dir_ / "frontend.log");
  sd_bus* probe = connect(address_, error);
  if (!probe) return false;
  bool up = false;
  for (int i = 0; i < 600 && !up; ++i) {  // "does not hang": 30 s
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int owned = 0;
    if (sd_bus_call_method(probe, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "NameHasOwner", &e, &reply, "s", "org.freedesktop.portal.Desktop") >= 0)
      sd_bus_message_read(reply, "b", &owned);
    sd_bus_message_unref(reply);
    sd_bus_error_free(&e);
    up = owned;
    if (!up) {
      if (waitpid(frontend_pid_, nullptr, WNOHANG) == frontend_pid_) {
        frontend_pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  sd_bus_flush_close_unref(probe);
  if (!up) *error = "xdg-desktop-portal did not come up on the test bus: " + frontend_log();
  return up;
}

bool PortalDesktop::restart_frontend(std::string* error) {
  stop_process(frontend_pid_);
  return start_frontend(error);
}

bool PortalDesktop::close_session_from_desktop() {
  return backend_->on_thread([this] {
    std::string session;
    {
      std::lock_guard lock(backend_->mutex);
      if (backend_->sessions.empty()) return false;
      session = backend_->sessions.back();
    }
    const int r =
        sd_bus_emit_signal(backend_->bus, session.c_str(), "org.freedesktop.impl.portal.Session", "Closed", "");
    sd_bus_flush(backend_->bus);
    return r >= 0;
  });
}

PortalDesktop::~PortalDesktop() {
  stop_process(frontend_pid_);
  backend_.reset();
  stop_process(bus_pid_);
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::map<std::string, std::optional<std::string>> PortalDesktop::client_env() const {
  return {{"DBUS_SESSION_BUS_ADDRESS", address_},
          {"XDG_SESSION_TYPE", "wayland"},
          {"WAYLAND_DISPLAY", "thoth-test-no-compositor"},
          {"DISPLAY", std::nullopt}};
}

void PortalDesktop::set_create_session_response(uint32_t code) {
  std::lock_guard lock(backend_->mutex);
  backend_->create_response = code;
}

void PortalDesktop::set_bind_response(uint32_t code) {
  std::lock_guard lock(backend_->mutex);
  backend_->bind_response = code;
}

void PortalDesktop::set_bind_lists_shortcuts(bool lists) {
  std::lock_guard lock(backend_->mutex);
  backend_->bind_lists = lists;
}

int PortalDesktop::list_calls() const {
  std::lock_guard lock(backend_->mutex);
  return backend_->list_calls;
}

std::vector<PortalDesktop::Shortcut> PortalDesktop::bound() const {
  std::lock_guard lock(backend_->mutex);
  return backend_->bound;
}

int PortalDesktop::bind_calls() const {
  std::lock_guard lock(backend_->mutex);
  return backend_->bind_calls;
}

int PortalDesktop::create_calls() const {
  std::lock_guard lock(backend_->mutex);
  return backend_->create_calls;
}

std::vector<std::string> PortalDesktop::sessions() const {
  std::lock_guard lock(backend_->mutex);
  return backend_->sessions;
}

std::vector<std::string> PortalDesktop::closed_sessions() const {
  std::lock_guard lock(backend_->mutex);
  return backend_->closed;
}

bool PortalDesktop::press(const std::string& id) { return backend_->emit(id, "Activated"); }
bool PortalDesktop::release(const std::string& id) { return backend_->emit(id, "Deactivated"); }

std::string PortalDesktop::frontend_log() const { return read_all(dir_ / "frontend.log"); }

}  // namespace thoth::test
