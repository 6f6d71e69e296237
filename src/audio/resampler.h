// Streaming sample-rate conversion of mono float audio with soxr (high quality), for files
// read block by block and for captured audio on its writer thread (not the RT callback:
// process() may allocate).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "core/result.h"

struct soxr;

namespace thoth::audio {

class Resampler {
 public:
  // in_rate == out_rate gives a pass-through that copies samples unchanged.
  static Result<Resampler> create(double in_rate, double out_rate);
  Resampler(Resampler&& other) noexcept;
  Resampler& operator=(Resampler&& other) noexcept;
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;
  ~Resampler();

  // Appends the output produced by `n` more input samples to `out`.
  Result<void> process(const float* in, size_t n, std::vector<float>& out);
  // Appends what the filter still holds once the input has ended.
  Result<void> flush(std::vector<float>& out);

  double in_rate() const { return in_rate_; }
  double out_rate() const { return out_rate_; }

 private:
  Resampler(soxr* handle, double in_rate, double out_rate)
      : soxr_(handle), in_rate_(in_rate), out_rate_(out_rate) {}
  soxr* soxr_ = nullptr;  // null when the rates are equal
  double in_rate_ = 0, out_rate_ = 0;
};

// Whole-buffer convenience over Resampler.
Result<std::vector<float>> resample(const std::vector<float>& in, double in_rate, double out_rate);

}  // namespace thoth::audio
