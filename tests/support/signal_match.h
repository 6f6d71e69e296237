// Compares a recording with what was played into the audio server: the normalised
// cross-correlation at the best alignment (1 = identical up to gain and delay).
#pragma once
#include <vector>

namespace thoth::test {

struct Alignment {
  long lag = 0;        // recorded[i + lag] lines up with reference[i]
  double ncc = 0;      // normalised cross-correlation at that lag
};

// Searches lags in [-max_lag, max_lag] coarsely (8x decimated), then refines at full rate.
Alignment best_alignment(const std::vector<float>& recorded, const std::vector<float>& reference,
                         long max_lag);

}  // namespace thoth::test
