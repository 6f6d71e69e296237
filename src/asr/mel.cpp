#include "asr/mel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "asr/model_file.h"
#include "asr/thread_pool.h"

namespace thoth::asr {

namespace {

constexpr int kSampleRate = 16000;
constexpr int kFftSize = 400;  // 25 ms window
constexpr int kHop = 160;      // 10 ms hop
constexpr int kBins = kFftSize / 2 + 1;

// Tables as the reference builds them: sin/cos of 2*pi*i/400 in float, and the periodic Hann
// window evaluated through cosf. Matching the reference's float rounding keeps our mel within
// a few ulps of it rather than merely close.
struct Tables {
  float sin_vals[kFftSize];
  float cos_vals[kFftSize];
  float hann[kFftSize];
  Tables() {
    for (int i = 0; i < kFftSize; ++i) {
      const double theta = (2 * M_PI * i) / kFftSize;
      sin_vals[i] = sinf(static_cast<float>(theta));
      cos_vals[i] = cosf(static_cast<float>(theta));
      hann[i] = static_cast<float>(0.5 * (1.0 - cosf(static_cast<float>((2.0 * M_PI * i) / kFftSize))));
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

// The odd-length leaves of the recursion: 400 = 2^4 * 25.
constexpr int kLeaf = 25;

// Plain DFT of a leaf, its twiddles looked up in the reference's tables (k * j * 16 mod 400)
// once instead of per product.
void dft_leaf(const float* in, float* out) {
  struct Twiddles {
    float cos[kLeaf][kLeaf], sin[kLeaf][kLeaf];
    Twiddles() {
      const Tables& t = tables();
      for (int k = 0; k < kLeaf; ++k)
        for (int j = 0; j < kLeaf; ++j) {
          const int idx = (k * j * (kFftSize / kLeaf)) % kFftSize;
          cos[k][j] = t.cos_vals[idx];
          sin[k][j] = t.sin_vals[idx];
        }
    }
  };
  static const Twiddles w;
  for (int k = 0; k < kLeaf; ++k) {
    float re = 0, im = 0;
    for (int j = 0; j < kLeaf; ++j) {
      re += in[j] * w.cos[k][j];
      im -= in[j] * w.sin[k][j];
    }
    out[2 * k] = re;
    out[2 * k + 1] = im;
  }
}

// Radix-2 decimation in time down to odd lengths, with the reference's operation order.
// `in` has n reals; out receives n complex values (interleaved). scratch must hold 6n floats (3n per level, halving).
void fft(const float* in, int n, float* out, float* scratch) {
  if (n == 1) {
    out[0] = in[0];
    out[1] = 0;
    return;
  }
  if (n == kLeaf) {
    dft_leaf(in, out);
    return;
  }
  const int half = n / 2;
  float* even = scratch;             // half reals
  float* odd = scratch + half;       // half reals
  float* even_fft = scratch + n;     // half complex
  float* odd_fft = scratch + 2 * n;  // half complex
  float* deeper = scratch + 3 * n;   // for the recursion: 4 * half = 2n floats beyond
  for (int i = 0; i < half; ++i) {
    even[i] = in[2 * i];
    odd[i] = in[2 * i + 1];
  }
  fft(even, half, even_fft, deeper);
  fft(odd, half, odd_fft, deeper);
  const Tables& t = tables();
  const int step = kFftSize / n;
  for (int k = 0; k < half; ++k) {
    const float re = t.cos_vals[k * step];
    const float im = -t.sin_vals[k * step];
    const float re_odd = odd_fft[2 * k], im_odd = odd_fft[2 * k + 1];
    out[2 * k] = even_fft[2 * k] + re * re_odd - im * im_odd;
    out[2 * k + 1] = even_fft[2 * k + 1] + re * im_odd + im * re_odd;
    out[2 * (k + half)] = even_fft[2 * k] - re * re_odd + im * im_odd;
    out[2 * (k + half) + 1] = even_fft[2 * k + 1] - re * im_odd - im * re_odd;
  }
}

// The groups of four bins (the reference's unrolled sum) where a mel filter has a non-zero
// weight. A triangular filter spans a few bins of 201; outside them every product is +0, and
// adding +0 to the non-negative sum changes no bit, so those groups are skipped.
struct FilterSpan {
  int first = 0, last = -1;  // bins [first, last) in steps of 4
};

std::vector<FilterSpan> filter_spans(const MelFilters& filters) {
  std::vector<FilterSpan> spans(filters.n_mel);
  const int n_fft = filters.n_fft;
  for (int j = 0; j < filters.n_mel; ++j) {
    const float* f = filters.data.data() + static_cast<size_t>(j) * n_fft;
    int first = -1, last = -1;
    for (int k = 0; k < n_fft - 3; k += 4)
      if (f[k] != 0.0f || f[k + 1] != 0.0f || f[k + 2] != 0.0f || f[k + 3] != 0.0f) {
        if (first < 0) first = k;
        last = k + 4;
      }
    spans[j] = first < 0 ? FilterSpan{0, 0} : FilterSpan{first, last};
  }
  return spans;
}

// log10 of the mel energies of frames [begin, end) into mel.data (not yet clamped/scaled).
void mel_frames(const std::vector<float>& padded, int64_t n_signal, int64_t begin, int64_t end,
                const MelFilters& filters, const std::vector<FilterSpan>& spans, MelSpectrogram& mel) {
  const Tables& t = tables();
  std::vector<float> frame(kFftSize), spectrum(2 * kFftSize), scratch(6 * kFftSize);
  std::vector<float> power(kBins);
  const int n_fft = filters.n_fft;
  // Frames starting past the signal hold only zeros: the reference skips their FFT.
  const int64_t n_with_signal = std::min<int64_t>(n_signal / kHop + 1, mel.n_len);
  for (int64_t i = begin; i < end; ++i) {
    if (i >= n_with_signal) {
      for (int j = 0; j < mel.n_mel; ++j) mel.data[j * static_cast<size_t>(mel.n_len) + i] = -10.0f;  // log10(1e-10)
      continue;
    }
    const int64_t offset = i * kHop;
    const int64_t avail = std::min<int64_t>(kFftSize, n_signal - offset);
    for (int64_t j = 0; j < avail; ++j) frame[j] = t.hann[j] * padded[offset + j];
    for (int64_t j = std::max<int64_t>(avail, 0); j < kFftSize; ++j) frame[j] = 0.0f;
    fft(frame.data(), kFftSize, spectrum.data(), scratch.data());
    for (int j = 0; j < kBins; ++j)
      power[j] = spectrum[2 * j] * spectrum[2 * j] + spectrum[2 * j + 1] * spectrum[2 * j + 1];
    for (int j = 0; j < mel.n_mel; ++j) {
      const float* f = filters.data.data() + static_cast<size_t>(j) * n_fft;
      double sum = 0.0;
      // Groups of four summed in float, then into the double: the reference's unrolled order.
      for (int k = spans[j].first; k < spans[j].last; k += 4)
        sum += power[k] * f[k] + power[k + 1] * f[k + 1] + power[k + 2] * f[k + 2] + power[k + 3] * f[k + 3];
      for (int k = n_fft / 4 * 4; k < n_fft; ++k) sum += power[k] * f[k];  // where the groups stop
      mel.data[j * static_cast<size_t>(mel.n_len) + i] = static_cast<float>(std::log10(std::max(sum, 1e-10)));
    }
  }
}

}  // namespace

MelSpectrogram compute_mel(const float* samples, int64_t n_samples, const MelFilters& filters, ThreadPool& pool,
                           const std::atomic<bool>* cancel) {
  if (n_samples < 0) n_samples = 0;
  const int64_t pad_end = kSampleRate * 30;  // 30 s of silence so the last window is complete
  const int64_t pad_side = kFftSize / 2;     // centred frames: 200 samples each side

  std::vector<float> padded(static_cast<size_t>(n_samples + pad_end + 2 * pad_side), 0.0f);
  std::copy(samples, samples + n_samples, padded.begin() + pad_side);
  // Reflective padding at the start (padded[j] = samples[200 - j]); audio shorter than the pad
  // reflects what exists and leaves zeros, where the reference would read past its input.
  for (int64_t j = 0; j < pad_side; ++j) {
    const int64_t src = pad_side - j;
    padded[j] = src < n_samples ? samples[src] : 0.0f;
  }

  MelSpectrogram mel;
  mel.n_mel = filters.n_mel;
  mel.n_len = static_cast<int>((static_cast<int64_t>(padded.size()) - kFftSize) / kHop);
  // C++ division truncates toward zero, as the reference's does for very short input.
  mel.n_len_org = static_cast<int>(1 + (n_samples + pad_side - kFftSize) / kHop);
  if (mel.n_len_org < 0) mel.n_len_org = 0;
  mel.data.assign(static_cast<size_t>(mel.n_mel) * mel.n_len, 0.0f);

  const int64_t n_signal = n_samples + pad_side;  // the reference's end of non-zero input
  // Relaxed: the flag carries no data; a chunk more or less before seeing it does not matter.
  auto cancelled = [cancel] { return cancel != nullptr && cancel->load(std::memory_order_relaxed); };
  const std::vector<FilterSpan> spans = filter_spans(filters);
  pool.parallel_for(mel.n_len, [&](int64_t begin, int64_t end) {
    constexpr int64_t kChunk = 256;  // frames (2.56 s of audio) between looks at the flag
    for (int64_t b = begin; b < end && !cancelled(); b += kChunk)
      mel_frames(padded, n_signal, b, std::min(end, b + kChunk), filters, spans, mel);
  });
  if (cancelled()) return mel;

  // Dynamic range: clamp to 8 (log10 units) below the maximum, then scale to about [-1, 1].
  double mmax = -1e20;
  for (float v : mel.data) mmax = std::max<double>(mmax, v);
  mmax -= 8.0;
  for (float& v : mel.data) {
    double x = v < mmax ? mmax : v;
    v = static_cast<float>((x + 4.0) / 4.0);
  }
  return mel;
}

}  // namespace thoth::asr
