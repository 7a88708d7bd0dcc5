// The test suite's settings from the environment, read in one place:
//   DSV3_TEST_THREADS     threads of every pool a test starts (default 2:
//                         ctest already runs one test per core);
//   DSV3_TEST_DEADLINE_S  how long any wait for a state may take before the
//                         test fails (default 120; raise it on a loaded host);
//   DSV3_REQUIRE_GPU=1    GPU tests fail instead of skipping without a GPU.
// The end-to-end tests (tests/e2e/helpers.mjs) read the same names.
#pragma once
#include <chrono>
#include <thread>

namespace dsv3::test {

int test_threads();
std::chrono::milliseconds test_deadline();
bool gpu_required();

// Polls `done` until it holds or the deadline passes; returns whether it held.
// Waiting for a state, never for a fixed time, keeps tests free of timing luck.
template <class Pred>
bool wait_until(Pred&& done, std::chrono::milliseconds deadline = test_deadline()) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace dsv3::test
