#include "server/model_pull.h"

#include <filesystem>

#include "models/catalog.h"
#include "models/download.h"
#include "models/lookup.h"

namespace thoth::server {

using nlohmann::json;

ModelPull::~ModelPull() {
  cancel_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

json ModelPull::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

CommandResult ModelPull::start(const std::string& name) {
  auto entries = models::catalog();
  if (!entries) return {500, json{{"error", entries.error()}}};
  const models::ModelEntry* entry = models::find_entry(*entries, name);
  if (!entry) return {404, json{{"error", "unknown model '" + name + "' (GET /api/models lists them)"}}};
  auto target = models::pull_target(*entry);
  if (!target) return {409, json{{"error", target.error()}}};
  const std::filesystem::path dest = target->dest;
  if (target->installed)
    return {200, json{{"name", entry->name}, {"state", "done"}, {"file", dest.string()}, {"installed", true}}};
  bool expected = false;
  if (!running_.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
    return {409, json{{"error", "a model download is already running (" + status().value("name", std::string()) + ")"}}};
  // The previous pull's thread has ended (running_ was false); reap it before starting anew.
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mutex_);
    status_ = json{{"name", entry->name}, {"state", "downloading"}, {"done", 0}, {"total", entry->bytes},
                   {"file", dest.string()}};
  }
  thread_ = std::thread([this, entry = *entry, dest] {
    models::DownloadOptions options;
    options.cancel = &cancel_;
    options.on_progress = [&](const models::DownloadProgress& p) {
      std::lock_guard lock(mutex_);
      status_["done"] = p.done;
      if (p.total) status_["total"] = p.total;
    };
    auto r = models::download({models::model_url(entry), dest, entry.bytes, entry.sha256}, options);
    {
      std::lock_guard lock(mutex_);
      status_["state"] = r ? "done" : "failed";
      if (r) status_["done"] = entry.bytes;
      else status_["error"] = r.error();
    }
    running_.store(false, std::memory_order_release);
  });
  return {202, json{{"name", entry->name}, {"state", "downloading"}}};
}

}  // namespace thoth::server
