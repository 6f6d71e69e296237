#include "support/signal_match.h"

#include <algorithm>
#include <cmath>

namespace thoth::test {
namespace {

double ncc_at(const std::vector<float>& rec, const std::vector<float>& ref, long lag) {
  double dot = 0, e_rec = 0, e_ref = 0;
  for (long i = 0; i < long(ref.size()); ++i) {
    const long j = i + lag;
    const double r = ref[size_t(i)];
    e_ref += r * r;  // the whole reference counts: missing audio lowers the score
    if (j < 0 || j >= long(rec.size())) continue;
    const double x = rec[size_t(j)];
    dot += x * r;
    e_rec += x * x;
  }
  if (e_rec <= 0 || e_ref <= 0) return 0;
  return dot / std::sqrt(e_rec * e_ref);
}

std::vector<float> decimate(const std::vector<float>& x, size_t k) {
  std::vector<float> out(x.size() / k);
  for (size_t i = 0; i < out.size(); ++i) {
    float s = 0;
    for (size_t j = 0; j < k; ++j) s += x[i * k + j];
    out[i] = s / float(k);
  }
  return out;
}

}  // namespace

Alignment best_alignment(const std::vector<float>& recorded, const std::vector<float>& reference,
                         long max_lag) {
  constexpr size_t k = 8;
  const auto rec_d = decimate(recorded, k);
  const auto ref_d = decimate(reference, k);
  Alignment best{0, -2};
  for (long lag = -max_lag / long(k); lag <= max_lag / long(k); ++lag) {
    const double c = ncc_at(rec_d, ref_d, lag);
    if (c > best.ncc) best = {lag * long(k), c};
  }
  Alignment fine{best.lag, -2};
  for (long lag = best.lag - 2 * long(k); lag <= best.lag + 2 * long(k); ++lag) {
    const double c = ncc_at(recorded, reference, lag);
    if (c > fine.ncc) fine = {lag, c};
  }
  return fine;
}

}  // namespace thoth::test
