// Silero VAD: the ggml file, the network and the segment rules of the reference (whisper.cpp).
//
// Network per 512-sample chunk (as the reference computes it):
//   reflect-pad 64 samples on each side (640) -> STFT as a strided convolution with the stored
//   basis (256-wide, hop 128: 4 frames x 129 bins, real and imaginary) -> magnitude ->
//   4 convolutions (kernel 3, padding 1, strides 1 2 2 1) with ReLU -> first time step (128) ->
//   one LSTM step (state carried from chunk to chunk) -> ReLU -> 128->1 projection -> sigmoid.
// The reference's convolutions (ggml_conv_1d) round their inputs to f16; we do the same so our
// probabilities follow its own, not just the PyTorch model's.
#include "asr/vad.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "asr/vad_kernels.h"

namespace thoth::asr {
namespace {

constexpr uint32_t kGgmlMagic = 0x67676d6c;  // "lmgg" on disk
constexpr size_t kMaxVadFileBytes = 64u << 20;  // Silero files are under 2 MB

// The architecture this code runs: Silero VAD v5/v6 at 16 kHz.
constexpr int kWindow = 512, kPad = 64, kFrameLen = kWindow + 2 * kPad;
constexpr int kFft = 256, kBins = 129, kHop = 128, kFrames = 4;
constexpr int kEncIn[4] = {129, 128, 64, 64};
constexpr int kEncOut[4] = {128, 64, 64, 128};
constexpr int kEncStride[4] = {1, 2, 2, 1};
constexpr int kKernel = 3;
constexpr int kHidden = 128;
static_assert(kFft % VadModel::kRowAlign == 0 && (2 * kHidden) % VadModel::kRowAlign == 0);

int padded(int n) { return (n + VadModel::kRowAlign - 1) / VadModel::kRowAlign * VadModel::kRowAlign; }

float fp16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(man), -24);  // zero or subnormal
    return sign ? -f : f;
  }
  uint32_t bits = sign | (exp == 31 ? (0xFFu << 23) | (man << 13) : ((exp + 112u) << 23) | (man << 13));
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Tensor types a ggml file may give the VAD's tensors.
enum : int32_t { kTypeF32 = 0, kTypeF16 = 1 };

struct TensorSpec {
  const char* name;
  int64_t ne[4];
};

// Shapes in ggml order (ne[0] innermost), as the reference creates them.
constexpr TensorSpec kTensors[] = {
    {"_model.stft.forward_basis_buffer", {kFft, 1, 2 * kBins, 1}},
    {"_model.encoder.0.reparam_conv.weight", {kKernel, 129, 128, 1}},
    {"_model.encoder.0.reparam_conv.bias", {128, 1, 1, 1}},
    {"_model.encoder.1.reparam_conv.weight", {kKernel, 128, 64, 1}},
    {"_model.encoder.1.reparam_conv.bias", {64, 1, 1, 1}},
    {"_model.encoder.2.reparam_conv.weight", {kKernel, 64, 64, 1}},
    {"_model.encoder.2.reparam_conv.bias", {64, 1, 1, 1}},
    {"_model.encoder.3.reparam_conv.weight", {kKernel, 64, 128, 1}},
    {"_model.encoder.3.reparam_conv.bias", {128, 1, 1, 1}},
    {"_model.decoder.rnn.weight_ih", {kHidden, 4 * kHidden, 1, 1}},
    {"_model.decoder.rnn.weight_hh", {kHidden, 4 * kHidden, 1, 1}},
    {"_model.decoder.rnn.bias_ih", {4 * kHidden, 1, 1, 1}},
    {"_model.decoder.rnn.bias_hh", {4 * kHidden, 1, 1, 1}},
    {"_model.decoder.decoder.2.weight", {kHidden, 1, 1, 1}},
    {"_model.decoder.decoder.2.bias", {1, 1, 1, 1}},
};
constexpr int kNumTensors = sizeof(kTensors) / sizeof(kTensors[0]);

std::string shape_str(const int64_t* ne, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Bounds-checked reading of the file image; every failure says what was being read and where.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& name) : p_(data), size_(size), name_(name) {}
  size_t offset() const { return off_; }
  size_t left() const { return size_ - off_; }

  bool i32(int32_t& v) {
    if (left() < 4) return false;
    std::memcpy(&v, p_ + off_, 4);
    off_ += 4;
    return true;
  }
  const uint8_t* bytes(size_t n) {
    if (left() < n) return nullptr;
    const uint8_t* r = p_ + off_;
    off_ += n;
    return r;
  }
  Error truncated(const std::string& what) const {
    return make_error(name_ + ": truncated VAD model: file ends at byte " + std::to_string(size_) + " while reading " +
                      what);
  }
  Error bad(const std::string& what) const { return make_error(name_ + ": " + what); }

 private:
  const uint8_t* p_;
  size_t size_, off_ = 0;
  const std::string& name_;
};

}  // namespace

Result<std::shared_ptr<const VadModel>> VadModel::load(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return make_error(path + ": cannot open VAD model: no such file");
  }
  if (!std::filesystem::is_regular_file(status)) return make_error(path + ": cannot open VAD model: not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(path + ": cannot open VAD model: " + ec.message());
  if (size > kMaxVadFileBytes) {
    return make_error(path + ": not a Silero VAD model: " + std::to_string(size >> 20) +
                      " MiB is far larger than any VAD model (a Whisper model?)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open VAD model: " + std::strerror(errno));
  std::vector<char> data(size);
  if (size && !in.read(data.data(), static_cast<std::streamsize>(size))) {
    return make_error(path + ": cannot read VAD model");
  }
  return parse(data.data(), data.size(), path);
}

Result<std::shared_ptr<const VadModel>> VadModel::parse(const void* data, size_t size, const std::string& name) {
  Reader r(static_cast<const uint8_t*>(data), size, name);
  auto model = std::shared_ptr<VadModel>(new VadModel());

  int32_t magic = 0;
  if (size == 0) return r.bad("empty file, not a Silero VAD model");
  if (!r.i32(magic)) return r.truncated("the magic number");
  if (static_cast<uint32_t>(magic) != kGgmlMagic) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", static_cast<uint32_t>(magic));
    return r.bad(std::string("not a ggml model file (magic ") + hex + ", expected 0x67676d6c)");
  }

  int32_t type_len = 0;
  if (!r.i32(type_len)) return r.truncated("the model type");
  if (type_len >= 51864 && type_len <= 51866) {
    return r.bad("this is a Whisper model, not a Silero VAD model");
  }
  if (type_len <= 0 || type_len > 64) {
    return r.bad("not a Silero VAD model (model type field of " + std::to_string(type_len) + " bytes)");
  }
  const uint8_t* type = r.bytes(static_cast<size_t>(type_len));
  if (!type) return r.truncated("the model type");
  model->type_.assign(reinterpret_cast<const char*>(type), static_cast<size_t>(type_len));
  for (unsigned char ch : model->type_) {
    if (ch < 0x20 || ch > 0x7e) return r.bad("not a Silero VAD model (model type is not text)");
  }

  int32_t ver[3], window = 0, context = 0;
  for (auto& v : ver) {
    if (!r.i32(v)) return r.truncated("the model version");
    if (v < 0) return r.bad("corrupt VAD model: negative version number " + std::to_string(v));
  }
  model->version_ = std::to_string(ver[0]) + "." + std::to_string(ver[1]) + "." + std::to_string(ver[2]);
  if (!r.i32(window) || !r.i32(context)) return r.truncated("the window size");

  const std::string arch = "unsupported VAD model '" + model->type_ + "' v" + model->version_ + ": ";
  if (window != kWindow) {
    return r.bad(arch + "window of " + std::to_string(window) + " samples (Silero 16 kHz uses 512)");
  }
  if (context < 0 || context >= window) return r.bad(arch + "context of " + std::to_string(context) + " samples");

  int32_t n_layers = 0;
  if (!r.i32(n_layers)) return r.truncated("the hyper-parameters");
  if (n_layers != 4) return r.bad(arch + std::to_string(n_layers) + " encoder layers (Silero has 4)");
  for (int l = 0; l < 4; ++l) {
    int32_t in_ch = 0, out_ch = 0, kernel = 0;
    if (!r.i32(in_ch) || !r.i32(out_ch) || !r.i32(kernel)) return r.truncated("the hyper-parameters");
    if (in_ch != kEncIn[l] || out_ch != kEncOut[l] || kernel != kKernel) {
      return r.bad(arch + "encoder layer " + std::to_string(l) + " is " + std::to_string(in_ch) + "->" +
                   std::to_string(out_ch) + " channels, kernel " + std::to_string(kernel) + " (expected " +
                   std::to_string(kEncIn[l]) + "->" + std::to_string(kEncOut[l]) + ", kernel 3)");
    }
  }
  int32_t lstm_in = 0, lstm_hidden = 0, final_in = 0, final_out = 0;
  if (!r.i32(lstm_in) || !r.i32(lstm_hidden) || !r.i32(final_in) || !r.i32(final_out)) {
    return r.truncated("the hyper-parameters");
  }
  if (lstm_in != kHidden || lstm_hidden != kHidden || final_in != kHidden || final_out != 1) {
    return r.bad(arch + "LSTM " + std::to_string(lstm_in) + "x" + std::to_string(lstm_hidden) + ", output " +
                 std::to_string(final_in) + "->" + std::to_string(final_out) + " (expected 128x128, 128->1)");
  }

  // Tensors until the end of the file, in any order, each exactly once.
  std::vector<float> values[kNumTensors];
  bool seen[kNumTensors] = {};
  while (r.left() > 0) {
    const size_t header_at = r.offset();
    int32_t n_dims = 0, name_len = 0, ttype = 0;
    if (!r.i32(n_dims) || !r.i32(name_len) || !r.i32(ttype)) {
      return r.truncated("a tensor header at byte " + std::to_string(header_at));
    }
    if (n_dims < 0 || n_dims > 4) {
      return r.bad("corrupt VAD model: tensor at byte " + std::to_string(header_at) + " has " +
                   std::to_string(n_dims) + " dimensions");
    }
    if (name_len <= 0 || name_len > 256) {
      return r.bad("corrupt VAD model: tensor at byte " + std::to_string(header_at) + " has a name of " +
                   std::to_string(name_len) + " bytes");
    }
    int64_t ne[4] = {1, 1, 1, 1};
    for (int d = 0; d < n_dims; ++d) {
      int32_t v = 0;
      if (!r.i32(v)) return r.truncated("the shape of the tensor at byte " + std::to_string(header_at));
      ne[d] = v;
    }
    const uint8_t* name_bytes = r.bytes(static_cast<size_t>(name_len));
    if (!name_bytes) return r.truncated("the name of the tensor at byte " + std::to_string(header_at));
    const std::string tname(reinterpret_cast<const char*>(name_bytes), static_cast<size_t>(name_len));

    int idx = -1;
    for (int t = 0; t < kNumTensors; ++t) {
      if (tname == kTensors[t].name) idx = t;
    }
    // Names come from the file: show them printable and bounded.
    std::string shown;
    for (unsigned char ch : tname) shown += (ch >= 0x20 && ch < 0x7f) ? static_cast<char>(ch) : '?';
    if (idx < 0) return r.bad("corrupt VAD model: unknown tensor '" + shown + "'");
    if (seen[idx]) return r.bad("corrupt VAD model: duplicate tensor '" + shown + "'");
    seen[idx] = true;
    if (ttype != kTypeF32 && ttype != kTypeF16) {
      return r.bad("unsupported VAD model: tensor '" + shown + "' has type " + std::to_string(ttype) +
                    " (only f32 and f16 are supported)");
    }
    for (int d = 0; d < 4; ++d) {
      if (ne[d] != kTensors[idx].ne[d]) {
        return r.bad("corrupt VAD model: tensor '" + shown + "' has shape " + shape_str(ne, std::max(n_dims, 1)) +
                     ", expected " + shape_str(kTensors[idx].ne, 3));
      }
    }
    // Shapes are now the expected small ones: no overflow below.
    const size_t count = static_cast<size_t>(ne[0] * ne[1] * ne[2] * ne[3]);
    const size_t nbytes = count * (ttype == kTypeF32 ? 4 : 2);
    const uint8_t* payload = r.bytes(nbytes);
    if (!payload) {
      return r.truncated("tensor '" + shown + "' (" + std::to_string(nbytes) + " bytes of data, " +
                         std::to_string(r.left()) + " left)");
    }
    auto& out = values[idx];
    out.resize(count);
    if (ttype == kTypeF32) {
      std::memcpy(out.data(), payload, nbytes);
    } else {
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, payload + 2 * i, 2);
        out[i] = fp16_to_f32(h);
      }
    }
    for (float v : out) {
      if (!std::isfinite(v)) return r.bad("corrupt VAD model: tensor '" + shown + "' holds a non-finite value");
    }
  }
  for (int t = 0; t < kNumTensors; ++t) {
    if (!seen[t]) return r.bad(std::string("incomplete VAD model: tensor '") + kTensors[t].name + "' is missing");
  }

  // Lay the weights out for the kernels: rows zero-padded to kRowAlign.
  Weights& w = model->w_;
  w.n_fft = kFft, w.n_bins = kBins, w.hop = kHop, w.hidden = kHidden;
  w.stft_basis = std::move(values[0]);  // 258 rows of 256: already aligned
  for (int l = 0; l < 4; ++l) {
    Conv& c = w.encoder[l];
    c.in = kEncIn[l], c.out = kEncOut[l], c.kernel = kKernel, c.stride = kEncStride[l];
    c.row = padded(c.in * c.kernel);
    // The file has [out][in][k] (k innermost); we keep [out][k][in] so that the input window of
    // one output step is three whole time steps of the (time-major) activations.
    const auto& src = values[1 + 2 * l];
    c.weight.assign(static_cast<size_t>(c.out) * c.row, 0.0f);
    for (int o = 0; o < c.out; ++o) {
      for (int i = 0; i < c.in; ++i) {
        for (int j = 0; j < c.kernel; ++j) {
          c.weight[static_cast<size_t>(o) * c.row + j * c.in + i] = src[(static_cast<size_t>(o) * c.in + i) * c.kernel + j];
        }
      }
    }
    c.bias = std::move(values[2 + 2 * l]);
  }
  const auto& w_ih = values[9];
  const auto& w_hh = values[10];
  w.lstm_weight.assign(static_cast<size_t>(4 * kHidden) * 2 * kHidden, 0.0f);
  w.lstm_bias.assign(4 * kHidden, 0.0f);
  for (int g = 0; g < 4 * kHidden; ++g) {
    float* row = w.lstm_weight.data() + static_cast<size_t>(g) * 2 * kHidden;
    std::copy_n(w_ih.data() + static_cast<size_t>(g) * kHidden, kHidden, row);
    std::copy_n(w_hh.data() + static_cast<size_t>(g) * kHidden, kHidden, row + kHidden);
    w.lstm_bias[g] = values[11][g] + values[12][g];
  }
  w.out_weight = std::move(values[13]);
  w.out_bias = values[14][0];
  return std::shared_ptr<const VadModel>(std::move(model));
}

// ---------------------------------------------------------------------------------------------
// Inference

namespace vad_detail {
struct ChunkState {
  // Activations are time-major ([time][channel]); `cols` holds the input window of each
  // convolution output step (three time steps), zero-padded to the weight rows' length.
  alignas(32) float frame[kFrameLen];
  alignas(32) float spec[kFrames * 2 * kBins];  // [frame][real bins | imaginary bins]
  alignas(32) float act_a[kBins * kFrames];
  alignas(32) float act_b[kBins * kFrames];
  alignas(32) float cols[kFrames * 400];
  alignas(32) float xh[2 * kHidden];  // LSTM input, then its hidden state
  alignas(32) float gates[4 * kHidden];
  alignas(32) float c[kHidden];
  alignas(32) float relu_h[kHidden];

  void reset() {
    std::fill(std::begin(xh), std::end(xh), 0.0f);
    std::fill(std::begin(c), std::end(c), 0.0f);
  }
};
}  // namespace vad_detail

VadStream::VadStream(std::shared_ptr<const VadModel> model)
    : model_(std::move(model)), state_(new vad_detail::ChunkState()) {
  state_->reset();
}
VadStream::~VadStream() = default;
VadStream::VadStream(VadStream&&) noexcept = default;
VadStream& VadStream::operator=(VadStream&&) noexcept = default;

void VadStream::reset() { state_->reset(); }

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// tanh from expf: glibc's tanhf is several times slower, and this form is exact to a few ulp
// of 1 (the LSTM only ever adds these values to others of that size).
float tanh_fast(float x) {
  if (x > 15.0f) return 1.0f;
  if (x < -15.0f) return -1.0f;
  return 1.0f - 2.0f / (std::exp(2.0f * x) + 1.0f);
}

// One convolution with padding 1, then bias and ReLU. `in` is [len_in][c.in] and is rounded to
// f16 in place (as the reference's im2col does); `out` becomes [len_out][c.out].
int conv_relu(const vad_detail::VadKernels& k, const VadModel::Conv& c, float* in, int len_in, float* cols,
              float* out) {
  const int len_out = (len_in + 2 - c.kernel) / c.stride + 1;
  k.round_f16(in, c.in * len_in);
  for (int t = 0; t < len_out; ++t) {
    float* col = cols + t * c.row;
    for (int j = 0; j < c.kernel; ++j) {
      const int p = t * c.stride + j - 1;
      if (p >= 0 && p < len_in) {
        std::memcpy(col + j * c.in, in + p * c.in, sizeof(float) * static_cast<size_t>(c.in));
      } else {
        std::fill_n(col + j * c.in, c.in, 0.0f);
      }
    }
    std::fill(col + c.in * c.kernel, col + c.row, 0.0f);
  }
  k.matmul(c.weight.data(), c.out, c.row, c.row, cols, c.row, len_out, out, c.out);
  for (int t = 0; t < len_out; ++t) {
    float* y = out + t * c.out;
    for (int o = 0; o < c.out; ++o) y[o] = std::max(0.0f, y[o] + c.bias[o]);
  }
  return len_out;
}

float process_chunk(const vad_detail::VadKernels& k, const VadModel::Weights& w, vad_detail::ChunkState& s,
                    const float* chunk, size_t n) {
  n = std::min<size_t>(n, kWindow);

  // Window with reflected edges (the edge sample itself is not repeated).
  float* body = s.frame + kPad;
  for (size_t i = 0; i < n; ++i) body[i] = std::isfinite(chunk[i]) ? chunk[i] : 0.0f;
  std::fill(body + n, body + kWindow, 0.0f);
  for (int i = 0; i < kPad; ++i) {
    s.frame[i] = body[kPad - i];
    body[kWindow + i] = body[kWindow - 2 - i];
  }
  k.round_f16(s.frame, kFrameLen);

  // STFT: 4 overlapping frames (hop 128) against the 258 basis rows, then magnitudes [bin][frame].
  k.matmul(w.stft_basis.data(), 2 * kBins, kFft, kFft, s.frame, kHop, kFrames, s.spec, 2 * kBins);
  for (int f = 0; f < kFrames; ++f) {
    const float* re = s.spec + f * 2 * kBins;
    const float* im = re + kBins;
    float* mag = s.act_a + f * kBins;
    for (int b = 0; b < kBins; ++b) mag[b] = std::sqrt(re[b] * re[b] + im[b] * im[b]);
  }

  int len = kFrames;
  len = conv_relu(k, w.encoder[0], s.act_a, len, s.cols, s.act_b);
  len = conv_relu(k, w.encoder[1], s.act_b, len, s.cols, s.act_a);
  len = conv_relu(k, w.encoder[2], s.act_a, len, s.cols, s.act_b);
  len = conv_relu(k, w.encoder[3], s.act_b, len, s.cols, s.act_a);

  // LSTM step on the first time step's features; gates i, f, g, o as PyTorch orders them.
  std::memcpy(s.xh, s.act_a, sizeof(float) * kHidden);
  k.matmul(w.lstm_weight.data(), 4 * kHidden, 2 * kHidden, 2 * kHidden, s.xh, 0, 1, s.gates, 4 * kHidden);
  float* h = s.xh + kHidden;
  for (int j = 0; j < kHidden; ++j) {
    const float ig = sigmoid(s.gates[j] + w.lstm_bias[j]);
    const float fg = sigmoid(s.gates[kHidden + j] + w.lstm_bias[kHidden + j]);
    const float gg = tanh_fast(s.gates[2 * kHidden + j] + w.lstm_bias[2 * kHidden + j]);
    const float og = sigmoid(s.gates[3 * kHidden + j] + w.lstm_bias[3 * kHidden + j]);
    s.c[j] = fg * s.c[j] + ig * gg;
    h[j] = og * tanh_fast(s.c[j]);
    s.relu_h[j] = std::max(0.0f, h[j]);
  }
  k.round_f16(s.relu_h, kHidden);
  float logit = w.out_bias;
  for (int j = 0; j < kHidden; ++j) logit += w.out_weight[j] * s.relu_h[j];
  return sigmoid(logit);
}

}  // namespace

float VadStream::process(const float* chunk, size_t n) {
  return process_chunk(vad_detail::vad_kernels(), model_->weights(), *state_, chunk, n);
}

std::vector<float> vad_detail::probabilities_with(const VadKernels& kernels, const VadModel& model, const float* pcm,
                                                  size_t n_samples) {
  std::vector<float> probs;
  probs.reserve((n_samples + kWindow - 1) / kWindow);
  auto state = std::make_unique<ChunkState>();
  state->reset();
  for (size_t at = 0; at < n_samples; at += kWindow) {
    probs.push_back(process_chunk(kernels, model.weights(), *state, pcm + at, std::min<size_t>(kWindow, n_samples - at)));
  }
  return probs;
}

std::vector<float> vad_probabilities(const std::shared_ptr<const VadModel>& model, const float* pcm, size_t n_samples) {
  return vad_detail::probabilities_with(vad_detail::vad_kernels(), *model, pcm, n_samples);
}

// ---------------------------------------------------------------------------------------------
// Segments

Result<void> validate(const VadParams& p) {
  if (!(p.threshold > 0.0f && p.threshold < 1.0f)) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", static_cast<double>(p.threshold));
    return make_error(std::string("VAD threshold must be between 0 and 1 (got ") + got + ")");
  }
  if (p.min_speech_ms < 0 || p.min_silence_ms < 0 || p.speech_pad_ms < 0) {
    return make_error("VAD durations must not be negative");
  }
  if (p.min_speech_ms > 3600000 || p.min_silence_ms > 3600000 || p.speech_pad_ms > 3600000) {
    return make_error("VAD durations must be at most an hour");
  }
  if (std::isnan(p.max_speech_s) || p.max_speech_s <= 0.0f) {
    return make_error("VAD max speech duration must be positive (seconds)");
  }
  if (!(p.samples_overlap_s >= 0.0f && p.samples_overlap_s <= 10.0f)) {
    return make_error("VAD segment overlap must be between 0 and 10 seconds");
  }
  return {};
}

namespace {
int64_t samples_to_cs(int64_t samples) {
  return static_cast<int64_t>(static_cast<double>(samples) / kVadSampleRate * 100.0 + 0.5);
}
}  // namespace

// A faithful port of whisper_vad_segments_from_probs, quirks included (0 stands for "unset" in
// temp_end/prev_end/next_start; adjacent segments under 200 ms apart merge whatever
// min_silence_ms says; max_speech_s counts whole seconds).
std::vector<VadSegment> vad_segments_from_probs(const std::vector<float>& probs, const VadParams& params) {
  const int64_t sr = kVadSampleRate, window = kWindow;
  const int64_t n_probs = static_cast<int64_t>(probs.size());
  const float threshold = params.threshold;
  const int64_t min_silence = sr * std::max(0, params.min_silence_ms) / 1000;
  const int64_t min_speech = sr * std::max(0, params.min_speech_ms) / 1000;
  const int64_t pad = sr * std::max(0, params.speech_pad_ms) / 1000;
  const int64_t audio_len = n_probs * window;

  int64_t max_speech = INT_MAX / 2;
  if (params.max_speech_s <= 100000.0f && params.max_speech_s > 0.0f) {
    const int64_t v = sr * static_cast<int64_t>(params.max_speech_s) - window - 2 * pad;
    max_speech = v < 0 ? INT_MAX / 2 : v;
  }
  // Where a long segment may be split: silence longer than 98 ms (silero-vad's own figure).
  const int64_t min_silence_at_max_speech = sr * 98 / 1000;
  const float neg_threshold = std::max(threshold - 0.15f, 0.01f);

  struct Span {
    int64_t start, end;
  };
  std::vector<Span> speeches;
  bool in_speech = false, has_speech = false;
  int64_t temp_end = 0, prev_end = 0, next_start = 0, start = 0;

  for (int64_t i = 0; i < n_probs; ++i) {
    const float p = probs[static_cast<size_t>(i)];
    const int64_t at = window * i;
    if (p >= threshold && temp_end) {
      temp_end = 0;
      if (next_start < prev_end) next_start = at;
    }
    if (p >= threshold && !in_speech) {
      in_speech = true;
      has_speech = true;
      start = at;
      continue;
    }
    if (in_speech && at - start > max_speech) {
      if (prev_end) {
        speeches.push_back({start, prev_end});
        has_speech = true;
        if (next_start < prev_end) {
          in_speech = false;
          has_speech = false;
        } else {
          start = next_start;
        }
        prev_end = next_start = temp_end = 0;
      } else {
        speeches.push_back({start, at});
        prev_end = next_start = temp_end = 0;
        in_speech = false;
        has_speech = false;
        continue;
      }
    }
    if (p < neg_threshold && in_speech) {
      if (!temp_end) temp_end = at;
      if (at - temp_end > min_silence_at_max_speech) prev_end = temp_end;
      if (at - temp_end < min_silence) continue;
      if (temp_end - start > min_speech) speeches.push_back({start, temp_end});
      prev_end = next_start = temp_end = 0;
      in_speech = false;
      has_speech = false;
      continue;
    }
  }
  if (has_speech && audio_len - start > min_speech) speeches.push_back({start, audio_len});

  // Merge neighbours closer than 200 ms.
  const int64_t max_merge_gap = sr * 200 / 1000;
  for (size_t i = 0; i + 1 < speeches.size();) {
    if (speeches[i + 1].start - speeches[i].end < max_merge_gap) {
      speeches[i].end = speeches[i + 1].end;
      speeches.erase(speeches.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    } else {
      ++i;
    }
  }
  std::erase_if(speeches, [&](const Span& s) { return s.end - s.start < min_speech; });

  // Padding: full on both sides, or half the gap each when two segments are closer than 2 pads.
  std::vector<VadSegment> out(speeches.size());
  for (size_t i = 0; i < speeches.size(); ++i) {
    if (i == 0) speeches[i].start = speeches[i].start > pad ? speeches[i].start - pad : 0;
    if (i + 1 < speeches.size()) {
      const int64_t gap = speeches[i + 1].start - speeches[i].end;
      if (gap < 2 * pad) {
        speeches[i].end += gap / 2;
        speeches[i + 1].start = speeches[i + 1].start > gap / 2 ? speeches[i + 1].start - gap / 2 : 0;
      } else {
        speeches[i].end = std::min(speeches[i].end + pad, audio_len);
        speeches[i + 1].start = speeches[i + 1].start > pad ? speeches[i + 1].start - pad : 0;
      }
    } else {
      speeches[i].end = std::min(speeches[i].end + pad, audio_len);
    }
    out[i] = {samples_to_cs(speeches[i].start), samples_to_cs(speeches[i].end)};
  }
  return out;
}

std::vector<VadSegment> vad_detect_speech(const std::shared_ptr<const VadModel>& model, const float* pcm,
                                          size_t n_samples, const VadParams& params) {
  return vad_segments_from_probs(vad_probabilities(model, pcm, n_samples), params);
}

const char* vad_kernel_name() { return vad_detail::vad_kernels().name; }

}  // namespace thoth::asr
