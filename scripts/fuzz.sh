#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (-fsanitize=fuzzer,address,
# undefined) in build-fuzz and runs each for SECONDS (default 60), starting
# from its committed seeds in fuzz/corpus/<target> (new inputs go to a
# scratch copy, not the repository). Prints the executions per target; a
# crash stops with the input saved under build-fuzz/crashes/<target>/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   scripts/fuzz.sh --ci [TARGET...]   (what scripts/test.sh runs: a fixed seed
#                                       and a fixed number of inputs, so a run
#                                       repeats; about 20 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
budget=(-max_total_time="$seconds" -max_len=65536)
if [ "$seconds" = "--ci" ]; then
  budget=(-seed=1 -runs=300000 -max_len=4096)
  seconds="300000 inputs,"
fi
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=($(sed -n 's/^dsv3_fuzz_target(\([a-z_0-9]*\) .*/\1/p' fuzz/CMakeLists.txt))
fi
CXX="${CXX:-clang++-14}" cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DDSV3_FUZZ=ON -DDSV3_CUDA=OFF \
  -DDSV3_BUILD_BENCH=OFF -DDSV3_BUILD_TESTS=OFF >/dev/null
ninja -C build-fuzz $(printf 'fuzz_%s ' "${targets[@]}")
# --ci: a target much slower per input (compiling a pattern builds a DFA)
# runs fewer inputs, so that each takes about the same time
ci_runs() {
  case "$1" in
    json_schema) echo 20000 ;;
    *) echo 300000 ;;
  esac
}
status=0
for t in "${targets[@]}"; do
  if [ "${budget[0]}" = "-seed=1" ]; then budget[1]="-runs=$(ci_runs "$t")"; fi
  work="build-fuzz/corpus/$t" crashes="build-fuzz/crashes/$t"
  mkdir -p "$work" "$crashes"
  if [ "${budget[0]}" = "-seed=1" ]; then rm -rf "$work"; mkdir -p "$work"; fi  # a repeatable run starts from the seeds
  cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  log="build-fuzz/$t.log"
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "build-fuzz/fuzz/fuzz_$t" "$work" \
       "${budget[@]}" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
       -artifact_prefix="$crashes/" >"$log" 2>&1; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    printf '%-16s %10s executions in %s s, no crash\n' "$t" "$runs" "$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")"
  else
    printf '%-16s FAILED: see %s and %s\n' "$t" "$log" "$crashes" >&2
    grep -m3 -E "ERROR|SUMMARY" "$log" >&2 || true
    status=1
  fi
done
exit "$status"
