// A private D-Bus session bus for tests: its own dbus-daemon, which DBUS_SESSION_BUS_ADDRESS
// points at while the object lives (the previous value is restored after). Services a test
// plays (a notification server, a tray watcher) connect to it with connect().
#pragma once
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include <memory>
#include <string>

#include "support/scoped_env.h"

namespace thoth::test {

class SessionBus {
 public:
  // Starts the bus; on failure returns null and explains in *error.
  static std::unique_ptr<SessionBus> start(std::string* error);
  ~SessionBus();
  SessionBus(const SessionBus&) = delete;
  SessionBus& operator=(const SessionBus&) = delete;

  const std::string& address() const { return address_; }
  // A new client connection (the caller owns it: sd_bus_flush_close_unref), or null.
  sd_bus* connect() const;

 private:
  SessionBus() = default;
  pid_t pid_ = -1;
  std::string address_;
  ScopedEnv env_;
};

}  // namespace thoth::test
