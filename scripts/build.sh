#!/usr/bin/env bash
# Configures and builds dsv3. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
# reuse an existing build dir's generator
[ -f "$dir/CMakeCache.txt" ] && gen=()
# CUDA: one architecture (Hopper, what the lent GPUs are) keeps this script's
# builds fast; a plain CMake build makes 80;86;89;90 (DSV3_CUDA_ARCHITECTURES
# overrides either)
log="$(mktemp)"
if ! cmake -S . -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_CUDA_ARCHITECTURES="${DSV3_CUDA_ARCHITECTURES:-90}" "$@" >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
grep '^-- dsv3:' "$log" || true  # the configuration's summary
rm -f "$log"
cmake --build "$dir" -j "$(nproc)"
