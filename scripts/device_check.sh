#!/usr/bin/env bash
# The one check run on the GPU machine (H100/H200), in the repository root,
# with build-cuda/device carried (see scripts/package_device.sh): the CUDA
# tests (per-op parity and goldens), the CLI on a tiny model, and decode /
# prefill speed on a synthesized v3-mini fp8 against the copy bandwidth.
# Logs go to $OUT (or /tmp/dsv3-device). Takes about 3 to 5 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/dsv3-device}"
mkdir -p "$out"
dev=build-cuda/device
summary="$out/summary.txt"
: >"$summary"
say() { echo "== $*" | tee -a "$summary"; }
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start ))s; }

say "device"
nvidia-smi 2>&1 | tee "$out/nvidia-smi.txt" | head -20
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv 2>&1 | tee -a "$summary"
[ -x "$dev/dsv3_tests" ] || { say "FAIL: $dev/dsv3_tests missing (carry build-cuda/device)"; exit 2; }
[ -d "$dev/lib" ] && export LD_LIBRARY_PATH="$PWD/$dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ldd "$dev/dsv3_tests" >"$out/ldd.txt" 2>&1
if grep -q "not found" "$out/ldd.txt"; then say "FAIL: unresolved libraries"; cat "$out/ldd.txt" | tee -a "$summary"; fi
# the binaries read test data and the tokenizer at the source path they were built in
src="$(cat "$dev/source_dir" 2>/dev/null || echo /work/main)"
if [ "$src" != "$PWD" ] && [ ! -e "$src/tests/data" ]; then
  mkdir -p "$(dirname "$src")" && ln -sfn "$PWD" "$src" && say "linked $src -> $PWD"
fi

say "CUDA tests ($(elapsed))"
timeout 300 "$dev/dsv3_tests" --gtest_filter='Cuda*:*Cuda*' --gtest_brief=0 >"$out/gtest.txt" 2>&1
echo "gtest exit code $?" | tee -a "$summary"
grep -E "^\[  PASSED  \]|^\[  FAILED  \]|^\[  SKIPPED \] [0-9]+ test|max \|logit|test suites ran" "$out/gtest.txt" | head -60 | tee -a "$summary"

say "CLI on tiny-fp8 ($(elapsed))"
tiny=tests/data/reference/models/tiny-fp8
timeout 60 "$dev/dsv3" generate --model "$tiny" --device cuda --ids 0,5,9,13 --max-tokens 8 --temperature 0 --json \
  >"$out/generate.txt" 2>&1; echo "generate exit $?: $(head -c 300 "$out/generate.txt")" | tee -a "$summary"
timeout 60 "$dev/dsv3" generate --model "$tiny" --device cpu --ids 0,5,9,13 --max-tokens 8 --temperature 0 --json \
  2>&1 | head -c 300 | sed 's/^/cpu: /' | tee -a "$summary"; echo
timeout 60 "$dev/dsv3" bench --model "$tiny" --device cuda --prompt-tokens 64 --gen-tokens 32 2>&1 | tee -a "$summary"

say "synth v3-mini fp8 ($(elapsed))"
model=/tmp/dsv3-v3-mini
if [ ! -f "$model/config.json" ]; then
  timeout 180 "$dev/dsv3" synth --preset v3-mini --dtype fp8 --out "$model" >"$out/synth.txt" 2>&1 ||
    { say "synth failed or timed out: $(tail -c 300 "$out/synth.txt")"; }
fi
say "bench v3-mini fp8 on the GPU ($(elapsed))"
if [ -f "$model/config.json" ]; then
  timeout 150 "$dev/dsv3" bench --model "$model" --device cuda --prompt-tokens 512 --gen-tokens 64 2>&1 | tee -a "$summary"
  timeout 120 "$dev/dsv3" bench --model "$model" --device cuda --prompt-tokens 2048 --gen-tokens 16 --json \
    >"$out/bench-2048.json" 2>&1; echo "prefill 2048: $(cat "$out/bench-2048.json")" | tee -a "$summary"
fi
say "done ($(elapsed))"
