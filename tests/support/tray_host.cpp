#include "support/tray_host.h"

#include <stdlib.h>

namespace thoth::test {

namespace {
constexpr const char* kItemPath = "/StatusNotifierItem";
constexpr const char* kItemInterface = "org.kde.StatusNotifierItem";
}  // namespace

std::unique_ptr<TrayHost> TrayHost::start(const SessionBus& session, std::string* error) {
  std::unique_ptr<TrayHost> host(new TrayHost());
  host->serving_ = session.connect();
  host->reading_ = session.connect();
  if (!host->serving_ || !host->reading_) {
    *error = "cannot connect to the test session bus";
    return nullptr;
  }
  static const sd_bus_vtable vtable[] = {
      SD_BUS_VTABLE_START(0),
      SD_BUS_METHOD("RegisterStatusNotifierItem", "s", "", &TrayHost::on_register, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_VTABLE_END};
  if (sd_bus_add_object_vtable(host->serving_, nullptr, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher",
                               vtable, host.get()) < 0 ||
      sd_bus_add_match(host->serving_, nullptr,
                       "type='signal',interface='org.kde.StatusNotifierItem',member='NewStatus'",
                       &TrayHost::on_new_status, host.get()) < 0 ||
      sd_bus_request_name(host->serving_, "org.kde.StatusNotifierWatcher", 0) < 0) {
    *error = "cannot serve org.kde.StatusNotifierWatcher on the test bus";
    return nullptr;
  }
  TrayHost* raw = host.get();
  host->thread_ = std::thread([raw] {
    while (!raw->stop_.load()) {
      while (sd_bus_process(raw->serving_, nullptr) > 0) {
      }
      sd_bus_wait(raw->serving_, 20'000);
    }
  });
  return host;
}

TrayHost::~TrayHost() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (serving_) sd_bus_flush_close_unref(serving_);
  if (reading_) sd_bus_flush_close_unref(reading_);
}

std::vector<std::string> TrayHost::items() {
  std::lock_guard lock(mutex_);
  return items_;
}

std::vector<std::string> TrayHost::statuses() {
  std::lock_guard lock(mutex_);
  return statuses_;
}

int TrayHost::on_register(sd_bus_message* m, void* self, sd_bus_error*) {
  auto* me = static_cast<TrayHost*>(self);
  const char* service = nullptr;
  sd_bus_message_read(m, "s", &service);
  {
    std::lock_guard lock(me->mutex_);
    me->items_.push_back(service ? service : "");
  }
  return sd_bus_reply_method_return(m, "");
}

int TrayHost::on_new_status(sd_bus_message* m, void* self, sd_bus_error*) {
  auto* me = static_cast<TrayHost*>(self);
  const char* status = nullptr;
  sd_bus_message_read(m, "s", &status);
  std::lock_guard lock(me->mutex_);
  me->statuses_.push_back(status ? status : "");
  return 0;
}

std::string TrayHost::property(const std::string& item, const char* name) {
  char* value = nullptr;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  std::string out;
  if (sd_bus_get_property_string(reading_, item.c_str(), kItemPath, kItemInterface, name, &error, &value) >= 0)
    out = value;
  else
    out = std::string("error: ") + (error.message ? error.message : "?");
  free(value);
  sd_bus_error_free(&error);
  return out;
}

std::string TrayHost::tooltip(const std::string& item) {
  sd_bus_message* reply = nullptr;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  std::string out = "error";
  if (sd_bus_get_property(reading_, item.c_str(), kItemPath, kItemInterface, "ToolTip", &error, &reply,
                          "(sa(iiay)ss)") >= 0) {
    const char *icon = nullptr, *title = nullptr, *text = nullptr;
    if (sd_bus_message_enter_container(reply, 'r', "sa(iiay)ss") >= 0 && sd_bus_message_read(reply, "s", &icon) >= 0 &&
        sd_bus_message_skip(reply, "a(iiay)") >= 0 && sd_bus_message_read(reply, "ss", &title, &text) >= 0)
      out = std::string(title) + " | " + text;
  }
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  return out;
}

bool TrayHost::click(const std::string& item, const char* method) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  const int r = sd_bus_call_method(reading_, item.c_str(), kItemPath, kItemInterface, method, &error, nullptr, "ii", 10, 20);
  sd_bus_error_free(&error);
  return r >= 0;
}

}  // namespace thoth::test
