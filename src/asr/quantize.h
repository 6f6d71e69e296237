// Weight quantization exactly as the reference quantizer writes model files (ggml's
// quantize_row_*_ref), and the inverse, for the block types of ggml_format.h.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "asr/ggml_format.h"
#include "core/result.h"

namespace thoth::asr {

// Quantizes k floats (a multiple of 32) into blocks of type t (q4_0, q4_1, q5_0, q5_1,
// q8_0, q8_1), bit for bit as the reference quantizer. t = F16/F32 stores the values.
void quantize_row_reference(TensorType t, const float* x, void* dst, int64_t k);

// The values a stored row of type t stands for (any file tensor type and q8_1).
void dequantize_row(TensorType t, const void* src, float* y, int64_t k);

// "q8_0", "q5_0", "q5_1", "q4_0" or "q4_1"; anything else is an error listing them.
Result<TensorType> parse_quantization_type(std::string_view name);

struct QuantizeReport {
  int tensors_quantized = 0, tensors_copied = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
};

// Writes `out_path`, the ggml Whisper file `in_path` (f32/f16 tensors) with its 2-D tensors
// quantized to `type`, byte for byte as the reference quantizer (whisper.cpp's quantize
// tool): header ftype = 2 * 1000 + ggml ftype, filters and vocabulary copied, the conv
// biases and positional embeddings kept. The file appears atomically (written beside it,
// then renamed); errors name the file and the defect and leave nothing behind.
Result<QuantizeReport> quantize_model_file(const std::string& in_path, const std::string& out_path,
                                           TensorType type);

}  // namespace thoth::asr
