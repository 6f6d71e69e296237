#include "input/portal_shortcuts.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace thoth::input {
namespace {

constexpr const char* kPortal = "org.freedesktop.portal.Desktop";
constexpr const char* kPortalPath = "/org/freedesktop/portal/desktop";
constexpr const char* kShortcutsInterface = "org.freedesktop.portal.GlobalShortcuts";
constexpr uint64_t kCallTimeoutUs = 30'000'000;  // the frontend answers at once; the user answers by signal

struct SlotUnref {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using Slot = std::unique_ptr<sd_bus_slot, SlotUnref>;
struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

std::string errno_text(int r) { return std::strerror(r < 0 ? -r : r); }

// A method call's reply, filled by its callback during Impl::pump().
struct Reply {
  bool done = false;
  Message message;
  std::string error;
};

int on_reply(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* reply = static_cast<Reply*>(userdata);
  reply->done = true;
  if (const sd_bus_error* e = sd_bus_message_get_error(m))
    reply->error = e->message ? e->message : (e->name ? e->name : "error");
  else
    reply->message.reset(sd_bus_message_ref(m));
  return 0;
}

// A portal Request's Response signal: (u response, a{sv} results).
struct Response {
  bool done = false;
  uint32_t code = 2;
  Message results;  // read position at the a{sv}
};

int on_response(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* response = static_cast<Response*>(userdata);
  if (response->done) return 0;
  uint32_t code = 2;
  if (sd_bus_message_read(m, "u", &code) < 0) return 0;
  response->done = true;
  response->code = code;
  response->results.reset(sd_bus_message_ref(m));
  return 0;
}

// Shortcut id -> the trigger the desktop reports, from an a(sa{sv}) of shortcuts.
int read_shortcuts(sd_bus_message* m, std::map<std::string, std::string>& out) {
  int r = sd_bus_message_enter_container(m, 'a', "(sa{sv})");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'r', "sa{sv}")) > 0) {
    const char* id = nullptr;
    if ((r = sd_bus_message_read(m, "s", &id)) < 0) return r;
    std::string trigger;
    if ((r = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
      const char* key = nullptr;
      if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
      if (std::strcmp(key, "trigger_description") == 0) {
        const char* value = nullptr;
        if ((r = sd_bus_message_read(m, "v", "s", &value)) < 0) return r;
        trigger = value;
      } else if ((r = sd_bus_message_skip(m, "v")) < 0) {
        return r;
      }
      if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    if (r < 0) return r;
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;  // a{sv}
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;  // struct
    out[id] = trigger;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

// The results of CreateSession/BindShortcuts: session_handle (a string since portal 1.16,
// an object path before) and shortcuts.
struct Results {
  std::string session_handle;
  bool has_shortcuts = false;
  std::map<std::string, std::string> shortcuts;
};

int read_results(sd_bus_message* m, Results& out) {
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char* key = nullptr;
    if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
    char type = 0;
    const char* contents = nullptr;
    if ((r = sd_bus_message_peek_type(m, &type, &contents)) < 0) return r;
    if (std::strcmp(key, "session_handle") == 0 && contents &&
        (std::strcmp(contents, "s") == 0 || std::strcmp(contents, "o") == 0)) {
      const char* value = nullptr;
      if ((r = sd_bus_message_read(m, "v", contents, &value)) < 0) return r;
      out.session_handle = value;
    } else if (std::strcmp(key, "shortcuts") == 0 && contents && std::strcmp(contents, "a(sa{sv})") == 0) {
      if ((r = sd_bus_message_enter_container(m, 'v', contents)) < 0) return r;
      if ((r = read_shortcuts(m, out.shortcuts)) < 0) return r;
      if ((r = sd_bus_message_exit_container(m)) < 0) return r;
      out.has_shortcuts = true;
    } else if ((r = sd_bus_message_skip(m, "v")) < 0) {
      return r;
    }
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

uint32_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint32_t(uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000);
}

}  // namespace

struct PortalShortcuts::Impl {
  ShortcutRegistry* registry = nullptr;
  ShortcutHandler on_event;
  int wake[2] = {-1, -1};
  int listener = 0;
  std::atomic<bool> stop{false};
  std::thread thread;

  // Owned by the portal thread.
  sd_bus* bus = nullptr;
  std::string sender;    // our unique name as request paths spell it: ":1.42" -> "1_42"
  std::string session;   // the open portal session, empty if none
  bool changed = false;  // the registry changed since the last bind
  bool lost = false;     // the bus connection broke
  unsigned tokens = 0;
  std::set<std::string> held;  // actions whose key is down

  mutable std::mutex mutex;  // guards the four below; never held across a D-Bus call
  mutable std::condition_variable applied_cv;
  uint64_t applied_generation = 0;
  bool finished = false;  // the thread gave up (no bus, bus lost) or stopped
  bool is_bound = false;
  std::string state = "portal: asking the desktop for the shortcuts";

  ~Impl() {
    for (int fd : wake)
      if (fd >= 0) close(fd);
  }

  void wake_up() { (void)!write(wake[1], "x", 1); }  // a full pipe already holds a wake-up

  void settle(uint64_t generation, bool bound, std::string line) {
    {
      std::lock_guard lock(mutex);
      applied_generation = std::max(applied_generation, generation);
      is_bound = bound;
      state = std::move(line);
    }
    applied_cv.notify_all();
  }

  void set_state(std::string line) {
    std::lock_guard lock(mutex);
    state = std::move(line);
  }

  // Runs the bus until done() holds; false when stopping or the bus broke. Registry
  // changes seen meanwhile set `changed`.
  bool pump(const std::function<bool()>& done) {
    for (;;) {
      if (done()) return true;
      if (stop.load(std::memory_order_acquire) || lost) return false;
      const int r = sd_bus_process(bus, nullptr);
      if (r < 0) {
        lost = true;
        set_state("portal: lost the D-Bus session bus (" + errno_text(r) +
                  "); global shortcuts stopped until Thoth restarts");
        return false;
      }
      if (r > 0) continue;
      if (done()) return true;
      const int events = sd_bus_get_events(bus);
      pollfd fds[2] = {{sd_bus_get_fd(bus), short(events < 0 ? POLLIN : events), 0}, {wake[0], POLLIN, 0}};
      int timeout_ms = -1;
      uint64_t until = 0;
      if (sd_bus_get_timeout(bus, &until) > 0 && until != UINT64_MAX) {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        const uint64_t now = uint64_t(ts.tv_sec) * 1'000'000 + uint64_t(ts.tv_nsec) / 1000;
        timeout_ms = until > now ? int((until - now + 999) / 1000) : 0;
      }
      if (poll(fds, 2, timeout_ms) < 0) continue;  // EINTR
      if (fds[1].revents & POLLIN) {
        char buf[64];
        while (read(wake[0], buf, sizeof buf) > 0) {
        }
        changed = true;
      }
    }
  }

  // One portal request: subscribes to the Response on the predicted request path before
  // calling (so no answer can slip by), calls, then waits for the Response, however long the
  // user takes. `append` adds the arguments before the options' handle_token.
  struct Outcome {
    std::string error;  // the call failed (or we are stopping)
    uint32_t code = 2;
    Message results;
  };
  static Outcome failed(std::string error) {
    Outcome out;
    out.error = std::move(error);
    return out;
  }
  Outcome request(const char* method, const std::function<int(sd_bus_message*)>& append,
                  const std::map<std::string, std::string>& extra_options = {}) {
    Outcome out;
    const std::string token = "thoth" + std::to_string(++tokens);
    std::string path = std::string(kPortalPath) + "/request/" + sender + "/" + token;
    Response response;
    sd_bus_slot* raw = nullptr;
    int r = sd_bus_match_signal(bus, &raw, nullptr, path.c_str(), "org.freedesktop.portal.Request", "Response",
                                on_response, &response);
    Slot match(raw);
    if (r < 0) return failed("cannot subscribe to the portal's answer (" + errno_text(r) + ")");

    sd_bus_message* m = nullptr;
    r = sd_bus_message_new_method_call(bus, &m, kPortal, kPortalPath, kShortcutsInterface, method);
    Message call(m);
    if (r >= 0) r = append(m);
    if (r >= 0) r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0) r = sd_bus_message_append(m, "{sv}", "handle_token", "s", token.c_str());
    for (const auto& [key, value] : extra_options)
      if (r >= 0) r = sd_bus_message_append(m, "{sv}", key.c_str(), "s", value.c_str());
    if (r >= 0) r = sd_bus_message_close_container(m);
    if (r < 0) return failed(std::string("cannot build the ") + method + " call (" + errno_text(r) + ")");
    Reply reply;
    raw = nullptr;
    r = sd_bus_call_async(bus, &raw, m, on_reply, &reply, kCallTimeoutUs);
    Slot pending(raw);
    if (r < 0) return failed(std::string(method) + " could not be sent (" + errno_text(r) + ")");
    if (!pump([&] { return reply.done; })) return failed("stopped");
    if (!reply.error.empty()) return failed(reply.error);
    const char* handle = nullptr;
    if (sd_bus_message_read(reply.message.get(), "o", &handle) < 0) return failed("the portal's reply was malformed");
    Slot other_match;
    if (handle != path) {
      // A portal older than the predictable request paths: follow the path it gave.
      raw = nullptr;
      if (!response.done) {
        r = sd_bus_match_signal(bus, &raw, nullptr, handle, "org.freedesktop.portal.Request", "Response", on_response,
                                &response);
        other_match.reset(raw);
      }
    }
    if (!pump([&] { return response.done; })) return failed("stopped");
    out.code = response.code;
    out.results = std::move(response.results);
    return out;
  }

  static std::string refusal(uint32_t code, const char* what) {
    if (code == 1)
      return std::string("portal: you declined Thoth's global shortcuts (") + what +
             "); allow them in your desktop's shortcut settings, or bind `thoth toggle` in your compositor";
    return std::string("portal: the desktop refused Thoth's global shortcuts (") + what + " ended with code " +
           std::to_string(code) + "); bind `thoth toggle` in your compositor instead";
  }

  // CreateSession; on success `session` holds the handle. Returns the error line, if any.
  std::string create_session() {
    const std::string session_token = "thoth_session" + std::to_string(++tokens);
    auto out = request("CreateSession", [](sd_bus_message*) { return 0; }, {{"session_handle_token", session_token}});
    if (!out.error.empty()) return "portal: CreateSession failed: " + out.error;
    if (out.code != 0) return refusal(out.code, "CreateSession");
    Results results;
    if (read_results(out.results.get(), results) < 0 || results.session_handle.empty())
      return "portal: CreateSession answered without a session handle";
    session = results.session_handle;
    return {};
  }

  // BindShortcuts for the registry's bindings; returns the status line and whether bound.
  std::pair<std::string, bool> bind(const std::vector<Binding>& bindings) {
    auto out = request("BindShortcuts", [&](sd_bus_message* m) {
      int r = sd_bus_message_append(m, "o", session.c_str());
      if (r >= 0) r = sd_bus_message_open_container(m, 'a', "(sa{sv})");
      for (const auto& b : bindings) {
        const std::string description = "Thoth: " + b.action;
        const std::string trigger = xdg_trigger(b.accelerator);
        if (r >= 0)
          r = sd_bus_message_append(m, "(sa{sv})", b.action.c_str(), 2, "description", "s", description.c_str(),
                                    "preferred_trigger", "s", trigger.c_str());
      }
      if (r >= 0) r = sd_bus_message_close_container(m);
      if (r >= 0) r = sd_bus_message_append(m, "s", "");  // no parent window: the daemon has none
      return r;
    });
    if (!out.error.empty()) return {"portal: BindShortcuts failed: " + out.error, false};
    if (out.code != 0) return {refusal(out.code, "BindShortcuts"), false};
    Results results;
    if (read_results(out.results.get(), results) < 0)
      return {"portal: BindShortcuts answered malformed results", false};
    if (!results.has_shortcuts) {
      // A desktop that does not say what it bound may still list it.
      auto listed =
          request("ListShortcuts", [&](sd_bus_message* m) { return sd_bus_message_append(m, "o", session.c_str()); });
      Results list;
      if (listed.error.empty() && listed.code == 0 && read_results(listed.results.get(), list) >= 0) results = list;
    }
    std::string line = "portal:";
    for (const auto& b : bindings) {
      line += (line == "portal:" ? " " : ", ") + b.action + " = ";
      auto it = results.shortcuts.find(b.action);
      if (!results.has_shortcuts)
        line += xdg_trigger(b.accelerator);
      else if (it == results.shortcuts.end())
        line += "(not bound by the desktop)";
      else
        line += it->second.empty() ? xdg_trigger(b.accelerator) : it->second;
    }
    if (bindings.empty()) line += " no shortcuts configured";
    return {line, true};
  }

  void close_session() {
    if (session.empty() || lost) return;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    // Bounded: a portal that hangs must not hold up the daemon's shutdown.
    sd_bus_message* m = nullptr;
    int r =
        sd_bus_message_new_method_call(bus, &m, kPortal, session.c_str(), "org.freedesktop.portal.Session", "Close");
    if (r >= 0) r = sd_bus_call(bus, m, 5'000'000, &error, &reply);
    if (r < 0)
      spdlog::warn("shortcuts: closing the portal session failed: {}", error.message ? error.message : errno_text(r));
    sd_bus_message_unref(m);
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
    session.clear();
  }

  static int on_activation(sd_bus_message* m, void* self, sd_bus_error*) {
    static_cast<Impl*>(self)->on_signal(m, std::strcmp(sd_bus_message_get_member(m), "Activated") == 0);
    return 0;
  }

  void on_signal(sd_bus_message* m, bool pressed) {
    const char* handle = nullptr;
    const char* id = nullptr;
    uint64_t timestamp = 0;
    if (sd_bus_message_read(m, "ost", &handle, &id, &timestamp) < 0) return;
    if (session.empty() || session != handle) return;
    const std::string action = id;
    // The portal's timestamps have no agreed unit: our own clock keeps hold durations true.
    if (pressed) {
      if (held.count(action) || !registry->find(action)) return;  // a repeat, or unbound meanwhile
      held.insert(action);
      on_event(ShortcutEvent{action, true, now_ms()});
    } else {
      if (!held.erase(action)) return;
      on_event(ShortcutEvent{action, false, now_ms()});
    }
  }

  void release_held() {
    for (const auto& action : held) on_event(ShortcutEvent{action, false, now_ms()});
    held.clear();
  }

  // The desktop closed our session (org.freedesktop.portal.Session.Closed).
  void on_session_closed(sd_bus_message* m) {
    const char* path = sd_bus_message_get_path(m);
    if (session.empty() || !path || session != path) return;
    session.clear();
    release_held();
    const std::string line =
        "portal: the desktop ended Thoth's shortcuts session; change a shortcut or restart the daemon to ask again";
    spdlog::warn("shortcuts: {}", line);
    set_state(line);
    {
      std::lock_guard lock(mutex);
      is_bound = false;
    }
  }

  // The portal frontend left the bus (crash, restart) or came back.
  void on_owner_changed(sd_bus_message* m) {
    const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0) return;
    if (std::strcmp(name, kPortal) != 0) return;
    if (*old_owner) {
      session.clear();  // it died with the frontend
      release_held();
      {
        std::lock_guard lock(mutex);
        is_bound = false;
        state = "portal: the desktop portal went away; the shortcuts come back when it does";
      }
      spdlog::warn("shortcuts: the desktop portal left the session bus");
    }
    if (*new_owner) changed = true;  // bind again with the new one
  }

  void run() {
    int r = sd_bus_open_user(&bus);
    if (r < 0) {
      finish("portal: no D-Bus session bus (" + errno_text(r) + "); bind `thoth toggle` in your compositor instead");
      return;
    }
    const char* unique = nullptr;
    if ((r = sd_bus_get_unique_name(bus, &unique)) < 0) {
      sd_bus_flush_close_unref(bus);
      finish("portal: the session bus gave no name (" + errno_text(r) + ")");
      return;
    }
    for (const char* c = unique + 1; *c; ++c) sender += *c == '.' ? '_' : *c;
    std::vector<Slot> matches;
    // No sender in the matches: the frontend's unique name is what arrives, and the session
    // handle in each signal says whether it is ours.
    for (const char* member : {"Activated", "Deactivated"}) {
      sd_bus_slot* raw = nullptr;
      sd_bus_match_signal(bus, &raw, nullptr, kPortalPath, kShortcutsInterface, member, on_activation, this);
      matches.emplace_back(raw);
    }
    {
      sd_bus_slot* raw = nullptr;
      sd_bus_match_signal(
          bus, &raw, nullptr, nullptr, "org.freedesktop.portal.Session", "Closed",
          [](sd_bus_message* m, void* self, sd_bus_error*) {
            static_cast<Impl*>(self)->on_session_closed(m);
            return 0;
          },
          this);
      matches.emplace_back(raw);
      raw = nullptr;
      sd_bus_add_match(
          bus, &raw,
          "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',"
          "arg0='org.freedesktop.portal.Desktop'",
          [](sd_bus_message* m, void* self, sd_bus_error*) {
            static_cast<Impl*>(self)->on_owner_changed(m);
            return 0;
          },
          this);
      matches.emplace_back(raw);
    }

    while (!stop.load(std::memory_order_acquire) && !lost) {
      changed = false;
      const uint64_t generation = registry->generation();  // before reading: never newer than the bindings
      const std::vector<Binding> bindings = registry->bindings();
      std::string line;
      bool bound = false;
      if (session.empty()) line = create_session();
      if (stop.load(std::memory_order_acquire) || lost) break;
      if (!session.empty()) std::tie(line, bound) = bind(bindings);
      if (stop.load(std::memory_order_acquire) || lost) break;
      if (bound)
        spdlog::info("shortcuts: {}", line);
      else
        spdlog::warn("shortcuts: {}", line);
      settle(generation, bound, line);
      // Wait for the next registry change (then bind again, or ask again after a refusal).
      if (!changed && !pump([&] { return changed; })) break;
    }
    // Keys still down when we stop are released as far as listeners are concerned.
    release_held();
    close_session();
    matches.clear();
    sd_bus_flush_close_unref(bus);
    bus = nullptr;
    finish({});
  }

  void finish(std::string line) {
    {
      std::lock_guard lock(mutex);
      finished = true;
      is_bound = false;
      if (!line.empty()) state = std::move(line);
    }
    applied_cv.notify_all();
  }
};

PortalShortcuts::PortalShortcuts(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<PortalShortcuts>> PortalShortcuts::start(ShortcutRegistry& registry, ShortcutHandler on_event) {
  auto impl = std::make_unique<Impl>();
  impl->registry = &registry;
  impl->on_event = std::move(on_event);
  if (pipe2(impl->wake, O_CLOEXEC | O_NONBLOCK) != 0) return make_error("shortcuts: cannot create a pipe");
  Impl* raw = impl.get();
  // Before the thread reads the registry: a change in between wakes it up.
  impl->listener = registry.on_change([raw] { raw->wake_up(); });
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<PortalShortcuts>(new PortalShortcuts(std::move(impl)));
}

PortalShortcuts::~PortalShortcuts() {
  impl_->registry->remove_listener(impl_->listener);
  impl_->stop.store(true, std::memory_order_release);
  impl_->wake_up();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string PortalShortcuts::status() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state;
}

bool PortalShortcuts::bound() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->is_bound;
}

bool PortalShortcuts::wait_applied(uint64_t generation, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->applied_cv.wait_for(lock, timeout,
                                    [&] { return impl_->finished || impl_->applied_generation >= generation; });
}

}  // namespace thoth::input
