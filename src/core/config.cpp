#include "core/config.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include "core/paths.h"

namespace thoth {

using nlohmann::json;

// --- Mapping between the structs and JSON ---------------------------------------------------
// The _WITH_DEFAULT forms fill missing keys from a default-constructed struct, so a user
// document holding any subset of the keys becomes a full Config once it has been validated.

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Transcription::Remote, enabled, base_url,
                                                model, api_key, timeout_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Transcription, model, language, translate,
                                                threads, beam_size, initial_prompt,
                                                dictionary_in_prompt, remote)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Audio, device, keep_recordings,
                                                retention_days, pre_roll_ms, keep_stream_warm)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Vad, enabled, model, threshold,
                                                min_speech_ms, min_silence_ms, speech_pad_ms,
                                                max_speech_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Output, method, leading_space,
                                                paste_shortcut, restore_clipboard, wayland_tool)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Shortcuts, mode, record, cancel,
                                                copy_last, hands_free)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::HandsFree, enabled, speech_start_ms,
                                                speech_end_ms, padding_ms, auto_stop_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Server, enabled, port)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Daemon, on_shutdown, sounds,
                                                notifications)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::History, enabled)

void to_json(json& j, const DictionaryRule& r) {
  j = json{{"from", r.from}, {"to", r.to}, {"caseSensitive", r.case_sensitive}, {"regex", r.regex}};
}
void from_json(const json& j, DictionaryRule& r) {
  DictionaryRule d;
  r.from = j.value("from", d.from);
  r.to = j.value("to", d.to);
  r.case_sensitive = j.value("caseSensitive", d.case_sensitive);
  r.regex = j.value("regex", d.regex);
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config::Filters, enabled, remove_fillers,
                                                filler_words, dictionary, capitalise_sentences)

void to_json(json& j, const Config::Enhancement& e) {
  j = json{{"enabled", e.enabled},
           {"provider", e.provider},
           {"base_url", e.base_url},
           {"model", e.model},
           {"api_key", e.api_key},
           {"template", e.prompt_template},
           {"connect_timeout_ms", e.connect_timeout_ms},
           {"timeout_ms", e.timeout_ms},
           {"retries", e.retries},
           {"temperature", e.temperature},
           {"stream", e.stream},
           {"context", e.context}};
}
void from_json(const json& j, Config::Enhancement& e) {
  Config::Enhancement d;
  e.enabled = j.value("enabled", d.enabled);
  e.provider = j.value("provider", d.provider);
  e.base_url = j.value("base_url", d.base_url);
  e.model = j.value("model", d.model);
  e.api_key = j.value("api_key", d.api_key);
  e.prompt_template = j.value("template", d.prompt_template);
  e.connect_timeout_ms = j.value("connect_timeout_ms", d.connect_timeout_ms);
  e.timeout_ms = j.value("timeout_ms", d.timeout_ms);
  e.retries = j.value("retries", d.retries);
  e.temperature = j.value("temperature", d.temperature);
  e.stream = j.value("stream", d.stream);
  e.context = j.value("context", d.context);
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config, transcription, audio, vad, filters,
                                                enhancement, output, shortcuts, hands_free,
                                                server, daemon, history)

// --- Schema ---------------------------------------------------------------------------------
// The defaults document gives every key and its type; the tables below add what a type alone
// cannot say: the element of each list, required fields, allowed words and ranges.

namespace {

const json& defaults_json() {
  static const json d = json(Config{});
  return d;
}

struct ListSchema {
  std::string_view path;
  json element;                            // prototype of one element
  std::vector<std::string> required_keys;  // for object elements
};

const std::vector<ListSchema>& list_schemas() {
  static const std::vector<ListSchema> s = {
      {"filters.filler_words", json(""), {}},
      {"filters.dictionary", json(DictionaryRule{}), {"from", "to"}},
  };
  return s;
}

struct Choice {
  std::string_view path;
  std::vector<std::string_view> words;
};
const std::vector<Choice>& choices() {
  static const std::vector<Choice> c = {
      {"enhancement.provider", {"ollama", "openai"}},
      {"enhancement.context", {"none", "clipboard", "primary"}},
      {"output.method", {"auto", "type", "paste", "clipboard"}},
      {"output.wayland_tool", {"auto", "wtype", "dotool", "ydotool"}},
      {"shortcuts.mode", {"push-to-talk", "toggle"}},
      {"daemon.on_shutdown", {"finish", "discard"}},
  };
  return c;
}

struct Range {
  std::string_view path;
  double min, max;
};
const std::vector<Range>& ranges() {
  static const std::vector<Range> r = {
      {"transcription.threads", 0, 256},
      {"transcription.beam_size", 1, 16},
      {"transcription.remote.timeout_ms", 1, 3600000},
      {"audio.retention_days", 0, 36500},
      {"audio.pre_roll_ms", 0, 1000},
      {"vad.threshold", 0, 1},
      {"vad.min_speech_ms", 0, 60000},
      {"vad.min_silence_ms", 0, 60000},
      {"vad.speech_pad_ms", 0, 10000},
      {"vad.max_speech_s", 0, 3600},
      {"enhancement.connect_timeout_ms", 1, 600000},
      {"enhancement.timeout_ms", 1, 3600000},
      {"enhancement.retries", 0, 10},
      {"enhancement.temperature", 0, 2},
      {"hands_free.speech_start_ms", 0, 10000},
      {"hands_free.speech_end_ms", 0, 60000},
      {"hands_free.padding_ms", 0, 10000},
      {"hands_free.auto_stop_ms", 100, 600000},
      {"server.port", 0, 65535},
  };
  return r;
}

const std::set<std::string_view>& url_keys() {
  static const std::set<std::string_view> u = {"transcription.remote.base_url",
                                               "enhancement.base_url"};
  return u;
}

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    default: return "value";
  }
}

// The type a key expects, named as in messages.
std::string expected_name(const json& prototype) {
  if (prototype.is_array()) return "array";
  return type_name(prototype);
}

bool type_fits(const json& prototype, const json& v) {
  if (prototype.is_number_float()) return v.is_number();
  if (prototype.is_number_integer()) return v.is_number_integer();
  return prototype.type() == v.type();
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggestion(std::string_view key, const json& siblings) {
  std::string best;
  size_t best_d = 3;  // only close misspellings
  for (auto it = siblings.begin(); it != siblings.end(); ++it) {
    size_t d = edit_distance(key, it.key());
    if (d < best_d) {
      best_d = d;
      best = it.key();
    }
  }
  return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
}

std::string join_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// Checks `v` against `prototype` at `path` (`schema_path` is the same without list
// indexes, to find constraints). Returns the first problem as "PATH: what is wrong".
std::optional<std::string> check(const json& v, const json& prototype, const std::string& path,
                                 const std::string& schema_path) {
  if (!type_fits(prototype, v)) {
    std::string where = path.empty() ? "top level" : path;
    return where + ": expected " + expected_name(prototype) + ", got " + type_name(v);
  }
  if (prototype.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      auto known = prototype.find(it.key());
      if (known == prototype.end())
        return "unknown key \"" + join_path(path, it.key()) + "\"" +
               suggestion(it.key(), prototype);
      if (auto e = check(it.value(), *known, join_path(path, it.key()),
                         join_path(schema_path, it.key())))
        return e;
    }
    return std::nullopt;
  }
  if (prototype.is_array()) {
    auto schema = std::find_if(list_schemas().begin(), list_schemas().end(),
                               [&](const ListSchema& s) { return s.path == schema_path; });
    if (schema == list_schemas().end()) return path + ": lists are not allowed here";
    for (size_t i = 0; i < v.size(); ++i) {
      std::string item = path + "[" + std::to_string(i) + "]";
      if (auto e = check(v[i], schema->element, item, schema_path + "[]")) return e;
      for (const auto& key : schema->required_keys)
        if (!v[i].contains(key)) return item + ": missing \"" + key + "\"";
    }
    if (schema_path == "filters.dictionary")
      for (size_t i = 0; i < v.size(); ++i)
        if (v[i]["from"].get_ref<const std::string&>().empty())
          return path + "[" + std::to_string(i) + "].from: must not be empty";
    return std::nullopt;
  }
  if (v.is_number_integer() &&
      (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(INT_MAX)
                              : (v.get<int64_t>() > INT_MAX || v.get<int64_t>() < INT_MIN)))
    return path + ": " + v.dump() + " is out of range";
  for (const auto& c : choices()) {
    if (c.path != schema_path) continue;
    const auto& s = v.get_ref<const std::string&>();
    if (std::find(c.words.begin(), c.words.end(), s) == c.words.end()) {
      std::string list;
      for (auto w : c.words) list += (list.empty() ? "" : ", ") + std::string(w);
      return path + ": \"" + s + "\" is not one of " + list;
    }
  }
  for (const auto& r : ranges()) {
    if (r.path != schema_path) continue;
    double x = v.get<double>();
    if (!(x >= r.min && x <= r.max)) {
      auto num = [](double d) {
        return d == std::floor(d) ? std::to_string(static_cast<long long>(d)) : json(d).dump();
      };
      return path + ": " + v.dump() + " is out of range (" + num(r.min) + " to " + num(r.max) +
             ")";
    }
  }
  if (url_keys().count(schema_path)) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.rfind("http://", 0) != 0 && s.rfind("https://", 0) != 0)
      return path + ": \"" + s + "\" is not an http:// or https:// URL";
  }
  if (schema_path == "transcription.language") {
    const auto& s = v.get_ref<const std::string&>();
    bool code = (s.size() == 2 || s.size() == 3) &&
                std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
    if (!code && s != "auto")
      return path + ": \"" + s + "\" is not a language code (like en, de, zh) or auto";
  }
  return std::nullopt;
}

// Splits "a.b.c"; empty parts are an error.
Result<std::vector<std::string>> split_key(std::string_view key) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = key.find('.', start);
    std::string_view part = key.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (part.empty()) return make_error("invalid key \"" + std::string(key) + "\"");
    parts.emplace_back(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

// The prototype of `key` in the defaults document, or an error naming the unknown part.
Result<json> prototype_of(std::string_view key) {
  auto parts = split_key(key);
  if (!parts) return make_error(parts.error());
  const json* node = &defaults_json();
  std::string path;
  for (const auto& p : *parts) {
    if (!node->is_object() || !node->contains(p))
      return make_error("unknown key \"" + join_path(path, p) + "\"" +
                        (node->is_object() ? suggestion(p, *node) : ""));
    node = &(*node)[p];
    path = join_path(path, p);
  }
  return *node;
}

// "SOURCE:LINE:COLUMN: reason". nlohmann's own message repeats the position after a
// "[json.exception...]" prefix, so only its explanation is kept.
Result<json> parse_user_doc(std::string_view text, std::string_view source) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string what = e.what();
    size_t colon = what.find(": ", what.find("parse error"));
    return make_error(std::string(source) + ":" + std::to_string(line) + ":" +
                      std::to_string(col) + ": " +
                      (colon == std::string::npos ? what : what.substr(colon + 2)));
  }
}

Result<json> read_user_doc(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    spdlog::debug("config {} does not exist: using the defaults", file.string());
    return json::object();
  }
  spdlog::debug("reading config {}", file.string());
  auto text = paths::read_file(file);
  if (!text) return make_error(text.error());
  return parse_user_doc(*text, file.string());
}

Result<Config> write_user_doc(const std::filesystem::path& file, const json& doc) {
  auto config = config_from_json(doc, file.string());
  if (!config) return config;
  auto dir = paths::ensure_dir(file.parent_path(), "config dir");
  if (!dir) return make_error(dir.error());
  if (auto w = paths::write_file_atomic(file, doc.dump(2) + "\n"); !w) return make_error(w.error());
  return config;
}

}  // namespace

json config_to_json(const Config& config) { return json(config); }

Result<Config> config_from_json(const json& doc, std::string_view source) {
  if (auto problem = check(doc, defaults_json(), "", ""))
    return make_error(std::string(source) + ": " + *problem);
  return doc.get<Config>();
}

Result<Config> parse_config(std::string_view text, std::string_view source) {
  auto doc = parse_user_doc(text, source);
  if (!doc) return make_error(doc.error());
  return config_from_json(*doc, source);
}

Result<Config> load_config(const std::filesystem::path& file) {
  auto doc = read_user_doc(file);
  if (!doc) return make_error(doc.error());
  return config_from_json(*doc, file.string());
}

Result<Config> load_config() { return load_config(paths::config_file()); }

Result<json> config_get(const Config& config, std::string_view key) {
  auto proto = prototype_of(key);
  if (!proto) return make_error(proto.error());
  auto parts = split_key(key);
  json node = config_to_json(config);
  for (const auto& p : *parts) node = json(node[p]);
  return node;
}

Result<json> config_value_from_text(std::string_view key, std::string_view text) {
  auto proto = prototype_of(key);
  if (!proto) return make_error(proto.error());
  const std::string k(key);
  std::string quoted = "\"";  // built stepwise: GCC 12 warns falsely on "\"" + string
  quoted.append(text).push_back('"');
  if (proto->is_string()) return json(std::string(text));
  if (proto->is_boolean()) {
    if (text == "true") return json(true);
    if (text == "false") return json(false);
    return make_error(k + ": expected true or false, got " + quoted);
  }
  if (proto->is_number_integer()) {
    long long v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
      return make_error(k + ": expected integer, got " + quoted);
    return json(v);
  }
  if (proto->is_number()) {
    json v = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!v.is_number()) return make_error(k + ": expected number, got " + quoted);
    return v;
  }
  json v = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded())
    return make_error(k + ": expected " + expected_name(*proto) + " as JSON, got " + quoted);
  return v;
}

Result<Config> config_set(const std::filesystem::path& file, std::string_view key,
                          const json& value) {
  auto proto = prototype_of(key);
  if (!proto) return make_error(proto.error());
  auto doc = read_user_doc(file);
  if (!doc) return make_error(doc.error());
  if (!doc->is_object()) return make_error(file.string() + ": top level: expected object, got " +
                                           type_name(*doc));
  auto parts = *split_key(key);
  json* node = &*doc;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    json& child = (*node)[parts[i]];
    if (child.is_null()) child = json::object();
    if (!child.is_object())
      return make_error(file.string() + ": " + parts[i] + ": expected object, got " +
                        type_name(child));
    node = &child;
  }
  (*node)[parts.back()] = value;
  // Name the key being set when its value is the problem, not the file.
  if (auto problem = check(value, *proto, std::string(key), std::string(key)))
    return make_error(*problem);
  return write_user_doc(file, *doc);
}

Result<Config> config_unset(const std::filesystem::path& file, std::string_view key) {
  auto proto = prototype_of(key);
  if (!proto) return make_error(proto.error());
  auto doc = read_user_doc(file);
  if (!doc) return make_error(doc.error());
  auto parts = *split_key(key);
  json* node = &*doc;
  for (size_t i = 0; i + 1 < parts.size() && node; ++i) {
    auto it = node->is_object() ? node->find(parts[i]) : node->end();
    node = (it == node->end()) ? nullptr : &*it;
  }
  if (node && node->is_object()) node->erase(parts.back());
  // Drop groups left empty, so the file keeps only what the user chose.
  for (size_t depth = parts.size() - 1; depth > 0; --depth) {
    json* parent = &*doc;
    for (size_t i = 0; i + 1 < depth && parent; ++i) {
      auto it = parent->is_object() ? parent->find(parts[i]) : parent->end();
      parent = (it == parent->end()) ? nullptr : &*it;
    }
    if (!parent || !parent->is_object()) break;
    auto it = parent->find(parts[depth - 1]);
    if (it != parent->end() && it->is_object() && it->empty()) parent->erase(it);
  }
  return write_user_doc(file, *doc);
}

Result<Config> config_replace(const std::filesystem::path& file, const json& doc) {
  return write_user_doc(file, doc);
}

}  // namespace thoth
