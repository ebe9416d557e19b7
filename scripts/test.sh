#!/usr/bin/env bash
# The README's test command: installs dependencies, builds (Release, warnings
# as errors) and runs every test registered with ctest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
start=$(date +%s)
"$root/scripts/build.sh" -DDEIT_WERROR=ON -DDEIT_BUILD_TESTS=ON
echo "test.sh: build took $(( $(date +%s) - start )) s" >&2
build="${DEIT_BUILD_DIR:-$root/build}"
cd "$build"
# ctest runs one test per core at once: one LibTorch thread each, or their spinning OpenMP threads
# oversubscribe the cores and every test runs many times slower.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
ctest --output-on-failure -j "$(nproc)" "$@"
