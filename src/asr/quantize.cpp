#include "asr/quantize.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <system_error>
#include <vector>

namespace thoth::asr {

namespace {

// The reference truncates toward zero after adding 0.5 (or 8.5 / 16.5): its values are
// always in [0, 32) here, so the int8 cast it uses is a plain truncation.
inline int trunc_int(float v) { return static_cast<int>(v); }

// q4_0 / q5_0: scale from the value of largest magnitude (sign kept), levels centred on 0.
template <typename Block, int kLevels>
void abs_max_row(const float* x, Block* y, int64_t nb) {
  constexpr float kHalf = kLevels / 2;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -kHalf;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const float v0 = x[j] * id, v1 = x[j + kQK / 2] * id;  // rounded before the add
      const int x0 = std::min(kLevels - 1, trunc_int(v0 + (kHalf + 0.5f)));
      const int x1 = std::min(kLevels - 1, trunc_int(v1 + (kHalf + 0.5f)));
      y[i].qs[j] = static_cast<uint8_t>((x0 & 0x0f) | ((x1 & 0x0f) << 4));
      qh |= ((static_cast<uint32_t>(x0) & 0x10u) >> 4) << j;
      qh |= ((static_cast<uint32_t>(x1) & 0x10u) >> 4) << (j + kQK / 2);
    }
    if constexpr (kLevels == 32) std::memcpy(y[i].qh, &qh, sizeof qh);
  }
}

template <typename Block, int kLevels>
void min_max_row(const float* x, Block* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / (kLevels - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const float v0 = (x[j] - min) * id, v1 = (x[j + kQK / 2] - min) * id;
      int x0 = trunc_int(v0 + 0.5f);
      int x1 = trunc_int(v1 + 0.5f);
      if constexpr (kLevels == 16) {
        x0 = std::min(15, x0);
        x1 = std::min(15, x1);
        y[i].qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
      } else {
        // The reference casts to uint8_t without a clamp and keeps the low 5 bits.
        x0 &= 0xff;
        x1 &= 0xff;
        y[i].qs[j] = static_cast<uint8_t>((x0 & 0x0f) | ((x1 & 0x0f) << 4));
        qh |= ((static_cast<uint32_t>(x0) & 0x10u) >> 4) << j;
        qh |= ((static_cast<uint32_t>(x1) & 0x10u) >> 4) << (j + kQK / 2);
      }
    }
    if constexpr (kLevels == 32) std::memcpy(y[i].qh, &qh, sizeof qh);
  }
}

// q8_0 / q8_1 reference: multiplier 1 / d and rounding half away from zero (roundf),
// unlike the activation conversion of the x86 CPU backend (kernels.h).
template <typename Block, bool kWithSum>
void q8_row(const float* x, Block* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
      sum += y[i].qs[j];
    }
    if constexpr (kWithSum) y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

inline float h(uint16_t v) { return fp16_to_fp32(v); }

inline uint32_t qh_of(const uint8_t (&qh)[4]) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;
}

}  // namespace

void quantize_row_reference(TensorType t, const float* x, void* dst, int64_t k) {
  const int64_t nb = k / kQK;
  switch (t) {
    case TensorType::F32:
      std::memcpy(dst, x, static_cast<size_t>(k) * sizeof(float));
      return;
    case TensorType::F16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < k; ++i) out[i] = fp32_to_fp16(x[i]);
      return;
    }
    case TensorType::Q4_0: return abs_max_row<BlockQ4_0, 16>(x, static_cast<BlockQ4_0*>(dst), nb);
    case TensorType::Q4_1: return min_max_row<BlockQ4_1, 16>(x, static_cast<BlockQ4_1*>(dst), nb);
    case TensorType::Q5_0: return abs_max_row<BlockQ5_0, 32>(x, static_cast<BlockQ5_0*>(dst), nb);
    case TensorType::Q5_1: return min_max_row<BlockQ5_1, 32>(x, static_cast<BlockQ5_1*>(dst), nb);
    case TensorType::Q8_0: return q8_row<BlockQ8_0, false>(x, static_cast<BlockQ8_0*>(dst), nb);
    case TensorType::Q8_1: return q8_row<BlockQ8_1, true>(x, static_cast<BlockQ8_1*>(dst), nb);
  }
}

void dequantize_row(TensorType t, const void* src, float* y, int64_t k) {
  const int64_t nb = k / kQK;
  switch (t) {
    case TensorType::F32:
      std::memcpy(y, src, static_cast<size_t>(k) * sizeof(float));
      return;
    case TensorType::F16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < k; ++i) y[i] = h(in[i]);
      return;
    }
    case TensorType::Q4_0: {
      const auto* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK)
        for (int j = 0; j < kQK / 2; ++j) {
          y[j] = static_cast<float>((b[i].qs[j] & 0x0f) - 8) * h(b[i].d);
          y[j + kQK / 2] = static_cast<float>((b[i].qs[j] >> 4) - 8) * h(b[i].d);
        }
      return;
    }
    case TensorType::Q4_1: {
      const auto* b = static_cast<const BlockQ4_1*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK)
        for (int j = 0; j < kQK / 2; ++j) {
          y[j] = static_cast<float>(b[i].qs[j] & 0x0f) * h(b[i].d) + h(b[i].m);
          y[j + kQK / 2] = static_cast<float>(b[i].qs[j] >> 4) * h(b[i].d) + h(b[i].m);
        }
      return;
    }
    case TensorType::Q5_0: {
      const auto* b = static_cast<const BlockQ5_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK) {
        const uint32_t qh = qh_of(b[i].qh);
        for (int j = 0; j < kQK / 2; ++j) {
          const int lo = (b[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4);
          const int hi = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
          y[j] = static_cast<float>(lo - 16) * h(b[i].d);
          y[j + kQK / 2] = static_cast<float>(hi - 16) * h(b[i].d);
        }
      }
      return;
    }
    case TensorType::Q5_1: {
      const auto* b = static_cast<const BlockQ5_1*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK) {
        const uint32_t qh = qh_of(b[i].qh);
        for (int j = 0; j < kQK / 2; ++j) {
          const int lo = (b[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4);
          const int hi = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
          y[j] = static_cast<float>(lo) * h(b[i].d) + h(b[i].m);
          y[j + kQK / 2] = static_cast<float>(hi) * h(b[i].d) + h(b[i].m);
        }
      }
      return;
    }
    case TensorType::Q8_0: {
      const auto* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK)
        for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b[i].qs[j]) * h(b[i].d);
      return;
    }
    case TensorType::Q8_1: {
      const auto* b = static_cast<const BlockQ8_1*>(src);
      for (int64_t i = 0; i < nb; ++i, y += kQK)
        for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b[i].qs[j]) * h(b[i].d);
      return;
    }
  }
}

}  // namespace thoth::asr

// ---- Model file quantizer ----------------------------------------------------------------

namespace thoth::asr {

namespace {

constexpr int32_t kMagic = 0x67676d6c;     // "lmgg" little-endian
constexpr int32_t kQuantVersion = 2;       // GGML_QNT_VERSION
constexpr int32_t kQuantVersionFactor = 1000;

// ggml's file-type numbers (enum ggml_ftype) for the header.
int32_t file_type_of(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: return 2;
    case TensorType::Q4_1: return 3;
    case TensorType::Q8_0: return 7;
    case TensorType::Q5_0: return 8;
    case TensorType::Q5_1: return 9;
    default: return -1;
  }
}

// Reads the input with every length checked against what is left of the file.
class Reader {
 public:
  Reader(std::ifstream& in, uint64_t size, const std::string& path)
      : in_(in), left_(size), path_(path) {}
  uint64_t left() const { return left_; }
  bool read(void* dst, uint64_t n, const char* what) {
    if (n > left_) {
      error_ = path_ + ": truncated file: " + what + " needs " + std::to_string(n) +
               " bytes, " + std::to_string(left_) + " left";
      return false;
    }
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (!in_) {
      error_ = path_ + ": read error in " + what;
      return false;
    }
    left_ -= n;
    return true;
  }
  bool i32(int32_t& v, const char* what) { return read(&v, sizeof v, what); }
  const std::string& error() const { return error_; }

 private:
  std::ifstream& in_;
  uint64_t left_;
  const std::string& path_;
  std::string error_;
};

class Writer {
 public:
  explicit Writer(std::ofstream& out) : out_(out) {}
  void write(const void* src, uint64_t n) {
    out_.write(static_cast<const char*>(src), static_cast<std::streamsize>(n));
    bytes_ += n;
  }
  void i32(int32_t v) { write(&v, sizeof v); }
  uint64_t bytes() const { return bytes_; }

 private:
  std::ofstream& out_;
  uint64_t bytes_ = 0;
};

// Removes the partly written file unless the quantization succeeded.
struct TempFile {
  std::filesystem::path path;
  bool keep = false;
  ~TempFile() {
    if (!keep) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  }
};

}  // namespace

Result<TensorType> parse_quantization_type(std::string_view name) {
  if (name == "q8_0") return TensorType::Q8_0;
  if (name == "q5_0") return TensorType::Q5_0;
  if (name == "q5_1") return TensorType::Q5_1;
  if (name == "q4_0") return TensorType::Q4_0;
  if (name == "q4_1") return TensorType::Q4_1;
  return make_error("unknown quantization type '" + std::string(name) +
                    "' (expected q8_0, q5_0, q5_1, q4_0 or q4_1)");
}

Result<QuantizeReport> quantize_model_file(const std::string& in_path, const std::string& out_path,
                                           TensorType type) {
  namespace fs = std::filesystem;
  const int32_t ftype = file_type_of(type);
  if (ftype < 0) return make_error(std::string("cannot quantize to ") + type_name(type));

  std::error_code ec;
  if (!fs::is_regular_file(in_path, ec))
    return make_error(in_path + ": no such model file");
  const uint64_t in_size = fs::file_size(in_path, ec);
  if (ec) return make_error(in_path + ": " + ec.message());
  std::ifstream in(in_path, std::ios::binary);
  if (!in) return make_error(in_path + ": cannot open: " + std::strerror(errno));

  const fs::path out_fs(out_path);
  if (fs::is_directory(out_fs, ec)) return make_error(out_path + ": is a directory");
  const fs::path out_dir = out_fs.has_parent_path() ? out_fs.parent_path() : fs::path(".");
  if (!fs::is_directory(out_dir, ec))
    return make_error(out_path + ": directory " + out_dir.string() + " does not exist");
  if (fs::exists(out_fs, ec) && fs::equivalent(out_fs, in_path, ec))
    return make_error(out_path + ": output would overwrite the input model");
  std::string part_name = out_fs.filename().string();
  part_name.insert(0, 1, '.');  // (not "." + name: GCC 12 warns falsely on that)
  part_name += ".part";
  TempFile tmp{out_dir / part_name};
  std::ofstream out(tmp.path, std::ios::binary | std::ios::trunc);
  if (!out)
    return make_error(out_path + ": cannot write in " + out_dir.string() + ": " +
                      std::strerror(errno));

  Reader r(in, in_size, in_path);
  Writer w(out);
  QuantizeReport report;
  report.bytes_in = in_size;

  // Header: magic and eleven hyper-parameters, the last being the file type.
  int32_t header[12];
  if (!r.read(header, sizeof header, "header")) return make_error(r.error());
  if (header[0] != kMagic) return make_error(in_path + ": not a ggml Whisper model (bad magic)");
  const int32_t n_vocab = header[1];
  const int32_t in_ftype = header[11];
  if (in_ftype != 0 && in_ftype != 1)
    return make_error(in_path + ": already quantized (file type " + std::to_string(in_ftype) +
                      "); quantize an f16 or f32 model");
  header[11] = kQuantVersion * kQuantVersionFactor + ftype;
  w.write(header, sizeof header);

  // Mel filterbank, copied.
  int32_t n_mel = 0, n_fft = 0;
  if (!r.i32(n_mel, "mel filter count") || !r.i32(n_fft, "mel filter length"))
    return make_error(r.error());
  if (n_mel <= 0 || n_fft <= 0 || n_mel > 1024 || n_fft > 4096)
    return make_error(in_path + ": absurd mel filterbank size " + std::to_string(n_mel) + "x" +
                      std::to_string(n_fft));
  std::vector<uint8_t> buf(static_cast<size_t>(n_mel) * n_fft * sizeof(float));
  if (!r.read(buf.data(), buf.size(), "mel filters")) return make_error(r.error());
  w.i32(n_mel);
  w.i32(n_fft);
  w.write(buf.data(), buf.size());

  // Vocabulary, copied.
  int32_t n_words = 0;
  if (!r.i32(n_words, "vocabulary size")) return make_error(r.error());
  if (n_words < 0 || n_words > n_vocab || n_words > 1000000)
    return make_error(in_path + ": vocabulary of " + std::to_string(n_words) +
                      " tokens does not fit n_vocab " + std::to_string(n_vocab));
  w.i32(n_words);
  for (int32_t i = 0; i < n_words; ++i) {
    int32_t len = 0;
    if (!r.i32(len, "token length")) return make_error(r.error());
    if (len < 0 || len > 1024)
      return make_error(in_path + ": token " + std::to_string(i) + " has absurd length " +
                        std::to_string(len));
    buf.resize(static_cast<size_t>(len));
    if (!r.read(buf.data(), buf.size(), "token")) return make_error(r.error());
    w.i32(len);
    w.write(buf.data(), buf.size());
  }

  // Tensors, as the reference walks them: 2-D f32/f16 tensors are quantized row by row,
  // except these, which the decoder and convolutions need at full precision.
  const std::regex quantize_all(".*");
  const std::regex skip[] = {std::regex("encoder.conv1.bias"), std::regex("encoder.conv2.bias"),
                             std::regex("encoder.positional_embedding"),
                             std::regex("decoder.positional_embedding")};
  std::vector<float> values;
  std::vector<uint8_t> qbuf;
  while (r.left() > 0) {
    int32_t n_dims = 0, name_len = 0, ttype = 0;
    if (!r.i32(n_dims, "tensor header") || !r.i32(name_len, "tensor header") ||
        !r.i32(ttype, "tensor header"))
      return make_error(r.error());
    if (n_dims < 1 || n_dims > 4)
      return make_error(in_path + ": tensor with " + std::to_string(n_dims) + " dimensions");
    int32_t ne[4] = {1, 1, 1, 1};
    int64_t nelements = 1;
    for (int i = 0; i < n_dims; ++i) {
      if (!r.i32(ne[i], "tensor shape")) return make_error(r.error());
      if (ne[i] <= 0) return make_error(in_path + ": tensor with a dimension of " + std::to_string(ne[i]));
      nelements *= ne[i];
      if (nelements > (int64_t{1} << 34)) return make_error(in_path + ": tensor of absurd size");
    }
    if (name_len <= 0 || name_len > 256)
      return make_error(in_path + ": tensor name of absurd length " + std::to_string(name_len));
    std::string name(static_cast<size_t>(name_len), '\0');
    if (!r.read(name.data(), name.size(), "tensor name")) return make_error(r.error());
    if (ttype != 0 && ttype != 1)
      return make_error(in_path + ": tensor '" + name + "' is stored as type " +
                        std::to_string(ttype) + "; only f32 and f16 tensors can be quantized");

    bool quantize = std::regex_match(name, quantize_all);
    for (const auto& s : skip)
      if (std::regex_match(name, s)) quantize = false;
    quantize = quantize && n_dims == 2;
    const uint64_t in_bytes = static_cast<uint64_t>(nelements) * (ttype == 0 ? 4 : 2);
    buf.resize(in_bytes);
    if (!r.read(buf.data(), buf.size(), ("tensor '" + name + "' data").c_str()))
      return make_error(r.error());

    const int32_t out_type = quantize ? static_cast<int32_t>(type) : ttype;
    w.i32(n_dims);
    w.i32(name_len);
    w.i32(out_type);
    for (int i = 0; i < n_dims; ++i) w.i32(ne[i]);
    w.write(name.data(), name.size());
    if (!quantize) {
      w.write(buf.data(), buf.size());
      ++report.tensors_copied;
      continue;
    }
    if (ne[0] % kQK != 0)
      return make_error(in_path + ": tensor '" + name + "' has rows of " + std::to_string(ne[0]) +
                        " values, not a multiple of " + std::to_string(kQK));
    values.resize(static_cast<size_t>(nelements));
    if (ttype == 1) {
      const auto* h = reinterpret_cast<const uint16_t*>(buf.data());
      for (int64_t i = 0; i < nelements; ++i) values[i] = fp16_to_fp32(h[i]);
    } else {
      std::memcpy(values.data(), buf.data(), buf.size());
    }
    const int64_t rows = nelements / ne[0];
    const size_t rb = row_bytes(type, ne[0]);
    qbuf.resize(rb * rows);
    for (int64_t row = 0; row < rows; ++row)
      quantize_row_reference(type, values.data() + row * ne[0], qbuf.data() + row * rb, ne[0]);
    w.write(qbuf.data(), qbuf.size());
    ++report.tensors_quantized;
  }
  if (report.tensors_quantized == 0) return make_error(in_path + ": no tensors to quantize");

  out.flush();
  out.close();
  if (!out) return make_error(out_path + ": write failed (disk full?)");
  fs::rename(tmp.path, out_fs, ec);
  if (ec) return make_error(out_path + ": cannot create: " + ec.message());
  tmp.keep = true;
  report.bytes_out = w.bytes();
  return report;
}

}  // namespace thoth::asr
