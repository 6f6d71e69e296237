#include "asr/vad_kernels.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace thoth::asr::vad_detail {
#define VAD_LANES 4
namespace baseline {
#include "asr/vad_kernels_impl.h"
}  // namespace baseline

const VadKernels& vad_kernels_baseline() {
  static const VadKernels k{baseline::matmul, baseline::round_f16, "baseline"};
  return k;
}

const VadKernels* vad_kernels_avx2_table();  // vad_kernels_avx2.cpp

const VadKernels* vad_kernels_avx2() {
#if defined(__x86_64__)
  static const bool usable = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return usable ? vad_kernels_avx2_table() : nullptr;
#else
  return nullptr;
#endif
}

const VadKernels& vad_kernels() {
  // Picked once; the CPU does not change under a running process.
  static const VadKernels& best = [] () -> const VadKernels& {
    const char* forced = std::getenv("THOTH_VAD_KERNEL");
    if (forced && std::string_view(forced) == "baseline") return vad_kernels_baseline();
    if (const VadKernels* avx2 = vad_kernels_avx2()) return *avx2;
    return vad_kernels_baseline();
  }();
  return best;
}

}  // namespace thoth::asr::vad_detail
