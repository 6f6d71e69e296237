#include "server/tray.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

namespace thoth::server {

namespace {

constexpr const char* kItemPath = "/StatusNotifierItem";
constexpr const char* kItemInterface = "org.kde.StatusNotifierItem";
constexpr const char* kWatcherName = "org.kde.StatusNotifierWatcher";
constexpr const char* kWatcherPath = "/StatusNotifierWatcher";

struct Look {
  const char* status;  // SNI: Passive | Active | NeedsAttention
  const char* icon;    // freedesktop icon names every theme has
  const char* title;
};

Look look_of(TrayState s) {
  switch (s) {
    case TrayState::Idle: return {"Active", "audio-input-microphone", "Thoth: ready"};
    case TrayState::Recording: return {"NeedsAttention", "media-record", "Thoth: recording"};
    case TrayState::Processing: return {"Active", "view-refresh", "Thoth: transcribing"};
    case TrayState::Failed: return {"NeedsAttention", "dialog-error", "Thoth: the last dictation failed"};
  }
  return {"Active", "audio-input-microphone", "Thoth"};
}

}  // namespace

TrayState tray_state_for(const pipeline::PipelineEvent& event, TrayState previous) {
  using Kind = pipeline::PipelineEvent::Kind;
  using pipeline::PipelineState;
  switch (event.kind) {
    case Kind::Error: return TrayState::Failed;
    case Kind::Complete: return TrayState::Idle;
    case Kind::Progress:
      switch (event.state) {
        // A failure stays on show until the next dictation starts (the pipeline goes back to
        // idle right after failing).
        case PipelineState::Idle: return previous == TrayState::Failed ? TrayState::Failed : TrayState::Idle;
        case PipelineState::Completed: return TrayState::Idle;
        case PipelineState::Recording: return TrayState::Recording;
        case PipelineState::Failed: return TrayState::Failed;
        default: return TrayState::Processing;
      }
    default: return previous;
  }
}

// Owns the bus connection; only its thread touches it after start (sd-bus objects are not
// thread-safe). Other threads talk to it through the atomics and the wake-up eventfd.
struct Tray::Impl {
  TrayActions actions;
  std::string hint;
  std::string name;
  sd_bus* bus = nullptr;
  sd_bus_slot* vtable_slot = nullptr;
  sd_bus_slot* watcher_match = nullptr;
  int wake_fd = -1;
  std::atomic<bool> quit{false};
  std::atomic<TrayState> state{TrayState::Idle};
  std::atomic<bool> registered{false};
  TrayState announced = TrayState::Idle;
  std::thread thread;

  ~Impl() {
    sd_bus_slot_unref(watcher_match);
    sd_bus_slot_unref(vtable_slot);
    if (bus) sd_bus_flush_close_unref(bus);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  static Impl& of(void* userdata) { return *static_cast<Impl*>(userdata); }

  static int get_string(sd_bus*, const char*, const char*, const char* property, sd_bus_message* reply, void* userdata,
                        sd_bus_error*) {
    Impl& me = of(userdata);
    const Look look = look_of(me.state.load(std::memory_order_acquire));
    const std::string_view p = property;
    const char* value = p == "Category"         ? "ApplicationStatus"
                        : p == "Id"             ? "thoth"
                        : p == "Title"          ? "Thoth"
                        : p == "Status"         ? look.status
                        : p == "IconName"       ? look.icon
                        : p == "AttentionIconName" ? look.icon
                                                   : "";
    return sd_bus_message_append(reply, "s", value);
  }

  static int get_tooltip(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void* userdata,
                         sd_bus_error*) {
    Impl& me = of(userdata);
    const Look look = look_of(me.state.load(std::memory_order_acquire));
    int r = sd_bus_message_open_container(reply, 'r', "sa(iiay)ss");
    if (r >= 0) r = sd_bus_message_append(reply, "s", look.icon);
    if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(iiay)");
    if (r >= 0) r = sd_bus_message_close_container(reply);
    if (r >= 0) r = sd_bus_message_append(reply, "ss", look.title, me.hint.c_str());
    if (r >= 0) r = sd_bus_message_close_container(reply);
    return r;
  }

  static int get_false(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void*, sd_bus_error*) {
    return sd_bus_message_append(reply, "b", 0);
  }

  static int get_no_menu(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void*,
                         sd_bus_error*) {
    return sd_bus_message_append(reply, "o", "/NO_DBUSMENU");
  }

  static int get_window(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void*, sd_bus_error*) {
    return sd_bus_message_append(reply, "i", 0);
  }

  static int on_activate(sd_bus_message* m, void* userdata, sd_bus_error*) {
    Impl& me = of(userdata);
    if (me.actions.open_ui) me.actions.open_ui();
    return sd_bus_reply_method_return(m, "");
  }

  static int on_secondary(sd_bus_message* m, void* userdata, sd_bus_error*) {
    Impl& me = of(userdata);
    if (me.actions.toggle_dictation) me.actions.toggle_dictation();
    return sd_bus_reply_method_return(m, "");
  }

  // Right click and scrolling do nothing: there is no menu to show.
  static int on_ignored(sd_bus_message* m, void*, sd_bus_error*) { return sd_bus_reply_method_return(m, ""); }

  static int on_registered(sd_bus_message* reply, void* userdata, sd_bus_error*) {
    Impl& me = of(userdata);
    const sd_bus_error* e = sd_bus_message_get_error(reply);
    if (e) {
      spdlog::debug("tray: the watcher refused the item: {}", e->message ? e->message : e->name);
      me.registered.store(false, std::memory_order_release);
    } else {
      me.registered.store(true, std::memory_order_release);
    }
    return 0;
  }

  void register_with_watcher() {
    // Asynchronous: a slow or absent watcher never holds up the bus thread.
    const int r = sd_bus_call_method_async(bus, nullptr, kWatcherName, kWatcherPath, kWatcherName,
                                           "RegisterStatusNotifierItem", &Impl::on_registered, this, "s", name.c_str());
    if (r < 0) spdlog::debug("tray: cannot ask the watcher: {}", std::strerror(-r));
  }

  static int on_watcher_owner(sd_bus_message* m, void* userdata, sd_bus_error*) {
    Impl& me = of(userdata);
    const char *service = nullptr, *old_owner = nullptr, *new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &service, &old_owner, &new_owner) < 0) return 0;
    me.registered.store(false, std::memory_order_release);
    if (new_owner && *new_owner) me.register_with_watcher();  // a (new) tray host came up
    return 0;
  }

  void announce() {
    const TrayState now = state.load(std::memory_order_acquire);
    if (now == announced) return;
    announced = now;
    sd_bus_emit_signal(bus, kItemPath, kItemInterface, "NewStatus", "s", look_of(now).status);
    sd_bus_emit_signal(bus, kItemPath, kItemInterface, "NewIcon", "");
    sd_bus_emit_signal(bus, kItemPath, kItemInterface, "NewAttentionIcon", "");
    sd_bus_emit_signal(bus, kItemPath, kItemInterface, "NewToolTip", "");
  }

  void run() {
    while (!quit.load(std::memory_order_acquire)) {
      int r;
      while ((r = sd_bus_process(bus, nullptr)) > 0) {
      }
      if (r < 0) {
        spdlog::warn("tray: the session bus connection failed: {}", std::strerror(-r));
        return;
      }
      announce();
      pollfd fds[2] = {{sd_bus_get_fd(bus), static_cast<short>(sd_bus_get_events(bus)), 0}, {wake_fd, POLLIN, 0}};
      uint64_t usec = 0;
      int timeout_ms = -1;
      if (sd_bus_get_timeout(bus, &usec) > 0 && usec != UINT64_MAX) timeout_ms = 50;  // a deadline is pending
      if (::poll(fds, 2, timeout_ms) < 0 && errno != EINTR) return;
      if (fds[1].revents & POLLIN) {
        uint64_t n;
        (void)!::read(wake_fd, &n, sizeof n);
      }
    }
  }

  void wake() const {
    const uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
};

namespace {

const sd_bus_vtable kItemVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Category", "s", Tray::Impl::get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Id", "s", Tray::Impl::get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Title", "s", Tray::Impl::get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Status", "s", Tray::Impl::get_string, 0, 0),
    SD_BUS_PROPERTY("IconName", "s", Tray::Impl::get_string, 0, 0),
    SD_BUS_PROPERTY("AttentionIconName", "s", Tray::Impl::get_string, 0, 0),
    SD_BUS_PROPERTY("ToolTip", "(sa(iiay)ss)", Tray::Impl::get_tooltip, 0, 0),
    SD_BUS_PROPERTY("ItemIsMenu", "b", Tray::Impl::get_false, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Menu", "o", Tray::Impl::get_no_menu, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("WindowId", "i", Tray::Impl::get_window, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_METHOD("Activate", "ii", "", Tray::Impl::on_activate, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("SecondaryActivate", "ii", "", Tray::Impl::on_secondary, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ContextMenu", "ii", "", Tray::Impl::on_ignored, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Scroll", "is", "", Tray::Impl::on_ignored, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("NewStatus", "s", 0),
    SD_BUS_SIGNAL("NewIcon", "", 0),
    SD_BUS_SIGNAL("NewAttentionIcon", "", 0),
    SD_BUS_SIGNAL("NewToolTip", "", 0),
    SD_BUS_SIGNAL("NewTitle", "", 0),
    SD_BUS_VTABLE_END};

}  // namespace

Result<std::unique_ptr<Tray>> Tray::start(TrayActions actions, std::string hint) {
  auto impl = std::make_unique<Impl>();
  impl->actions = std::move(actions);
  impl->hint = std::move(hint);
  if (int r = sd_bus_open_user(&impl->bus); r < 0)
    return make_error(std::string("tray: no session bus (") + std::strerror(-r) + ")");
  impl->name = "org.kde.StatusNotifierItem-" + std::to_string(::getpid()) + "-1";
  if (int r = sd_bus_add_object_vtable(impl->bus, &impl->vtable_slot, kItemPath, kItemInterface, kItemVtable,
                                       impl.get());
      r < 0)
    return make_error(std::string("tray: cannot export the item: ") + std::strerror(-r));
  if (int r = sd_bus_request_name(impl->bus, impl->name.c_str(), 0); r < 0)
    return make_error("tray: the session bus refused the name " + impl->name + ": " + std::strerror(-r));
  const std::string rule = std::string("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='") +
                           kWatcherName + "'";
  if (int r = sd_bus_add_match(impl->bus, &impl->watcher_match, rule.c_str(), &Impl::on_watcher_owner, impl.get());
      r < 0)
    return make_error(std::string("tray: cannot watch for a tray host: ") + std::strerror(-r));
  impl->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->wake_fd < 0) return make_error(std::string("tray: eventfd: ") + std::strerror(errno));
  impl->register_with_watcher();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Tray>(new Tray(std::move(impl)));
}

Tray::Tray(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Tray::~Tray() {
  impl_->quit.store(true, std::memory_order_release);
  impl_->wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Tray::set_state(TrayState state) {
  impl_->state.store(state, std::memory_order_release);
  impl_->wake();
}

TrayState Tray::state() const { return impl_->state.load(std::memory_order_acquire); }
bool Tray::registered() const { return impl_->registered.load(std::memory_order_acquire); }
const std::string& Tray::bus_name() const { return impl_->name; }

TrayFollower::TrayFollower(pipeline::EventBus& bus, Tray& tray) : bus_(bus) {
  id_ = bus_.subscribe([&tray](const pipeline::PipelineEvent& e) { tray.set_state(tray_state_for(e, tray.state())); });
}

TrayFollower::~TrayFollower() { bus_.unsubscribe(id_); }

}  // namespace thoth::server
