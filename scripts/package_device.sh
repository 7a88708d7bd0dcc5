#!/usr/bin/env bash
# Builds the CUDA build (build-cuda) and gathers what the GPU machine needs
# into one folder to carry: build-cuda/device/{dsv3, dsv3_tests, lib/, source_dir}.
# lib/ holds the shared libraries the binaries need beyond libc, libm, the
# dynamic loader and the CUDA driver (the CUDA runtime is linked statically).
# Usage: scripts/package_device.sh   (then run scripts/device_check.sh there)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-cuda
scripts/build.sh "$build" -DDSV3_CUDA=ON -DDSV3_BUILD_BENCH=OFF
dev="$build/device"
rm -rf "$dev"
mkdir -p "$dev/lib"
# stripped copies: the carry is limited (64 MiB with the working tree)
strip -o "$dev/dsv3" "$build/dsv3"
strip -o "$dev/dsv3_tests" "$build/tests/dsv3_tests"
# the tests and `synth` find their data at the source path compiled in
pwd > "$dev/source_dir"
for bin in "$dev/dsv3" "$dev/dsv3_tests"; do
  ldd "$bin" | awk '/=>/ {print $1, $3}' | while read -r name path; do
    case "$name" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|linux-vdso*|libcuda.so*) continue ;;
    esac
    [ -f "$path" ] || { echo "package_device: $bin needs $name, not found" >&2; exit 1; }
    cp -L "$path" "$dev/lib/$name"
  done
done
# every library must now resolve from lib/ alone (besides the system's libc and friends)
for bin in "$dev/dsv3" "$dev/dsv3_tests"; do
  if LD_LIBRARY_PATH="$dev/lib" ldd "$bin" | grep -q "not found"; then
    echo "package_device: unresolved libraries for $bin" >&2
    exit 1
  fi
done
du -sh "$dev"; ls -l "$dev" "$dev/lib" | sed "s/^/  /"
echo "carry: $dev   (the device machine runs: bash scripts/device_check.sh)"
