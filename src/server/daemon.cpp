#include "server/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "audio/capture.h"
#include "core/config.h"
#include "core/paths.h"
#include "pipeline/stage_adapters.h"
#include "server/control.h"
#include "server/http_api.h"
#include "server/service.h"

namespace thoth::server {

using nlohmann::json;

std::filesystem::path api_token_path() { return paths::data_dir() / "api-token"; }

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

  d->service_ = std::make_unique<DictationService>(std::move(*config),
                                                   ServiceOptions{options.model, options.device, rec_dir->string()});
  if (auto model = d->service_->resolve_model(); !model) return make_error(model.error());

  d->socket_path_ = *run_dir / "control.sock";
  if (http_enabled) {
    auto token = load_or_create_token(api_token_path());
    if (!token) return make_error(token.error());
    d->http_ = std::make_unique<HttpApi>(*d->service_, *token);
    auto bound = d->http_->start(port);
    if (!bound) return make_error(bound.error());
    d->http_port_ = *bound;
  }

  json info{{"pid", int(::getpid())}, {"socket", d->socket_path_.string()}, {"http_port", d->http_port_}};
  d->service_->set_status_extra(info);
  // The socket last: a client that reaches it finds the daemon complete.
  d->control_ = std::make_unique<ControlServer>(*d->service_);
  if (auto r = d->control_->start(d->socket_path_); !r) return make_error(r.error());
  if (auto r = paths::write_file_atomic(d->info_path_, info.dump() + "\n"); !r) return make_error(r.error());
  return d;
}

Daemon::~Daemon() { shutdown(); }

void Daemon::shutdown() {
  // The dictation first, while the event streams still carry its last events.
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
