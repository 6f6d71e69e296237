// A ggml Whisper model file, memory-mapped and validated field by field against its length.
// Immutable once loaded; shared by every Session that transcribes with it.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asr/ggml_format.h"
#include "core/result.h"

namespace thoth::asr {

struct Hparams {
  int32_t n_vocab = 0;
  int32_t n_audio_ctx = 0, n_audio_state = 0, n_audio_head = 0, n_audio_layer = 0;
  int32_t n_text_ctx = 0, n_text_state = 0, n_text_head = 0, n_text_layer = 0;
  int32_t n_mels = 0;
  int32_t ftype = 0;  // file type as stored (1 = f16; quantized files add 1000 * qversion)
};

struct MelFilters {
  int32_t n_mel = 0, n_fft = 0;  // n_fft = bins per filter (201 for a 400-point FFT)
  std::vector<float> data;       // n_mel x n_fft
};

// One tensor: a view into the mapped file. ne[0] is the innermost (row) length, as in ggml.
struct TensorView {
  std::string name;
  TensorType type = TensorType::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  const void* data = nullptr;
  size_t nbytes = 0;
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t cols() const { return ne[0]; }
};

// Token ids of the special tokens, derived from n_vocab and multilinguality as the reference does.
struct SpecialTokens {
  int32_t eot = 50256, sot = 50257, translate = 50357, transcribe = 50358;
  int32_t solm = 50359, prev = 50360, nosp = 50361, not_timestamps = 50362, timestamp_begin = 50363;
  int32_t language_begin = 50259;  // first language token (multilingual models)
};

class ModelFile {
 public:
  // Opens, maps and validates the file. Any defect gives one line naming the file and problem.
  static Result<std::shared_ptr<const ModelFile>> open(const std::string& path);
  ~ModelFile();
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  const std::string& path() const { return path_; }
  const Hparams& hparams() const { return hparams_; }
  const MelFilters& mel_filters() const { return filters_; }
  bool is_multilingual() const { return hparams_.n_vocab >= 51865; }
  int num_languages() const;  // 99 for most, 100 for large-v3 (n_vocab 51866)
  const SpecialTokens& special() const { return special_; }
  // Raw bytes of token id (tokens are byte strings; decode to UTF-8 after joining).
  const std::string& token_bytes(int32_t id) const;
  // The tensor with this name; nullptr if absent.
  const TensorView* tensor(std::string_view name) const;
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // The storage type of the big matrices (for display): f32, f16, q8_0...
  TensorType weight_type() const { return weight_type_; }
  // Lets the process's resident memory drop the mapped file pages wholly inside
  // [data, data + bytes) until they are next read (then mapped again from the page cache, as
  // the file is read-only): for weights a phase will not use for a while. Ranges outside the
  // mapping (aligned copies) are left alone. Safe while other threads read the same pages.
  void release_pages(const void* data, size_t bytes) const;
  // The decoder steps' q5_1 or q8_0 matrix whose rows start at `data`, its whole groups of
  // four rows as kernels::BlockQ5_1x4 / BlockQ8_0x4 records, when the kernels read them so
  // (matmul.h's reads_interleaved); nullptr otherwise. All of them are built on the first call, not at
  // load: the encoder's phase, which comes first, need not hold them. Thread-safe.
  const void* interleaved(const void* data) const;

 private:
  ModelFile() = default;
  // Reads tensors_[i] for each listed i (bytes: their sizes rounded up to 64) from fd into
  // copies_ and points them there.
  Result<void> copy_misaligned(int fd, const std::vector<size_t>& which, size_t bytes);
  // interleaved()'s copies, in one anonymous mapping (none if it cannot be had).
  void interleave_decoder_rows() const;
  std::string path_;
  Hparams hparams_;
  MelFilters filters_;
  SpecialTokens special_;
  std::vector<std::string> vocab_;  // size n_vocab; specials not in the file get "[_...]" names
  std::vector<TensorView> tensors_;
  std::unordered_map<std::string_view, size_t> by_name_;
  TensorType weight_type_ = TensorType::F16;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  // Aligned copies of the f32 tensors the file stores at odd addresses, in one anonymous
  // mapping (f16 ones are read in place).
  void* copies_ = nullptr;
  size_t copies_size_ = 0;
  mutable std::once_flag interleave_once_;
  mutable std::vector<std::pair<const void*, const void*>> interleaved_;  // rows -> their copy
  mutable void* interleaved_map_ = nullptr;
  mutable size_t interleaved_size_ = 0;
};

}  // namespace thoth::asr
