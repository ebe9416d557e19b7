#!/usr/bin/env bash
# Makes the Python virtual environment of the tests that compare libdeit with the real PyPI packages
# (tests/pretrained/: timm's and torchvision's own models, safetensors' own writer, onnxruntime), pinned:
# torch 2.11.0 (the wheel the CUDA build compiles against: the GPU machines' version), torchvision 0.26.0
# (torch 2.11's), timm, safetensors, onnx, onnxruntime.  /usr/bin/python3 stays Debian's.
# Idempotent: a second run with the same pins uses no network.
#
#   scripts/install-python-venv.sh      prints the venv's python
#
# torch's wheel comes without its nvidia-* dependencies (several GB): the system CUDA 13 toolkit
# (/usr/local/cuda, on every machine of this project) provides cuBLAS, cuDNN, NCCL..., and the three
# libraries it lacks are installed from PyPI as scripts/install-torch-cuda.sh does.  The tests run it on
# the CPU.  Environment: DEIT_VENV (default third_party/venv-torch211 in the checkout).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${DEIT_VENV:-$root/third_party/venv-torch211}"

# torch's own deps are left out (--no-deps); these are the rest, each pinned.
nodeps_pins=(torch==2.11.0 torchvision==0.26.0 timm==1.0.31
             nvidia-cusparselt-cu13==0.8.0 nvidia-nvshmem-cu13==3.4.5 nvidia-cufile==1.15.1.6)
pins=(numpy==2.4.6 pillow==12.0.0 safetensors==0.8.0 pyyaml==6.0.3 huggingface_hub==0.36.0
      onnx==1.20.1 onnxruntime==1.23.2)
want="${nodeps_pins[*]} ${pins[*]}"
stamp="$venv/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi

if ! /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "install-python-venv: installing python3-venv" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-venv
fi

rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
py="$venv/bin/python"
# The torch wheel scripts/install-torch-cuda.sh keeps, when it is there: no second 800 MB download.
links=()
if [ -d "$root/third_party/torch-cu130/wheels" ]; then links=(--find-links "$root/third_party/torch-cu130/wheels"); fi
echo "install-python-venv: installing $want into $venv" >&2
"$py" -m pip install --quiet --disable-pip-version-check --no-deps "${links[@]}" "${nodeps_pins[@]}"
# pip then reports torch's left-out nvidia/triton requirements as conflicts: expected, they are not needed.
"$py" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
# It must import: torch (and its CUDA libraries, found through the system toolkit), timm, onnxruntime.
"$py" -c 'import torch, torchvision, timm, safetensors.torch, onnx, onnxruntime; print("install-python-venv: torch", torch.__version__, "timm", timm.__version__, "onnxruntime", onnxruntime.__version__)' >&2
echo "$want" >"$stamp"
echo "$py"
