// Model downloads started from the HTTP API: one at a time, on a thread this object owns,
// with the progress the API reports (GET /api/models/pull).
#pragma once
#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/service.h"

namespace thoth::server {

class ModelPull {
 public:
  ModelPull() = default;
  ~ModelPull();  // cancels a running download (its part file stays, to be resumed) and joins
  ModelPull(const ModelPull&) = delete;
  ModelPull& operator=(const ModelPull&) = delete;

  // 202 started, 200 already installed, 404 unknown name, 409 another pull is running.
  CommandResult start(const std::string& name);
  // {"name", "state": idle|downloading|done|failed, "done", "total", "error", "file"}
  nlohmann::json status() const;

 private:
  mutable std::mutex mutex_;  // guards status_ (brief)
  nlohmann::json status_ = {{"state", "idle"}};
  std::atomic<bool> running_{false};
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace thoth::server
