// Inner loops of the VAD network, compiled once for baseline x86-64 (or any other target) and
// once more for AVX2+FMA, and picked at run time. Internal to asr/.
#pragma once
#include <cstddef>
#include <vector>

namespace thoth::asr {
class VadModel;
}

namespace thoth::asr::vad_detail {

struct VadKernels {
  // Y[c * ldy + o] = dot(W + o * ldw, X + c * ldx, n) for every row o < rows and column c < cols.
  // n is a multiple of 16 (rows are zero-padded); cols <= 4.
  void (*matmul)(const float* W, int rows, int ldw, int n, const float* X, int ldx, int cols, float* Y, int ldy);
  // Rounds each value to the nearest f16 value (ties to even), kept as f32: the reference's
  // convolutions see their inputs in f16.
  void (*round_f16)(float* x, int n);
  const char* name;
};

// The best variant this CPU runs; THOTH_VAD_KERNEL=baseline forces the portable one.
const VadKernels& vad_kernels();
const VadKernels& vad_kernels_baseline();  // the portable variant
const VadKernels* vad_kernels_avx2();      // nullptr where not built or the CPU lacks AVX2/FMA

// vad_probabilities() on a given variant (tests and benchmarks compare them).
std::vector<float> probabilities_with(const VadKernels& kernels, const VadModel& model, const float* pcm, size_t n);

}  // namespace thoth::asr::vad_detail
