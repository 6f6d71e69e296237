// Storage types and block layouts of the ggml Whisper file format, bit for bit.
// The file format is the contract: these structs mirror its on-disk bytes.
#pragma once
#include <cstddef>
#include <cstdint>

namespace thoth::asr {

enum class TensorType : int32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,  // activations only (the partner of Q5_1/Q4_1 in dot products)
};

constexpr int kQK = 32;  // elements per quantized block, every block type here

#pragma pack(push, 1)
struct BlockQ4_0 { uint16_t d; uint8_t qs[kQK / 2]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[kQK / 2]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[kQK / 2]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[kQK / 2]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[kQK]; };
struct BlockQ8_1 { uint16_t d, s; int8_t qs[kQK]; };  // s = d * sum(qs)
#pragma pack(pop)
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
// Packed, so a block may be read in place at whatever offset the file puts its tensor.
static_assert(alignof(BlockQ4_0) == 1 && alignof(BlockQ4_1) == 1 && alignof(BlockQ5_0) == 1 &&
              alignof(BlockQ5_1) == 1 && alignof(BlockQ8_0) == 1 && alignof(BlockQ8_1) == 1);

// True for the types a model file may store (f32, f16 and the four quantized ones).
bool is_file_tensor_type(int32_t raw);
const char* type_name(TensorType t);
// Elements per block (1 for f32/f16) and bytes per block.
int block_size(TensorType t);
size_t block_bytes(TensorType t);
// Bytes of a row of n elements; n must be a multiple of block_size(t).
size_t row_bytes(TensorType t, int64_t n);

// IEEE half precision, round-to-nearest-even as the F16C instructions do.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);

}  // namespace thoth::asr
