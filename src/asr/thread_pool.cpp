#include "asr/thread_pool.h"

#include <algorithm>

namespace thoth::asr {

namespace {
// Workers spin this many polls before sleeping: decode steps come back within microseconds,
// and a futex wake-up per matrix product would cost more than the product itself.
constexpr int kSpinPolls = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    // release: workers that see the new generation also see job_ and pending_.
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  fn(0);
  // acquire: the workers' writes done inside fn are visible once pending_ reaches zero.
  while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t chunks = std::min<int64_t>(n, n_threads_);
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  run([&](int t) {
    if (t >= chunks) return;
    const int64_t begin = n * t / chunks, end = n * (t + 1) / chunks;
    if (begin < end) fn(begin, end);
  });
}

void ThreadPool::worker(int index) {
  // Generation 0 is the pool's birth: reading the counter here instead would miss a run()
  // issued before this thread got scheduled, and that run() would wait forever.
  uint64_t seen = 0;
  for (;;) {
    uint64_t now = seen;
    for (int i = 0; i < kSpinPolls; ++i) {
      now = generation_.load(std::memory_order_acquire);
      if (now != seen) break;
      cpu_relax();
    }
    if (now == seen) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stop_.load(std::memory_order_relaxed)) return;
    const std::function<void(int)>* job;
    {
      std::lock_guard lock(mutex_);
      job = job_;
    }
    (*job)(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace thoth::asr
