// Notices a file being changed by hand (an editor saving it in place or replacing it by a
// rename) while the daemon runs: inotify on the file's directory, a thread of its own.
//
//   auto watch = FileWatcher::start(paths::config_file(), [&] { service.reload_config_file(); });
//   ...                                      // on_change runs on the watcher's thread
//   watch->reset();                          // stops and joins it
#pragma once
#include <filesystem>
#include <functional>
#include <memory>

#include "core/result.h"

namespace thoth::server {

class FileWatcher {
 public:
  // Creates the directory if missing (so a config written later is seen). `on_change` runs
  // on the watcher's thread after each completed write or rename onto `file`.
  static Result<std::unique_ptr<FileWatcher>> start(const std::filesystem::path& file, std::function<void()> on_change);
  ~FileWatcher();  // stops the thread and joins it; on_change is not running after this
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  struct Impl;

 private:
  explicit FileWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace thoth::server
