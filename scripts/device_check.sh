#!/usr/bin/env bash
# The one check run on the GPU machine (H100/H200), in the repository root,
# with build-cuda/device carried (see scripts/package_device.sh): the CUDA
# tests (per-op parity and goldens), the CLI on a tiny model, and decode /
# prefill speed on a synthesized v3-mini fp8 against the copy bandwidth.
# Everything runs with the new CUDA paths on and again off (DSV3_CUDA_FAST=0
# DSV3_CUDA_GRAPHS=0). Logs go to $OUT (or /tmp/dsv3-device); summary.txt
# holds the results. Takes about 4 minutes. Exits non-zero if any test,
# command or benchmark failed (GPU tests run with DSV3_REQUIRE_GPU=1: a
# missing or unusable GPU is a failure, not a skip).
set -uo pipefail
export DSV3_REQUIRE_GPU=1
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/dsv3-device}"
mkdir -p "$out"
dev=build-cuda/device
summary="$out/summary.txt"
: >"$summary"
say() { echo "== $*" | tee -a "$summary"; }
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start ))s; }
failures=0
fail() { failures=$((failures + 1)); echo "FAIL: $*" | tee -a "$summary"; }
# check CODE WHAT: a non-zero exit code is a failure
check() { [ "$1" -eq 0 ] || fail "$2 (exit code $1)"; }

say "device"
nvidia-smi 2>&1 | tee "$out/nvidia-smi.txt" | head -20
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv 2>&1 | tee -a "$summary"
[ -x "$dev/dsv3_tests" ] || { say "FAIL: $dev/dsv3_tests missing (carry build-cuda/device)"; exit 2; }
[ -d "$dev/lib" ] && export LD_LIBRARY_PATH="$PWD/$dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ldd "$dev/dsv3_tests" >"$out/ldd.txt" 2>&1
if grep -q "not found" "$out/ldd.txt"; then fail "unresolved libraries"; cat "$out/ldd.txt" | tee -a "$summary"; fi
# the binaries read test data and the tokenizer at the source path they were built in
src="$(cat "$dev/source_dir" 2>/dev/null || echo /work/main)"
if [ "$src" != "$PWD" ] && [ ! -e "$src/tests/data" ]; then
  mkdir -p "$(dirname "$src")" && ln -sfn "$PWD" "$src" && say "linked $src -> $PWD"
fi

# every run twice: the new paths on (default) and off (DSV3_CUDA_FAST=0 DSV3_CUDA_GRAPHS=0)
modes=("fast" "first")
env_of() { if [ "$1" = fast ]; then echo "DSV3_CUDA_FAST=1 DSV3_CUDA_GRAPHS=1"; else echo "DSV3_CUDA_FAST=0 DSV3_CUDA_GRAPHS=0"; fi; }

for m in "${modes[@]}"; do
  say "CUDA tests, $m paths: $(env_of "$m") ($(elapsed))"
  env $(env_of "$m") timeout 150 "$dev/dsv3_tests" --gtest_filter='Cuda*:*Cuda*' --gtest_brief=0 >"$out/gtest-$m.txt" 2>&1
  rc=$?
  echo "gtest ($m) exit code $rc" | tee -a "$summary"
  check $rc "CUDA tests, $m paths"
  grep -E "^\[  PASSED  \]|^\[  FAILED  \]|^\[  SKIPPED \] [0-9]+ test|max \|logit|test suites ran" "$out/gtest-$m.txt" | head -40 | tee -a "$summary"
done

say "CLI on tiny-fp8 ($(elapsed))"
tiny=tests/data/reference/models/tiny-fp8
timeout 60 "$dev/dsv3" generate --model "$tiny" --device cpu --ids 0,5,9,13 --max-tokens 8 --temperature 0 --json \
  >"$out/generate-cpu.txt" 2>&1
check $? "generate on the CPU"
head -c 300 "$out/generate-cpu.txt" | sed 's/^/cpu: /' | tee -a "$summary"; echo
for m in "${modes[@]}"; do
  env $(env_of "$m") timeout 60 "$dev/dsv3" generate --model "$tiny" --device cuda --ids 0,5,9,13 --max-tokens 8 \
    --temperature 0 --json >"$out/generate-$m.txt" 2>&1
  rc=$?
  echo "cuda ($m) exit $rc: $(head -c 300 "$out/generate-$m.txt")" | tee -a "$summary"
  check $rc "generate on the GPU, $m paths"
  # the GPU's greedy tokens are the CPU's
  ids_of() { grep -o '"ids":\[[^]]*\]' "$1"; }
  [ -n "$(ids_of "$out/generate-cpu.txt")" ] && [ "$(ids_of "$out/generate-$m.txt")" = "$(ids_of "$out/generate-cpu.txt")" ] ||
    fail "GPU ($m) and CPU greedy ids differ"
done
timeout 60 "$dev/dsv3" bench --model "$tiny" --device cuda --prompt-tokens 64 --gen-tokens 32 --skip-membw >"$out/bench-tiny.txt" 2>&1
check $? "bench on tiny-fp8"
tee -a "$summary" <"$out/bench-tiny.txt"

say "synth v3-mini fp8 ($(elapsed))"
model=/tmp/dsv3-v3-mini
if [ ! -f "$model/config.json" ]; then
  timeout 180 "$dev/dsv3" synth --preset v3-mini --dtype fp8 --out "$model" >"$out/synth.txt" 2>&1 ||
    { fail "synth failed or timed out: $(tail -c 300 "$out/synth.txt")"; }
fi
# bench: decode at batch 1 (context 512, then 4096), batch 32 at context 512, prefill of 2048 tokens
bench() {  # mode, name, args...
  local m="$1" name="$2"
  shift 2
  say "bench $name, $m paths ($(elapsed))"
  env $(env_of "$m") timeout 100 "$dev/dsv3" bench --model "$model" --device cuda "$@" >"$out/bench-$name-$m.txt" 2>&1
  local rc=$?
  echo "exit $rc" >>"$out/bench-$name-$m.txt"
  check $rc "bench $name, $m paths"
  tee -a "$summary" <"$out/bench-$name-$m.txt"
}
if [ -f "$model/config.json" ]; then
  for m in "${modes[@]}"; do
    bench "$m" ctx512-batch32 --prompt-tokens 512 --gen-tokens 64 --batch 32
    bench "$m" prefill2048-ctx4096 --prompt-tokens 2048 --context 4096 --gen-tokens 32 --skip-membw
  done
  # graphs alone off: what the fast kernels give without them
  say "bench with DSV3_CUDA_GRAPHS=0 only ($(elapsed))"
  DSV3_CUDA_GRAPHS=0 timeout 100 "$dev/dsv3" bench --model "$model" --device cuda --prompt-tokens 512 --gen-tokens 64 \
    --batch 32 --skip-membw >"$out/bench-nographs.txt" 2>&1
  check $? "bench without graphs"
  tee -a "$summary" <"$out/bench-nographs.txt"
fi
say "done ($(elapsed)): $failures failure(s)"
[ "$failures" -eq 0 ]
