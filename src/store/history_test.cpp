#include "store/history.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "support/shared_data.h"

namespace thoth::store {
namespace {

using thoth::test::ScratchDir;

HistoryStore open_store(const std::filesystem::path& path) {
  auto store = HistoryStore::open(path);
  if (!store) {
    ADD_FAILURE() << store.error();
    std::abort();
  }
  return std::move(store).value();
}

HistoryQuery query(std::string search, std::optional<int64_t> since = {},
                   std::optional<int64_t> until = {}, int limit = 0) {
  HistoryQuery q;
  q.search = std::move(search);
  q.since_ms = since;
  q.until_ms = until;
  q.limit = limit;
  return q;
}

HistoryEntry sample(std::string text, int64_t created_at_ms = 1'700'000'000'000) {
  HistoryEntry e;
  e.created_at_ms = created_at_ms;
  e.text = text;
  e.raw_text = "um, " + text;
  e.audio_duration_s = 2.5;
  e.audio_path = "/data/recordings/2026-11-25_17-14-03.wav";
  e.transcription_model = "base.en";
  e.durations.record_ms = 2500;
  e.durations.transcribe_ms = 310;
  e.durations.filter_ms = 1;
  e.durations.output_ms = 12;
  return e;
}

int mode_of(const std::filesystem::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

// Runs SQL on a raw connection, as an older Thoth or another program would have.
void raw_sql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(HistoryStore, AddGetRoundTripsEveryColumn) {
  ScratchDir dir;
  auto store = open_store(dir / "history.db");
  HistoryEntry e = sample("Hello, world \u00E9t\u00E9 \u4E2D\u6587 \"quoted\"");
  e.enhanced = true;
  e.enhancement_prompt = "fix-grammar";
  e.enhancement_model = "llama3.2:3b";
  e.durations.enhance_ms = 840;
  e.status = DictationStatus::failed;
  e.error = "output: no typing method worked";
  auto id = store.add(e);
  ASSERT_TRUE(id) << id.error();
  e.id = *id;
  auto back = store.get(*id);
  ASSERT_TRUE(back) << back.error();
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ(**back, e);

  auto missing = store.get(*id + 100);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST(HistoryStore, CreatedAtDefaultsToNowAndMissingStagesStayEmpty) {
  ScratchDir dir;
  auto store = open_store(dir / "history.db");
  HistoryEntry e;
  e.status = DictationStatus::no_speech;
  e.durations.record_ms = 900;
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto id = store.add(e);
  ASSERT_TRUE(id);
  auto back = store.get(*id);
  ASSERT_TRUE(back && back->has_value());
  EXPECT_GE((*back)->created_at_ms, before);
  EXPECT_EQ((*back)->status, DictationStatus::no_speech);
  EXPECT_EQ((*back)->durations.record_ms, 900);
  EXPECT_FALSE((*back)->durations.transcribe_ms.has_value());
  EXPECT_FALSE((*back)->durations.enhance_ms.has_value());
}

TEST(HistoryStore, FileIsPrivateAndInWalMode) {
  ScratchDir dir;
  const auto path = dir / "nested" / "data" / "history.db";
  auto store = open_store(path);
  ASSERT_TRUE(store.add(sample("private")));
  EXPECT_EQ(mode_of(path), 0600);
  EXPECT_EQ(mode_of(path.string() + "-wal"), 0600);
  EXPECT_EQ(mode_of(path.parent_path()), 0700);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(HistoryStore, ReopenKeepsEntries) {
  ScratchDir dir;
  {
    auto store = open_store(dir / "h.db");
    ASSERT_TRUE(store.add(sample("kept across restarts")));
  }
  auto store = open_store(dir / "h.db");
  auto all = store.search({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].text, "kept across restarts");
}

TEST(HistoryStore, FullTextSearchOverTextAndRawText) {
  ScratchDir dir;
  auto store = open_store(dir / "h.db");
  auto a = sample("Meeting notes for the quarterly budget", 1000);
  auto b = sample("Buy milk and bread", 2000);
  b.raw_text = "by milk and bred";  // the engine's words differ from the final text
  auto c = sample("Le caf\u00E9 est ferm\u00E9 aujourd'hui", 3000);
  auto d = sample("Budget review moved to Friday", 4000);
  for (auto* e : {&a, &b, &c, &d}) ASSERT_TRUE(store.add(*e));

  auto texts = [&](HistoryQuery q) {
    auto r = store.search(q);
    EXPECT_TRUE(r) << r.error();
    std::vector<std::string> out;
    for (const auto& e : *r) out.push_back(e.text);
    return out;
  };
  EXPECT_EQ(texts(query("budget")),
            (std::vector<std::string>{"Budget review moved to Friday",
                                      "Meeting notes for the quarterly budget"}));
  EXPECT_EQ(texts(query("BUDG")).size(), 2u);               // prefix, any case
  EXPECT_EQ(texts(query("budget friday")).size(), 1u);      // every word required
  EXPECT_EQ(texts(query("bred")), (std::vector<std::string>{"Buy milk and bread"}));
  EXPECT_EQ(texts(query("cafe")).size(), 1u);               // diacritics folded
  EXPECT_EQ(texts(query("ferm\u00E9")).size(), 1u);
  EXPECT_TRUE(texts(query("nothing-like-this")).empty());
  // FTS syntax in user input is plain text, never an error.
  EXPECT_TRUE(texts(query("\"unbalanced AND OR NEAR( *")).empty());
  EXPECT_TRUE(texts(query("!!! ---")).empty());
  EXPECT_EQ(texts(query("aujourd'hui")).size(), 1u);
}

TEST(HistoryStore, DateFiltersAndLimitNewestFirst) {
  ScratchDir dir;
  auto store = open_store(dir / "h.db");
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(store.add(sample("entry " + std::to_string(i), i * 1000)));
  auto r = store.search(query("", 3000, 7000));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].text, "entry 6");
  EXPECT_EQ((*r)[3].text, "entry 3");
  auto limited = store.search(query("", {}, {}, 3));
  ASSERT_TRUE(limited);
  ASSERT_EQ(limited->size(), 3u);
  EXPECT_EQ((*limited)[0].text, "entry 10");
  auto both = store.search(query("entry", 9000, {}, 5));
  ASSERT_TRUE(both);
  EXPECT_EQ(both->size(), 2u);
}

TEST(HistoryStore, DeleteByIdRemovesFromSearchToo) {
  ScratchDir dir;
  auto store = open_store(dir / "h.db");
  auto keep = store.add(sample("keep this zebra"));
  auto drop = store.add(sample("drop this zebra"));
  ASSERT_TRUE(keep && drop);
  auto removed = store.remove(*drop);
  ASSERT_TRUE(removed) << removed.error();
  ASSERT_TRUE(removed->has_value());
  EXPECT_EQ((*removed)->text, "drop this zebra");
  EXPECT_EQ((*removed)->audio_path, sample("").audio_path);

  auto again = store.remove(*drop);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());

  auto found = store.search(query("zebra"));
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, *keep);
}

// A CSV reader written to RFC 4180, independent of the writer: quoted fields, doubled
// quotes, separators and line breaks inside quotes, CRLF records.
std::vector<std::vector<std::string>> parse_csv(const std::string& csv) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < csv.size(); ++i) {
    const char c = csv[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < csv.size() && csv[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"') {
      EXPECT_TRUE(field.empty()) << "quote inside an unquoted field";
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\r') {
      EXPECT_TRUE(i + 1 < csv.size() && csv[i + 1] == '\n') << "bare CR outside quotes";
    } else if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_TRUE(field.empty() && row.empty()) << "last record not terminated";
  return rows;
}

std::vector<HistoryEntry> tricky_entries() {
  auto a = sample("Plain text", 1'700'000'000'123);
  auto b = sample("Comma, \"quotes\" and\nnew line\r\nand CRLF", 1'700'000'060'000);
  b.raw_text = " leading and trailing spaces ";
  b.enhanced = true;
  b.enhancement_prompt = "make-professional";
  b.enhancement_model = "qwen2.5:7b";
  b.durations.enhance_ms = 1200;
  auto c = sample("\u00C9t\u00E9 \u4E2D\u6587 \U0001F600", 1'700'000'120'000);
  c.status = DictationStatus::cancelled;
  c.error = "cancelled during recording";
  c.durations = {};
  c.durations.record_ms = 700;
  return {a, b, c};
}

TEST(HistoryExport, CsvHasEveryColumnAndParsesBack) {
  ScratchDir dir;
  auto store = open_store(dir / "h.db");
  auto entries = tricky_entries();
  for (auto& e : entries) e.id = *store.add(e);
  std::ostringstream out;
  ASSERT_TRUE(store.export_to(out, ExportFormat::csv));
  const auto rows = parse_csv(out.str());
  ASSERT_EQ(rows.size(), entries.size() + 1);
  EXPECT_EQ(rows[0], export_columns());
  EXPECT_EQ(rows[0].size(), 17u);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& row = rows[i + 1];
    const auto& e = entries[i];  // oldest first
    ASSERT_EQ(row.size(), 17u);
    EXPECT_EQ(row[0], std::to_string(e.id));
    EXPECT_EQ(row[1], format_timestamp(e.created_at_ms));
    EXPECT_EQ(row[2], to_string(e.status));
    EXPECT_EQ(row[3], e.text);
    EXPECT_EQ(row[4], e.raw_text);
    EXPECT_EQ(row[5], "2.500");
    EXPECT_EQ(row[6], e.audio_path);
    EXPECT_EQ(row[7], e.enhanced ? "true" : "false");
    EXPECT_EQ(row[8], e.enhancement_prompt);
    EXPECT_EQ(row[9], e.transcription_model);
    EXPECT_EQ(row[10], e.enhancement_model);
    EXPECT_EQ(row[11], e.durations.record_ms ? std::to_string(*e.durations.record_ms) : "");
    EXPECT_EQ(row[12], e.durations.transcribe_ms ? std::to_string(*e.durations.transcribe_ms) : "");
    EXPECT_EQ(row[14], e.durations.enhance_ms ? std::to_string(*e.durations.enhance_ms) : "");
    EXPECT_EQ(row[16], e.error);
  }
  EXPECT_EQ(rows[1][1], "2023-11-14T22:13:20.123Z");
}

TEST(HistoryExport, JsonArrayOfObjects) {
  ScratchDir dir;
  auto store = open_store(dir / "h.db");
  auto entries = tricky_entries();
  for (auto& e : entries) e.id = *store.add(e);
  std::ostringstream out;
  ASSERT_TRUE(store.export_to(out, ExportFormat::json));
  auto json = nlohmann::json::parse(out.str());
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 3u);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& j = json[i];
    const auto& e = entries[i];
    for (const auto& column : export_columns()) EXPECT_TRUE(j.contains(column)) << column;
    EXPECT_EQ(j["id"], e.id);
    EXPECT_EQ(j["text"], e.text);
    EXPECT_EQ(j["raw_text"], e.raw_text);
    EXPECT_EQ(j["status"], std::string(to_string(e.status)));
    EXPECT_EQ(j["enhanced"], e.enhanced);
    EXPECT_DOUBLE_EQ(j["audio_duration_s"].get<double>(), 2.5);
  }
  EXPECT_TRUE(json[2]["transcribe_ms"].is_null());
  EXPECT_EQ(json[2]["record_ms"], 700);
  EXPECT_EQ(json[1]["enhance_ms"], 1200);
}

TEST(HistoryExport, TxtOneBlockPerEntry) {
  ScratchDir dir;
  auto store = open_store(dir / "h.db");
  auto entries = tricky_entries();
  for (auto& e : entries) e.id = *store.add(e);
  std::ostringstream out;
  ASSERT_TRUE(store.export_to(out, ExportFormat::txt));
  const std::string txt = out.str();
  size_t headers = 0;
  for (const auto& e : entries) {
    std::string header = "#";
    header += std::to_string(e.id);
    header += "  ";
    header += format_timestamp(e.created_at_ms);
    EXPECT_NE(txt.find(header), std::string::npos) << header;
    EXPECT_NE(txt.find(e.text), std::string::npos);
    ++headers;
  }
  EXPECT_EQ(headers, 3u);
  EXPECT_NE(txt.find("error: cancelled during recording"), std::string::npos);
  EXPECT_NE(txt.find("enhanced (make-professional)"), std::string::npos);
  EXPECT_NE(txt.find("raw: um, Plain text"), std::string::npos);
}

TEST(HistoryExport, FollowsTheQuery) {
  ScratchDir dir;
  auto store = open_store(dir / "h.db");
  for (auto& e : tricky_entries()) ASSERT_TRUE(store.add(e));
  std::ostringstream out;
  ASSERT_TRUE(store.export_to(out, ExportFormat::json, query("plain")));
  EXPECT_EQ(nlohmann::json::parse(out.str()).size(), 1u);
}

// The schema an earlier release wrote (v1: the original app's columns), with data in it.
void write_v1_database(const std::filesystem::path& path) {
  raw_sql(path, R"sql(
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
INSERT INTO history (created_at_ms, text, raw_text, audio_duration_s, audio_path, enhanced,
  enhancement_prompt, transcription_model, transcription_ms, enhancement_model, enhancement_ms)
VALUES (1000, 'Old entry about penguins', 'old entry about penguins', 1.5, '/a.wav', 1,
  'fix-grammar', 'tiny.en', 120, 'llama3', 900),
       (2000, 'Second old one', 'second old one', 3, '/b.wav', 0, '', 'tiny.en', 200, '', NULL);
PRAGMA user_version = 1;
)sql");
}

TEST(HistoryMigration, UpgradesV1DatabaseKeepingData) {
  ScratchDir dir;
  const auto path = dir / "h.db";
  write_v1_database(path);
  auto store = open_store(path);
  auto all = store.search({});
  ASSERT_TRUE(all) << all.error();
  ASSERT_EQ(all->size(), 2u);
  const auto& old = (*all)[1];
  EXPECT_EQ(old.text, "Old entry about penguins");
  EXPECT_EQ(old.durations.transcribe_ms, 120);  // renamed column keeps its values
  EXPECT_EQ(old.durations.enhance_ms, 900);
  EXPECT_TRUE(old.enhanced);
  EXPECT_EQ(old.enhancement_model, "llama3");
  EXPECT_EQ(old.status, DictationStatus::completed);
  EXPECT_FALSE(old.durations.record_ms.has_value());
  // Rows from before full-text search existed are indexed by the upgrade.
  auto found = store.search(query("penguins"));
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  // New rows continue after the old ids.
  auto id = store.add(sample("new after upgrade"));
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, 3);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), HistoryStore::schema_version());
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(HistoryMigration, UpgradesV2Database) {
  ScratchDir dir;
  const auto path = dir / "h.db";
  write_v1_database(path);
  raw_sql(path, R"sql(
ALTER TABLE history RENAME COLUMN transcription_ms TO transcribe_ms;
ALTER TABLE history RENAME COLUMN enhancement_ms TO enhance_ms;
ALTER TABLE history ADD COLUMN record_ms INTEGER;
ALTER TABLE history ADD COLUMN filter_ms INTEGER;
ALTER TABLE history ADD COLUMN output_ms INTEGER;
ALTER TABLE history ADD COLUMN status TEXT NOT NULL DEFAULT 'completed';
ALTER TABLE history ADD COLUMN error TEXT NOT NULL DEFAULT '';
UPDATE history SET status = 'failed', error = 'engine crashed' WHERE id = 2;
PRAGMA user_version = 2;
)sql");
  auto store = open_store(path);
  auto found = store.search(query("second"));
  ASSERT_TRUE(found) << found.error();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].status, DictationStatus::failed);
  EXPECT_EQ((*found)[0].error, "engine crashed");
}

TEST(HistoryMigration, NewerSchemaIsRefusedClearly) {
  ScratchDir dir;
  const auto path = dir / "h.db";
  { auto store = open_store(path); }
  raw_sql(path, "PRAGMA user_version = 99");
  auto store = HistoryStore::open(path);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().find("newer Thoth"), std::string::npos) << store.error();
  EXPECT_NE(store.error().find(path.string()), std::string::npos);
}

TEST(HistoryStoreErrors, GarbageFileGivesClearError) {
  ScratchDir dir;
  const auto path = dir / "history.db";
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 8192; ++i) f.put(static_cast<char>((i * 7919) & 0xFF));
  }
  auto store = HistoryStore::open(path);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().find(path.string()), std::string::npos) << store.error();
  EXPECT_NE(store.error().find("not a database"), std::string::npos) << store.error();
  EXPECT_NE(store.error().find("move it aside"), std::string::npos) << store.error();
}

TEST(HistoryStoreErrors, DamagedPagesGiveClearErrorNotCrash) {
  ScratchDir dir;
  const auto path = dir / "history.db";
  {
    auto store = open_store(path);
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(store.add(sample("row " + std::to_string(i) + std::string(200, 'x'))));
    }
  }  // last connection closed: the WAL is checkpointed into the main file
  const auto size = std::filesystem::file_size(path);
  ASSERT_GT(size, 4096u * 8);
  {
    // Keep page 1 (header and schema), scribble over everything after it.
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096);
    for (uint64_t i = 4096; i < size; ++i) f.put(static_cast<char>((i * 31 + 7) & 0xFF));
  }
  auto store = HistoryStore::open(path);
  std::string error;
  if (!store) {
    error = store.error();
  } else {
    auto all = store->search({});
    ASSERT_FALSE(all) << "reading a scribbled-over database succeeded";
    error = all.error();
  }
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;
  EXPECT_NE(error.find("malformed"), std::string::npos) << error;
}

TEST(HistoryStoreErrors, ForeignSqliteFileIsNotTakenOver) {
  ScratchDir dir;
  const auto path = dir / "other.db";
  raw_sql(path, "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');");
  auto store = HistoryStore::open(path);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().find("another program"), std::string::npos) << store.error();
}

TEST(HistoryStoreErrors, UnwritableFolderGivesClearError) {
  if (::geteuid() == 0) {
    // root ignores permission bits; a path under a regular file fails for everyone.
  }
  ScratchDir dir;
  { std::ofstream f(dir / "file"); }
  auto store = HistoryStore::open(dir / "file" / "history.db");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().find((dir / "file").string()), std::string::npos) << store.error();
}

TEST(HistoryStoreConcurrency, TwoConnectionsWritingAtOnce) {
  ScratchDir dir;
  const auto path = dir / "h.db";
  { auto init = open_store(path); }
  constexpr int kPerThread = 150;
  std::vector<int64_t> ids[2];
  std::vector<std::string> errors[2];
  auto writer = [&](int t) {
    auto store = HistoryStore::open(path);
    if (!store) {
      errors[t].push_back(store.error());
      return;
    }
    for (int i = 0; i < kPerThread; ++i) {
      auto id = store->add(sample((t == 0 ? "alpha" : "bravo") + std::string(" line ") + std::to_string(i)));
      if (id) ids[t].push_back(*id);
      else errors[t].push_back(id.error());
    }
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  EXPECT_TRUE(errors[0].empty()) << errors[0].front();
  EXPECT_TRUE(errors[1].empty()) << errors[1].front();
  std::set<int64_t> unique(ids[0].begin(), ids[0].end());
  unique.insert(ids[1].begin(), ids[1].end());
  EXPECT_EQ(unique.size(), 2u * kPerThread);
  auto store = open_store(path);
  auto all = store.search({});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2u * kPerThread);
  auto w1 = store.search(query("bravo"));
  ASSERT_TRUE(w1);
  EXPECT_EQ(w1->size(), static_cast<size_t>(kPerThread));
}

TEST(HistoryStoreConcurrency, OneStoreSharedByThreads) {
  ScratchDir dir;
  auto store = open_store(dir / "h.db");
  std::atomic<int> failures{0};
  auto work = [&](int t) {
    for (int i = 0; i < 100; ++i) {
      auto id = store.add(sample("shared " + std::to_string(t)));
      if (!id) ++failures;
      if (!store.search(query("shared", {}, {}, 5))) ++failures;
    }
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = store.search({});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 200u);
}

TEST(Timestamps, FormatAndParseRoundTrip) {
  for (int64_t ms : {int64_t{0}, int64_t{1'700'000'000'123}, int64_t{951'782'400'000} /* 2000-02-29 */,
                     int64_t{4'102'444'799'999}}) {
    EXPECT_EQ(parse_timestamp(format_timestamp(ms)), ms) << format_timestamp(ms);
  }
  EXPECT_EQ(format_timestamp(1'700'000'000'123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(parse_timestamp("2023-11-14T22:13:20Z"), 1'700'000'000'000);
  EXPECT_EQ(parse_timestamp("2023-11-14 22:13:20.5"), 1'700'000'000'500);
  EXPECT_EQ(parse_timestamp("2023-11-15T00:13:20+02:00"), 1'700'000'000'000);
  EXPECT_EQ(parse_timestamp("2023-11-14T17:13:20.123456-05:00"), 1'700'000'000'123);
  EXPECT_FALSE(parse_timestamp("2023-11-14"));
  EXPECT_FALSE(parse_timestamp("2023-13-14T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2023-11-14T00:00:00Zjunk"));
  EXPECT_FALSE(parse_timestamp("yesterday"));
}

TEST(HistoryStore, StatusNamesRoundTrip) {
  for (auto s : {DictationStatus::completed, DictationStatus::failed, DictationStatus::cancelled,
                 DictationStatus::no_speech}) {
    EXPECT_EQ(parse_status(to_string(s)), s);
  }
  EXPECT_FALSE(parse_status("done"));
  EXPECT_EQ(parse_export_format("csv"), ExportFormat::csv);
  EXPECT_FALSE(parse_export_format("xml"));
}

}  // namespace
}  // namespace thoth::store
