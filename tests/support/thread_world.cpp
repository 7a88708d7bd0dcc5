#include "support/thread_world.h"

#include <cstdlib>
#include <cstring>
#include <thread>

namespace dsv3::test {

class ThreadComm final : public dist::Communicator {
 public:
  ThreadComm(ThreadWorld& w, int rank) : w_(w), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return w_.size(); }
  std::string node() const override { return "thread"; }

  Status allgather(const float* in, int64_t count, float* out) override {
    return allgather_bytes(in, count * static_cast<int64_t>(sizeof(float)), out);
  }
  Status allgather_bytes(const void* in, int64_t bytes, void* out) override {
    exchange(in, [&] {
      for (int r = 0; r < size(); ++r)
        std::memcpy(static_cast<char*>(out) + r * bytes, w_.posted_[static_cast<std::size_t>(r)],
                    static_cast<std::size_t>(bytes));
    });
    count(bytes * size());
    return {};
  }
  Status broadcast(void* data, int64_t bytes) override {
    exchange(data, [&] {
      if (rank_ != 0) std::memcpy(data, w_.posted_[0], static_cast<std::size_t>(bytes));
    });
    count(bytes);
    return {};
  }
  Status wait_broadcast(void* data, int64_t bytes) override { return broadcast(data, bytes); }
  Status alltoall_slices(const float* in, std::span<const int64_t> offsets, float* out) override {
    const int64_t b = offsets[static_cast<std::size_t>(rank_)], len = offsets[static_cast<std::size_t>(rank_) + 1] - b;
    exchange(in, [&] {
      for (int r = 0; r < size(); ++r)
        std::memcpy(out + r * len, static_cast<const float*>(w_.posted_[static_cast<std::size_t>(r)]) + b,
                    static_cast<std::size_t>(len) * sizeof(float));
    });
    count(len * size() * 4);
    return {};
  }
  Status allgather_slices(float* x, std::span<const int64_t> offsets) override {
    exchange(x, [&] {
      for (int r = 0; r < size(); ++r) {
        if (r == rank_) continue;
        const int64_t b = offsets[static_cast<std::size_t>(r)], e = offsets[static_cast<std::size_t>(r) + 1];
        std::memcpy(x + b, static_cast<const float*>(w_.posted_[static_cast<std::size_t>(r)]) + b,
                    static_cast<std::size_t>(e - b) * sizeof(float));
      }
    });
    count(offsets.back() * 4);
    return {};
  }
  Status gather(const float* in, std::span<const int64_t> counts, float* out) override {
    exchange(in, [&] {
      if (rank_ != 0) return;
      int64_t at = 0;
      for (int r = 0; r < size(); ++r) {
        const int64_t n = counts[static_cast<std::size_t>(r)];
        std::memcpy(out + at, w_.posted_[static_cast<std::size_t>(r)], static_cast<std::size_t>(n) * sizeof(float));
        at += n;
      }
    });
    return {};
  }
  [[noreturn]] void abort(int) override { std::abort(); }

 private:
  // Every rank posts a pointer; after the first barrier each reads what it
  // needs; after the second the pointers may go.
  template <class Read>
  void exchange(const void* mine, Read&& read) {
    w_.posted_[static_cast<std::size_t>(rank_)] = mine;
    w_.barrier_.arrive_and_wait();
    read();
    w_.barrier_.arrive_and_wait();
  }
  void count(int64_t bytes) {
    stats_.calls += 1;
    stats_.bytes += bytes;
  }

  ThreadWorld& w_;
  int rank_;
};

ThreadWorld::ThreadWorld(int ranks) : barrier_(ranks), posted_(static_cast<std::size_t>(ranks)) {
  for (int r = 0; r < ranks; ++r) comms_.push_back(std::make_unique<ThreadComm>(*this, r));
}

ThreadWorld::~ThreadWorld() { join(); }

void ThreadWorld::start_followers(std::function<void(int)> body) {
  for (int r = 1; r < size(); ++r) threads_.emplace_back([body, r] { body(r); });
}

void ThreadWorld::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace dsv3::test
