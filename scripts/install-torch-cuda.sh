#!/usr/bin/env bash
# Fetches the CUDA LibTorch that libdeit's CUDA build compiles against: PyTorch's PyPI wheel pinned to the
# GPU machines' version (torch 2.11.0, CUDA 13.0), plus the three libraries its libtorch_cuda.so loads that
# the system CUDA toolkit (/usr/local/cuda) lacks.  Only the C++ parts are unpacked (torch/lib,
# torch/include, torch/share/cmake, nvidia/*/lib), in the wheels' site-packages layout, so the RPATHs the
# wheel carries ($ORIGIN/../../nvidia/...) find them.  Idempotent: a second run uses no network.
#
#   scripts/install-torch-cuda.sh      prints the CMake prefix (TORCH_CUDA_DIR/torch/share/cmake)
#
# Environment: DEIT_TORCH_CUDA_DIR (default third_party/torch-cu130 in the checkout; set it to a folder
# outside the checkout to share one download between clones).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${DEIT_TORCH_CUDA_DIR:-$root/third_party/torch-cu130}"

# The pins: torch's own Requires-Dist for these three (its METADATA), for Linux x86_64, CPython 3.11.
torch_pin="torch==2.11.0"
extra_pins=(nvidia-cusparselt-cu13==0.8.0  # libcusparseLt.so.0
            nvidia-nvshmem-cu13==3.4.5     # libnvshmem_host.so.3
            nvidia-cufile==1.15.1.6)       # libcufile.so.0 (GPUDirect Storage; loaded, not used)
stamp="$dest/.installed"
want="$torch_pin ${extra_pins[*]}"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$dest/torch/share/cmake"
  exit 0
fi

# pip: the first python3 on PATH that has it, else Debian's (python3-pip).
pip=()
for py in python3 /usr/bin/python3; do
  if "$py" -m pip --version >/dev/null 2>&1; then pip=("$py" -m pip); break; fi
done
if [ ${#pip[@]} -eq 0 ]; then
  echo "install-torch-cuda: installing python3-pip" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-pip
  pip=(/usr/bin/python3 -m pip)
fi

wheels="$dest/wheels"
rm -rf "$wheels"  # stale wheels of other pins would be unpacked too
mkdir -p "$wheels"
echo "install-torch-cuda: downloading $want into $wheels (about 800 MB)" >&2
# Binary wheels for the GPU machines' platform, whatever this interpreter is; no dependencies (the system
# toolkit provides cuBLAS, cuDNN, NCCL, ...).
"${pip[@]}" download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  -d "$wheels" "$torch_pin" "${extra_pins[@]}"

echo "install-torch-cuda: unpacking into $dest" >&2
rm -rf "$dest/torch" "$dest/nvidia"
python3 - "$dest" "$wheels" <<'EOF'
import glob, os, sys, zipfile
dest, wheels = sys.argv[1], sys.argv[2]
keep = ("torch/lib/", "torch/include/", "torch/share/cmake/", "nvidia/")
for whl in sorted(glob.glob(os.path.join(wheels, "*.whl"))):
    with zipfile.ZipFile(whl) as z:
        names = [n for n in z.namelist() if n.startswith(keep) and ".dist-info" not in n]
        z.extractall(dest, names)
        for n in names:  # zipfile drops the mode bits
            info = z.getinfo(n)
            mode = info.external_attr >> 16
            if mode and not n.endswith("/"):
                os.chmod(os.path.join(dest, n), mode & 0o777)
EOF
# Every library libtorch_cuda.so needs must now resolve.
missing="$(ldd "$dest/torch/lib/libtorch_cuda.so" | grep 'not found' || true)"
if [ -n "$missing" ]; then
  echo "install-torch-cuda: libtorch_cuda.so still lacks:" >&2
  echo "$missing" >&2
  exit 1
fi
# The wheels stay (git-ignored): scripts/install-python-venv.sh installs the same torch from them.
echo "$want" >"$stamp"
echo "$dest/torch/share/cmake"
