#!/usr/bin/env bash
# The whole test suite: the release build's tests, then the same tests built
# with -fsanitize=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"
scripts/build.sh build
echo "== tests (release build)"
(cd build && ctest -j "$jobs" --output-on-failure)
echo "== tests (address + undefined sanitizers)"
scripts/build.sh build-asan -DDSV3_SANITIZE=ON -DDSV3_BUILD_BENCH=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest -j "$jobs" --output-on-failure)
