// Whisper's log-mel front end, as the reference computes it (reflective pad of 200 samples,
// 400-point periodic Hann window, hop 160, the model's own filterbank, log10 with the
// max - 8 floor and (x + 4) / 4 scaling, 30 s of silence appended).
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

namespace thoth::asr {

struct MelFilters;
class ThreadPool;

struct MelSpectrogram {
  int n_mel = 0;
  int n_len = 0;      // frames including the appended 30 s of padding
  int n_len_org = 0;  // frames that cover the audio itself
  std::vector<float> data;  // n_mel rows x n_len columns (row = mel bin)
};

// cancel (optional): once it reads true the remaining frames are skipped and the result is
// unusable (a long recording's spectrogram takes seconds; the caller checks the flag).
MelSpectrogram compute_mel(const float* samples, int64_t n_samples, const MelFilters& filters,
                           ThreadPool& pool, const std::atomic<bool>* cancel = nullptr);

}  // namespace thoth::asr
