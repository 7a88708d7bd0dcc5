// A persistent pool of worker threads. parallel_for splits [0, n) into one
// contiguous range per thread; the caller's thread takes part. No thread is
// created and nothing is allocated per call. Workers spin briefly before
// sleeping, because a decode step issues hundreds of short parallel loops
// and a sleeping thread takes tens of microseconds to wake.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace dsv3 {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads <= 0: hardware concurrency
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // fn(begin, end, thread_index) for each non-empty slice of [0, n).
  template <class F>
  void parallel_for(int64_t n, F&& fn) {
    if (n <= 0) return;
    using Fn = std::remove_reference_t<F>;  // a named lambda comes as an lvalue reference
    auto trampoline = [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<Fn*>(ctx))(b, e, t); };
    run(n, trampoline, const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Task = void (*)(void*, int64_t, int64_t, int);
  void run(int64_t n, Task task, void* ctx);
  void worker(int index);
  void slice(int index, int64_t& b, int64_t& e) const;

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  Task task_ = nullptr;  // published by the generation increment
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  std::mutex run_mu_;  // one parallel_for at a time
};

}  // namespace dsv3
