// Every dictation, kept in one SQLite file: what was heard, what was written, how long each
// stage took, and what went wrong. WAL mode, so the daemon writes while the CLI reads.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace thoth::store {

enum class DictationStatus { completed, failed, cancelled, no_speech };

std::string_view to_string(DictationStatus status);
std::optional<DictationStatus> parse_status(std::string_view text);

// Milliseconds per pipeline stage; empty when the stage did not run.
struct StageDurations {
  std::optional<int64_t> record_ms;
  std::optional<int64_t> transcribe_ms;
  std::optional<int64_t> filter_ms;
  std::optional<int64_t> enhance_ms;
  std::optional<int64_t> output_ms;
  bool operator==(const StageDurations&) const = default;
};

struct HistoryEntry {
  int64_t id = 0;                 // assigned by add()
  int64_t created_at_ms = 0;      // Unix time; add() fills in now when 0
  std::string text;               // final text (what was typed)
  std::string raw_text;           // what the engine returned
  double audio_duration_s = 0;
  std::string audio_path;         // the recording, kept even when a stage failed
  bool enhanced = false;
  std::string enhancement_prompt; // template name or text used
  std::string transcription_model;
  std::string enhancement_model;
  StageDurations durations;       // transcribe_ms / enhance_ms are the model durations
  DictationStatus status = DictationStatus::completed;
  std::string error;              // why it failed, or what was skipped (e.g. enhancement)
  bool operator==(const HistoryEntry&) const = default;
};

struct HistoryQuery {
  std::string search;                    // words matched in text and raw text (prefixes)
  std::optional<int64_t> since_ms;       // created_at >= since
  std::optional<int64_t> until_ms;       // created_at <  until
  int limit = 0;                         // 0: no limit
};

enum class ExportFormat { json, csv, txt };
std::optional<ExportFormat> parse_export_format(std::string_view name);

class HistoryStore {
 public:
  // Opens or creates the database (0600, parent dirs 0700) and brings its schema up to
  // date. A file that is not a Thoth history database gives an error naming it.
  static Result<HistoryStore> open(const std::filesystem::path& path);

  // The schema version this build writes.
  static int schema_version();

  // Stores `entry` and returns its id. Safe to call from several threads at once and from
  // several processes on the same file.
  Result<int64_t> add(const HistoryEntry& entry);

  Result<std::optional<HistoryEntry>> get(int64_t id);

  // Newest first.
  Result<std::vector<HistoryEntry>> search(const HistoryQuery& query);

  // Removes the entry and returns it (its audio file is the caller's to delete), or empty
  // when there is no such id.
  Result<std::optional<HistoryEntry>> remove(int64_t id);

  // Writes the entries `query` selects, oldest first: JSON array of objects, CSV with a
  // header and every column (RFC 4180 quoting), or TXT with one block per entry.
  Result<void> export_to(std::ostream& out, ExportFormat format, const HistoryQuery& query = {});

  const std::filesystem::path& path() const { return path_; }

  HistoryStore(HistoryStore&&) noexcept;
  HistoryStore& operator=(HistoryStore&&) noexcept;
  ~HistoryStore();

 private:
  struct Connection;
  HistoryStore(std::filesystem::path path, std::unique_ptr<Connection> db);
  Result<std::vector<HistoryEntry>> query_entries(const HistoryQuery& query, bool oldest_first);
  std::filesystem::path path_;
  std::unique_ptr<Connection> db_;
};

// ISO 8601 UTC with milliseconds: "2026-11-25T17:14:03.123Z".
std::string format_timestamp(int64_t unix_ms);

// Reads "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" (a space may stand for the T) as Unix ms.
std::optional<int64_t> parse_timestamp(std::string_view iso);

// The columns in export order, as named in JSON and the CSV header.
const std::vector<std::string>& export_columns();

}  // namespace thoth::store
