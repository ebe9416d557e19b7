#!/usr/bin/env bash
# Configures and builds libdeit (Release).  Extra arguments go to cmake's configure step.
#
#   scripts/build.sh [CMAKE_ARGS...]          Debian's LibTorch 1.13 (CPU) into ${DEIT_BUILD_DIR:-build}
#   scripts/build.sh --cuda [CMAKE_ARGS...]   PyTorch 2.11's CUDA LibTorch (scripts/install-torch-cuda.sh)
#                                             into ${DEIT_BUILD_DIR:-build-cuda}; needs nvcc
#                                             (/usr/local/cuda), not a GPU
#
# The CUDA build compiles device code for TORCH_CUDA_ARCH_LIST (default 9.0: the H100/H200 machines; e.g.
# "8.0;9.0" adds A100s, "10.0" B200s).  Without a GPU, LibTorch's CMake would guess architectures that
# nvcc 13 rejects, so the default is set here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cuda=0
if [ "${1:-}" = "--cuda" ]; then
  cuda=1
  shift
fi
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
extra=()
if [ "$cuda" = 1 ]; then
  build="${DEIT_BUILD_DIR:-$root/build-cuda}"
  cmake_dir="$("$root/scripts/install-torch-cuda.sh")"
  torch_dir="${cmake_dir%/share/cmake}"
  nvcc="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
  [ -x "$nvcc" ] || { echo "build.sh: --cuda needs nvcc (the CUDA 13 toolkit at /usr/local/cuda)" >&2; exit 1; }
  export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
  # The wheel's torch folder first: TorchConfig would otherwise find Debian's /usr/lib libtorch.so.
  extra=("-DCMAKE_PREFIX_PATH=$torch_dir;$cmake_dir" "-DCMAKE_CUDA_COMPILER=$nvcc")
else
  build="${DEIT_BUILD_DIR:-$root/build}"
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${extra[@]}" "$@"
else
  cmake "$build" "$@" >/dev/null
fi
cmake --build "$build" -j "$(nproc)"
