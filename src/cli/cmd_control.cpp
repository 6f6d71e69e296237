// `thoth toggle|start|stop|cancel|status|events`: drive the running daemon over its
// control socket.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "server/control.h"

namespace thoth::cli {
namespace {

using nlohmann::json;

int g_interrupt_pipe[2] = {-1, -1};
void on_interrupt(int) {
  const char c = 'i';
  (void)!write(g_interrupt_pipe[1], &c, 1);
}

int run_command(const std::string& cmd, const GlobalOptions& global) {
  auto reply = server::control_request(json{{"cmd", cmd}});
  if (!reply) return exit_with(kExitFailure, reply.error());
  if (!reply->value("ok", false)) return exit_with(kExitFailure, reply->value("error", std::string("refused")));
  if (!global.quiet) {
    if (cmd == "cancel") std::printf("%s\n", reply->value("cancelled", false) ? "cancelled" : "nothing to cancel");
    else if (reply->contains("state")) std::printf("%s\n", (*reply)["state"].get<std::string>().c_str());
  }
  return 0;
}

int run_status(bool as_json) {
  auto reply = server::control_request(json{{"cmd", "status"}});
  if (!reply) return exit_with(kExitFailure, reply.error());
  const json status = reply->value("status", json::object());
  if (as_json) {
    std::printf("%s\n", server::to_wire(status).c_str());
    return 0;
  }
  std::printf("state: %s\n", status.value("state", std::string("?")).c_str());
  std::printf("pid: %d\n", status.value("pid", 0));
  std::printf("socket: %s\n", status.value("socket", std::string()).c_str());
  if (status.value("http_port", 0) > 0) std::printf("http: http://127.0.0.1:%d\n", status.value("http_port", 0));
  std::printf("model: %s (%s)\n", status.value("model", std::string()).c_str(),
              status.value("model_loaded", false) ? "loaded" : "loads on first dictation");
  return 0;
}

int run_events() {
  if (pipe(g_interrupt_pipe) != 0) return exit_with(kExitFailure, "cannot set up signal handling");
  struct sigaction sa{};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto r = server::stream_events(
      [](const std::string& line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
      },
      g_interrupt_pipe[0]);
  if (!r) return exit_with(kExitFailure, r.error());
  return 0;
}

}  // namespace

void add_control_commands(CLI::App& app, const GlobalOptions& global) {
  const std::pair<const char*, const char*> simple[] = {
      {"toggle", "Start dictating, or stop and transcribe (needs `thoth daemon`)"},
      {"start", "Start dictating through the daemon"},
      {"stop", "Stop recording; the daemon transcribes and types the text"},
      {"cancel", "Cancel the daemon's dictation (its recording is kept)"},
  };
  for (const auto& [name, help] : simple) {
    auto* sub = app.add_subcommand(name, help);
    on_run(sub, [cmd = std::string(name), &global] { return run_command(cmd, global); });
  }
  static bool as_json = false;
  auto* status = app.add_subcommand("status", "Show the daemon's state");
  status->add_flag("--json", as_json, "Print the status as one JSON object");
  on_run(status, [] { return run_status(as_json); });
  auto* events = app.add_subcommand("events", "Print the daemon's pipeline events as JSON lines until interrupted");
  on_run(events, [] { return run_events(); });
}

}  // namespace thoth::cli
