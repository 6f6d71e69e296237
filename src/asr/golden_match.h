// Comparing a transcription with a golden output of the reference (../shared/golden), with the
// tolerances of its README: identical text tokens and segment boundaries for f32/f16/q8_0
// models; at least 90 % of the text tokens equal (by edit distance) and the same number of
// segments for q5_0/q5_1/q4_0.
#pragma once
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace thoth::asr::golden {

struct Seg {
  int64_t from_ms = 0, to_ms = 0;
  std::vector<int32_t> text_ids;  // tokens below eot only
};

// Levenshtein distance over token ids.
inline size_t edit_distance(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

inline std::vector<int32_t> all_text_ids(const std::vector<Seg>& segs) {
  std::vector<int32_t> ids;
  for (const auto& s : segs) ids.insert(ids.end(), s.text_ids.begin(), s.text_ids.end());
  return ids;
}

struct Match {
  bool ok = false;
  double token_agreement = 0;  // 1 - edit distance / reference tokens
  std::string detail;          // what differs, for the failure message
};

// exact: the f32/f16/q8_0 rule; otherwise the quantized-model rule.
inline Match compare(const std::vector<Seg>& reference, const std::vector<Seg>& ours, bool exact) {
  Match m;
  const auto ref_ids = all_text_ids(reference), our_ids = all_text_ids(ours);
  const size_t dist = edit_distance(ref_ids, our_ids);
  m.token_agreement = ref_ids.empty() ? (our_ids.empty() ? 1.0 : 0.0)
                                      : 1.0 - static_cast<double>(dist) / static_cast<double>(ref_ids.size());
  std::ostringstream d;
  d << "segments " << ours.size() << " (reference " << reference.size() << "), tokens " << our_ids.size()
    << " (reference " << ref_ids.size() << "), agreement " << m.token_agreement;
  if (reference.size() != ours.size()) {
    m.detail = d.str();
    return m;
  }
  if (exact) {
    for (size_t i = 0; i < reference.size(); ++i) {
      const auto &r = reference[i], &o = ours[i];
      if (r.from_ms != o.from_ms || r.to_ms != o.to_ms || r.text_ids != o.text_ids) {
        d << "; segment " << i << " differs: [" << o.from_ms << ", " << o.to_ms << "] vs reference [" << r.from_ms
          << ", " << r.to_ms << "], tokens " << (r.text_ids == o.text_ids ? "equal" : "differ");
        m.detail = d.str();
        return m;
      }
    }
    m.ok = true;
  } else {
    m.ok = m.token_agreement >= 0.9;
  }
  m.detail = d.str();
  return m;
}

}  // namespace thoth::asr::golden
