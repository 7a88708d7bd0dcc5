#!/usr/bin/env bash
# Installs dsv3's build dependencies from Debian packages, and the node
# packages of the server's end-to-end tests. Idempotent: packages already
# present are skipped, so a warm machine pays nothing.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config
      nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev
      libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev
      libboost1.81-dev chromium lcov stress-ng
      libopenmpi-dev openmpi-bin  # multi-process runs (mpirun) and their tests
      libedit-dev  # line editing and history in dsv3 chat
      libcurl4-openssl-dev libssl-dev  # dsv3 pull (downloads, sha256)
      clang-14 libclang-rt-14-dev  # the fuzz targets (libFuzzer)
      python3-jinja2)  # the Jinja engine's differential test
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# tests/e2e: the openai client, ws and playwright-core, pinned by package-lock.json
# (node itself is expected on the machine: Debian 12's is too old for the openai client)
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "setup: npm not found; the server's end-to-end tests will be skipped"
elif cmp -s tests/e2e/package-lock.json tests/e2e/node_modules/.dsv3-lock; then
  echo "setup: node packages present"
else
  echo "setup: npm ci in tests/e2e"
  npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
  cp tests/e2e/package-lock.json tests/e2e/node_modules/.dsv3-lock
fi

# llama.cpp as the peer the GGUF parity test compares against: node-llama-cpp
# 3.22.1 with its prebuilt CPU libraries, from the npm registry (tests/peer)
if command -v npm >/dev/null; then
  NODE_LLAMA_CPP_SKIP_DOWNLOAD=true tests/peer/install_llama.sh >/dev/null && echo "setup: llama.cpp peer present"
fi
