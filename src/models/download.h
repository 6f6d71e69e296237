// Fetches one model file over HTTP(S) with libcurl: resumable (`<file>.part` + Range), hashed
// while streaming, renamed into place only when the SHA-256 matches.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "core/result.h"

namespace thoth::models {

struct DownloadProgress {
  std::uint64_t done = 0;          // bytes of the file on disk so far (including a resumed part)
  std::uint64_t total = 0;         // expected size, 0 when unknown
  std::uint64_t resumed_from = 0;  // bytes that were already there when this transfer began
};

struct DownloadOptions {
  std::chrono::milliseconds connect_timeout{15000};
  // The transfer fails when no byte arrives for this long (a silent server or a dead link).
  std::chrono::seconds stall_timeout{30};
  // Called from the downloading thread, often: keep it cheap.
  std::function<void(const DownloadProgress&)> on_progress;
  // Set from any thread (or a signal handler) to stop the transfer; the part file is kept.
  const std::atomic<bool>* cancel = nullptr;
};

struct DownloadRequest {
  std::string url;
  std::filesystem::path destination;  // the final file; `<destination>.part` while in progress
  std::uint64_t expected_bytes = 0;   // 0: unknown
  std::string expected_sha256;        // lowercase hex; empty: not checked
};

// Where a partial download and a refused (bad checksum) download are kept.
std::filesystem::path part_path(const std::filesystem::path& destination);
std::filesystem::path rejected_path(const std::filesystem::path& destination);

// Downloads `request.url` to `request.destination`. On error the message is one line naming the
// file or server and what to do; a partial file is kept for the next attempt to resume.
Result<void> download(const DownloadRequest& request, const DownloadOptions& options = {});

}  // namespace thoth::models
