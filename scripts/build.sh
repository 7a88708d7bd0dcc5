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
cmake -S . -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
