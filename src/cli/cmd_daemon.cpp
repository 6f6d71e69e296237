// `thoth daemon`: the always-on dictation service, in the foreground (systemd runs it as a
// user unit). SIGTERM or SIGINT shut it down cleanly.
#include <signal.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "server/daemon.h"

namespace thoth::cli {
namespace {

struct DaemonArgs {
  std::string model;
  std::string device;
  int port = -1;
};

int run_daemon(const DaemonArgs& args, const GlobalOptions& global) {
  // Blocked before any thread exists, so every thread inherits the mask and the signals
  // are taken only by sigwait below: no handler runs inside an arbitrary thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::DaemonOptions options;
  options.model = args.model;
  options.device = args.device;
  if (args.port >= 0) options.http_port = args.port;
  auto daemon = server::Daemon::start(options);
  if (!daemon) return exit_with(kExitFailure, daemon.error());
  if (!global.quiet) {
    std::fprintf(stderr, "thoth: daemon running (pid %d); control socket %s", int(getpid()),
                 (*daemon)->socket_path().c_str());
    if ((*daemon)->http_port() > 0)
      std::fprintf(stderr, "; HTTP API http://127.0.0.1:%d (token in %s)", (*daemon)->http_port(),
                   server::api_token_path().c_str());
    std::fprintf(stderr, "\n");
  }
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  if (!global.quiet) std::fprintf(stderr, "thoth: %s received; shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*daemon)->shutdown();
  if (!global.quiet) std::fprintf(stderr, "thoth: daemon stopped\n");
  return 0;
}

}  // namespace

void add_daemon_command(CLI::App& app, const GlobalOptions& global) {
  auto* sub = app.add_subcommand("daemon", "Run the dictation daemon (control socket and local HTTP API)");
  static DaemonArgs args;
  sub->add_option("-m,--model", args.model, "Whisper model: a path or a name; default: transcription.model");
  sub->add_option("-d,--device", args.device, "Input device; default: audio.device in the config");
  sub->add_option("--port", args.port, "HTTP API port on 127.0.0.1 (0 picks a free one); default: server.port")
      ->check(CLI::Range(0, 65535));
  on_run(sub, [&global] { return run_daemon(args, global); });
}

}  // namespace thoth::cli
