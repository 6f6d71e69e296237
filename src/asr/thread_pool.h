// A persistent pool of worker threads for the engine's parallel loops: no thread is created
// per layer or per token. The owner joins every worker in the destructor.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace thoth::asr {

class ThreadPool {
 public:
  // n_threads counts the calling thread: a pool of 1 runs everything inline.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index) once for each index in [0, size()) and returns when all have
  // finished. The caller runs index 0, then any index whose worker has not picked it up yet
  // (a worker the OS has not scheduled never holds the caller back). Work is split inside fn
  // by thread_index. One caller at a time.
  void run(const std::function<void(int thread_index)>& fn);

  // Splits [0, n) into contiguous chunks, one per thread, and calls fn(begin, end) for each.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  void worker(int index);

  // Per worker: (generation of the job it belongs to << 2) | state. A worker starts the
  // job's index only by moving it from open to running; the caller takes over an open one.
  static constexpr uint64_t kOpen = 0, kRunning = 1, kDone = 2;
  struct alignas(64) Slot {
    std::atomic<uint64_t> v{0};
  };

  int n_threads_;
  std::unique_ptr<Slot[]> slots_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<const std::function<void(int)>*> job_{nullptr};
  std::atomic<uint64_t> generation_{0};
  int sleepers_ = 0;  // workers waiting on wake_ (guarded by mutex_)
  std::atomic<bool> stop_{false};
};

}  // namespace thoth::asr
