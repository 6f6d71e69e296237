#include "asr/thread_pool.h"

#include <sched.h>

#include <algorithm>

namespace thoth::asr {

namespace {
// Workers spin this many polls before sleeping: decode steps come back within microseconds,
// and a futex wake-up per matrix product would cost more than the product itself.
constexpr int kSpinPolls = 20000;
// The caller waiting for a worker's index spins this long, then yields: on a machine busy
// with other processes the worker may share the caller's core and need it to finish.
constexpr int kWaitPolls = 2000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), slots_(std::make_unique<Slot[]>(static_cast<size_t>(n_threads_))) {
  // Slots start done for generation 0 (no job): nobody can claim them before the first run().
  for (int i = 0; i < n_threads_; ++i) slots_[i].v.store(kDone, std::memory_order_relaxed);
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
  const uint64_t g = generation_.load(std::memory_order_relaxed) + 1;
  job_.store(&fn, std::memory_order_relaxed);
  // release: a worker that claims its slot also sees job_.
  for (int t = 1; t < n_threads_; ++t) slots_[t].v.store(g << 2 | kOpen, std::memory_order_release);
  bool wake = false;
  {
    // Under the lock so a worker about to sleep either sees the new generation or is counted.
    std::lock_guard lock(mutex_);
    generation_.store(g, std::memory_order_release);
    wake = sleepers_ > 0;
  }
  if (wake) wake_.notify_all();
  fn(0);
  for (int t = 1; t < n_threads_; ++t) {
    uint64_t open = g << 2 | kOpen;
    // acq_rel: the claim orders against the worker's; our fn(t) needs nothing from it.
    if (slots_[t].v.compare_exchange_strong(open, g << 2 | kDone, std::memory_order_acq_rel)) {
      fn(t);
      continue;
    }
    // acquire: the worker's writes inside fn are visible once its slot reads done.
    for (int i = 0; slots_[t].v.load(std::memory_order_acquire) != (g << 2 | kDone); ++i) {
      if (i < kWaitPolls) cpu_relax();
      else sched_yield();
    }
  }
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
  // issued before this thread got scheduled (the caller would then run our index itself).
  uint64_t seen = 0;
  Slot& slot = slots_[index];
  for (;;) {
    uint64_t now = seen;
    for (int i = 0; i < kSpinPolls; ++i) {
      now = generation_.load(std::memory_order_acquire);
      if (now != seen) break;
      cpu_relax();
    }
    if (now == seen) {
      std::unique_lock lock(mutex_);
      ++sleepers_;
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      --sleepers_;
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stop_.load(std::memory_order_relaxed)) return;
    uint64_t open = now << 2 | kOpen;
    // A failed claim: the caller took our index, or a newer job replaced it (we were late):
    // the loop then picks the newer one up.
    if (!slot.v.compare_exchange_strong(open, now << 2 | kRunning, std::memory_order_acq_rel)) continue;
    // The job cannot change before we mark the slot done: the caller waits for it.
    (*job_.load(std::memory_order_relaxed))(index);
    slot.v.store(now << 2 | kDone, std::memory_order_release);
  }
}

}  // namespace thoth::asr
