#!/usr/bin/env bash
# Configures and builds libdeit (Release) into ${DEIT_BUILD_DIR:-build}.
# Extra arguments go to cmake's configure step.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${DEIT_BUILD_DIR:-$root/build}"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
else
  cmake "$build" "$@" >/dev/null
fi
cmake --build "$build" -j "$(nproc)"
