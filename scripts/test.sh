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
ctest --output-on-failure -j "$(nproc)" "$@"
