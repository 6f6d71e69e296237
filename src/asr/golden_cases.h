// Test-only helpers over ../shared/golden: the cases, their oracle, their audio and arrays.
// Header-only so that the engine library never links libsndfile or a JSON parser.
#pragma once
#include <gtest/gtest.h>
#include <sndfile.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/shared_data.h"

namespace thoth::asr::test {

struct GoldenCase {
  std::string name;   // folder, e.g. "mini.en-f16-jfk"
  std::string model;  // "mini.en-f16"
  std::string audio;  // "jfk" or "long-en"
  std::filesystem::path dir;
};

// Every golden folder that holds `file` (mel.f32, logits.f32...).
inline std::vector<GoldenCase> golden_cases_with(const std::string& file) {
  std::vector<GoldenCase> out;
  const auto root = thoth::test::shared_root() / "golden";
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!entry.is_directory() || !std::filesystem::exists(entry.path() / file)) continue;
    GoldenCase c;
    c.name = entry.path().filename().string();
    c.dir = entry.path();
    const auto dash = c.name.rfind('-');
    c.model = c.name.substr(0, dash);
    const std::string suffix = c.name.substr(dash + 1);
    c.audio = suffix == "long" ? "long-en" : suffix;
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const GoldenCase& a, const GoldenCase& b) { return a.name < b.name; });
  return out;
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline std::vector<float> read_f32(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto bytes = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::vector<float> v(bytes / sizeof(float));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

// 16 kHz mono samples as float in [-1, 1) (int16 / 32768, as the reference converts them).
inline std::vector<float> read_wav_16k_mono(const std::filesystem::path& path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) {
    ADD_FAILURE() << "cannot open " << path << ": " << sf_strerror(nullptr);
    return {};
  }
  EXPECT_EQ(info.samplerate, 16000) << path;
  EXPECT_EQ(info.channels, 1) << path;
  std::vector<float> samples(static_cast<size_t>(info.frames));
  sf_readf_float(f, samples.data(), info.frames);
  sf_close(f);
  return samples;
}

}  // namespace thoth::asr::test
