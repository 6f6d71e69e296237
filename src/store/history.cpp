#include "store/history.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

namespace thoth::store {
namespace {

// Schema history. Each step brings user_version from its index to index + 1; a released
// step is never edited, only new ones appended.
constexpr const char* kMigrations[] = {
    // v1: the columns the original app kept.
    R"sql(
CREATE TABLE history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at_ms INTEGER NOT NULL,
  text TEXT NOT NULL DEFAULT '',
  raw_text TEXT NOT NULL DEFAULT '',
  audio_duration_s REAL NOT NULL DEFAULT 0,
  audio_path TEXT NOT NULL DEFAULT '',
  enhanced INTEGER NOT NULL DEFAULT 0,
  enhancement_prompt TEXT NOT NULL DEFAULT '',
  transcription_model TEXT NOT NULL DEFAULT '',
  transcription_ms INTEGER,
  enhancement_model TEXT NOT NULL DEFAULT '',
  enhancement_ms INTEGER
);
CREATE INDEX history_created_at ON history(created_at_ms);
)sql",
    // v2: a duration for every stage, and how the dictation ended.
    R"sql(
ALTER TABLE history RENAME COLUMN transcription_ms TO transcribe_ms;
ALTER TABLE history RENAME COLUMN enhancement_ms TO enhance_ms;
ALTER TABLE history ADD COLUMN record_ms INTEGER;
ALTER TABLE history ADD COLUMN filter_ms INTEGER;
ALTER TABLE history ADD COLUMN output_ms INTEGER;
ALTER TABLE history ADD COLUMN status TEXT NOT NULL DEFAULT 'completed'
  CHECK (status IN ('completed', 'failed', 'cancelled', 'no-speech'));
ALTER TABLE history ADD COLUMN error TEXT NOT NULL DEFAULT '';
)sql",
    // v3: full-text search over final and raw text. External content: the text is stored
    // once, in history; triggers keep the index in step.
    R"sql(
CREATE VIRTUAL TABLE history_fts USING fts5(
  text, raw_text, content='history', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER history_fts_insert AFTER INSERT ON history BEGIN
  INSERT INTO history_fts(rowid, text, raw_text) VALUES (new.id, new.text, new.raw_text);
END;
CREATE TRIGGER history_fts_delete AFTER DELETE ON history BEGIN
  INSERT INTO history_fts(history_fts, rowid, text, raw_text)
    VALUES ('delete', old.id, old.text, old.raw_text);
END;
CREATE TRIGGER history_fts_update AFTER UPDATE OF text, raw_text ON history BEGIN
  INSERT INTO history_fts(history_fts, rowid, text, raw_text)
    VALUES ('delete', old.id, old.text, old.raw_text);
  INSERT INTO history_fts(rowid, text, raw_text) VALUES (new.id, new.text, new.raw_text);
END;
INSERT INTO history_fts(history_fts) VALUES ('rebuild');
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kColumns =
    "id, created_at_ms, text, raw_text, audio_duration_s, audio_path, enhanced, "
    "enhancement_prompt, transcription_model, enhancement_model, record_ms, transcribe_ms, "
    "filter_ms, enhance_ms, output_ms, status, error";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return stmt_; }

  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, const std::optional<int64_t>& v) {
    if (v) sqlite3_bind_int64(stmt_, i, *v);
    else sqlite3_bind_null(stmt_, i);
  }

  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::optional<int64_t> optional_int(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(stmt_, col);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

HistoryEntry read_entry(const Statement& s) {
  HistoryEntry e;
  sqlite3_stmt* st = s.get();
  e.id = sqlite3_column_int64(st, 0);
  e.created_at_ms = sqlite3_column_int64(st, 1);
  e.text = s.text(2);
  e.raw_text = s.text(3);
  e.audio_duration_s = sqlite3_column_double(st, 4);
  e.audio_path = s.text(5);
  e.enhanced = sqlite3_column_int(st, 6) != 0;
  e.enhancement_prompt = s.text(7);
  e.transcription_model = s.text(8);
  e.enhancement_model = s.text(9);
  e.durations.record_ms = s.optional_int(10);
  e.durations.transcribe_ms = s.optional_int(11);
  e.durations.filter_ms = s.optional_int(12);
  e.durations.enhance_ms = s.optional_int(13);
  e.durations.output_ms = s.optional_int(14);
  e.status = parse_status(s.text(15)).value_or(DictationStatus::failed);
  e.error = s.text(16);
  return e;
}

// The user's words as an FTS5 query: each word quoted (so FTS syntax characters in it are
// plain text) and matched as a prefix, all words required. Empty when no word has a letter
// or digit, since such a query can match nothing.
std::string fts_query(std::string_view search) {
  std::string query;
  size_t i = 0;
  while (i < search.size()) {
    while (i < search.size() && std::isspace(static_cast<unsigned char>(search[i]))) ++i;
    size_t j = i;
    while (j < search.size() && !std::isspace(static_cast<unsigned char>(search[j]))) ++j;
    std::string_view word = search.substr(i, j - i);
    bool has_alnum = false;
    for (char c : word) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x80 || std::isalnum(u)) has_alnum = true;
    }
    if (has_alnum) {
      if (!query.empty()) query += ' ';
      query += '"';
      for (char c : word) {
        if (c == '"') query += '"';
        query += c;
      }
      query += "\"*";
    }
    i = j;
  }
  return query;
}

std::string format_duration_ms(const std::optional<int64_t>& ms) {
  return ms ? std::to_string(*ms) : std::string();
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

// RFC 4180: quote a field holding a separator, quote or line break; double inner quotes.
std::string csv_field(std::string_view value) {
  bool needs_quotes = value.find_first_of(",\"\r\n") != std::string_view::npos ||
                      (!value.empty() && (value.front() == ' ' || value.back() == ' '));
  if (!needs_quotes) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::vector<std::string> export_values(const HistoryEntry& e) {
  return {std::to_string(e.id),
          format_timestamp(e.created_at_ms),
          std::string(to_string(e.status)),
          e.text,
          e.raw_text,
          format_seconds(e.audio_duration_s),
          e.audio_path,
          e.enhanced ? "true" : "false",
          e.enhancement_prompt,
          e.transcription_model,
          e.enhancement_model,
          format_duration_ms(e.durations.record_ms),
          format_duration_ms(e.durations.transcribe_ms),
          format_duration_ms(e.durations.filter_ms),
          format_duration_ms(e.durations.enhance_ms),
          format_duration_ms(e.durations.output_ms),
          e.error};
}

nlohmann::json optional_json(const std::optional<int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json entry_json(const HistoryEntry& e) {
  return nlohmann::json{
      {"id", e.id},
      {"created_at", format_timestamp(e.created_at_ms)},
      {"status", to_string(e.status)},
      {"text", e.text},
      {"raw_text", e.raw_text},
      {"audio_duration_s", std::round(e.audio_duration_s * 1000.0) / 1000.0},
      {"audio_path", e.audio_path},
      {"enhanced", e.enhanced},
      {"enhancement_prompt", e.enhancement_prompt},
      {"transcription_model", e.transcription_model},
      {"enhancement_model", e.enhancement_model},
      {"record_ms", optional_json(e.durations.record_ms)},
      {"transcribe_ms", optional_json(e.durations.transcribe_ms)},
      {"filter_ms", optional_json(e.durations.filter_ms)},
      {"enhance_ms", optional_json(e.durations.enhance_ms)},
      {"output_ms", optional_json(e.durations.output_ms)},
      {"error", e.error},
  };
}

}  // namespace

std::string_view to_string(DictationStatus status) {
  switch (status) {
    case DictationStatus::completed: return "completed";
    case DictationStatus::failed: return "failed";
    case DictationStatus::cancelled: return "cancelled";
    case DictationStatus::no_speech: return "no-speech";
  }
  return "failed";
}

std::optional<DictationStatus> parse_status(std::string_view text) {
  for (auto s : {DictationStatus::completed, DictationStatus::failed, DictationStatus::cancelled,
                 DictationStatus::no_speech}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::optional<ExportFormat> parse_export_format(std::string_view name) {
  if (name == "json") return ExportFormat::json;
  if (name == "csv") return ExportFormat::csv;
  if (name == "txt") return ExportFormat::txt;
  return std::nullopt;
}

const std::vector<std::string>& export_columns() {
  static const std::vector<std::string> columns = {
      "id", "created_at", "status", "text", "raw_text", "audio_duration_s", "audio_path",
      "enhanced", "enhancement_prompt", "transcription_model", "enhancement_model", "record_ms",
      "transcribe_ms", "filter_ms", "enhance_ms", "output_ms", "error"};
  return columns;
}

std::string format_timestamp(int64_t unix_ms) {
  const auto seconds = static_cast<std::time_t>(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
  const auto millis = static_cast<int>(unix_ms - static_cast<int64_t>(seconds) * 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::optional<int64_t> parse_timestamp(std::string_view iso) {
  const std::string s(iso);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, consumed = 0;
  char t = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &t, &h, &mi, &sec, &consumed) != 7 ||
      (t != 'T' && t != ' ') || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  size_t i = static_cast<size_t>(consumed);
  int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
      if (digits < 3) millis = millis * 10 + (s[i] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) millis *= 10;
  }
  int64_t offset_s = 0;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0, n = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d%n", &oh, &om, &n) != 2) return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 1 + static_cast<size_t>(n);
  }
  if (i != s.size()) return std::nullopt;
  // Days from the civil date (proleptic Gregorian), without timegm's dependence on TZ.
  const int yy = mo <= 2 ? y - 1 : y;
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  const int64_t seconds = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  return seconds * 1000 + millis;
}

// One connection per store. SQLite's own locking orders writers across connections and
// processes (WAL + busy timeout); this mutex only keeps one thread at a time on this
// connection so that an error message read after a failed call belongs to that call.
struct HistoryStore::Connection {
  sqlite3* db = nullptr;
  std::mutex mutex;
  ~Connection() { sqlite3_close_v2(db); }
};

HistoryStore::HistoryStore(std::filesystem::path path, std::unique_ptr<Connection> db)
    : path_(std::move(path)), db_(std::move(db)) {}
HistoryStore::HistoryStore(HistoryStore&&) noexcept = default;
HistoryStore& HistoryStore::operator=(HistoryStore&&) noexcept = default;
HistoryStore::~HistoryStore() = default;

int HistoryStore::schema_version() { return kSchemaVersion; }

namespace {

std::string db_error(sqlite3* db, const std::filesystem::path& path, std::string_view doing) {
  const int code = sqlite3_errcode(db);
  std::string msg = "history database " + path.string() + ": " + std::string(doing) + " failed: " +
                    sqlite3_errmsg(db);
  if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
    msg += " (the file is damaged or not a database; move it aside and Thoth starts a new one)";
  } else if (code == SQLITE_BUSY) {
    msg += " (another program holds the database locked)";
  } else if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM) {
    msg += " (check the file and folder permissions)";
  }
  return msg;
}

bool exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

Result<void> migrate(sqlite3* db, const std::filesystem::path& path) {
  // IMMEDIATE takes the write lock before reading the version, so two processes opening a
  // new file at once cannot both run the same migration.
  if (!exec(db, "BEGIN IMMEDIATE")) return make_error(db_error(db, path, "locking"));
  auto fail = [&](std::string message) -> Result<void> {
    exec(db, "ROLLBACK");
    return make_error(std::move(message));
  };
  int version = 0;
  {
    Statement s(db, "PRAGMA user_version");
    if (!s.prepared() || sqlite3_step(s.get()) != SQLITE_ROW) {
      return fail(db_error(db, path, "reading the schema version"));
    }
    version = sqlite3_column_int(s.get(), 0);
  }
  if (version > kSchemaVersion) {
    return fail("history database " + path.string() + " was written by a newer Thoth (schema v" +
                std::to_string(version) + ", this build knows up to v" +
                std::to_string(kSchemaVersion) + "); update Thoth or move the file aside");
  }
  if (version == 0) {
    Statement s(db, "SELECT count(*) FROM sqlite_master");
    if (!s.prepared() || sqlite3_step(s.get()) != SQLITE_ROW) {
      return fail(db_error(db, path, "reading the schema"));
    }
    if (sqlite3_column_int(s.get(), 0) != 0) {
      return fail("history database " + path.string() +
                  " is a SQLite file of another program (it has tables but no Thoth schema "
                  "version); move it aside or point Thoth at another data dir");
    }
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    if (!exec(db, kMigrations[v])) {
      return fail(db_error(db, path, "upgrading the schema to v" + std::to_string(v + 1)));
    }
  }
  if (version != kSchemaVersion) {
    const std::string set = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
    if (!exec(db, set.c_str())) return fail(db_error(db, path, "recording the schema version"));
  }
  if (!exec(db, "COMMIT")) return fail(db_error(db, path, "committing the schema upgrade"));
  return {};
}

}  // namespace

Result<HistoryStore> HistoryStore::open(const std::filesystem::path& path) {
  std::error_code ec;
  const auto parent = path.parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return make_error("cannot create the history folder " + parent.string() + ": " + ec.message());
    }
    std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
  }
  // Create the file ourselves so it is 0600 from the first byte; SQLite gives its -wal and
  // -shm files the same mode as the database.
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error("cannot open history database " + path.string() + ": " + std::strerror(errno));
  }
  ::close(fd);

  auto conn = std::make_unique<Connection>();
  const int rc = sqlite3_open_v2(path.c_str(), &conn->db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return make_error(conn->db ? db_error(conn->db, path, "opening")
                               : "cannot open history database " + path.string());
  }
  sqlite3* db = conn->db;
  sqlite3_extended_result_codes(db, 0);
  // Writers on other connections (the daemon while the CLI deletes) wait instead of failing.
  sqlite3_busy_timeout(db, 5000);
  {
    Statement s(db, "PRAGMA journal_mode = WAL");
    if (!s.prepared() || sqlite3_step(s.get()) != SQLITE_ROW) {
      return make_error(db_error(db, path, "opening"));
    }
    if (s.text(0) != "wal") {
      return make_error("history database " + path.string() + ": cannot switch to WAL mode (got " +
                        s.text(0) + "); is it on a network file system?");
    }
  }
  // NORMAL is durable across application crashes in WAL mode; only a power cut may lose
  // the last dictations, and it costs an fsync less per dictation.
  exec(db, "PRAGMA synchronous = NORMAL");
  auto migrated = migrate(db, path);
  if (!migrated) return make_error(migrated.error());
  return HistoryStore(path, std::move(conn));
}

Result<int64_t> HistoryStore::add(const HistoryEntry& e) {
  std::lock_guard lock(db_->mutex);
  sqlite3* db = db_->db;
  Statement s(db,
              "INSERT INTO history (created_at_ms, text, raw_text, audio_duration_s, audio_path, "
              "enhanced, enhancement_prompt, transcription_model, enhancement_model, record_ms, "
              "transcribe_ms, filter_ms, enhance_ms, output_ms, status, error) "
              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!s.prepared()) return make_error(db_error(db, path_, "storing a dictation"));
  s.bind(1, e.created_at_ms != 0 ? e.created_at_ms : now_ms());
  s.bind(2, e.text);
  s.bind(3, e.raw_text);
  s.bind(4, e.audio_duration_s);
  s.bind(5, e.audio_path);
  s.bind(6, static_cast<int64_t>(e.enhanced ? 1 : 0));
  s.bind(7, e.enhancement_prompt);
  s.bind(8, e.transcription_model);
  s.bind(9, e.enhancement_model);
  s.bind(10, e.durations.record_ms);
  s.bind(11, e.durations.transcribe_ms);
  s.bind(12, e.durations.filter_ms);
  s.bind(13, e.durations.enhance_ms);
  s.bind(14, e.durations.output_ms);
  s.bind(15, to_string(e.status));
  s.bind(16, e.error);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return make_error(db_error(db, path_, "storing a dictation"));
  }
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db));
}

Result<std::optional<HistoryEntry>> HistoryStore::get(int64_t id) {
  std::lock_guard lock(db_->mutex);
  sqlite3* db = db_->db;
  const std::string sql = std::string("SELECT ") + kColumns + " FROM history WHERE id = ?";
  Statement s(db, sql.c_str());
  if (!s.prepared()) return make_error(db_error(db, path_, "reading an entry"));
  s.bind(1, id);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return std::optional<HistoryEntry>(read_entry(s));
  if (rc == SQLITE_DONE) return std::optional<HistoryEntry>();
  return make_error(db_error(db, path_, "reading an entry"));
}

Result<std::vector<HistoryEntry>> HistoryStore::query_entries(const HistoryQuery& query,
                                                              bool oldest_first) {
  std::lock_guard lock(db_->mutex);
  sqlite3* db = db_->db;
  std::string sql = std::string("SELECT ") + kColumns + " FROM history WHERE 1";
  const std::string match = fts_query(query.search);
  if (!query.search.empty()) {
    if (match.empty()) return std::vector<HistoryEntry>();
    sql += " AND id IN (SELECT rowid FROM history_fts WHERE history_fts MATCH ?1)";
  }
  if (query.since_ms) sql += " AND created_at_ms >= ?2";
  if (query.until_ms) sql += " AND created_at_ms < ?3";
  sql += oldest_first ? " ORDER BY created_at_ms ASC, id ASC" : " ORDER BY created_at_ms DESC, id DESC";
  if (query.limit > 0) sql += " LIMIT ?4";
  Statement s(db, sql.c_str());
  if (!s.prepared()) return make_error(db_error(db, path_, "searching"));
  if (!match.empty()) s.bind(1, match);
  if (query.since_ms) s.bind(2, *query.since_ms);
  if (query.until_ms) s.bind(3, *query.until_ms);
  if (query.limit > 0) s.bind(4, static_cast<int64_t>(query.limit));
  std::vector<HistoryEntry> entries;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) entries.push_back(read_entry(s));
  if (rc != SQLITE_DONE) return make_error(db_error(db, path_, "searching"));
  return entries;
}

Result<std::vector<HistoryEntry>> HistoryStore::search(const HistoryQuery& query) {
  return query_entries(query, /*oldest_first=*/false);
}

Result<std::optional<HistoryEntry>> HistoryStore::remove(int64_t id) {
  std::lock_guard lock(db_->mutex);
  sqlite3* db = db_->db;
  // IMMEDIATE: read and delete under one write lock, so no other writer slips in between
  // and the read lock never has to be upgraded (which WAL cannot wait for).
  if (!exec(db, "BEGIN IMMEDIATE")) return make_error(db_error(db, path_, "deleting an entry"));
  auto fail = [&](std::string_view doing) -> Result<std::optional<HistoryEntry>> {
    std::string msg = db_error(db, path_, doing);
    exec(db, "ROLLBACK");
    return make_error(std::move(msg));
  };
  std::optional<HistoryEntry> entry;
  {
    const std::string sql = std::string("SELECT ") + kColumns + " FROM history WHERE id = ?";
    Statement s(db, sql.c_str());
    if (!s.prepared()) return fail("deleting an entry");
    s.bind(1, id);
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_ROW) entry = read_entry(s);
    else if (rc != SQLITE_DONE) return fail("deleting an entry");
  }
  if (entry) {
    Statement s(db, "DELETE FROM history WHERE id = ?");
    if (!s.prepared()) return fail("deleting an entry");
    s.bind(1, id);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("deleting an entry");
  }
  if (!exec(db, "COMMIT")) return fail("deleting an entry");
  return entry;
}

Result<void> HistoryStore::export_to(std::ostream& out, ExportFormat format,
                                     const HistoryQuery& query) {
  auto entries = query_entries(query, /*oldest_first=*/true);
  if (!entries) return make_error(entries.error());
  switch (format) {
    case ExportFormat::json: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& e : *entries) list.push_back(entry_json(e));
      // Replace rather than throw on text that is not valid UTF-8: an export never fails
      // because of one odd transcript.
      out << list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      break;
    }
    case ExportFormat::csv: {
      const auto& columns = export_columns();
      for (size_t i = 0; i < columns.size(); ++i) out << (i ? "," : "") << columns[i];
      out << "\r\n";
      for (const auto& e : *entries) {
        const auto values = export_values(e);
        for (size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << csv_field(values[i]);
        out << "\r\n";
      }
      break;
    }
    case ExportFormat::txt: {
      bool first = true;
      for (const auto& e : *entries) {
        if (!first) out << '\n';
        first = false;
        out << "#" << e.id << "  " << format_timestamp(e.created_at_ms) << "  "
            << to_string(e.status) << "  " << format_seconds(e.audio_duration_s) << " s";
        if (!e.transcription_model.empty()) out << "  " << e.transcription_model;
        if (e.enhanced) out << "  enhanced (" << e.enhancement_prompt << ")";
        out << '\n' << e.text << '\n';
        if (e.raw_text != e.text) out << "raw: " << e.raw_text << '\n';
        if (!e.error.empty()) out << "error: " << e.error << '\n';
        if (!e.audio_path.empty()) out << "audio: " << e.audio_path << '\n';
      }
      break;
    }
  }
  out.flush();
  if (!out) return make_error("writing the history export failed");
  return {};
}

}  // namespace thoth::store
