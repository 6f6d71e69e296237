#include "models/progress.h"

#include <algorithm>
#include <cmath>

namespace thoth::models {

std::string format_bytes(std::uint64_t bytes) {
  char buf[32];
  double b = static_cast<double>(bytes);
  if (bytes < 1000) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else if (bytes < 1000 * 1000) std::snprintf(buf, sizeof buf, "%.0f kB", b / 1e3);
  else if (bytes < 1000ull * 1000 * 1000) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  return buf;
}

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 99 * 3600) return "--:--";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

ProgressPrinter::ProgressPrinter(std::FILE* out, bool terminal, std::string label, Clock::time_point start)
    : out_(out), terminal_(terminal), label_(std::move(label)), start_(start) {}

double ProgressPrinter::rate(const DownloadProgress& p, Clock::time_point now) const {
  // Bytes of this session only: a resumed part arrived earlier and must not inflate the rate.
  double secs = std::chrono::duration<double>(now - start_).count();
  if (secs < 0.2 || p.done <= p.resumed_from) return 0;
  return static_cast<double>(p.done - p.resumed_from) / secs;
}

std::string ProgressPrinter::line(const DownloadProgress& p, Clock::time_point now, bool with_bar) const {
  const double r = rate(p, now);
  std::string line = label_ + (with_bar ? " " : ": ");
  if (p.total) {
    constexpr int kWidth = 30;
    double frac = std::min(1.0, static_cast<double>(p.done) / static_cast<double>(p.total));
    int filled = static_cast<int>(frac * kWidth);
    if (with_bar) {
      line += '[';
      line.append(static_cast<std::size_t>(filled), '#');
      line.append(static_cast<std::size_t>(kWidth - filled), '-');
      line += "] ";
    }
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3d%% ", static_cast<int>(frac * 100));
    line += pct;
    line += format_bytes(p.done) + " / " + format_bytes(p.total);
  } else {
    line += format_bytes(p.done);
  }
  line += "  " + (r > 0 ? format_bytes(static_cast<std::uint64_t>(r)) + "/s" : std::string("-- B/s"));
  if (p.total) {
    double eta = r > 0 ? static_cast<double>(p.total - std::min(p.total, p.done)) / r : NAN;
    line += "  ETA " + format_eta(eta);
  }
  return line;
}

void ProgressPrinter::update(const DownloadProgress& p, Clock::time_point now) {
  if (terminal_) {
    // ~10 redraws a second look live without costing the transfer anything.
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && p.done != p.total) return;
    std::fprintf(out_, "\r%s\033[K", line(p, now, true).c_str());
    std::fflush(out_);
    drawn_ = true;
    last_draw_ = now;
    return;
  }
  // Plain output: a line per tenth of the file (or per 10 s when the size is unknown).
  int decile = p.total ? static_cast<int>(std::min<std::uint64_t>(10, p.done * 10 / p.total))
                       : static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(now - start_).count() / 10);
  if (decile == last_decile_) return;
  if (last_decile_ < 0 && p.total && decile == 0 && p.done == 0) {
    last_decile_ = 0;  // "0%" is not news
    return;
  }
  last_decile_ = decile;
  std::fprintf(out_, "%s\n", line(p, now, false).c_str());
  std::fflush(out_);
}

void ProgressPrinter::finish() {
  if (terminal_ && drawn_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  drawn_ = false;
}

}  // namespace thoth::models
