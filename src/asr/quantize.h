// Weight quantization exactly as the reference quantizer writes model files (ggml's
// quantize_row_*_ref), and the inverse, for the block types of ggml_format.h.
#pragma once
#include <cstdint>
#include <string>

#include "asr/ggml_format.h"
#include "core/result.h"

namespace thoth::asr {

// Quantizes k floats (a multiple of 32) into blocks of type t (q4_0, q4_1, q5_0, q5_1,
// q8_0, q8_1), bit for bit as the reference quantizer. t = F16/F32 stores the values.
void quantize_row_reference(TensorType t, const float* x, void* dst, int64_t k);

// The values a stored row of type t stands for (any file tensor type and q8_1).
void dequantize_row(TensorType t, const void* src, float* y, int64_t k);

}  // namespace thoth::asr
