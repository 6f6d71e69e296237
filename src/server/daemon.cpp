#include "server/daemon.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "audio/capture.h"
#include "core/config.h"
#include "core/paths.h"
#include "input/dictation_keys.h"
#include "input/global_shortcuts.h"
#include "output/desktop_output.h"
#include "pipeline/stage_adapters.h"
#include "server/config_watch.h"
#include "server/control.h"
#include "server/cues.h"
#include "server/http_api.h"
#include "server/service.h"
#include "server/tray.h"

extern char** environ;

namespace thoth::server {

using nlohmann::json;

// The dictation as the global shortcuts drive it: the service's commands, and the last
// transcription put on the clipboard (the output object lives on so X11 keeps serving it).
class ServiceKeys final : public input::DictationControl {
 public:
  explicit ServiceKeys(DictationService& service) : service_(service) {}
  bool recording() const override { return service_.status().value("state", std::string()) == "recording"; }
  void start() override { report("start", service_.start()); }
  void stop() override { report("stop", service_.stop()); }
  void cancel() override { report("cancel", service_.cancel()); }
  void toggle_hands_free() override { report("hands-free", service_.toggle_hands_free()); }
  void copy_last() override {
    auto history = service_.history();
    if (!history) return spdlog::warn("copy last: {}", history.error());
    store::HistoryQuery q;
    q.limit = 1;
    auto rows = (*history)->search(q);
    if (!rows || rows->empty()) return spdlog::info("copy last: the history is empty");
    if (!clipboard_) {
      output::DesktopOutputOptions o;
      o.method = "clipboard";
      auto out = output::DesktopOutput::create(o);
      if (!out) return spdlog::warn("copy last: {}", out.error());
      clipboard_ = std::move(*out);
    }
    std::atomic<bool> never{false};
    if (auto r = clipboard_->deliver(rows->front().text, never); !r) spdlog::warn("copy last: {}", r.error());
  }

 private:
  static void report(const char* what, const CommandResult& r) {
    // A refused key press (say, start while transcribing) is normal use, not an error.
    if (!r.ok()) spdlog::info("shortcut {}: {}", what, r.body.value("error", std::string("refused")));
  }
  DictationService& service_;
  std::unique_ptr<output::DesktopOutput> clipboard_;
};

std::filesystem::path api_token_path() { return paths::data_dir() / "api-token"; }

namespace {

// The web UI in the user's browser, as `thoth ui --open` opens it. setsid -f returns at once,
// so neither a browser that stays in the foreground nor its exit involves the daemon.
void open_web_ui(int port, const std::string& token) {
  if (port <= 0) {
    spdlog::info("tray: the HTTP server is off (server.enabled), so there is no web UI to open");
    return;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/#token=" + token;
  const char* argv[] = {"setsid", "-f", "xdg-open", url.c_str(), nullptr};
  pid_t pid = -1;
  if (posix_spawnp(&pid, "setsid", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
    spdlog::warn("tray: cannot run xdg-open (install xdg-utils); `thoth ui` prints the address");
    return;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
}

std::string dictation_hint(const Config::Shortcuts& s) {
  if (s.record.empty()) return "Run `thoth toggle` to dictate";
  if (s.mode == "toggle") return "Press " + s.record + " to start and stop dictating";
  return "Hold " + s.record + " to dictate";
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonOptions& options) {
  auto config = load_config();
  if (!config) return make_error(config.error());
  auto run_dir = paths::ensure_runtime_dir();
  if (!run_dir) return make_error(run_dir.error());

  std::unique_ptr<Daemon> d(new Daemon);
  d->info_path_ = *run_dir / "daemon.json";
  // The kernel drops the lock when the process dies however it dies, so a crashed daemon
  // never blocks the next start.
  const auto lock_path = *run_dir / "daemon.lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return make_error("cannot open " + lock_path.string() + ": " + std::strerror(errno));
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    std::string where = "starting up";
    if (auto text = paths::read_file(d->info_path_)) {
      const json info = json::parse(*text, nullptr, false);
      if (info.is_object() && info.contains("pid"))
        where = "pid " + info["pid"].dump() + ", socket " + info.value("socket", std::string("?")) +
                (info.value("http_port", 0) ? ", http://127.0.0.1:" + std::to_string(info.value("http_port", 0)) : "");
    }
    return make_error("a daemon is already running (" + where + "); stop it first (thoth status shows it)");
  }
  d->lock_fd_ = lock_fd;  // from here on, ours to clean up

  auto rec_dir = paths::ensure_dir(paths::recordings_dir(), "recordings dir");
  if (!rec_dir) return make_error(rec_dir.error());
  // WAVs left by a killed dictation become readable again before anything else happens.
  (void)audio::recover_recordings(rec_dir->string());
  // Fail at start, not at the first dictation, on a bad config or a missing model.
  if (auto stages = pipeline::stages_from_config(*config); !stages) return make_error(stages.error());
  const bool http_enabled = config->server.enabled;
  const int port = options.http_port.value_or(config->server.port);
  std::string api_token;

  d->service_ = std::make_unique<DictationService>(std::move(*config),
                                                   ServiceOptions{options.model, options.device, rec_dir->string()});
  if (auto model = d->service_->resolve_model(); !model) return make_error(model.error());

  d->socket_path_ = *run_dir / "control.sock";
  if (http_enabled) {
    auto token = load_or_create_token(api_token_path());
    if (!token) return make_error(token.error());
    api_token = *token;
    d->http_ = std::make_unique<HttpApi>(*d->service_, *token);
    auto bound = d->http_->start(port);
    if (!bound) return make_error(bound.error());
    d->http_port_ = *bound;
  }

  // hands_free.enabled: a microphone or VAD model missing at start is reported (log and
  // status), not fatal: dictation by shortcut still works and `thoth hands-free on` retries.
  if (d->service_->config()->hands_free.enabled) {
    if (auto r = d->service_->set_hands_free(true); !r.ok())
      spdlog::warn("hands-free mode is off: {}", r.body.value("error", std::string("?")));
  }

  d->cues_ = std::make_unique<Cues>(d->service_->bus(), d->service_->config()->daemon.sounds,
                                    d->service_->config()->daemon.notifications);

  // The tray icon where the desktop has a session bus; without one the daemon runs the same.
  DictationService* service = d->service_.get();
  const int ui_port = d->http_port_;
  auto tray = Tray::start({[ui_port, api_token] { open_web_ui(ui_port, api_token); },
                           [service] { (void)service->toggle(); }},
                          dictation_hint(d->service_->config()->shortcuts));
  if (tray) {
    d->tray_ = std::move(*tray);
    d->tray_follower_ = std::make_unique<TrayFollower>(d->service_->bus(), *d->tray_);
  } else {
    spdlog::info("{}; no tray icon", tray.error());
  }

  // Global shortcuts: invalid ones stop the start (one line naming the key); a session
  // without global keys still runs, driven by `thoth toggle` and friends.
  d->keys_ = std::make_unique<ServiceKeys>(*d->service_);
  auto shortcuts = input::GlobalShortcuts::start(d->service_->config()->shortcuts, *d->keys_);
  if (!shortcuts) return make_error(shortcuts.error());
  d->shortcuts_ = std::move(*shortcuts);
  spdlog::info("shortcuts: {}", d->shortcuts_->status());
  // Settings saved through the API reach the shortcuts at once; invalid ones are refused.
  input::GlobalShortcuts* shortcuts_ptr = d->shortcuts_.get();
  d->service_->set_config_listener([shortcuts_ptr](const Config& config, bool apply) -> Result<void> {
    if (!apply) {
      if (auto s = input::shortcut_settings(config.shortcuts); !s) return make_error(s.error());
      return {};
    }
    if (auto r = shortcuts_ptr->reload(config.shortcuts); !r) spdlog::warn("shortcuts: {}", r.error());
    return {};
  });

  // A config edited by hand takes effect as PUT /api/config does; an invalid one is logged
  // and the settings in use stay.
  DictationService* service_ptr = d->service_.get();
  auto watch = FileWatcher::start(paths::config_file(), [service_ptr] {
    auto r = service_ptr->reload_config_file();
    if (!r)
      spdlog::error("config file not reloaded, the previous settings stay: {}", r.error());
    else if (*r)
      spdlog::info("config file changed: reloaded {}", paths::config_file().string());
  });
  if (!watch) return make_error(watch.error());
  d->config_watch_ = std::move(*watch);

  json info{{"pid", int(::getpid())}, {"socket", d->socket_path_.string()}, {"http_port", d->http_port_},
            {"shortcuts", d->shortcuts_->status()}};
  d->service_->set_status_extra(info);
  // The desktop portal answers later (maybe after asking the user): status shows it live.
  d->service_->set_status_field("shortcuts", [shortcuts_ptr] { return json(shortcuts_ptr->status()); });
  // The socket last: a client that reaches it finds the daemon complete.
  d->control_ = std::make_unique<ControlServer>(*d->service_);
  if (auto r = d->control_->start(d->socket_path_); !r) return make_error(r.error());
  if (auto r = paths::write_file_atomic(d->info_path_, info.dump() + "\n"); !r) return make_error(r.error());
  return d;
}

Daemon::~Daemon() { shutdown(); }

void Daemon::shutdown() {
  config_watch_.reset();  // it reloads into the service and the shortcuts
  // Keys first: nothing may start a dictation once shutdown has begun.
  if (service_) service_->set_config_listener(nullptr);  // it points at the shortcuts
  if (service_) service_->set_status_field({}, nullptr);  // so does this
  shortcuts_.reset();
  keys_.reset();
  cues_.reset();
  tray_follower_.reset();
  tray_.reset();  // its clicks reach the service
  // The dictation next, while the event streams still carry its last events.
  if (service_) service_->shutdown();
  if (http_) http_->stop();
  if (control_) control_->stop();
  http_.reset();
  control_.reset();
  service_.reset();
  if (lock_fd_ >= 0) {
    std::error_code ec;
    std::filesystem::remove(info_path_, ec);
    ::close(lock_fd_);  // releases the instance lock
    lock_fd_ = -1;
  }
}

}  // namespace thoth::server
