#include "base/thread_pool.h"

#include <algorithm>


namespace dsv3 {

namespace {
// Polls before sleeping; yielding keeps the poll cheap when more threads
// than cores want to run (the work we wait for may need this core).
constexpr int kSpins = 2000;

inline void relax() { std::this_thread::yield(); }
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::slice(int index, int64_t& b, int64_t& e) const {
  const int64_t parts = size();
  b = n_ * index / parts;
  e = n_ * (index + 1) / parts;
}

void ThreadPool::run(int64_t n, Task task, void* ctx) {
  std::lock_guard<std::mutex> run_lock(run_mu_);
  if (workers_.empty() || n == 1) {
    task(ctx, 0, n, 0);
    return;
  }
  task_ = task;
  ctx_ = ctx;
  n_ = n;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);  // pairs with sleeping workers' predicate check
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  int64_t b = 0, e = 0;
  slice(0, b, e);
  if (b < e) task(ctx, b, e, 0);
  for (int i = 0; i < kSpins && pending_.load(std::memory_order_acquire) != 0; ++i) relax();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_relaxed) &&
           spins < kSpins) {
      relax();
      ++spins;
    }
    if (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; });
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    int64_t b = 0, e = 0;
    slice(index, b, e);
    if (b < e) task_(ctx_, b, e, index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace dsv3
