#!/usr/bin/env bash
# The one check run on the GPU machine (H100/H200), in the repository root,
# with build-cuda/device carried (see scripts/package_device.sh):
#   1. the CUDA tests (per-op parity and goldens) with the default paths, and
#      again with the first kernels alone (DSV3_CUDA_FAST=0 DSV3_CUDA_TC=0);
#   2. the CLI on tiny-fp8: GPU greedy ids equal the CPU's;
#   3. dsv3 bench on a synthesized v3-mini fp8: batch 1 at context 512 and
#      4096, batch 32, prefill 512 and 2048; the tensor cores off side by side,
#      other switch settings, and the op-by-op profile (DSV3_CUDA_PROFILE);
#   4. ncu: each kernel's time in a 512-token prefill and two decode steps;
#   5. compute-sanitizer: initcheck on the chunked-prefill golden, memcheck
#      and racecheck on the product kernels.
# Logs go to $OUT (or /tmp/dsv3-device); summary.txt holds the results.
# SECTIONS (default "tests cli bench profile sanitize") picks the parts,
# TEST_MODES (default "default first") the test runs.
# Exits non-zero if any test, command or benchmark failed (GPU tests run
# with DSV3_REQUIRE_GPU=1: a missing or unusable GPU is a failure, not a skip).
set -uo pipefail
export DSV3_REQUIRE_GPU=1
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/dsv3-device}"
mkdir -p "$out"
dev=build-cuda/device
summary="$out/summary.txt"
: >"$summary"
sections=" ${SECTIONS:-tests cli bench profile sanitize} "
want() { [[ "$sections" == *" $1 "* ]]; }
say() { echo "== $*" | tee -a "$summary"; }
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start ))s; }
failures=0
fail() { failures=$((failures + 1)); echo "FAIL: $*" | tee -a "$summary"; }
# check CODE WHAT: a non-zero exit code is a failure
check() { [ "$1" -eq 0 ] || fail "$2 (exit code $1)"; }

say "device"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv 2>&1 | tee -a "$summary"
[ -x "$dev/dsv3_tests" ] || { say "FAIL: $dev/dsv3_tests missing (carry build-cuda/device)"; exit 2; }
[ -d "$dev/lib" ] && export LD_LIBRARY_PATH="$PWD/$dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ldd "$dev/dsv3_tests" >"$out/ldd.txt" 2>&1
if grep -q "not found" "$out/ldd.txt"; then fail "unresolved libraries"; tee -a "$summary" <"$out/ldd.txt"; fi
# the CLI tests run the dsv3 binary at its build path
[ -e build-cuda/dsv3 ] || ln -s device/dsv3 build-cuda/dsv3
# the binaries read test data and the tokenizer at the source path they were built in
src="$(cat "$dev/source_dir" 2>/dev/null || echo /work/main)"
if [ "$src" != "$PWD" ] && [ ! -e "$src/tests/data" ]; then
  mkdir -p "$(dirname "$src")" && ln -sfn "$PWD" "$src" && say "linked $src -> $PWD"
fi

if want tests; then
  # the default paths, and the first kernels alone (the oracles the fast ones replaced)
  for mode in ${TEST_MODES:-default first}; do
    envs=(); [ "$mode" = first ] && envs=(DSV3_CUDA_FAST=0 DSV3_CUDA_TC=0 DSV3_CUDA_GRAPHS=0)
    say "CUDA tests, $mode ${envs[*]:-} ($(elapsed))"
    env "${envs[@]}" timeout 200 "$dev/dsv3_tests" --gtest_filter='Cuda*:*Cuda*' >"$out/gtest-$mode.txt" 2>&1
    rc=$?
    check $rc "CUDA tests, $mode"
    grep -E "^\[  PASSED  \]|^\[  FAILED  \]|^\[  SKIPPED \] [0-9]+ test|Failure|Expected|Which is|test suites ran" \
      "$out/gtest-$mode.txt" | head -40 | tee -a "$summary"
  done
fi

tiny=tests/data/reference/models/tiny-fp8
if want cli; then
  say "CLI on tiny-fp8 ($(elapsed))"
  timeout 60 "$dev/dsv3" generate --model "$tiny" --device cpu --ids 0,5,9,13 --max-tokens 8 --temperature 0 --json \
    >"$out/generate-cpu.txt" 2>&1
  check $? "generate on the CPU"
  ids_of() { grep -o '"ids":\[[^]]*\]' "$1"; }
  for mode in default first; do
    envs=(); [ "$mode" = first ] && envs=(DSV3_CUDA_FAST=0 DSV3_CUDA_TC=0 DSV3_CUDA_GRAPHS=0)
    env "${envs[@]}" timeout 60 "$dev/dsv3" generate --model "$tiny" --device cuda --ids 0,5,9,13 --max-tokens 8 \
      --temperature 0 --json >"$out/generate-$mode.txt" 2>&1
    rc=$?
    echo "cuda ($mode) exit $rc: $(head -c 200 "$out/generate-$mode.txt")" | tee -a "$summary"
    check $rc "generate on the GPU, $mode"
    [ -n "$(ids_of "$out/generate-cpu.txt")" ] && [ "$(ids_of "$out/generate-$mode.txt")" = "$(ids_of "$out/generate-cpu.txt")" ] ||
      fail "GPU ($mode) and CPU greedy ids differ"
  done
fi

model=/tmp/dsv3-v3-mini
if want bench || want profile; then
  say "synth v3-mini fp8 ($(elapsed))"
  if [ ! -f "$model/config.json" ]; then
    timeout 180 "$dev/dsv3" synth --preset v3-mini --dtype fp8 --out "$model" >"$out/synth.txt" 2>&1 ||
      fail "synth failed or timed out: $(tail -c 300 "$out/synth.txt")"
  fi
fi

if want bench && [ -f "$model/config.json" ]; then
  bench() {  # name, env..., --, args...
    local name="$1" envs=()
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    say "bench $name ${envs[*]:-} ($(elapsed))"
    env "${envs[@]}" timeout 100 "$dev/dsv3" bench --model "$model" --device cuda "$@" >"$out/bench-$name.txt" 2>&1
    check $? "bench $name"
    grep -v "^    " "$out/bench-$name.txt" | tee -a "$summary"
  }
  bench p512-b32 -- --prompt-tokens 512 --gen-tokens 64 --batch 32
  bench p2048-ctx4096 -- --prompt-tokens 2048 --context 4096 --gen-tokens 32 --skip-membw
  # side by side: the tensor cores off; the first kernels (attention one block per token and head)
  bench p512-b32-tc-off DSV3_CUDA_TC=0 -- --prompt-tokens 512 --gen-tokens 64 --batch 32 --skip-membw
  bench p2048-first-attention DSV3_CUDA_FAST=0 -- --prompt-tokens 2048 --gen-tokens 4 --skip-membw
  # where the time goes, op by op (no graph replay)
  bench profile-p512-b32 DSV3_CUDA_PROFILE=1 -- --prompt-tokens 512 --gen-tokens 16 --batch 32 --skip-membw
  bench profile-p2048-ctx4096 DSV3_CUDA_PROFILE=1 -- --prompt-tokens 2048 --context 4096 --gen-tokens 8 --skip-membw
  for f in "$out/bench-profile-p512-b32.txt" "$out/bench-profile-p2048-ctx4096.txt"; do
    sed -n '/DSV3_CUDA_PROFILE/,$p' "$f" | head -150 | tee -a "$summary"
  done
fi

if want profile && [ -f "$model/config.json" ]; then
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [ -z "$ncu" ]; then
    fail "ncu not found"
  else
    say "ncu: 512-token prefill + 2 decode steps, kernels one by one, no graphs ($(elapsed))"
    ids=$(seq -s, 1 512)
    DSV3_CUDA_GRAPHS=0 timeout 200 "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
      --launch-count 900 "$dev/dsv3" generate --model "$model" --device cuda --ids "$ids" --max-tokens 3 \
      --temperature 0 >"$out/ncu.csv" 2>"$out/ncu-stderr.txt"
    check $? "ncu"
    # per forward pass (split at each embedding), time per kernel name
    python3 - "$out/ncu.csv" <<'EOF' | tee -a "$summary"
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head = rows[0]
ki, vi, ui = head.index("Kernel Name"), head.index("Metric Value"), head.index("Metric Unit")
passes, cur = [], None
for r in rows[1:]:
    name = r[ki].replace("void ", "").replace("dsv3::cuda::", "").replace("(anonymous namespace)::", "").split("(")[0]
    if "embed" in name:
        cur = collections.OrderedDict(); passes.append(cur)
    if cur is None: continue
    t = float(r[vi].replace(",", "")) * {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3}.get(r[ui], 1.0)
    n, s = cur.get(name, (0, 0.0)); cur[name] = (n + 1, s + t)
for i, p in enumerate(passes):
    total = sum(s for _, s in p.values()); count = sum(n for n, _ in p.values())
    print(f"pass {i}: {count} kernels, {total:.1f} us of kernel time")
    for name, (n, s) in sorted(p.items(), key=lambda kv: -kv[1][1]):
        print(f"   {s:9.1f} us  {n:4d} x  {name}")
EOF
  fi
fi
if want sanitize; then
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -1)
  if [ -z "$cs" ]; then
    fail "compute-sanitizer not found"
  else
    # tool, gtest filter, seconds
    for spec in "initcheck:*CudaGolden.ChunkedPrefillAndDecodeEqualOnePrefill*:90" \
                "memcheck:CudaFastOps.TensorCoreProductRefuses*:CudaFastOps.PairedProducts:CudaFastOps.ExpertProducts:CudaOps.AttentionOverCache:CudaOps.RoutingTopK:120" \
                "racecheck:CudaFastOps.PairedProducts:CudaOps.AttentionOverCache:120"; do
      tool=${spec%%:*}; rest=${spec#*:}; secs=${rest##*:}; filter=${rest%:*}
      say "compute-sanitizer $tool on $filter ($(elapsed))"
      timeout "$secs" "$cs" --tool "$tool" --print-limit 20 "$dev/dsv3_tests" --gtest_filter="$filter" \
        >"$out/sanitize-$tool.txt" 2>&1
      rc=$?
      grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Uninitialized|hazard|PASSED|FAILED" "$out/sanitize-$tool.txt" | head -8 |
        tee -a "$summary"
      check $rc "compute-sanitizer $tool"
    done
  fi
fi

say "done ($(elapsed)): $failures failure(s)"
[ "$failures" -eq 0 ]
