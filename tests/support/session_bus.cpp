#include "support/session_bus.h"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <sstream>

#include "support/process.h"

namespace thoth::test {

std::unique_ptr<SessionBus> SessionBus::start(std::string* error) {
  RunOptions o;
  o.timeout = std::chrono::seconds(10);
  // --fork: the command returns once the bus accepts connections, printing where it is.
  auto r = run_program({"/usr/bin/dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1",
                        "--nosyslog"},
                       o);
  std::istringstream lines(r.out);
  std::string address, pid;
  std::getline(lines, address);
  std::getline(lines, pid);
  if (r.exit_code != 0 || address.empty() || pid.empty()) {
    *error = "dbus-daemon did not start (is dbus-daemon installed?): " + r.err;
    return nullptr;
  }
  std::unique_ptr<SessionBus> bus(new SessionBus());
  bus->pid_ = std::stoi(pid);
  bus->address_ = address;
  bus->env_.set("DBUS_SESSION_BUS_ADDRESS", address);
  return bus;
}

SessionBus::~SessionBus() {
  // The daemon forked away from us: not our child, so it is stopped but not reaped here.
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

sd_bus* SessionBus::connect() const {
  sd_bus* bus = nullptr;
  if (sd_bus_new(&bus) < 0) return nullptr;
  if (sd_bus_set_address(bus, address_.c_str()) < 0 || sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
    sd_bus_unref(bus);
    return nullptr;
  }
  return bus;
}

}  // namespace thoth::test
