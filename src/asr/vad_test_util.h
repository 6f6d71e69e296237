// Test-only helpers for the VAD tests (header-only so the engine library never links libsndfile).
#pragma once
#include <sndfile.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace thoth::asr::test {

// A 16 kHz mono file as floats; throws on anything else (the shared corpus is all 16 kHz mono).
inline std::vector<float> read_wav_16k_mono(const std::string& path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) throw std::runtime_error(path + ": " + sf_strerror(nullptr));
  if (info.samplerate != 16000 || info.channels != 1) {
    sf_close(f);
    throw std::runtime_error(path + ": not 16 kHz mono");
  }
  std::vector<float> pcm(static_cast<size_t>(info.frames));
  const sf_count_t got = sf_readf_float(f, pcm.data(), info.frames);
  sf_close(f);
  pcm.resize(static_cast<size_t>(got));
  return pcm;
}

inline void write_wav_16k_mono(const std::string& path, const std::vector<float>& pcm) {
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(path + ": " + sf_strerror(nullptr));
  sf_writef_float(f, pcm.data(), static_cast<sf_count_t>(pcm.size()));
  sf_close(f);
}

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace thoth::asr::test
