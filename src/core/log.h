// Logging: spdlog to standard error (standard output belongs to results: transcripts,
// JSON). Everything in Thoth logs through spdlog's default logger (spdlog::info(...)).
#pragma once

namespace thoth::log {

// verbosity: -1 errors only (--quiet), 0 warnings and errors (default), 1 info (-v),
// 2 debug (-vv), 3 or more trace (-vvv). Debug and trace lines carry a timestamp and the
// thread, since they are read to follow concurrent stages.
void init(int verbosity);

// The same from the command line's flags: --quiet wins over -v.
inline void init(int verbose_count, bool quiet) { init(quiet ? -1 : verbose_count); }

}  // namespace thoth::log
