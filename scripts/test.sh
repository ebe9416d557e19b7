#!/usr/bin/env bash
# The README's test command: installs dependencies, builds (Release, warnings as errors) and runs every
# test registered with ctest.
#
#   scripts/test.sh [CTEST_ARGS...]          Debian's LibTorch 1.13 (CPU), build/
#   scripts/test.sh --cuda [CTEST_ARGS...]   PyTorch 2.11's CUDA LibTorch, build-cuda/: the whole suite on
#                                            the CPU (tests that need a GPU report skipped without one)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode=()
if [ "${1:-}" = "--cuda" ]; then
  mode=(--cuda)
  shift
fi
"$root/scripts/install-deps.sh"
# The pretrained_* tests compare with the real timm/torchvision/safetensors from PyPI (torch 2.11).
"$root/scripts/install-python-venv.sh" >/dev/null
start=$(date +%s)
"$root/scripts/build.sh" "${mode[@]}" -DDEIT_WERROR=ON -DDEIT_BUILD_TESTS=ON
echo "test.sh: build took $(( $(date +%s) - start )) s" >&2
if [ ${#mode[@]} -gt 0 ]; then build="${DEIT_BUILD_DIR:-$root/build-cuda}"; else build="${DEIT_BUILD_DIR:-$root/build}"; fi
cd "$build"
# ctest runs one test per core at once: one LibTorch thread each, or their spinning OpenMP threads
# oversubscribe the cores and every test runs many times slower.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
ctest --output-on-failure -j "$(nproc)" "$@"
