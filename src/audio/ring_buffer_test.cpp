#include "audio/ring_buffer.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace thoth::audio {
namespace {

TEST(RingBuffer, CapacityIsRoundedUpToPowerOfTwo) {
  EXPECT_EQ(RingBuffer(1000).capacity(), 1024u);
  EXPECT_EQ(RingBuffer(1024).capacity(), 1024u);
  EXPECT_EQ(RingBuffer(0).capacity(), 2u);
}

TEST(RingBuffer, ReadsBackWhatWasWrittenAcrossTheWrap) {
  RingBuffer ring(8);
  std::vector<float> out(8);
  float seq = 0;
  // Writes of 5 into a ring of 8 cross the wrap point on every other round.
  for (int round = 0; round < 20; ++round) {
    float in[5];
    for (float& v : in) v = seq++;
    ASSERT_EQ(ring.write(in, 5), 5u);
    EXPECT_EQ(ring.available(), 5u);
    ASSERT_EQ(ring.read(out.data(), 8), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], in[i]);
  }
  EXPECT_EQ(ring.read(out.data(), 8), 0u);
}

TEST(RingBuffer, FullRingRefusesTheExcessAndKeepsWholeFrames) {
  RingBuffer ring(8);
  float in[12];
  for (int i = 0; i < 12; ++i) in[i] = float(i);
  EXPECT_EQ(ring.write(in, 12), 8u);  // what does not fit is the caller's overflow
  EXPECT_EQ(ring.write(in, 1), 0u);
  float out[3];
  ASSERT_EQ(ring.read(out, 3), 3u);
  // Three free slots but stereo frames: only one whole frame (2 samples) goes in.
  EXPECT_EQ(ring.write(in, 4, 2), 2u);
  std::vector<float> rest(8);
  ASSERT_EQ(ring.read(rest.data(), 8), 7u);
  EXPECT_EQ(rest[0], 3.0f);
  EXPECT_EQ(rest[4], 7.0f);
  EXPECT_EQ(rest[5], 0.0f);
  EXPECT_EQ(rest[6], 1.0f);
}

// One producer and one consumer hammer the ring with odd-sized chunks; every sample must
// arrive once, in order. Run under TSan (build-tsan) to check the memory orders.
TEST(RingBuffer, TwoThreadStressDeliversEverySampleInOrder) {
  RingBuffer ring(256);
  constexpr size_t kTotal = 2'000'000;
  std::thread producer([&] {
    std::vector<float> chunk(97);
    size_t next = 0;
    while (next < kTotal) {
      const size_t n = std::min(chunk.size(), kTotal - next);
      for (size_t i = 0; i < n; ++i) chunk[i] = float((next + i) & 0xFFFFFF);
      size_t done = 0;
      while (done < n) {
        const size_t w = ring.write(chunk.data() + done, n - done);
        if (w == 0) std::this_thread::yield();
        done += w;
      }
      next += n;
    }
  });
  std::vector<float> buf(61);
  size_t expected = 0;
  size_t mismatches = 0;
  while (expected < kTotal) {
    const size_t r = ring.read(buf.data(), buf.size());
    if (r == 0) {
      std::this_thread::yield();
      continue;
    }
    for (size_t i = 0; i < r; ++i)
      if (buf[i] != float((expected + i) & 0xFFFFFF)) ++mismatches;
    expected += r;
  }
  producer.join();
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(expected, kTotal);
  EXPECT_EQ(ring.available(), 0u);
}

}  // namespace
}  // namespace thoth::audio
