// ThreadPool: each parallel_for splits [0, n) into contiguous, balanced
// ranges, one per thread and in thread order, the caller taking part; calls
// never lose work or overlap, however many and from however many threads.
#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "support/test_env.h"

namespace dsv3::test {
namespace {

struct Slice {
  int64_t b, e;
  int t;
};

std::vector<Slice> slices_of(ThreadPool& pool, int64_t n) {
  std::mutex mu;
  std::vector<Slice> out;
  pool.parallel_for(n, [&](int64_t b, int64_t e, int t) {
    std::lock_guard lk(mu);
    out.push_back({b, e, t});
  });
  std::sort(out.begin(), out.end(), [](const Slice& a, const Slice& b) { return a.t < b.t; });
  return out;
}

TEST(ThreadPool, ContiguousBalancedRangesInThreadOrder) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{5}, int64_t{64}, int64_t{1001}}) {
      const auto s = slices_of(pool, n);
      SCOPED_TRACE(testing::Message() << threads << " threads, n = " << n);
      // every slice is non-empty, one per thread at most, and together they tile [0, n) in thread order
      ASSERT_FALSE(s.empty());
      ASSERT_LE(s.size(), static_cast<std::size_t>(std::min<int64_t>(threads, n)));
      int64_t at = 0;
      int64_t smallest = n, largest = 0;
      for (std::size_t i = 0; i < s.size(); ++i) {
        EXPECT_LT(s[i].b, s[i].e);
        EXPECT_EQ(s[i].b, at) << "slice " << i;
        if (i > 0) {
          EXPECT_LT(s[i - 1].t, s[i].t);
        }
        EXPECT_GE(s[i].t, 0);
        EXPECT_LT(s[i].t, threads);
        at = s[i].e;
        smallest = std::min(smallest, s[i].e - s[i].b);
        largest = std::max(largest, s[i].e - s[i].b);
      }
      EXPECT_EQ(at, n);
      if (n >= threads) {
        EXPECT_EQ(s.size(), static_cast<std::size_t>(threads)) << "every thread gets work";
        EXPECT_LE(largest - smallest, 1) << "balanced";
      }
    }
  }
}

TEST(ThreadPool, CallerTakesPartAsThreadZero) {
  ThreadPool pool(test_threads());
  const std::thread::id me = std::this_thread::get_id();
  std::mutex mu;
  std::vector<std::pair<int, std::thread::id>> seen;
  pool.parallel_for(pool.size() * 10, [&](int64_t, int64_t, int t) {
    std::lock_guard lk(mu);
    seen.emplace_back(t, std::this_thread::get_id());
  });
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(pool.size()));
  for (const auto& [t, id] : seen) EXPECT_EQ(t == 0, id == me) << "thread " << t;
  // a pool of one runs everything on the caller
  ThreadPool one(1);
  bool inline_run = false;
  one.parallel_for(100, [&](int64_t b, int64_t e, int t) { inline_run = b == 0 && e == 100 && t == 0 && std::this_thread::get_id() == me; });
  EXPECT_TRUE(inline_run);
  // nothing to do: fn is not called
  bool called = false;
  pool.parallel_for(0, [&](int64_t, int64_t, int) { called = true; });
  pool.parallel_for(-3, [&](int64_t, int64_t, int) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ThreadPool, NonPositiveSizeMeansEveryCore) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(ThreadPool(0).size(), cores);
  EXPECT_EQ(ThreadPool(-1).size(), cores);
}

// Back-to-back calls (a decode step issues hundreds) hand each worker every
// generation exactly once: a lost or repeated wake-up shows in the sums.
TEST(ThreadPool, ManyShortCallsNeverLoseOrRepeatWork) {
  ThreadPool pool(test_threads() + 1);  // at least one worker besides the caller
  std::atomic<int64_t> sum{0};
  int64_t expected = 0;
  for (int call = 0; call < 20000; ++call) {
    const int64_t n = 1 + call % 7;
    pool.parallel_for(n, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(call * 8 + i, std::memory_order_relaxed);
    });
    for (int64_t i = 0; i < n; ++i) expected += call * 8 + i;
    if (sum.load() != expected) FAIL() << "call " << call << ": " << sum.load() << " != " << expected;
  }
}

// Callers on several threads share one pool: their calls run one at a time,
// each complete before parallel_for returns.
TEST(ThreadPool, ConcurrentCallersAreSerialized) {
  ThreadPool pool(test_threads() + 1);
  constexpr int kCallers = 3, kCalls = 500;
  std::atomic<int> running_calls[kCallers] = {};
  std::atomic<bool> overlap{false};
  std::atomic<int64_t> items[kCallers] = {};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c)
    callers.emplace_back([&, c] {
      for (int k = 0; k < kCalls; ++k) {
        const int64_t before = items[c].load();
        pool.parallel_for(37, [&](int64_t b, int64_t e, int) {
          running_calls[c].fetch_add(1);
          for (int o = 0; o < kCallers; ++o)
            if (o != c && running_calls[o].load() != 0) overlap = true;
          items[c].fetch_add(e - b);
          running_calls[c].fetch_sub(1);
        });
        if (items[c].load() != before + 37) overlap = true;  // returned before its work was done
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_FALSE(overlap.load());
  for (int c = 0; c < kCallers; ++c) EXPECT_EQ(items[c].load(), int64_t{kCalls} * 37);
}

}  // namespace
}  // namespace dsv3::test
