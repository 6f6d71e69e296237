// Download progress for people: a redrawn bar on a terminal (bytes, rate, ETA), plain lines
// at coarse steps otherwise (logs, pipes, CI), so neither floods its reader.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "models/download.h"

namespace thoth::models {

std::string format_bytes(std::uint64_t bytes);  // "812 kB", "147.9 MB", "1.53 GB"
std::string format_eta(double seconds);         // "0:42", "12:05", "1:02:03", "--:--" if unknown

class ProgressPrinter {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressPrinter(std::FILE* out, bool terminal, std::string label, Clock::time_point start = Clock::now());

  void update(const DownloadProgress& p) { update(p, Clock::now()); }
  void update(const DownloadProgress& p, Clock::time_point now);
  // Ends the bar's line on a terminal; call once when the transfer is over (either way).
  void finish();

  // One rendering of the state: with the bar as a terminal shows it (without "\r"), or
  // without it as a plain line.
  std::string line(const DownloadProgress& p, Clock::time_point now, bool with_bar) const;

 private:
  double rate(const DownloadProgress& p, Clock::time_point now) const;

  std::FILE* out_;
  bool terminal_;
  std::string label_;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
  bool drawn_ = false;
  int last_decile_ = -1;
};

}  // namespace thoth::models
