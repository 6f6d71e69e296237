// A Transcript as text, SubRip (SRT), WebVTT or the JSON document of `thoth transcribe --json`.
#pragma once
#include <string>

#include "asr/whisper.h"

namespace thoth::asr {

enum class TranscriptFormat { Text, Srt, Vtt, Json };

// "00:01:02,345" (SRT, comma) or "00:01:02.345" (VTT, dot).
std::string format_timestamp(int64_t ms, char decimal_separator);

// Text: one segment per line, surrounding spaces trimmed. Srt / Vtt: numbered cues (SRT) or a
// WEBVTT file. Json: {"language", "language_prob", "segments": [{"start_ms", "end_ms", "text",
// "tokens": [{"id", "p", "text", "start_ms", "end_ms"}]}], "timings_ms": {"load", "mel", "encode",
// "decode"}} on one line.
std::string format_transcript(const Transcript& t, TranscriptFormat format);

}  // namespace thoth::asr
