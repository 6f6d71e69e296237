// `thoth ui [--open]`: the address of the running daemon's web UI, with the API token in
// the URL fragment (which the browser never sends to a server; the page moves it into
// sessionStorage and clears it from the address bar), so nothing has to be typed in.
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/paths.h"
#include "server/control.h"
#include "server/daemon.h"

extern char** environ;

namespace thoth::cli {
namespace {

using nlohmann::json;

int run_ui(bool open, const GlobalOptions& global) {
  auto reply = server::control_request(json{{"cmd", "status"}});
  if (!reply) return exit_with(kExitFailure, reply.error());
  const int port = reply->value("status", json::object()).value("http_port", 0);
  if (port <= 0)
    return exit_with(kExitFailure, "the daemon's HTTP server is off; set server.enabled to true and restart `thoth daemon`");
  const auto token_file = server::api_token_path();
  auto token = paths::read_file(token_file);
  if (!token) return exit_with(kExitFailure, "cannot read the API token: " + token.error());
  std::string t = *token;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/#token=" + t;
  if (!global.quiet || !open) std::printf("%s\n", url.c_str());
  if (!open) return 0;
  std::fflush(stdout);
  const char* argv[] = {"xdg-open", url.c_str(), nullptr};
  pid_t pid = -1;
  if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
    return exit_with(kExitFailure, "cannot run xdg-open (install xdg-utils), or open the address above in a browser");
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return exit_with(kExitFailure, "xdg-open could not open a browser; open the address above in one");
  return 0;
}

}  // namespace

void add_ui_command(CLI::App& app, const GlobalOptions& global) {
  static bool open = false;
  auto* sub = app.add_subcommand("ui", "Print the web UI's address (with its access token); --open opens it");
  sub->add_flag("--open", open, "Open it in the default browser (xdg-open)");
  on_run(sub, [&global] { return run_ui(open, global); });
}

}  // namespace thoth::cli
