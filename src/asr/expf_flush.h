// libm's expf without its slow path for results that underflow to zero.
#pragma once
#include <cmath>

namespace thoth::asr {
namespace {  // internal linkage: each kernel variant's file compiles its own copy (kernels_tiling.h)

// Below ln(2^-150) ~ -103.972 the exact value is under half the smallest subnormal, so expf
// returns +0 (round to nearest), but only after its underflow path (errno, a trap-raising
// multiply), which random-weight models and long cross-attention rows hit for most keys.
// Everything else is expf's own result, so the bits never change.
inline float expf_flush(float x) { return x < -104.0f ? 0.0f : expf(x); }

}  // namespace
}  // namespace thoth::asr
