// thoth history [--search Q] [--limit N] [--since DATE] [--until DATE]
// thoth history export --format json|csv|txt [-o FILE] [--search Q] [--since] [--until]
// thoth history rm ID
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "core/paths.h"
#include "store/history.h"

namespace thoth::cli {
namespace {

struct HistoryArgs {
  std::string search;
  int limit = 20;
  std::string since;
  std::string until;
  std::string format;
  std::string output;
  int64_t id = 0;
};

// "YYYY-MM-DD" or "YYYY-MM-DD HH:MM[:SS]" (also with T), in local time, as Unix ms.
// A bare date given as an upper bound means the end of that day.
std::optional<int64_t> parse_date(const std::string& text, bool end_of_day) {
  std::tm tm{};
  int fields = 0;
  int sec = 0;
  char sep = 0;
  fields = std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                       &tm.tm_mday, &sep, &tm.tm_hour, &tm.tm_min, &sec);
  const bool date_only = fields == 3;
  if (!(date_only || ((fields == 6 || fields == 7) && (sep == ' ' || sep == 'T')))) return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31) return std::nullopt;
  tm.tm_sec = fields == 7 ? sec : 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  if (date_only && end_of_day) tm.tm_mday += 1;
  const std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t) * 1000;
}

std::string local_time(int64_t unix_ms) {
  const auto t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

Result<store::HistoryQuery> make_query(const HistoryArgs& args, int limit) {
  store::HistoryQuery q;
  q.search = args.search;
  q.limit = limit;
  if (!args.since.empty()) {
    q.since_ms = parse_date(args.since, false);
    if (!q.since_ms) return make_error("--since " + args.since + ": expected YYYY-MM-DD or \"YYYY-MM-DD HH:MM\"");
  }
  if (!args.until.empty()) {
    q.until_ms = parse_date(args.until, true);
    if (!q.until_ms) return make_error("--until " + args.until + ": expected YYYY-MM-DD or \"YYYY-MM-DD HH:MM\"");
  }
  return q;
}

Result<store::HistoryStore> open_history() {
  auto dir = paths::ensure_dir(paths::data_dir(), "data dir");
  if (!dir) return make_error(dir.error());
  return store::HistoryStore::open(paths::history_db());
}

int fail(const std::string& message) {
  std::fprintf(stderr, "thoth: %s\n", message.c_str());
  return 1;
}

int run_list(const HistoryArgs& args) {
  if (args.limit < 0) return fail("--limit must be 0 (all) or more");
  auto query = make_query(args, args.limit);
  if (!query) return fail(query.error());
  auto history = open_history();
  if (!history) return fail(history.error());
  auto entries = history->search(*query);
  if (!entries) return fail(entries.error());
  if (entries->empty()) {
    std::fprintf(stderr, args.search.empty() ? "thoth: no dictations in the history yet\n"
                                             : "thoth: no dictation matches\n");
    return 0;
  }
  for (const auto& e : *entries) {
    std::string text = e.text.empty() ? e.raw_text : e.text;
    for (char& c : text) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    std::string line = std::to_string(e.id) + "\t" + local_time(e.created_at_ms) + "\t" +
                       std::string(store::to_string(e.status)) + "\t" + text;
    if (!e.error.empty()) line += "  [" + e.error + "]";
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

int run_export(const HistoryArgs& args) {
  auto format = store::parse_export_format(args.format);
  if (!format) return fail("--format " + args.format + ": expected json, csv or txt");
  auto query = make_query(args, 0);
  if (!query) return fail(query.error());
  auto history = open_history();
  if (!history) return fail(history.error());
  if (args.output.empty() || args.output == "-") {
    auto written = history->export_to(std::cout, *format, *query);
    return written ? 0 : fail(written.error());
  }
  std::ostringstream out;
  auto written = history->export_to(out, *format, *query);
  if (!written) return fail(written.error());
  // The export holds everything the user said: same 0600 treatment as the database.
  auto saved = paths::write_file_atomic(args.output, out.str());
  if (!saved) return fail(saved.error());
  return 0;
}

int run_remove(const HistoryArgs& args) {
  auto history = open_history();
  if (!history) return fail(history.error());
  auto removed = history->remove(args.id);
  if (!removed) return fail(removed.error());
  if (!removed->has_value()) return fail("no history entry with id " + std::to_string(args.id));
  const auto& entry = **removed;
  std::string message = "removed entry " + std::to_string(entry.id);
  if (!entry.audio_path.empty()) {
    std::error_code ec;
    if (std::filesystem::remove(entry.audio_path, ec)) {
      message += " and its recording " + entry.audio_path;
    } else if (ec) {
      message += "; its recording " + entry.audio_path + " could not be deleted: " + ec.message();
    }
  }
  std::fprintf(stderr, "thoth: %s\n", message.c_str());
  return 0;
}

void add_filters(CLI::App* app, HistoryArgs& args) {
  app->add_option("-s,--search", args.search, "Only dictations containing these words (prefixes)");
  app->add_option("--since", args.since, "Only from this date/time on (YYYY-MM-DD[ HH:MM])");
  app->add_option("--until", args.until, "Only before this date/time (a bare date includes that day)");
}

}  // namespace

void add_history_command(CLI::App& app, const GlobalOptions& /*global*/) {
  static HistoryArgs args;
  auto* history = app.add_subcommand("history", "List, search, export and delete past dictations");
  add_filters(history, args);
  history->add_option("-n,--limit", args.limit, "Show at most N dictations, newest first (0: all)")
      ->capture_default_str();
  on_run(history, [] { return run_list(args); });

  auto* exp = history->add_subcommand("export", "Write the history as JSON, CSV or TXT");
  exp->add_option("-f,--format", args.format, "json, csv or txt")->required();
  exp->add_option("-o,--output", args.output, "File to write (default: standard output)");
  add_filters(exp, args);
  on_run(exp, [] { return run_export(args); });

  auto* rm = history->add_subcommand("rm", "Delete one dictation and its recording");
  rm->add_option("id", args.id, "Entry id, as `thoth history` lists it")->required();
  on_run(rm, [] { return run_remove(args); });
}

}  // namespace thoth::cli
