#!/usr/bin/env bash
# Line and branch coverage of the test suite, per layer of src/: builds an
# instrumented copy (build-cov, gcov via --coverage, without CUDA), runs the
# C++ tests and the server's end-to-end tests against it, and prints one line
# per layer; the HTML report goes to build-cov/coverage/index.html. Branch
# figures count every branch gcc emits, exception and cleanup paths included.
# Usage: scripts/coverage.sh   (needs lcov: scripts/setup.sh installs it)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v lcov >/dev/null || { echo "coverage: lcov is missing (run scripts/setup.sh)" >&2; exit 1; }
dir=build-cov
scripts/build.sh "$dir" -DDSV3_COVERAGE=ON -DDSV3_CUDA=OFF -DDSV3_BUILD_BENCH=OFF
rc=(--rc lcov_branch_coverage=1)
lcov -q --zerocounters --directory "$dir"
status=0
(cd "$dir" && ctest -j "$(nproc)" --output-on-failure >ctest.log 2>&1) || status=$?
grep -E "tests passed|tests failed out of" "$dir/ctest.log" || tail -3 "$dir/ctest.log"
if [ -d tests/e2e/node_modules ]; then
  (cd tests/e2e && DSV3_BINARY="$PWD/../../$dir/dsv3" node --test --test-concurrency=1 --test-timeout=300000 ./*.test.mjs \
    >"../../$dir/e2e.log" 2>&1) || status=$?
  grep -E "^# (pass|fail)" "$dir/e2e.log" || true
fi
lcov -q "${rc[@]}" --capture --directory "$dir" --output-file "$dir/all.info" 2>/dev/null
lcov -q "${rc[@]}" --extract "$dir/all.info" "$PWD/src/*" --output-file "$dir/src.info" 2>/dev/null
printf '%-8s %8s %8s\n' layer lines branches
for layer in base tensor ops model jinja text engine benchkit server cli; do
  lcov -q "${rc[@]}" --extract "$dir/src.info" "$PWD/src/$layer/*" --output-file "$dir/$layer.info" 2>/dev/null || continue
  summary="$(lcov "${rc[@]}" --summary "$dir/$layer.info" 2>&1)"
  pct() { grep -E "^ *$1" <<<"$summary" | grep -oE '[0-9.]+%' | head -1; }
  printf '%-8s %8s %8s\n' "$layer" "$(pct lines)" "$(pct branches)"
done
summary="$(lcov "${rc[@]}" --summary "$dir/src.info" 2>&1)"
printf '%-8s %8s %8s\n' all "$(grep -E '^ *lines' <<<"$summary" | grep -oE '[0-9.]+%')" \
  "$(grep -E '^ *branches' <<<"$summary" | grep -oE '[0-9.]+%')"
genhtml -q "${rc[@]}" --output-directory "$dir/coverage" "$dir/src.info" >/dev/null 2>&1 || true
[ "$status" -eq 0 ] || echo "coverage: some tests failed (exit $status); the numbers still count what ran" >&2
exit "$status"
