#!/usr/bin/env bash
# The GPU check: builds libdeit against the LibTorch inside the machine's PyTorch wheel (CUDA), runs
# the tests that got built, then bench/compare.sh --device cuda; copies logs and results under $OUT
# when it is set.  Fits in 8 minutes on the GPU machine (each stage has its own time limit).
#
#   scripts/gpu-check.sh              on the GPU machine, from anywhere in the checkout
#   scripts/gpu-check.sh --prepare    here (Debian, apt reachable): fills third_party-gpu/ with what
#                                     the GPU machine lacks (cxxopts, cmocka via `apt-get download` +
#                                     `dpkg -x`; a copy of Fashion-MNIST) -- pass it in the run's carry
#   scripts/gpu-check.sh --quick      compare.sh --quick instead of the default sizes
#
# The GPU machine reaches no package registry.  Without third_party-gpu/ the CLI and the CMocka
# tests are switched off with a message; without Fashion-MNIST the comparison is skipped.
# Environment: DEIT_GPU_BUILD_DIR (build-gpu), DEIT_GPU_THIRD_PARTY (third_party-gpu), DEIT_DATA.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tp="${DEIT_GPU_THIRD_PARTY:-$root/third_party-gpu}"
build="${DEIT_GPU_BUILD_DIR:-$root/build-gpu}"
start=$SECONDS

prepare() {
  command -v apt-get >/dev/null || { echo "gpu-check: --prepare needs apt-get (Debian)" >&2; exit 2; }
  local debs
  debs="$(mktemp -d)"
  (cd "$debs" && apt-get download libcxxopts-dev nlohmann-json3-dev libcmocka0 libcmocka-dev)
  mkdir -p "$tp"
  for d in "$debs"/*.deb; do dpkg -x "$d" "$tp"; done
  rm -rf "$debs"
  # cmocka.pc names /usr paths; make them relative to the .pc file so the folder can move.
  local pc="$tp/usr/lib/x86_64-linux-gnu/pkgconfig/cmocka.pc"
  # shellcheck disable=SC2016  # ${pcfiledir} is for pkg-config, not the shell
  sed -i -e 's|^Libs: -L/usr/lib/x86_64-linux-gnu|Libs: -L${pcfiledir}/..|' \
    -e 's|^Cflags: -I/usr/include|Cflags: -I${pcfiledir}/../../../include|' "$pc"
  local data=/usr/share/datasets/fashion-mnist
  if [ -f "$data/train-images-idx3-ubyte.gz" ]; then
    mkdir -p "$tp/fashion-mnist"
    cp "$data"/*-ubyte.gz "$tp/fashion-mnist/"
  else
    echo "gpu-check: $data absent (apt-get install dataset-fashion-mnist): no data for the comparison" >&2
  fi
  du -sh "$tp"
  echo "gpu-check: prepared $tp; pass \"third_party-gpu\" in the run's carry" >&2
}

quick=()
case "${1:-}" in
  --prepare) prepare; exit 0 ;;
  --quick) quick=(--quick) ;;
  "") ;;
  *) echo "gpu-check: unknown option $1 (--prepare, --quick)" >&2; exit 2 ;;
esac

out="${OUT:-}"
logs="$(mktemp -d)"
save() {
  [ -n "$out" ] || return 0
  mkdir -p "$out/gpu-check"
  cp -r "$@" "$out/gpu-check/" 2>/dev/null || true
}
trap 'save "$logs"/*' EXIT
failed=()
# left SECONDS_BUDGET: seconds left of this stage's share, counted from the start (8 min in all).
left() { local l=$(($1 - (SECONDS - start))); [ "$l" -gt 10 ] && echo "$l" || echo 10; }

# The Python whose PyTorch wheel carries the LibTorch to build against (DEIT_PYTHON to choose).
python="${DEIT_PYTHON:-}"
if [ -z "$python" ]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then
      python="$(command -v "$p")"
      break
    fi
  done
fi
[ -n "$python" ] || { echo "gpu-check: no python3 with torch (set DEIT_PYTHON)" >&2; exit 1; }
prefix="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
if [ ! -f "$prefix/Torch/TorchConfig.cmake" ]; then
  echo "gpu-check: $python's torch has no LibTorch CMake files ($prefix/Torch/TorchConfig.cmake):" \
    "a PyTorch wheel is needed" >&2
  exit 1
fi
"$python" -c 'import torch
print("gpu-check: torch", torch.__version__, "CUDA", torch.version.cuda, "available", torch.cuda.is_available())' |
  tee "$logs/torch.txt"
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
command -v nvcc >/dev/null || echo "gpu-check: nvcc not on PATH; LibTorch's CMake config may not find CUDA" >&2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee "$logs/gpu.txt" || true

# What the GPU machine lacks comes from third_party-gpu/ (--prepare); otherwise those parts go off.
# The wheel's torch folder too: TorchConfig's find_library would take a system libtorch.so first, which
# the build refuses (CMakeLists.txt).
search="${prefix%/share/cmake};$prefix"
if [ -d "$tp/usr" ]; then
  search="$search;$tp/usr"
  PKG_CONFIG_PATH="$tp/usr/lib/x86_64-linux-gnu/pkgconfig:$tp/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export PKG_CONFIG_PATH
fi
options=(-DDEIT_BUILD_BENCH=ON -DDEIT_BUILD_GO_RUST=OFF)
if [ -f "$tp/usr/include/cxxopts.hpp" ] || [ -f /usr/include/cxxopts.hpp ]; then
  options+=(-DDEIT_BUILD_CLI=ON)
else
  echo "gpu-check: no cxxopts (run scripts/gpu-check.sh --prepare here and carry third_party-gpu): CLI off" >&2
  options+=(-DDEIT_BUILD_CLI=OFF)
fi
# Tests stay on: the conformance and kernel tests need no cmocka, and CMake leaves out the CMocka
# ones by itself when pkg-config cannot find it.
options+=(-DDEIT_BUILD_TESTS=ON)
if ! { command -v pkg-config >/dev/null && pkg-config --exists cmocka; }; then
  echo "gpu-check: no cmocka through pkg-config (--prepare + carry third_party-gpu): CMocka tests not built" >&2
fi
# Warnings are counted, not fatal, so that a new compiler's warning cannot stop the GPU numbers;
# DEIT_GPU_WERROR=1 makes them errors.
options+=("-DDEIT_WERROR=$([ "${DEIT_GPU_WERROR:-0}" = 1 ] && echo ON || echo OFF)")
command -v swig >/dev/null || options+=(-DDEIT_BUILD_PYTHON=OFF)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

# Stage 1 (by 4.5 min): configure and build.  Debian's libtorch must stay out of the search path:
# Torch_DIR points at the wheel's.
echo "== configure + build ($build)" >&2
if ! timeout "$(left 120)" cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$search" -DTorch_DIR="$prefix/Torch" "${options[@]}" >"$logs/configure.log" 2>&1; then
  tail -40 "$logs/configure.log" >&2
  echo "gpu-check: configure failed (log: configure.log)" >&2
  exit 1
fi
grep -E "libdeit|CUDA" "$logs/configure.log" | head -20 >&2 || true
grep -q "CUDA ON" "$logs/configure.log" || echo "gpu-check: this LibTorch has no CUDA (see configure.log)" >&2
if ! timeout "$(left 270)" cmake --build "$build" -j "$(nproc)" >"$logs/build.log" 2>&1; then
  tail -40 "$logs/build.log" >&2
  failed+=("build")
  # The comparison needs only the library and bench_pipeline; try those alone.
  timeout "$(left 300)" cmake --build "$build" -j "$(nproc)" --target bench_pipeline >>"$logs/build.log" 2>&1 ||
    { echo "gpu-check: bench_pipeline does not build (log: build.log)" >&2; exit 1; }
fi
warnings="$(grep -c 'warning:' "$logs/build.log" || true)"
echo "   build done at $((SECONDS - start)) s; $warnings compiler warning(s) (build.log)" >&2

# Stage 2 (by 5 min): the tests that were built.
if [ -f "$build/CTestTestfile.cmake" ] && ! [[ " ${failed[*]} " == *" build "* ]]; then
  echo "== ctest" >&2
  if ! timeout "$(left 300)" ctest --test-dir "$build" --output-on-failure -j 8 --timeout 120 \
    >"$logs/ctest.log" 2>&1; then
    failed+=("ctest")
  fi
  grep -E "tests passed|tests failed|\*\*\*Failed|Skipped|Not Run|Timeout" "$logs/ctest.log" | tail -30 >&2 || true
fi

# Stage 3 (by 8 min): the comparison on the GPU.
data="${DEIT_DATA:-}"
if [ -z "$data" ]; then
  for d in /usr/share/datasets/fashion-mnist "$tp/fashion-mnist"; do
    [ -f "$d/train-images-idx3-ubyte.gz" ] && { data="$d"; break; }
  done
fi
if [ -z "$data" ]; then
  echo "gpu-check: no Fashion-MNIST (run --prepare here and carry third_party-gpu): comparison skipped" >&2
  failed+=("no-data")
else
  echo "== bench/compare.sh --device cuda (data $data)" >&2
  rc=0
  DEIT_BUILD_DIR="$build" timeout "$(left 470)" "$root/bench/compare.sh" --device cuda --data "$data" \
    --python "$python" --out "$logs/compare-cuda.json" "${quick[@]+"${quick[@]}"}" 2>&1 | tee "$logs/compare.log" || rc=$?
  if [ "$rc" = 0 ]; then
    mkdir -p "$root/bench/results"
    name="$(date +%Y-%m-%d)-$(hostname -s)-cuda$([ ${#quick[@]} -gt 0 ] && echo -quick).json"
    cp "$logs/compare-cuda.json" "$root/bench/results/$name"
  else
    failed+=("compare (exit $rc)")
  fi
fi

echo "gpu-check: $((SECONDS - start)) s; ${#failed[@]} problem(s)${failed[*]:+: ${failed[*]}}" >&2
[ ${#failed[@]} -eq 0 ]
