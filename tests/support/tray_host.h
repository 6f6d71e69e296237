// A tray host for tests, as a panel is one: it serves org.kde.StatusNotifierWatcher on a
// session bus (remembering the items that register and the NewStatus signals they send) and
// reads and clicks an item over a connection of its own.
#pragma once
#include <systemd/sd-bus.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/session_bus.h"

namespace thoth::test {

class TrayHost {
 public:
  // Null, with the reason in *error, when the watcher's name cannot be had.
  static std::unique_ptr<TrayHost> start(const SessionBus& session, std::string* error);
  ~TrayHost();
  TrayHost(const TrayHost&) = delete;
  TrayHost& operator=(const TrayHost&) = delete;

  std::vector<std::string> items();     // bus names registered, in order
  std::vector<std::string> statuses();  // NewStatus values heard, in order

  // A string property of an item's org.kde.StatusNotifierItem, or "error: ...".
  std::string property(const std::string& item, const char* name);
  // The tooltip as "title | text", or "error".
  std::string tooltip(const std::string& item);
  // Activate, SecondaryActivate, ContextMenu (x, y given); false when the call failed.
  bool click(const std::string& item, const char* method);

 private:
  TrayHost() = default;
  static int on_register(sd_bus_message* m, void* self, sd_bus_error*);
  static int on_new_status(sd_bus_message* m, void* self, sd_bus_error*);
  sd_bus* serving_ = nullptr;  // the watcher's connection, on thread_
  sd_bus* reading_ = nullptr;  // the panel's calls, on the caller's thread
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> items_, statuses_;
};

}  // namespace thoth::test
