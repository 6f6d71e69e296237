// Audio files in, 16 kHz mono float out: every format libsndfile reads (WAV 8/16/24/32-bit
// int and float, FLAC, OGG/Vorbis/Opus, MP3), at any rate and channel count, resampled with
// soxr. Recordings out: 16 kHz mono 16-bit WAV.
#pragma once
#include <string>
#include <vector>

#include "core/result.h"

namespace thoth::audio {

constexpr int kWhisperRate = 16000;

// Decodes `path` ("-" reads standard input) to 16 kHz mono samples in [-1, 1].
// Errors name the file and say what is wrong (missing, empty, truncated, unsupported).
Result<std::vector<float>> load_audio_16k_mono(const std::string& path);

// Writes 16 kHz mono 16-bit PCM WAV, created 0600 (it holds what the user said).
Result<void> write_wav_16k_mono(const std::string& path, const std::vector<float>& samples);

}  // namespace thoth::audio
