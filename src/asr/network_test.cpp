#include "asr/network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "asr/golden_cases.h"
#include "asr/thread_pool.h"

namespace thoth::asr {
namespace {

class NetworkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = ModelFile::open(thoth::test::shared_file("models/mini.en-q8_0.bin").string());
    ASSERT_TRUE(m) << m.error();
    model_ = new std::shared_ptr<const ModelFile>(*m);
    const auto audio = test::read_wav_16k_mono(thoth::test::shared_file("speech/jfk.wav"));
    ThreadPool pool(2);
    mel_ = new MelSpectrogram(compute_mel(audio.data(), static_cast<int64_t>(audio.size()), (*m)->mel_filters(), pool));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete mel_;
  }
  static std::shared_ptr<const ModelFile>* model_;
  static MelSpectrogram* mel_;
};
std::shared_ptr<const ModelFile>* NetworkTest::model_ = nullptr;
MelSpectrogram* NetworkTest::mel_ = nullptr;

int argmax(const std::vector<float>& v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

// Beam search relies on these: a copied cache continues exactly like the original, and a
// sequence's logits do not depend on what else is in the batch -- except that with flash
// attention a batch of one token takes the reference's split-KV path, which rounds
// differently from the batched path.
class NetworkModeTest : public NetworkTest, public ::testing::WithParamInterface<bool> {};

TEST_P(NetworkModeTest, CopiedSequencesAndBatchesAgree) {
  const bool flash = GetParam();
  ThreadPool pool(2);
  WhisperNetwork net(*model_, 3, pool, flash);
  ASSERT_EQ(net.n_sequences(), 3);
  ASSERT_EQ(net.n_vocab(), 51864);
  net.encode(*mel_, 0);
  const auto& sp = (*model_)->special();
  const int32_t prompt[] = {sp.sot, sp.not_timestamps};
  std::vector<float> first(net.n_vocab());
  DecodeItem p{0, prompt, 2, 0, first.data()};
  net.decode(std::span<const DecodeItem>(&p, 1));
  net.copy_sequence(0, 1, 2);
  const int32_t next = argmax(first);
  const int32_t other = (next + 1) % 50000;

  // Both sequences get the same token in one batch; sequence 2 decodes the prompt meanwhile.
  std::vector<float> a(net.n_vocab()), b(net.n_vocab()), c(net.n_vocab());
  const DecodeItem batch[] = {{0, &next, 1, 2, a.data()}, {1, &next, 1, 2, b.data()}, {2, prompt, 2, 0, c.data()}};
  net.decode(batch);
  EXPECT_EQ(a, b);
  EXPECT_EQ(c, first);

  // Alone, sequence 1 continuing with another token differs, and decoding `next` again alone
  // reproduces the batched result.
  std::vector<float> d(net.n_vocab()), e(net.n_vocab());
  const DecodeItem alone_other{1, &other, 1, 2, d.data()};
  net.decode(std::span<const DecodeItem>(&alone_other, 1));
  EXPECT_NE(d, a);
  const DecodeItem alone_next{1, &next, 1, 2, e.data()};
  net.decode(std::span<const DecodeItem>(&alone_next, 1));
  if (!flash) {
    EXPECT_EQ(e, a);
  } else {
    double max_diff = 0;
    for (size_t i = 0; i < e.size(); ++i) max_diff = std::max<double>(max_diff, std::fabs(e[i] - a[i]));
    EXPECT_LT(max_diff, 1.0);  // f16 accumulation over 1500 keys in one chunk or two
    EXPECT_EQ(argmax(e), argmax(a));
  }
}

INSTANTIATE_TEST_SUITE_P(FlashAndPlain, NetworkModeTest, ::testing::Bool());

// decode() may keep the window's cross-attention keys and values in another layout than
// encode() writes; a later window on the same network must not see any of the earlier one.
TEST_F(NetworkTest, ANextWindowDecodesAsOnAFreshNetwork) {
  ThreadPool pool(2);
  const auto& sp = (*model_)->special();
  const int32_t prompt[] = {sp.sot, sp.not_timestamps};
  auto first_logits = [&](WhisperNetwork& net, int offset) {
    EXPECT_TRUE(net.encode(*mel_, offset));
    net.clear_cache();
    std::vector<float> logits(net.n_vocab());
    const DecodeItem p{0, prompt, 2, 0, logits.data()};
    EXPECT_TRUE(net.decode(std::span<const DecodeItem>(&p, 1)));
    const int32_t next = argmax(logits);
    const DecodeItem step{0, &next, 1, 2, logits.data()};
    EXPECT_TRUE(net.decode(std::span<const DecodeItem>(&step, 1)));
    return logits;
  };
  WhisperNetwork used(*model_, 1, pool);
  first_logits(used, 0);
  const auto again = first_logits(used, 300);
  WhisperNetwork fresh(*model_, 1, pool);
  EXPECT_EQ(again, first_logits(fresh, 300));
}

TEST_F(NetworkTest, WindowsPastTheAudioAndBadArguments) {
  ThreadPool pool(2);
  WhisperNetwork net(*model_, 1, pool);
  net.encode(*mel_, mel_->n_len + 100);  // all padding: zeros, as the reference feeds them
  const float* enc = net.encoder_output();
  for (int i = 0; i < 1500 * 64; ++i) ASSERT_TRUE(std::isfinite(enc[i]));
  const int32_t bad = 60000, ok = 50257;
  std::vector<float> l(net.n_vocab());
  const DecodeItem bad_token{0, &bad, 1, 0, l.data()};
  EXPECT_THROW(net.decode(std::span<const DecodeItem>(&bad_token, 1)), std::out_of_range);
  const DecodeItem bad_seq{3, &ok, 1, 0, l.data()};
  EXPECT_THROW(net.decode(std::span<const DecodeItem>(&bad_seq, 1)), std::out_of_range);
  const DecodeItem too_far{0, &ok, 1, 448, l.data()};
  EXPECT_THROW(net.decode(std::span<const DecodeItem>(&too_far, 1)), std::out_of_range);
  EXPECT_THROW(net.copy_sequence(0, 5, 1), std::out_of_range);
}

}  // namespace
}  // namespace thoth::asr

namespace thoth::asr {
namespace {

TEST_F(NetworkTest, CancelStopsEncodeAndDecodeAndAClearedFlagRunsAgain) {
  ThreadPool pool(2);
  WhisperNetwork net(*model_, 1, pool);
  std::atomic<bool> cancel{true};
  net.set_cancel(&cancel);
  EXPECT_FALSE(net.encode(*mel_, 0));
  const auto& sp = (*model_)->special();
  const int32_t prompt[] = {sp.sot, sp.not_timestamps};
  std::vector<float> logits(net.n_vocab(), -7.0f);
  const DecodeItem p{0, prompt, 2, 0, logits.data()};
  EXPECT_FALSE(net.decode(std::span<const DecodeItem>(&p, 1)));
  EXPECT_EQ(logits[0], -7.0f);  // not written

  // The same network after the flag is cleared gives what a fresh one gives.
  cancel = false;
  net.clear_cache();
  ASSERT_TRUE(net.encode(*mel_, 0));
  ASSERT_TRUE(net.decode(std::span<const DecodeItem>(&p, 1)));
  WhisperNetwork fresh(*model_, 1, pool);
  fresh.encode(*mel_, 0);
  std::vector<float> expected(net.n_vocab());
  const DecodeItem q{0, prompt, 2, 0, expected.data()};
  fresh.decode(std::span<const DecodeItem>(&q, 1));
  EXPECT_EQ(logits, expected);
}

}  // namespace
}  // namespace thoth::asr
