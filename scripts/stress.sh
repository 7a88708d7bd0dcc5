#!/usr/bin/env bash
# The whole test suite (scripts/test.sh) N times in a row, default 10, with
# stress-ng loading every core: a test that passes only on an idle machine
# depends on timing luck. Stops at the first failing run and keeps its log.
# (Each run builds what is missing first, as scripts/test.sh does.)
# Usage: scripts/stress.sh [N]   (logs in build/stress/; needs stress-ng)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
command -v stress-ng >/dev/null || { echo "stress: stress-ng is missing (run scripts/setup.sh)" >&2; exit 1; }
mkdir -p build/stress
stress-ng --cpu "$(nproc)" --timeout 0 --quiet &
load=$!
trap 'kill "$load" 2>/dev/null || true' EXIT
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if scripts/test.sh >"build/stress/run-$i.log" 2>&1; then
    echo "run $i of $runs passed in $(( $(date +%s) - start )) s under stress-ng --cpu $(nproc)"
  else
    echo "run $i of $runs FAILED after $(( $(date +%s) - start )) s: build/stress/run-$i.log" >&2
    grep -E "\(Failed\)|\(Timeout\)|^not ok" "build/stress/run-$i.log" >&2 || true
    exit 1
  fi
done
echo "$runs passed, 0 failed"
