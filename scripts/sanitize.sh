#!/usr/bin/env bash
# Reliability checks: builds the library and the C tests with AddressSanitizer +
# UndefinedBehaviorSanitizer (clang-14), plus the libFuzzer targets under
# tests/fuzz, and runs them all with ctest.  Any sanitizer report fails its test.
# Each fuzz target fuzzes for DEIT_FUZZ_SECONDS (default 20) s.  Build directory:
# ${DEIT_SANITIZE_BUILD_DIR:-build-asan}.  Extra arguments go to ctest (e.g. -L fuzz,
# -R test_models).  docs/RELIABILITY.md says what is checked and what it costs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"

# clang and libFuzzer are needed by this script only, not by scripts/test.sh.
extra=(clang-14 libclang-rt-14-dev)
missing=()
for p in "${extra[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "sanitize: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { $sudo apt-get update -q && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"; }
fi

build="${DEIT_SANITIZE_BUILD_DIR:-$root/build-asan}"
start=$(date +%s)
# The CLI, benchmarks and Python module add nothing the C tests do not cover here.
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DDEIT_SANITIZE=ON -DDEIT_BUILD_FUZZ=ON -DDEIT_BUILD_TESTS=ON -DDEIT_BUILD_CLI=OFF -DDEIT_BUILD_BENCH=OFF \
  -DDEIT_BUILD_PYTHON=OFF -DDEIT_BUILD_GO_RUST=OFF -DDEIT_FUZZ_SECONDS="${DEIT_FUZZ_SECONDS:-20}" >/dev/null
cmake --build "$build" -j "$(nproc)"
echo "sanitize: build took $(( $(date +%s) - start )) s" >&2

# The sanitizer options live in the ctest entries (tests/fuzz/sanitize.cmake), so
# running ctest by hand in $build checks the same way.
start=$(date +%s)
status=0
# The install tests build programs with the system compiler against this ASan
# library; those cannot run (the ASan runtime must be loaded first), so skip them.
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" -LE install "$@" || status=$?
echo "sanitize: tests took $(( $(date +%s) - start )) s" >&2
exit $status
