// The VAD kernels compiled for AVX2+FMA (flags set in CMakeLists.txt for this file only).
#include "asr/vad_kernels.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace thoth::asr::vad_detail {

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define VAD_LANES 8
namespace avx2 {
#include "asr/vad_kernels_impl.h"
}  // namespace avx2

// Only the table lives here: the CPU check runs in baseline code (vad_kernels.cpp), so nothing
// compiled with AVX2 executes before it.
const VadKernels* vad_kernels_avx2_table() {
  static const VadKernels k{avx2::matmul, avx2::round_f16, "avx2+fma"};
  return &k;
}
#else
const VadKernels* vad_kernels_avx2_table() { return nullptr; }
#endif

}  // namespace thoth::asr::vad_detail
