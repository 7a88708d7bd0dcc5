#!/usr/bin/env bash
# dsv3 serve on the GPU machine (after scripts/package_device.sh; carry
# build-cuda/device): the CUDA tests once more, then for the tiny model and a
# synthesized v3-mini fp8: a chat completion, 1 and 16 concurrent clients
# (curl; the machine has no node), /metrics, and SIGTERM. Logs go to $OUT.
set -uo pipefail
export DSV3_REQUIRE_GPU=1  # GPU tests fail, not skip, without a usable GPU
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/dsv3-device}"
mkdir -p "$out"
dev=build-cuda/device
[ -d "$dev/lib" ] && export LD_LIBRARY_PATH="$PWD/$dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
src="$(cat "$dev/source_dir" 2>/dev/null || echo /work/main)"
if [ "$src" != "$PWD" ] && [ ! -e "$src/tests/data" ]; then mkdir -p "$(dirname "$src")" && ln -sfn "$PWD" "$src"; fi
summary="$out/serve-summary.txt"
: >"$summary"
say() { echo "== $*" | tee -a "$summary"; }

say "CUDA tests"
timeout 120 "$dev/dsv3_tests" --gtest_filter='Cuda*:*Cuda*' >"$out/serve-gtest.txt" 2>&1
gtest_rc=$?
echo "gtest exit $gtest_rc" | tee -a "$summary"
grep -E "^\[  PASSED  \]|^\[  FAILED  \]" "$out/serve-gtest.txt" | tee -a "$summary"

v3=/tmp/dsv3-v3-mini
[ -n "${SKIP_V3:-}" ] || [ -f "$v3/config.json" ] || timeout 180 "$dev/dsv3" synth --preset v3-mini --dtype fp8 --out "$v3" >"$out/synth.txt" 2>&1

port=8090
url="http://127.0.0.1:$port"
load() {  # clients, model id, max_tokens: prints completion tokens per second over all clients
  local n=$1 id=$2 max=$3 t0 t1 tokens
  t0=$(date +%s.%N)
  tokens=$(seq "$n" | xargs -P "$n" -I{} curl -s "$url/v1/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$id\",\"prompt\":\"Once upon a time {}\",\"max_tokens\":$max,\"temperature\":0.6}" |
    grep -o '"completion_tokens":[0-9]*' | cut -d: -f2 | awk '{s += $1} END {print s + 0}')
  t1=$(date +%s.%N)
  awk -v n="$n" -v k="$tokens" -v a="$t0" -v b="$t1" \
    'BEGIN {printf "%d clients: %d completion tokens in %.2f s = %.1f tokens/s\n", n, k, b - a, k / (b - a)}'
}
device="${DEVICE:-cuda}"  # DEVICE=cpu tries the script on a machine without a GPU
models=(tests/data/reference/models/tiny "$v3")
[ -n "${SKIP_V3:-}" ] && models=(tests/data/reference/models/tiny)
for m in "${models[@]}"; do
  id="$(basename "$m")"
  say "serve $id on the GPU"
  "$dev/dsv3" serve --model "$m" --device "$device" --port "$port" --max-sequences 16 >"$out/serve-$id.txt" 2>&1 &
  pid=$!
  for _ in $(seq 120); do curl -sf "$url/health" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -s "$url/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$id\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":16}" |
    head -c 600 | tee -a "$summary"; echo | tee -a "$summary"
  load 1 "$id" 128 | tee -a "$summary"
  load 16 "$id" 128 | tee -a "$summary"
  curl -s "$url/metrics" | grep -E "^dsv3_(requests_total|completion_tokens_total|active_sequences)" | head -8 | tee -a "$summary"
  kill -TERM "$pid"
  wait "$pid"
  echo "serve exit code after SIGTERM: $?" | tee -a "$summary"
done
say "done"
[ "$gtest_rc" -eq 0 ] || { echo "FAIL: CUDA tests (exit code $gtest_rc)"; exit 1; }
