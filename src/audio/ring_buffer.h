// Lock-free single-producer/single-consumer ring of float samples: the only thing the
// real-time audio callback touches. The producer (audio callback) and the consumer (the
// capture writer thread) each own one index; neither ever waits, locks or allocates.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace thoth::audio {

class RingBuffer {
 public:
  // Capacity is rounded up to a power of two so that positions wrap with a mask; the
  // indices themselves run freely (size_t wraps far beyond any recording length).
  explicit RingBuffer(size_t min_capacity)
      : capacity_(round_up_pow2(std::max<size_t>(min_capacity, 2))),
        mask_(capacity_ - 1),
        data_(new float[capacity_]()) {}

  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;

  size_t capacity() const { return capacity_; }

  // Producer only. Copies as many of `n` samples as fit, rounded down to a multiple of
  // `granule` (a frame's channel count) so that a partial frame never enters the ring;
  // returns the number copied. The caller counts what did not fit as overflow.
  size_t write(const float* src, size_t n, size_t granule = 1) {
    // Our own index: only this thread stores it, so relaxed suffices.
    const size_t head = head_.load(std::memory_order_relaxed);
    // Acquire pairs with the consumer's release store of tail_: the consumer has finished
    // reading the slots before it publishes them free, so we may overwrite them now.
    const size_t tail = tail_.load(std::memory_order_acquire);
    size_t room = capacity_ - (head - tail);
    size_t count = std::min(n, room);
    if (granule > 1) count -= count % granule;
    if (count == 0) return 0;
    const size_t at = head & mask_;
    const size_t first = std::min(count, capacity_ - at);
    std::memcpy(data_.get() + at, src, first * sizeof(float));
    std::memcpy(data_.get(), src + first, (count - first) * sizeof(float));
    // Release publishes the samples written above before the consumer can see the new
    // head (pairs with the consumer's acquire load of head_).
    head_.store(head + count, std::memory_order_release);
    return count;
  }

  // Consumer only. Copies up to `n` samples out; returns the number copied.
  size_t read(float* dst, size_t n) {
    const size_t tail = tail_.load(std::memory_order_relaxed);  // our own index
    // Acquire pairs with the producer's release store: samples up to head are visible.
    const size_t head = head_.load(std::memory_order_acquire);
    const size_t count = std::min(n, head - tail);
    if (count == 0) return 0;
    const size_t at = tail & mask_;
    const size_t first = std::min(count, capacity_ - at);
    std::memcpy(dst, data_.get() + at, first * sizeof(float));
    std::memcpy(dst + first, data_.get(), (count - first) * sizeof(float));
    // Release: our reads of the slots happen before the producer may reuse them.
    tail_.store(tail + count, std::memory_order_release);
    return count;
  }

  // Either side; a snapshot that may be stale by the time it is used.
  size_t available() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

 private:
  static size_t round_up_pow2(size_t v) {
    size_t p = 1;
    while (p < v) p <<= 1;
    return p;
  }

  // Head and tail on separate cache lines: each is written by one core and only read by
  // the other, so keeping them apart avoids false sharing on every callback.
  static constexpr size_t kLine = 64;
  alignas(kLine) std::atomic<size_t> head_{0};  // next slot the producer writes
  alignas(kLine) std::atomic<size_t> tail_{0};  // next slot the consumer reads
  alignas(kLine) const size_t capacity_;
  const size_t mask_;
  std::unique_ptr<float[]> data_;
};

}  // namespace thoth::audio
