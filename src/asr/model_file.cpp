#include "asr/model_file.h"

#include "asr/kernels.h"
#include "asr/matmul.h"
#include "asr/network.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

namespace thoth::asr {

namespace {

constexpr uint32_t kMagic = 0x67676d6c;  // "lmgg" read as a little-endian uint32
constexpr int kMaxNameLength = 256;

// Language codes in token order (whisper's tokenizer.py): language token id = sot + 1 + index.
constexpr const char* kLanguageCodes[] = {
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv",
    "it", "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no",
    "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr",
    "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
    "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu",
    "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl",
    "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};
constexpr int kNumLanguageCodes = sizeof(kLanguageCodes) / sizeof(kLanguageCodes[0]);

// Bounds-checked little-endian reader over the mapped bytes. Every read checks the remaining
// length first, so no field can send us past the end of the file.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t offset() const { return off_; }
  size_t remaining() const { return size_ - off_; }
  bool at_end() const { return off_ == size_; }
  bool i32(int32_t& v) { return raw(&v, sizeof v); }
  bool u32(uint32_t& v) { return raw(&v, sizeof v); }
  bool raw(void* out, size_t n) {
    if (n > remaining()) return false;
    std::memcpy(out, data_ + off_, n);
    off_ += n;
    return true;
  }
  const uint8_t* take(size_t n) {
    if (n > remaining()) return nullptr;
    const uint8_t* p = data_ + off_;
    off_ += n;
    return p;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t off_ = 0;
};

struct Expected {
  int n_dims;
  int64_t ne[4];
  TensorType type;
};

bool ftype_to_weight_type(int32_t ftype, TensorType& out) {
  switch (ftype) {  // ggml_ftype -> ggml_type, as ggml_ftype_to_ggml_type
    case 0: out = TensorType::F32; return true;
    case 1: out = TensorType::F16; return true;
    case 2: out = TensorType::Q4_0; return true;
    case 3: out = TensorType::Q4_1; return true;
    case 7: out = TensorType::Q8_0; return true;
    case 8: out = TensorType::Q5_0; return true;
    case 9: out = TensorType::Q5_1; return true;
    default: return false;
  }
}

// The tensors a model with these hyper-parameters must contain, with shape and storage type,
// as the reference loader declares them (big matrices in the weight type, convolution
// kernels in f16 unless the file is f32, everything else f32).
std::map<std::string, Expected> expected_tensors(const Hparams& hp, TensorType wtype) {
  const TensorType vtype = wtype == TensorType::F32 ? TensorType::F32 : TensorType::F16;
  const int64_t s = hp.n_audio_state, ts = hp.n_text_state;
  std::map<std::string, Expected> m;
  auto vec = [&](const std::string& name, int64_t n) { m[name] = {1, {n, 1, 1, 1}, TensorType::F32}; };
  auto mat = [&](const std::string& name, int64_t cols, int64_t rows) {
    m[name] = {2, {cols, rows, 1, 1}, wtype};
  };
  m["encoder.positional_embedding"] = {2, {s, hp.n_audio_ctx, 1, 1}, TensorType::F32};
  m["encoder.conv1.weight"] = {3, {3, hp.n_mels, s, 1}, vtype};
  m["encoder.conv1.bias"] = {2, {1, s, 1, 1}, TensorType::F32};
  m["encoder.conv2.weight"] = {3, {3, s, s, 1}, vtype};
  m["encoder.conv2.bias"] = {2, {1, s, 1, 1}, TensorType::F32};
  vec("encoder.ln_post.weight", s);
  vec("encoder.ln_post.bias", s);
  auto block = [&](const std::string& prefix, int64_t n, bool cross) {
    for (const char* part : {"attn", "cross_attn"}) {
      if (!cross && std::strcmp(part, "cross_attn") == 0) continue;
      const std::string p = prefix + "." + part;
      mat(p + ".query.weight", n, n);
      vec(p + ".query.bias", n);
      mat(p + ".key.weight", n, n);
      mat(p + ".value.weight", n, n);
      vec(p + ".value.bias", n);
      mat(p + ".out.weight", n, n);
      vec(p + ".out.bias", n);
      vec(p + "_ln.weight", n);
      vec(p + "_ln.bias", n);
    }
    mat(prefix + ".mlp.0.weight", n, 4 * n);
    vec(prefix + ".mlp.0.bias", 4 * n);
    mat(prefix + ".mlp.2.weight", 4 * n, n);
    vec(prefix + ".mlp.2.bias", n);
    vec(prefix + ".mlp_ln.weight", n);
    vec(prefix + ".mlp_ln.bias", n);
  };
  for (int i = 0; i < hp.n_audio_layer; ++i) block("encoder.blocks." + std::to_string(i), s, false);
  m["decoder.positional_embedding"] = {2, {ts, hp.n_text_ctx, 1, 1}, TensorType::F32};
  mat("decoder.token_embedding.weight", ts, hp.n_vocab);
  vec("decoder.ln.weight", ts);
  vec("decoder.ln.bias", ts);
  for (int i = 0; i < hp.n_text_layer; ++i) block("decoder.blocks." + std::to_string(i), ts, true);
  return m;
}

std::string shape_string(int n_dims, const int64_t* ne) {
  std::string s = "[";
  for (int i = 0; i < n_dims; ++i) {
    if (i) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

// Printable form of a name read from the file (it may hold any bytes).
std::string printable(std::string_view name) {
  std::string out;
  for (unsigned char c : name.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}

Result<void> check_hparams(const Hparams& hp) {
  auto bad = [](const std::string& what) { return make_error(what); };
  // The only vocabularies Whisper has: English-only (51864), multilingual (51865), large-v3 (51866).
  // The special-token layout is derived from n_vocab, so any other value cannot be decoded.
  if (hp.n_vocab < 51864 || hp.n_vocab > 51866)
    return bad("unsupported n_vocab " + std::to_string(hp.n_vocab) + " (expected 51864..51866)");
  if (hp.n_audio_ctx < 1 || hp.n_audio_ctx > 1500)
    return bad("absurd n_audio_ctx " + std::to_string(hp.n_audio_ctx) + " (expected 1..1500)");
  if (hp.n_text_ctx < 1 || hp.n_text_ctx > 448)
    return bad("absurd n_text_ctx " + std::to_string(hp.n_text_ctx) + " (expected 1..448)");
  if (hp.n_audio_state < 1 || hp.n_audio_state > 8192)
    return bad("absurd n_audio_state " + std::to_string(hp.n_audio_state));
  if (hp.n_text_state != hp.n_audio_state)
    return bad("n_text_state " + std::to_string(hp.n_text_state) + " differs from n_audio_state " +
               std::to_string(hp.n_audio_state));
  for (auto [name, heads] : {std::pair{"n_audio_head", hp.n_audio_head}, std::pair{"n_text_head", hp.n_text_head}}) {
    if (heads < 1 || heads > 256 || hp.n_audio_state % heads != 0)
      return bad(std::string("absurd ") + name + " " + std::to_string(heads) + " for state " +
                 std::to_string(hp.n_audio_state));
  }
  if (hp.n_audio_layer < 1 || hp.n_audio_layer > 256)
    return bad("absurd n_audio_layer " + std::to_string(hp.n_audio_layer));
  if (hp.n_text_layer < 1 || hp.n_text_layer > 256)
    return bad("absurd n_text_layer " + std::to_string(hp.n_text_layer));
  if (hp.n_mels != 80 && hp.n_mels != 128)
    return bad("unsupported n_mels " + std::to_string(hp.n_mels) + " (expected 80 or 128)");
  return {};
}

}  // namespace

int ModelFile::num_languages() const {
  return hparams_.n_vocab - 51765 - (is_multilingual() ? 1 : 0);
}

const std::string& ModelFile::token_bytes(int32_t id) const {
  static const std::string empty;
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size()) return empty;
  return vocab_[id];
}

const TensorView* ModelFile::tensor(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

void ModelFile::release_pages(const void* data, size_t bytes) const {
  const auto base = reinterpret_cast<uintptr_t>(map_), p = reinterpret_cast<uintptr_t>(data);
  if (map_ == nullptr || p < base || p + bytes > base + map_size_) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = (p + page - 1) / page * page, last = (p + bytes) / page * page;
  // MADV_DONTNEED on a private read-only file mapping only unmaps: nothing was ever written
  // to these pages, so a later read sees the file's bytes again. Advice only: failure is harmless.
  if (first < last) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

ModelFile::~ModelFile() {
  if (map_) munmap(map_, map_size_);
  if (copies_) munmap(copies_, copies_size_);
  if (interleaved_map_) munmap(interleaved_map_, interleaved_size_);
}

namespace {
// Maps the file's pages in [data, data + bytes) in one call (advice: harmless if refused).
void populate(const void* data, size_t bytes) {
#ifdef MADV_POPULATE_READ
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(data) / page * page;
  const uintptr_t last = reinterpret_cast<uintptr_t>(data) + bytes;
  madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_READ);
#else
  (void)data;
  (void)bytes;
#endif
}
}  // namespace

// A decoder step's q5_1 and q8_0 products are bound by assembling each block's levels and
// scales for one row at a time; interleaved, four rows come in one go (q5_1 about twice as
// fast, q8_0 steps 0.78x the time, at the same size). The file's pages of these matrices are
// let go: only a prompt's batch and the token lookups read them.
const void* ModelFile::interleaved(const void* data) const {
  std::call_once(interleave_once_, [this] { interleave_decoder_rows(); });
  for (const auto& [rows, copy] : interleaved_)
    if (rows == data) return copy;
  return nullptr;
}

void ModelFile::interleave_decoder_rows() const {
  std::vector<size_t> which;
  size_t bytes = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorView& t = tensors_[i];
    if (!reads_interleaved(t.type) || t.n_dims != 2 || t.rows() < 4 || t.name.rfind("decoder.", 0) != 0 ||
        encode_only_weight(t.name))
      continue;
    which.push_back(i);
    bytes += static_cast<size_t>(t.rows() / 4) * 4 * row_bytes(t.type, t.cols());
  }
  if (which.empty()) return;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;  // the products read the rows themselves
  // Large pages where the kernel has them, populated in one call: a fault and a memory-cgroup
  // charge per 4 KB were most of the copy's time (advice only: refused, the writes fault).
  madvise(p, bytes, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
  madvise(p, bytes, MADV_POPULATE_WRITE);
#endif
  interleaved_map_ = p;
  interleaved_size_ = bytes;
  // In pieces of about a megabyte, taken by this thread and one more.
  struct Piece {
    const TensorView* t;
    int64_t g0, g1;
    uint8_t* out;
  };
  std::vector<Piece> pieces;
  auto* at = static_cast<uint8_t*>(p);
  for (size_t i : which) {
    const TensorView& t = tensors_[i];
    const size_t group = 4 * row_bytes(t.type, t.cols());
    const int64_t groups = t.rows() / 4, step = std::max<int64_t>(1, int64_t{1 << 20} / static_cast<int64_t>(group));
    for (int64_t g = 0; g < groups; g += step)
      pieces.push_back({&t, g, std::min(groups, g + step), at + static_cast<size_t>(g) * group});
    interleaved_.emplace_back(t.data, at);
    at += static_cast<size_t>(groups) * group;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t j; (j = next.fetch_add(1, std::memory_order_relaxed)) < pieces.size();) {
      const Piece& pc = pieces[j];
      const size_t row = row_bytes(pc.t->type, pc.t->cols());
      const auto* rows = static_cast<const uint8_t*>(pc.t->data) + static_cast<size_t>(pc.g0) * 4 * row;
      const size_t bytes = static_cast<size_t>(pc.g1 - pc.g0) * 4 * row;
      populate(rows, bytes);  // one call for the piece's file pages, not a fault per 4 KB
      kernels::interleave_rows(pc.t->type, rows, row, pc.g1 - pc.g0, pc.t->cols(), pc.out);
      release_pages(rows, bytes);
    }
  };
  std::thread helper(work);
  work();
  helper.join();
}

// One anonymous mapping for all the copies (f32 tensors at odd offsets: biases, norms,
// positional embeddings; a few MB), read with pread: copied from the file mapping, its pages
// would stay resident beside the copies.
Result<void> ModelFile::copy_misaligned(int fd, const std::vector<size_t>& which, size_t bytes) {
  if (which.empty()) return {};
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return make_error(std::string("cannot allocate memory for the tensor copies: ") + std::strerror(errno));
  copies_ = p;
  copies_size_ = bytes;
  const auto* base = static_cast<const uint8_t*>(map_);
  auto* at = static_cast<uint8_t*>(p);
  for (size_t n : which) {
    TensorView& tv = tensors_[n];
    const auto offset = static_cast<off_t>(static_cast<const uint8_t*>(tv.data) - base);
    for (size_t done = 0; done < tv.nbytes;) {
      const ssize_t got = pread(fd, at + done, tv.nbytes - done, offset + static_cast<off_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0)
        return make_error("cannot read tensor '" + tv.name + "': " + (got < 0 ? std::strerror(errno) : "file shrank"));
      done += static_cast<size_t>(got);
    }
    tv.data = at;
    at += (tv.nbytes + 63) / 64 * 64;
  }
  return {};
}

Result<std::shared_ptr<const ModelFile>> ModelFile::open(const std::string& path) {
  auto fail = [&](const std::string& problem) -> Error {
    return make_error("model file '" + path + "': " + problem);
  };

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::strerror(errno));
  // Open until the tensors are read: misaligned ones are read from it, not from the mapping.
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) return fail(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  if (st.st_size == 0) return fail("file is empty");
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) return fail(std::string("cannot map: ") + std::strerror(errno));

  std::shared_ptr<ModelFile> mf(new ModelFile());
  mf->path_ = path;
  mf->map_ = map;
  mf->map_size_ = size;
  Reader rd(static_cast<const uint8_t*>(map), size);

  uint32_t magic = 0;
  if (!rd.u32(magic)) return fail("truncated header");
  if (magic != kMagic) return fail("not a ggml Whisper model (bad magic)");

  Hparams& hp = mf->hparams_;
  for (int32_t* field : {&hp.n_vocab, &hp.n_audio_ctx, &hp.n_audio_state, &hp.n_audio_head, &hp.n_audio_layer,
                         &hp.n_text_ctx, &hp.n_text_state, &hp.n_text_head, &hp.n_text_layer, &hp.n_mels,
                         &hp.ftype}) {
    if (!rd.i32(*field)) return fail("truncated header");
  }
  if (auto r = check_hparams(hp); !r) return fail(r.error());
  if (hp.ftype < 0) return fail("bad ftype " + std::to_string(hp.ftype));
  // Quantized files store 1000 * quantization version + ftype.
  if (!ftype_to_weight_type(hp.ftype % 1000, mf->weight_type_))
    return fail("unsupported ftype " + std::to_string(hp.ftype));
  const int block = block_size(mf->weight_type_);
  if (hp.n_audio_state % block != 0)
    return fail("n_audio_state " + std::to_string(hp.n_audio_state) + " is not a multiple of the " +
                type_name(mf->weight_type_) + " block size");

  // Mel filterbank: n_mel x n_fft floats.
  MelFilters& filters = mf->filters_;
  if (!rd.i32(filters.n_mel) || !rd.i32(filters.n_fft)) return fail("truncated mel filterbank");
  if (filters.n_mel != hp.n_mels)
    return fail("mel filterbank has " + std::to_string(filters.n_mel) + " bins, hyper-parameters say " +
                std::to_string(hp.n_mels));
  if (filters.n_fft != 201)
    return fail("mel filterbank has " + std::to_string(filters.n_fft) + " FFT bins (expected 201)");
  filters.data.resize(static_cast<size_t>(filters.n_mel) * filters.n_fft);
  if (!rd.raw(filters.data.data(), filters.data.size() * sizeof(float))) return fail("truncated mel filterbank");

  // Vocabulary: length-prefixed byte strings.
  int32_t n_tokens = 0;
  if (!rd.i32(n_tokens)) return fail("truncated vocabulary");
  if (n_tokens < 0 || n_tokens > hp.n_vocab)
    return fail("vocabulary of " + std::to_string(n_tokens) + " tokens does not fit n_vocab " +
                std::to_string(hp.n_vocab));
  // Token texts are located now and materialised once the whole file has checked out, so a
  // rejected file costs no string building.
  std::vector<std::pair<size_t, uint32_t>> token_spans(static_cast<size_t>(n_tokens));
  for (int32_t i = 0; i < n_tokens; ++i) {
    uint32_t len = 0;
    if (!rd.u32(len)) return fail("truncated vocabulary at token " + std::to_string(i));
    const size_t at = rd.offset();
    if (!rd.take(len)) return fail("truncated vocabulary at token " + std::to_string(i));
    token_spans[i] = {at, len};
  }

  // Special tokens: the English-only layout, shifted for multilingual vocabularies as the
  // reference does (one more token before sot, and large-v3's extra language).
  SpecialTokens& sp = mf->special_;
  if (mf->is_multilingual()) {
    sp.eot++;
    sp.sot++;
    const int dt = mf->num_languages() - 98;
    for (int32_t* t : {&sp.translate, &sp.transcribe, &sp.solm, &sp.prev, &sp.nosp, &sp.not_timestamps,
                       &sp.timestamp_begin})
      *t += dt;
  }
  sp.language_begin = sp.sot + 1;
  // Tensors: header (n_dims, name length, type), dims, name, data; packed without padding.
  const auto expected = expected_tensors(hp, mf->weight_type_);
  mf->tensors_.reserve(expected.size());
  std::vector<size_t> misaligned;  // indices into tensors_
  size_t copies_bytes = 0;
  while (!rd.at_end()) {
    int32_t n_dims = 0, name_len = 0, raw_type = 0;
    if (!rd.i32(n_dims) || !rd.i32(name_len) || !rd.i32(raw_type))
      return fail("truncated tensor header at byte " + std::to_string(rd.offset()));
    if (n_dims < 1 || n_dims > 4)
      return fail("tensor header at byte " + std::to_string(rd.offset() - 12) + " has " + std::to_string(n_dims) +
                  " dimensions");
    if (name_len < 1 || name_len > kMaxNameLength)
      return fail("tensor header at byte " + std::to_string(rd.offset() - 12) + " has a name of " +
                  std::to_string(name_len) + " bytes");
    int64_t ne[4] = {1, 1, 1, 1};
    for (int i = 0; i < n_dims; ++i) {
      int32_t d = 0;
      if (!rd.i32(d)) return fail("truncated tensor header at byte " + std::to_string(rd.offset()));
      ne[i] = d;
    }
    const uint8_t* name_bytes = rd.take(static_cast<size_t>(name_len));
    if (!name_bytes) return fail("truncated tensor name at byte " + std::to_string(rd.offset()));
    const std::string name(reinterpret_cast<const char*>(name_bytes), static_cast<size_t>(name_len));

    auto it = expected.find(name);
    if (it == expected.end()) return fail("unknown tensor '" + printable(name) + "'");
    if (mf->by_name_.count(it->first)) return fail("duplicate tensor '" + name + "'");
    const Expected& ex = it->second;
    bool same_shape = n_dims == ex.n_dims;
    for (int i = 0; i < 4; ++i) same_shape = same_shape && ne[i] == ex.ne[i];
    if (!same_shape)
      return fail("tensor '" + name + "' has shape " + shape_string(n_dims, ne) + ", expected " +
                  shape_string(ex.n_dims, ex.ne));
    if (!is_file_tensor_type(raw_type) || static_cast<TensorType>(raw_type) != ex.type)
      return fail("tensor '" + name + "' is stored as type " + std::to_string(raw_type) + ", expected " +
                  type_name(ex.type));

    // Shapes are bounded by the checked hyper-parameters, so this cannot overflow.
    const size_t nbytes = row_bytes(ex.type, ne[0]) * static_cast<size_t>(ne[1] * ne[2] * ne[3]);
    const uint8_t* data = rd.take(nbytes);
    if (!data)
      return fail("tensor '" + name + "' needs " + std::to_string(nbytes) + " bytes, the file has " +
                  std::to_string(rd.remaining()) + " left (truncated)");

    TensorView tv;
    tv.name = name;
    tv.type = ex.type;
    tv.n_dims = n_dims;
    for (int i = 0; i < 4; ++i) tv.ne[i] = ne[i];
    tv.nbytes = nbytes;
    tv.data = data;
    // The file packs tensors without alignment; f32 data at an odd address is copied (once the
    // whole file has checked out) so that it may be read as float. f16 data stays where it
    // is, at any address: every reader of f16 weights loads them unaligned (SIMD loadu,
    // memcpy), and copying base.en f16's 51 MB of them into fresh pages was most of its load.
    const size_t align = ex.type == TensorType::F32 ? 4 : 1;
    if (reinterpret_cast<uintptr_t>(data) % align != 0) {
      misaligned.push_back(mf->tensors_.size());
      copies_bytes += (nbytes + 63) / 64 * 64;
    }
    mf->tensors_.push_back(std::move(tv));
    mf->by_name_.emplace(mf->tensors_.back().name, mf->tensors_.size() - 1);
  }
  if (mf->tensors_.size() != expected.size()) {
    for (const auto& [name, ex] : expected) {
      if (!mf->by_name_.count(name))
        return fail("missing tensor '" + name + "' (" + std::to_string(mf->tensors_.size()) + " of " +
                    std::to_string(expected.size()) + " present)");
    }
  }
  if (auto r = mf->copy_misaligned(fd, misaligned, copies_bytes); !r) return fail(r.error());
  mf->vocab_.resize(hp.n_vocab);
  const auto* base = static_cast<const char*>(map);
  for (int32_t i = 0; i < n_tokens; ++i) mf->vocab_[i].assign(base + token_spans[i].first, token_spans[i].second);
  // Ids the file has no text for get the reference's placeholder names.
  for (int32_t i = n_tokens; i < hp.n_vocab; ++i) {
    std::string& w = mf->vocab_[i];
    if (i > sp.timestamp_begin) w = "[_TT_" + std::to_string(i - sp.timestamp_begin) + "]";
    else if (i == sp.eot) w = "[_EOT_]";
    else if (i == sp.sot) w = "[_SOT_]";
    else if (i == sp.translate) w = "[_TRANSLATE_]";
    else if (i == sp.transcribe) w = "[_TRANSCRIBE_]";
    else if (i == sp.solm) w = "[_SOLM_]";
    else if (i == sp.prev) w = "[_PREV_]";
    else if (i == sp.nosp) w = "[_NOSP_]";
    else if (i == sp.not_timestamps) w = "[_NOT_]";
    else if (i == sp.timestamp_begin) w = "[_BEG_]";
    else if (i > sp.sot && i <= sp.sot + mf->num_languages() && i - sp.sot - 1 < kNumLanguageCodes)
      w = std::string("[_LANG_") + kLanguageCodes[i - sp.sot - 1] + "]";
    else w = "[_extra_token_" + std::to_string(i) + "]";
  }

  // by_name_ keys view tensors_[i].name; tensors_ no longer grows, so the views stay valid.
  return std::shared_ptr<const ModelFile>(std::move(mf));
}

}  // namespace thoth::asr
