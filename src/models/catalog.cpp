#include "models/catalog.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace thoth::models {
namespace {

// The publisher's model repository (ggerganov/whisper.cpp on the Hugging Face hub), pinned to
// the revision whose LFS object ids are the checksums below, so a file never changes under a
// checksum. Source of the table: ../shared/models/catalog.tsv (catalog_test.cpp checks that
// the two agree).
constexpr const char* kPublisherBaseUrl =
    "https://huggingface.co/ggerganov/whisper.cpp/resolve/5359861c739e955e79d9a303bcbc70fb988958b1";

}  // namespace

const std::vector<ModelEntry>& builtin_catalog() {
  // name, file, bytes, SHA-256
  static const std::vector<ModelEntry> entries = {
      {"tiny-q5_1", "ggml-tiny-q5_1.bin", 32152673, "818710568da3ca15689e31a743197b520007872ff9576237bda97bd1b469c3d7"},
      {"tiny-q8_0", "ggml-tiny-q8_0.bin", 43537433, "c2085835d3f50733e2ff6e4b41ae8a2b8d8110461e18821b09a15c40c42d1cca"},
      {"tiny", "ggml-tiny.bin", 77691713, "be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21"},
      {"tiny.en-q5_1", "ggml-tiny.en-q5_1.bin", 32166155, "c77c5766f1cef09b6b7d47f21b546cbddd4157886b3b5d6d4f709e91e66c7c2b"},
      {"tiny.en-q8_0", "ggml-tiny.en-q8_0.bin", 43550795, "5bc2b3860aa151a4c6e7bb095e1fcce7cf12c7b020ca08dcec0c6d018bb7dd94"},
      {"tiny.en", "ggml-tiny.en.bin", 77704715, "921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f"},
      {"base-q5_1", "ggml-base-q5_1.bin", 59707625, "422f1ae452ade6f30a004d7e5c6a43195e4433bc370bf23fac9cc591f01a8898"},
      {"base-q8_0", "ggml-base-q8_0.bin", 81768585, "c577b9a86e7e048a0b7eada054f4dd79a56bbfa911fbdacf900ac5b567cbb7d9"},
      {"base", "ggml-base.bin", 147951465, "60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe"},
      {"base.en-q5_1", "ggml-base.en-q5_1.bin", 59721011, "4baf70dd0d7c4247ba2b81fafd9c01005ac77c2f9ef064e00dcf195d0e2fdd2f"},
      {"base.en-q8_0", "ggml-base.en-q8_0.bin", 81781811, "a4d4a0768075e13cfd7e19df3ae2dbc4a68d37d36a7dad45e8410c9a34f8c87e"},
      {"base.en", "ggml-base.en.bin", 147964211, "a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002"},
      {"small-q5_1", "ggml-small-q5_1.bin", 190085487, "ae85e4a935d7a567bd102fe55afc16bb595bdb618e11b2fc7591bc08120411bb"},
      {"small-q8_0", "ggml-small-q8_0.bin", 264464607, "49c8fb02b65e6049d5fa6c04f81f53b867b5ec9540406812c643f177317f779f"},
      {"small", "ggml-small.bin", 487601967, "1be3a9b2063867b937e64e2ec7483364a79917e157fa98c5d94b5c1fffea987b"},
      {"small.en-q5_1", "ggml-small.en-q5_1.bin", 190098681, "bfdff4894dcb76bbf647d56263ea2a96645423f1669176f4844a1bf8e478ad30"},
      {"small.en-q8_0", "ggml-small.en-q8_0.bin", 264477561, "67a179f608ea6114bd3fdb9060e762b588a3fb3bd00c4387971be4d177958067"},
      {"small.en", "ggml-small.en.bin", 487614201, "c6138d6d58ecc8322097e0f987c32f1be8bb0a18532a3f88f734d1bbf9c41e5d"},
      {"medium-q5_0", "ggml-medium-q5_0.bin", 539212467, "19fea4b380c3a618ec4723c3eef2eb785ffba0d0538cf43f8f235e7b3b34220f"},
      {"medium-q8_0", "ggml-medium-q8_0.bin", 823369779, "42a1ffcbe4167d224232443396968db4d02d4e8e87e213d3ee2e03095dea6502"},
      {"medium", "ggml-medium.bin", 1533763059, "6c14d5adee5f86394037b4e4e8b59f1673b6cee10e3cf0b11bbdbee79c156208"},
      {"medium.en-q5_0", "ggml-medium.en-q5_0.bin", 539225533, "76733e26ad8fe1c7a5bf7531a9d41917b2adc0f20f2e4f5531688a8c6cd88eb0"},
      {"medium.en-q8_0", "ggml-medium.en-q8_0.bin", 823382461, "43fa2cd084de5a04399a896a9a7a786064e221365c01700cea4666005218f11c"},
      {"medium.en", "ggml-medium.en.bin", 1533774781, "cc37e93478338ec7700281a7ac30a10128929eb8f427dda2e865faa8f6da4356"},
      {"large-v3-turbo-q5_0", "ggml-large-v3-turbo-q5_0.bin", 574041195, "394221709cd5ad1f40c46e6031ca61bce88931e6e088c188294c6d5a55ffa7e2"},
      {"large-v3-turbo-q8_0", "ggml-large-v3-turbo-q8_0.bin", 874188075, "317eb69c11673c9de1e1f0d459b253999804ec71ac4c23c17ecf5fbe24e259a1"},
      {"large-v3-turbo", "ggml-large-v3-turbo.bin", 1624555275, "1fc70f774d38eb169993ac391eea357ef47c88757ef72ee5943879b7e8e2bc69"},
  };
  return entries;
}

namespace {

bool is_sha256_hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    auto tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) return fields;
    start = tab + 1;
  }
}

}  // namespace

Result<std::vector<ModelEntry>> parse_catalog(const std::string& text, const std::string& origin) {
  std::vector<ModelEntry> entries;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  bool header_seen = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto fields = split_tabs(line);
    auto where = origin + ":" + std::to_string(line_no);
    if (!header_seen) {
      header_seen = true;
      if (fields.size() >= 1 && fields[0] == "name") continue;  // the column header is optional
    }
    if (fields.size() != 4)
      return make_error(where + ": expected 4 tab-separated fields (name, file, bytes, sha256), found " +
                        std::to_string(fields.size()));
    ModelEntry e{fields[0], fields[1], 0, fields[3]};
    if (e.name.empty() || e.file.empty()) return make_error(where + ": empty name or file");
    if (e.file.find('/') != std::string::npos || e.file == "." || e.file == "..")
      return make_error(where + ": file '" + e.file + "' must be a plain file name");
    char* end = nullptr;
    errno = 0;
    unsigned long long bytes = std::strtoull(fields[2].c_str(), &end, 10);
    if (fields[2].empty() || *end != '\0' || errno != 0 || bytes == 0 || fields[2][0] == '-')
      return make_error(where + ": bytes '" + fields[2] + "' is not a positive integer");
    e.bytes = bytes;
    if (!is_sha256_hex(e.sha256))
      return make_error(where + ": sha256 '" + e.sha256 + "' is not 64 lowercase hex digits");
    if (find_entry(entries, e.name) || find_entry(entries, e.file))
      return make_error(where + ": duplicate model '" + e.name + "'");
    entries.push_back(std::move(e));
  }
  if (entries.empty()) return make_error(origin + ": no models listed");
  return entries;
}

Result<std::vector<ModelEntry>> catalog() {
  const char* override_path = std::getenv("THOTH_MODEL_CATALOG");
  if (!override_path || !*override_path) return builtin_catalog();
  std::ifstream in(override_path, std::ios::binary);
  if (!in) return make_error(std::string("cannot read model catalogue ") + override_path + " (THOTH_MODEL_CATALOG)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_catalog(text.str(), override_path);
}

const ModelEntry* find_entry(const std::vector<ModelEntry>& entries, const std::string& name_or_file) {
  for (const auto& e : entries)
    if (e.name == name_or_file || e.file == name_or_file) return &e;
  return nullptr;
}

std::string base_url() {
  const char* env = std::getenv("THOTH_MODEL_BASE_URL");
  std::string url = (env && *env) ? env : kPublisherBaseUrl;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string model_url(const ModelEntry& entry) { return base_url() + "/" + entry.file; }

}  // namespace thoth::models
