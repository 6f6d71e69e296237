#include "asr/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace thoth::asr {
namespace {

TEST(ThreadPool, EveryIndexRunsExactlyOncePerRun) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    std::vector<int> counts(threads, 0);
    constexpr int kRuns = 3000;
    for (int r = 0; r < kRuns; ++r) pool.run([&](int t) { ++counts[t]; });
    for (int t = 0; t < threads; ++t) EXPECT_EQ(counts[t], kRuns) << "threads " << threads << " index " << t;
  }
}

TEST(ThreadPool, ParallelForCoversTheRangeOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 3, 7, 1000}) {
    std::vector<int> hits(static_cast<size_t>(n), 0);
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ++hits[i];
    });
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i], 1) << "n " << n << " i " << i;
  }
}

// Workers that went to sleep between jobs (past their spin) are woken for the next one, or
// their index is run by the caller: either way each index runs once and run() returns.
TEST(ThreadPool, JobsAfterIdlePeriodsStillRunEveryIndex) {
  ThreadPool pool(3);
  for (int r = 0; r < 3; ++r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::atomic<int> mask{0};
    pool.run([&](int t) { mask.fetch_or(1 << t); });
    EXPECT_EQ(mask.load(), 0b111);
  }
}

// A slow index on one thread: run() returns only after it finished, with its writes visible.
TEST(ThreadPool, RunWaitsForAnIndexInProgress) {
  ThreadPool pool(2);
  for (int r = 0; r < 50; ++r) {
    std::vector<int> out(2, 0);
    pool.run([&](int t) {
      if (t == 1) std::this_thread::sleep_for(std::chrono::microseconds(200));
      out[t] = t + 1;
    });
    EXPECT_EQ(out[0], 1);
    EXPECT_EQ(out[1], 2);
  }
}

TEST(ThreadPool, DestroyedWhileWorkersSleepOrSpin) {
  for (int i = 0; i < 20; ++i) {
    ThreadPool pool(4);
    if (i % 2) pool.run([](int) {});
  }
}

}  // namespace
}  // namespace thoth::asr
