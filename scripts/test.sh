#!/usr/bin/env bash
# The whole test suite: the release build's tests, the server's end-to-end
# tests (node) against the release binary, the same C++ tests built with
# -fsanitize=address,undefined, then a bounded, repeatable run of every
# libFuzzer target (clang; scripts/fuzz.sh runs them longer).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"
scripts/build.sh build
echo "== tests (release build)"
(cd build && ctest -j "$jobs" --output-on-failure)
echo "== end-to-end tests of dsv3 serve (openai client, WebSocket, load, chromium)"
if [ ! -d tests/e2e/node_modules ]; then
  echo "tests/e2e/node_modules is missing: run scripts/setup.sh" >&2
  exit 1
fi
(cd tests/e2e && DSV3_BINARY="$PWD/../../build/dsv3" node --test --test-concurrency=1 --test-timeout=180000 ./*.test.mjs)
echo "== tests (address + undefined sanitizers)"
# (without the CUDA backend: its kernels cannot run here, and nvcc's output is not instrumented)
scripts/build.sh build-asan -DDSV3_SANITIZE=ON -DDSV3_BUILD_BENCH=OFF -DDSV3_CUDA=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest -j "$jobs" --output-on-failure)
echo "== fuzzing (every target of fuzz/, a fixed seed and 300,000 inputs each)"
scripts/fuzz.sh --ci
