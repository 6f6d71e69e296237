#include "asr/model_file.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>

#include <sys/mman.h>
#include <unistd.h>

#include "asr/kernels.h"
#include "asr/matmul.h"
#include "asr/network.h"
#include "asr/whisper.h"
#include "support/shared_data.h"

namespace thoth::asr {
namespace {

using thoth::test::ScratchDir;
using thoth::test::shared_file;

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void put_i32(std::vector<uint8_t>& b, size_t off, int32_t v) { std::memcpy(b.data() + off, &v, 4); }
int32_t get_i32(const std::vector<uint8_t>& b, size_t off) {
  int32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

// Byte offsets of the sections of a model file, found by walking it the simple way.
struct Layout {
  size_t vocab = 0;                // the int32 token count
  size_t first_tensor = 0;         // first tensor header
  std::vector<size_t> tensors;     // every tensor header
  std::vector<std::string> names;  // their names
  std::vector<size_t> data;        // their data
};

Layout walk(const std::vector<uint8_t>& b) {
  Layout l;
  size_t o = 48;
  const int32_t n_mel = get_i32(b, o), n_fft = get_i32(b, o + 4);
  o += 8 + static_cast<size_t>(n_mel) * n_fft * 4;
  l.vocab = o;
  const int32_t n = get_i32(b, o);
  o += 4;
  for (int32_t i = 0; i < n; ++i) o += 4 + static_cast<uint32_t>(get_i32(b, o));
  l.first_tensor = o;
  while (o < b.size()) {
    l.tensors.push_back(o);
    const int32_t nd = get_i32(b, o), len = get_i32(b, o + 4), type = get_i32(b, o + 8);
    int64_t ne = 1;
    for (int i = 0; i < nd; ++i) ne *= get_i32(b, o + 12 + 4 * i);
    const size_t name_at = o + 12 + 4 * nd;
    l.names.emplace_back(reinterpret_cast<const char*>(b.data() + name_at), len);
    l.data.push_back(name_at + len);
    const size_t bytes = type == 0 ? ne * 4 : type == 1 ? ne * 2 : ne / 32 * row_bytes(static_cast<TensorType>(type), 32);
    o = name_at + len + bytes;
  }
  return l;
}

size_t index_of(const Layout& l, const std::string& name) {
  for (size_t i = 0; i < l.names.size(); ++i)
    if (l.names[i] == name) return i;
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

// Loads bytes written to a scratch file; returns the error (empty if it loaded).
std::string load_error(const ScratchDir& dir, const std::vector<uint8_t>& bytes, const std::string& name = "m.bin") {
  const auto path = dir / name;
  write_bytes(path, bytes);
  auto r = ModelFile::open(path.string());
  if (r) return "";
  EXPECT_NE(r.error().find(path.string()), std::string::npos) << "error does not name the file: " << r.error();
  EXPECT_EQ(r.error().find('\n'), std::string::npos) << "error is not one line: " << r.error();
  return r.error();
}

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bytes_ = read_bytes(shared_file("models/mini.en-f16.bin"));
    ASSERT_GT(bytes_.size(), 1000u);
    layout_ = walk(bytes_);
    ASSERT_EQ(layout_.tensors.size(), 128u);
  }
  ScratchDir dir_;
  std::vector<uint8_t> bytes_;
  Layout layout_;
};

TEST_F(ModelFileTest, LoadsEnglishModel) {
  auto r = ModelFile::open(shared_file("models/mini.en-f16.bin").string());
  ASSERT_TRUE(r) << r.error();
  const ModelFile& m = **r;
  EXPECT_EQ(m.hparams().n_vocab, 51864);
  EXPECT_EQ(m.hparams().n_audio_state, 64);
  EXPECT_EQ(m.hparams().n_text_layer, 3);
  EXPECT_EQ(m.hparams().n_mels, 80);
  EXPECT_FALSE(m.is_multilingual());
  EXPECT_EQ(m.weight_type(), TensorType::F16);
  EXPECT_EQ(m.mel_filters().n_mel, 80);
  EXPECT_EQ(m.mel_filters().n_fft, 201);
  EXPECT_EQ(m.special().eot, 50256);
  EXPECT_EQ(m.special().sot, 50257);
  EXPECT_EQ(m.special().not_timestamps, 50362);
  EXPECT_EQ(m.special().timestamp_begin, 50363);
  EXPECT_EQ(m.token_bytes(50256), "<|endoftext|>");
  EXPECT_EQ(m.token_bytes(50257), "[_SOT_]");  // not in the file: the reference's placeholder
  EXPECT_EQ(m.token_bytes(50363), "[_BEG_]");
  EXPECT_EQ(m.token_bytes(50364), "[_TT_1]");
  EXPECT_EQ(m.token_bytes(51863), "[_TT_1500]");
  EXPECT_EQ(m.token_bytes(220), " ");  // GPT-2 byte-level tokens are raw bytes in the file
  EXPECT_EQ(m.tensors().size(), 128u);
  const TensorView* te = m.tensor("decoder.token_embedding.weight");
  ASSERT_NE(te, nullptr);
  EXPECT_EQ(te->type, TensorType::F16);
  EXPECT_EQ(te->cols(), 64);
  EXPECT_EQ(te->rows(), 51864);
  EXPECT_EQ(te->nbytes, 51864u * 64 * 2);
  const TensorView* conv = m.tensor("encoder.conv1.weight");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->n_dims, 3);
  EXPECT_EQ(conv->ne[0], 3);
  EXPECT_EQ(conv->ne[1], 80);
  EXPECT_EQ(conv->ne[2], 64);
  EXPECT_EQ(m.tensor("decoder.blocks.3.mlp.0.weight"), nullptr);
}

// Every tensor holds the file's bytes: f32 tensors the file packs at odd offsets are read
// into aligned copies (and must carry the same bytes); f16 ones stay in the mapping, where
// their readers load them unaligned.
TEST_F(ModelFileTest, TensorsHoldTheFilesBytesF32AlignedF16InPlace) {
  auto r = ModelFile::open(shared_file("models/mini.en-f16.bin").string());
  ASSERT_TRUE(r) << r.error();
  const uint8_t* map = nullptr;  // the file's first byte in the mapping, found from an f16 tensor
  for (size_t i = 0; i < layout_.names.size() && !map; ++i)
    if (const TensorView* t = (*r)->tensor(layout_.names[i]); t->type == TensorType::F16)
      map = static_cast<const uint8_t*>(t->data) - layout_.data[i];
  ASSERT_NE(map, nullptr);
  int copied = 0, odd_f16 = 0;
  for (size_t i = 0; i < layout_.names.size(); ++i) {
    const TensorView* t = (*r)->tensor(layout_.names[i]);
    ASSERT_NE(t, nullptr) << layout_.names[i];
    ASSERT_LE(layout_.data[i] + t->nbytes, bytes_.size());
    EXPECT_EQ(0, std::memcmp(t->data, bytes_.data() + layout_.data[i], t->nbytes)) << t->name;
    if (t->type == TensorType::F32) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data) % 4, 0u) << t->name;
      copied += layout_.data[i] % 4 != 0;
    } else {
      EXPECT_EQ(t->data, map + layout_.data[i]) << t->name << " was copied";
      odd_f16 += t->type == TensorType::F16 && layout_.data[i] % 2 != 0;
    }
  }
  EXPECT_GT(copied, 0) << "the test file has no misaligned f32 tensor: the copy path is not exercised";
  EXPECT_GT(odd_f16, 0) << "the test file has no f16 tensor at an odd offset";
}

// A q5_1 or q8_0 model's decoder matrices come with their rows interleaved by fours (what a
// decoder step reads) when the kernels read them so; the rows themselves still read as the
// file's bytes (a prompt's batch uses them), the encoder's are left alone.
TEST_F(ModelFileTest, DecoderMatricesAreInterleavedForTheKernelsThatReadThem) {
  for (const auto& [file, type] : {std::pair{"models/mini.en-q5_1.bin", TensorType::Q5_1},
                                   std::pair{"models/mini.en-q8_0.bin", TensorType::Q8_0}}) {
    SCOPED_TRACE(file);
    auto r = ModelFile::open(shared_file(file).string());
    ASSERT_TRUE(r) << r.error();
    const bool expected = reads_interleaved(type);
    int interleaved = 0;
    for (const TensorView& t : (*r)->tensors()) {
      const bool decoder_matrix = t.type == type && t.n_dims == 2 && t.name.rfind("decoder.", 0) == 0 &&
                                  !encode_only_weight(t.name);
      if (!expected || !decoder_matrix) {
        EXPECT_EQ((*r)->interleaved(t.data), nullptr) << t.name;
        continue;
      }
      ASSERT_NE((*r)->interleaved(t.data), nullptr) << t.name;
      ++interleaved;
      const size_t row = row_bytes(t.type, t.cols());
      std::vector<uint8_t> want(static_cast<size_t>(t.rows() / 4) * 4 * row);
      kernels::interleave_rows(type, static_cast<const uint8_t*>(t.data), row, t.rows() / 4, t.cols(), want.data());
      EXPECT_EQ(0, std::memcmp((*r)->interleaved(t.data), want.data(), want.size())) << t.name;
    }
    if (expected) {
      EXPECT_GE(interleaved, 1 + 4 * (*r)->hparams().n_text_layer);  // the embedding, 4+ per layer
    }
  }
}

TEST_F(ModelFileTest, LoadsMultilingualModelWithShiftedSpecialTokens) {
  auto r = ModelFile::open(shared_file("models/mini-f16.bin").string());
  ASSERT_TRUE(r) << r.error();
  const ModelFile& m = **r;
  EXPECT_TRUE(m.is_multilingual());
  EXPECT_EQ(m.num_languages(), 99);
  EXPECT_EQ(m.special().eot, 50257);
  EXPECT_EQ(m.special().sot, 50258);
  EXPECT_EQ(m.special().language_begin, 50259);
  EXPECT_EQ(m.special().translate, 50358);
  EXPECT_EQ(m.special().transcribe, 50359);
  EXPECT_EQ(m.special().not_timestamps, 50363);
  EXPECT_EQ(m.special().timestamp_begin, 50364);
  EXPECT_EQ(m.token_bytes(50259), "[_LANG_en]");
  EXPECT_EQ(m.token_bytes(50259 + 86), "[_LANG_lb]");
  EXPECT_EQ(m.token_bytes(50357), "[_LANG_su]");  // 99 languages: yue is large-v3 only
}

TEST_F(ModelFileTest, LoadsEveryStorageType) {
  const std::pair<const char*, TensorType> files[] = {
      {"mini.en-f32", TensorType::F32},   {"mini.en-q8_0", TensorType::Q8_0}, {"mini.en-q5_0", TensorType::Q5_0},
      {"mini.en-q5_1", TensorType::Q5_1}, {"mini.en-q4_0", TensorType::Q4_0},
  };
  for (const auto& [name, type] : files) {
    auto r = ModelFile::open(shared_file(std::string("models/") + name + ".bin").string());
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ((*r)->weight_type(), type) << name;
    EXPECT_EQ((*r)->tensor("decoder.token_embedding.weight")->type, type) << name;
    // Convolution kernels stay f16 in quantized files, f32 in the f32 file.
    EXPECT_EQ((*r)->tensor("encoder.conv2.weight")->type, type == TensorType::F32 ? TensorType::F32 : TensorType::F16);
    // Data pointers of f32 tensors are usable as float arrays.
    EXPECT_EQ(reinterpret_cast<uintptr_t>((*r)->tensor("encoder.positional_embedding")->data) % 4, 0u);
  }
}

TEST_F(ModelFileTest, ModelLoadReportsInfoAndTime) {
  auto r = Model::load(shared_file("models/mini.en-q5_1.bin").string());
  ASSERT_TRUE(r) << r.error();
  const ModelInfo info = (*r)->info();
  EXPECT_EQ(info.weight_type, "q5_1");
  EXPECT_EQ(info.type_name, "unknown");  // 3 layers: not a published size
  EXPECT_EQ(info.n_vocab, 51864);
  EXPECT_FALSE(info.multilingual);
  EXPECT_GE((*r)->load_ms(), 0.0);
  auto bad = Model::load((dir_ / "absent.bin").string());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("absent.bin"), std::string::npos);
}

TEST_F(ModelFileTest, MissingEmptyAndDirectory) {
  EXPECT_NE(load_error(dir_, {}).find("empty"), std::string::npos);
  auto r = ModelFile::open((dir_ / "nope.bin").string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("No such file"), std::string::npos) << r.error();
  auto d = ModelFile::open(dir_.path().string());
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().find("not a regular file"), std::string::npos) << d.error();
}

TEST_F(ModelFileTest, WrongMagic) {
  auto b = bytes_;
  b[0] ^= 0xff;
  EXPECT_NE(load_error(dir_, b).find("bad magic"), std::string::npos);
}

TEST_F(ModelFileTest, AbsurdDimensions) {
  struct Case {
    size_t field;  // int32 index in the header
    int32_t value;
    const char* expect;
  };
  const Case cases[] = {
      {1, 1000000000, "n_vocab"},   {1, -5, "n_vocab"},          {2, 0, "n_audio_ctx"},
      {3, 1 << 30, "n_audio_state"}, {4, 7, "n_audio_head"},      {5, 1000000, "n_audio_layer"},
      {6, 100000, "n_text_ctx"},     {7, 65, "n_text_state"},     {8, 0, "n_text_head"},
      {9, -1, "n_text_layer"},       {10, 81, "n_mels"},          {11, 5, "ftype"},
      {11, -1, "ftype"},
  };
  for (const auto& c : cases) {
    auto b = bytes_;
    put_i32(b, 4 * c.field, c.value);
    const std::string err = load_error(dir_, b);
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.expect << " -> " << err;
  }
}

TEST_F(ModelFileTest, MelFilterbankMismatch) {
  auto b = bytes_;
  put_i32(b, 48, 128);
  EXPECT_NE(load_error(dir_, b).find("mel filterbank"), std::string::npos);
  b = bytes_;
  put_i32(b, 52, 1 << 30);
  EXPECT_NE(load_error(dir_, b).find("FFT bins"), std::string::npos);
}

TEST_F(ModelFileTest, VocabularyThatDoesNotFitNVocab) {
  auto b = bytes_;
  put_i32(b, layout_.vocab, 60000);
  EXPECT_NE(load_error(dir_, b).find("does not fit n_vocab"), std::string::npos);
  b = bytes_;
  put_i32(b, layout_.vocab, -1);
  EXPECT_NE(load_error(dir_, b).find("does not fit n_vocab"), std::string::npos);
  // A token length running past the end of the file.
  b = bytes_;
  put_i32(b, layout_.vocab + 4, 0x7fffffff);
  EXPECT_NE(load_error(dir_, b).find("truncated vocabulary"), std::string::npos);
}

TEST_F(ModelFileTest, UnknownTensor) {
  auto b = bytes_;
  const size_t i = index_of(layout_, "encoder.blocks.0.attn.query.bias");
  b[layout_.data[i] - 4] = 'X';  // ...query.Xias
  const std::string err = load_error(dir_, b);
  EXPECT_NE(err.find("unknown tensor 'encoder.blocks.0.attn.query.Xias'"), std::string::npos) << err;
}

TEST_F(ModelFileTest, DuplicateTensor) {
  auto b = bytes_;
  const size_t i = index_of(layout_, "encoder.blocks.1.attn.query.bias");
  // Rename block 1's tensor to block 0's name: same length, same shape.
  const size_t name_at = layout_.data[i] - layout_.names[i].size();
  b[name_at + std::strlen("encoder.blocks.")] = '0';
  const std::string err = load_error(dir_, b);
  EXPECT_NE(err.find("duplicate tensor 'encoder.blocks.0.attn.query.bias'"), std::string::npos) << err;
}

TEST_F(ModelFileTest, WrongShape) {
  auto b = bytes_;
  const size_t i = index_of(layout_, "encoder.blocks.0.mlp.0.weight");
  put_i32(b, layout_.tensors[i] + 12, 32);  // ne[0] 64 -> 32
  put_i32(b, layout_.tensors[i] + 16, 512);  // ne[1] 256 -> 512: same element count
  const std::string err = load_error(dir_, b);
  EXPECT_NE(err.find("'encoder.blocks.0.mlp.0.weight' has shape [32, 512], expected [64, 256]"), std::string::npos)
      << err;
  b = bytes_;
  put_i32(b, layout_.tensors[i], 7);  // n_dims
  EXPECT_NE(load_error(dir_, b).find("7 dimensions"), std::string::npos);
  b = bytes_;
  put_i32(b, layout_.tensors[i] + 4, 100000);  // name length
  EXPECT_NE(load_error(dir_, b).find("name of 100000 bytes"), std::string::npos);
}

TEST_F(ModelFileTest, WrongTensorType) {
  auto b = bytes_;
  const size_t i = index_of(layout_, "encoder.blocks.0.mlp.0.weight");
  put_i32(b, layout_.tensors[i] + 8, 0);  // claims f32: would read twice the bytes
  EXPECT_NE(load_error(dir_, b).find("stored as type 0, expected f16"), std::string::npos);
  put_i32(b, layout_.tensors[i] + 8, 99);
  EXPECT_NE(load_error(dir_, b).find("stored as type 99"), std::string::npos);
}

TEST_F(ModelFileTest, MissingTensor) {
  // Cut the file exactly before the last tensor.
  std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + static_cast<long>(layout_.tensors.back()));
  const std::string err = load_error(dir_, b);
  EXPECT_NE(err.find("missing tensor '" + layout_.names.back() + "'"), std::string::npos) << err;
}

TEST_F(ModelFileTest, TruncatedAnywhere) {
  const size_t cuts[] = {2, 20, 50, 1000, layout_.vocab + 2, layout_.vocab + 100, layout_.first_tensor + 5,
                         layout_.data[3] + 10, bytes_.size() - 1};
  const char* expect[] = {"truncated header", "truncated header", "truncated mel", "truncated mel",
                          "truncated vocabulary", "truncated vocabulary", "truncated tensor header",
                          "truncated", "truncated"};
  for (size_t k = 0; k < std::size(cuts); ++k) {
    std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + static_cast<long>(cuts[k]));
    const std::string err = load_error(dir_, b);
    EXPECT_NE(err.find(expect[k]), std::string::npos) << "cut at " << cuts[k] << ": " << err;
  }
}

// A small valid file (q4_0, 32-wide, one layer each, contexts of 2) for the mutation loop:
// the real mini model is 8 MB, too large to rewrite thousands of times.
std::vector<uint8_t> small_model(const std::vector<uint8_t>& real, const Layout& real_layout) {
  std::vector<uint8_t> b;
  auto i32 = [&](int32_t v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
  };
  const int32_t n_vocab = 51864, s = 32, ctx = 2, mels = 80;
  for (int32_t v : {0x67676d6c, n_vocab, ctx, s, 2, 1, ctx, s, 2, 1, mels, 2002}) i32(v);
  b.insert(b.end(), real.begin() + 48, real.begin() + static_cast<long>(real_layout.vocab));  // filterbank
  i32(3);
  for (const char* tok : {"a", "bc", "!"}) {
    i32(static_cast<int32_t>(std::strlen(tok)));
    b.insert(b.end(), tok, tok + std::strlen(tok));
  }
  std::mt19937 rng(7);
  auto tensor = [&](const std::string& name, std::vector<int32_t> ne, int32_t type) {
    i32(static_cast<int32_t>(ne.size()));
    i32(static_cast<int32_t>(name.size()));
    i32(type);
    int64_t n = 1;
    for (int32_t d : ne) {
      i32(d);
      n *= d;
    }
    b.insert(b.end(), name.begin(), name.end());
    const size_t bytes = type == 0 ? n * 4 : type == 1 ? n * 2 : n / 32 * 18;
    for (size_t k = 0; k < bytes; ++k) b.push_back(static_cast<uint8_t>(rng() & 0x3f));  // finite halves
  };
  auto block = [&](const std::string& prefix, bool cross) {
    for (std::string part : {"attn", "cross_attn"}) {
      if (!cross && part == "cross_attn") continue;
      const std::string p = prefix + "." + part;
      tensor(p + ".query.weight", {s, s}, 2);
      tensor(p + ".query.bias", {s}, 0);
      tensor(p + ".key.weight", {s, s}, 2);
      tensor(p + ".value.weight", {s, s}, 2);
      tensor(p + ".value.bias", {s}, 0);
      tensor(p + ".out.weight", {s, s}, 2);
      tensor(p + ".out.bias", {s}, 0);
      tensor(p + "_ln.weight", {s}, 0);
      tensor(p + "_ln.bias", {s}, 0);
    }
    tensor(prefix + ".mlp.0.weight", {s, 4 * s}, 2);
    tensor(prefix + ".mlp.0.bias", {4 * s}, 0);
    tensor(prefix + ".mlp.2.weight", {4 * s, s}, 2);
    tensor(prefix + ".mlp.2.bias", {s}, 0);
    tensor(prefix + ".mlp_ln.weight", {s}, 0);
    tensor(prefix + ".mlp_ln.bias", {s}, 0);
  };
  tensor("encoder.positional_embedding", {s, ctx}, 0);
  tensor("encoder.conv1.weight", {3, mels, s}, 1);
  tensor("encoder.conv1.bias", {1, s}, 0);
  tensor("encoder.conv2.weight", {3, s, s}, 1);
  tensor("encoder.conv2.bias", {1, s}, 0);
  block("encoder.blocks.0", false);
  tensor("encoder.ln_post.weight", {s}, 0);
  tensor("encoder.ln_post.bias", {s}, 0);
  tensor("decoder.positional_embedding", {s, ctx}, 0);
  block("decoder.blocks.0", true);
  tensor("decoder.ln.weight", {s}, 0);
  tensor("decoder.ln.bias", {s}, 0);
  tensor("decoder.token_embedding.weight", {s, n_vocab}, 2);  // last: mutations hit the headers above
  return b;
}

TEST_F(ModelFileTest, SmallHandMadeModelLoads) {
  const auto b = small_model(bytes_, layout_);
  EXPECT_EQ(load_error(dir_, b), "");
  const auto path = dir_ / "m.bin";
  auto r = ModelFile::open(path.string());
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->weight_type(), TensorType::Q4_0);
  EXPECT_EQ((*r)->token_bytes(1), "bc");
  EXPECT_EQ((*r)->token_bytes(3), "[_extra_token_3]");
}

// Seeded mutation fuzzing: thousands of corrupted variants of a valid file must each load or
// fail with a message; never crash, hang or allocate absurdly (this runs under ASan in CI).
TEST_F(ModelFileTest, MutatedFilesNeverCrash) {
  const auto valid = small_model(bytes_, layout_);
  const Layout l = walk(valid);
  std::mt19937_64 rng(20261125);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int loaded = 0, failed = 0, iterations = 0;
  const size_t header_region = l.tensors.back() + 64;  // everything but the bulk of the last tensor
  const int mem_fd = memfd_create("thoth-fuzz-model", MFD_CLOEXEC);
  ASSERT_GE(mem_fd, 0);
  const std::string mem_path = "/proc/self/fd/" + std::to_string(mem_fd);
  const int32_t interesting[] = {0, -1, 1, 2, 3, 4, 32, 80, 1500, 51864, 51866, 0x7fffffff,
                                 static_cast<int32_t>(0x80000000), 1 << 16, 1 << 24};
  for (; iterations < 4000 && std::chrono::steady_clock::now() < deadline; ++iterations) {
    auto b = valid;
    const int n_mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < n_mutations; ++m) {
      switch (rng() % 6) {
        case 0:  // flip a byte anywhere in the structured part
          b[rng() % std::min(header_region, b.size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1: {  // an interesting int32 at a tensor header field
          const size_t t = l.tensors[rng() % l.tensors.size()] + 4 * (rng() % 5);
          if (t + 4 <= b.size()) put_i32(b, t, interesting[rng() % std::size(interesting)]);
          break;
        }
        case 2: {  // an interesting int32 in the hyper-parameters or vocabulary
          const size_t t = (rng() % 2) ? 4 * (rng() % 12) : l.vocab + 4 * (rng() % 4);
          if (t + 4 <= b.size()) put_i32(b, t, interesting[rng() % std::size(interesting)]);
          break;
        }
        case 3:  // truncate
          b.resize(rng() % (b.size() + 1));
          break;
        case 4: {  // delete a few bytes
          if (b.size() < 16) break;
          const size_t at = rng() % std::min(header_region, b.size() - 8);
          b.erase(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + 1 + rng() % 7));
          break;
        }
        default: {  // insert a few random bytes
          const size_t at = rng() % std::min(header_region, b.size() + 1);
          for (int k = 0; k < 1 + static_cast<int>(rng() % 7); ++k)
            b.insert(b.begin() + static_cast<long>(at), static_cast<uint8_t>(rng()));
          break;
        }
      }
    }
    // The variant lives in memory (a memfd opened through /proc): no disk I/O per variant.
    ASSERT_EQ(ftruncate(mem_fd, 0), 0);
    ASSERT_EQ(pwrite(mem_fd, b.data(), b.size(), 0), static_cast<ssize_t>(b.size()));
    auto r = ModelFile::open(mem_path);
    if (r) {
      ++loaded;
      // A file that loads must be usable: every tensor view lies inside its data.
      for (const auto& t : (*r)->tensors()) ASSERT_EQ(t.nbytes, row_bytes(t.type, t.ne[0]) * t.rows());
    } else {
      ++failed;
      ASSERT_FALSE(r.error().empty());
      ASSERT_EQ(r.error().find('\n'), std::string::npos);
    }
  }
  close(mem_fd);
  std::printf("mutation fuzz: %d variants, %d loaded, %d rejected\n", iterations, loaded, failed);
  EXPECT_GT(iterations, 100);  // ~4000 in a plain build; far fewer under ASan on a busy machine
  EXPECT_GT(failed, iterations / 2);
}

}  // namespace
}  // namespace thoth::asr
