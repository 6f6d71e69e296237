// Thoth's settings: one JSON file (paths::config_file()) holding only what the user changed;
// everything else takes the defaults below. Loading validates the whole document: unknown
// keys and wrong types are rejected with the key path ("…/config.json:
// enhancement.timeout_ms: expected integer, got string"), syntax errors with line and column.
//
//   auto config = thoth::load_config();            // Result<Config>
//   if (!config) { print config.error(); exit 1; }
//   int port = config->server.port;
//
// The JSON keys are the member names below (nested objects for the groups), except
// enhancement.template (C++: prompt_template) and the dictionary entries, which keep the
// original app's export format {from, to, caseSensitive, regex} so files move between them.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace thoth {

// One user-dictionary rule: plain rules replace `from` as a whole word or phrase, regex
// rules treat it as a pattern whose groups `to` may use ($1).
struct DictionaryRule {
  std::string from;
  std::string to;
  bool case_sensitive = false;
  bool regex = false;
  bool operator==(const DictionaryRule&) const = default;
};

struct Config {
  struct Transcription {
    std::string model = "base.en";  // catalogue name (thoth models list) or a file path
    std::string language = "auto";  // ISO 639-1 code, or "auto" to detect
    bool translate = false;         // translate to English (multilingual models)
    int threads = 0;                // 0 = one per core
    int beam_size = 5;              // 1 = greedy
    std::string initial_prompt;     // vocabulary hints for the recogniser
    bool dictionary_in_prompt = true;  // add the dictionary's words to the prompt
    struct Remote {  // optional OpenAI-compatible /v1/audio/transcriptions endpoint
      bool enabled = false;
      std::string base_url = "http://127.0.0.1:8080";
      std::string model = "whisper-1";
      std::string api_key;  // empty: $THOTH_API_KEY, then $OPENAI_API_KEY
      int timeout_ms = 60000;
    } remote;
  } transcription;

  struct Audio {
    std::string device;            // capture device name; empty = the system default
    bool keep_recordings = true;   // keep each dictation's WAV in the recordings dir
    int retention_days = 30;       // delete recordings older than this; 0 = keep forever
    int pre_roll_ms = 0;           // audio kept from before the key press (RAM only), <= 1000
    bool keep_stream_warm = true;  // daemon keeps the input open so the first word is never cut
  } audio;

  struct Vad {  // voice activity detection gating transcription
    bool enabled = true;
    std::string model = "silero-v6.2.0";  // name or path of the ggml Silero model
    double threshold = 0.5;
    int min_speech_ms = 250;
    int min_silence_ms = 100;
    int speech_pad_ms = 30;
    double max_speech_s = 0;  // 0 = no limit
  } vad;

  struct Filters {
    bool enabled = true;
    bool remove_fillers = true;
    std::vector<std::string> filler_words = {"um", "umm", "uh",  "uhh", "uhm", "er",
                                             "erm", "ah", "hmm", "hm",  "mm"};
    std::vector<DictionaryRule> dictionary;
    bool capitalise_sentences = true;
  } filters;

  struct Enhancement {  // optional polishing by a local or remote LLM
    bool enabled = false;
    std::string provider = "ollama";  // ollama (/api/chat) | openai (/v1/chat/completions)
    std::string base_url = "http://127.0.0.1:11434";
    std::string model = "llama3.2";
    std::string api_key;                         // empty: $THOTH_API_KEY, then $OPENAI_API_KEY
    std::string prompt_template = "fix-grammar";  // JSON key "template": built-in or user file
    int connect_timeout_ms = 5000;
    int timeout_ms = 30000;
    int retries = 2;
    double temperature = 0.2;
    bool stream = false;
    std::string context = "none";  // none | clipboard | primary (selection sent as context)
  } enhancement;

  struct Output {
    std::string method = "auto";  // auto | type | paste | clipboard
    bool leading_space = false;    // so dictations typed one after another stay apart
    std::string paste_shortcut = "Ctrl+V";  // Ctrl+Shift+V for terminals
    bool restore_clipboard = true;
    std::string wayland_tool = "auto";  // auto | wtype | dotool | ydotool
  } output;

  struct Shortcuts {
    std::string mode = "push-to-talk";  // push-to-talk (hold) | toggle (press, press)
    std::string record = "Ctrl+Alt+Space";
    std::string cancel = "Ctrl+Alt+Escape";
    std::string copy_last;   // empty = unbound
    std::string hands_free;  // toggles hands-free mode; empty = unbound
  } shortcuts;

  struct HandsFree {
    bool enabled = false;
    int speech_start_ms = 90;   // speech this long starts a dictation
    int speech_end_ms = 450;    // silence this long ends a speech segment
    int padding_ms = 300;       // audio kept either side of speech
    int auto_stop_ms = 1200;    // silence this long ends the dictation
  } hands_free;

  struct Server {
    bool enabled = true;  // the daemon's local HTTP API and web UI (loopback only)
    int port = 7373;
  } server;

  struct Daemon {
    std::string on_shutdown = "finish";  // finish | discard a recording in progress
    bool sounds = false;                 // start/stop/error cues
    bool notifications = true;           // desktop notification when a dictation fails
  } daemon;

  struct History {
    bool enabled = true;
  } history;
};

// The full effective configuration as JSON (every key, defaults included).
nlohmann::json config_to_json(const Config& config);

// Validates `doc` (a user document: any subset of the keys) and fills the rest from the
// defaults. `source` prefixes error messages (normally the file path).
Result<Config> config_from_json(const nlohmann::json& doc, std::string_view source);

// Parses and validates JSON text; syntax errors say "SOURCE:LINE:COLUMN: ...".
Result<Config> parse_config(std::string_view text, std::string_view source);

// Loads `file`; a missing file means all defaults.
Result<Config> load_config(const std::filesystem::path& file);
Result<Config> load_config();  // paths::config_file()

// --- Key-level access, for `thoth config get/set/unset` and the daemon's settings API ---
// Keys are dotted paths: "enhancement.timeout_ms", or a group ("enhancement").

// The effective value of `key`.
Result<nlohmann::json> config_get(const Config& config, std::string_view key);

// Turns command-line text into a value of the type `key` holds: strings are taken as they
// are, booleans are true/false, numbers must parse fully, lists and groups are JSON.
Result<nlohmann::json> config_value_from_text(std::string_view key, std::string_view text);

// Sets (or removes, back to the default) one key in the user document stored in `file`,
// validates the result and writes it atomically with mode 0600. Returns the new config.
Result<Config> config_set(const std::filesystem::path& file, std::string_view key,
                          const nlohmann::json& value);
Result<Config> config_unset(const std::filesystem::path& file, std::string_view key);

// Replaces the whole user document in `file` after validating it.
Result<Config> config_replace(const std::filesystem::path& file, const nlohmann::json& doc);

}  // namespace thoth
