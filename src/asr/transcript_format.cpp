#include "asr/transcript_format.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace thoth::asr {

namespace {

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\n\r");
  return s.substr(b, e - b + 1);
}

std::string json_of(const Transcript& t) {
  nlohmann::ordered_json j;
  j["language"] = t.language;
  j["language_prob"] = t.language_prob;
  auto& segs = j["segments"] = nlohmann::ordered_json::array();
  for (const auto& s : t.segments) {
    nlohmann::ordered_json js;
    js["start_ms"] = s.start_ms;
    js["end_ms"] = s.end_ms;
    js["text"] = s.text;
    auto& toks = js["tokens"] = nlohmann::ordered_json::array();
    for (const auto& tok : s.tokens) toks.push_back({{"id", tok.id},
                     {"p", tok.p},
                     {"text", tok.text},
                     {"start_ms", tok.start_ms},
                     {"end_ms", tok.end_ms}});
    segs.push_back(std::move(js));
  }
  j["timings_ms"] = {{"load", t.timings.load_ms},
                     {"mel", t.timings.mel_ms},
                     {"encode", t.timings.encode_ms},
                     {"decode", t.timings.decode_ms}};
  // Texts are valid UTF-8 already; replace rather than throw should a bug ever let one through.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string format_timestamp(int64_t ms, char sep) {
  if (ms < 0) ms = 0;
  const int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, r = ms % 1000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld", static_cast<long long>(h),
                static_cast<long long>(m), static_cast<long long>(s), sep, static_cast<long long>(r));
  return buf;
}

std::string format_transcript(const Transcript& t, TranscriptFormat format) {
  std::string out;
  switch (format) {
    case TranscriptFormat::Text:
      for (const auto& s : t.segments) {
        const std::string line = trimmed(s.text);
        if (!line.empty()) out += line + "\n";
      }
      break;
    case TranscriptFormat::Srt: {
      int n = 0;
      for (const auto& s : t.segments) {
        out += std::to_string(++n) + "\n";
        out += format_timestamp(s.start_ms, ',') + " --> " + format_timestamp(s.end_ms, ',') + "\n";
        out += trimmed(s.text) + "\n\n";
      }
      break;
    }
    case TranscriptFormat::Vtt:
      out = "WEBVTT\n\n";
      for (const auto& s : t.segments) {
        out += format_timestamp(s.start_ms, '.') + " --> " + format_timestamp(s.end_ms, '.') + "\n";
        out += trimmed(s.text) + "\n\n";
      }
      break;
    case TranscriptFormat::Json:
      out = json_of(t);
      break;
  }
  return out;
}

}  // namespace thoth::asr
