#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and run libdeit.
# Idempotent and fast when everything is present (one dpkg query, no apt-get).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread  # LibTorch CPU; OpenBLAS makes its GEMMs ~35x faster
  zlib1g-dev libcxxopts-dev libcmocka-dev libstb-dev libgloo-dev
  swig python3-dev python3-numpy python3-pytest
  python3-torch python3-torchvision  # reference models of the conformance tests (tests/conformance)
  golang-go                          # Go binding and example (bindings/go, examples/go); cargo is on the machine
  dataset-fashion-mnist              # the default data set: /usr/share/datasets/fashion-mnist
  nlohmann-json3-dev                 # JSON (header-only): checkpoint metadata, safetensors headers, deitctl's output
  libturbojpeg0-dev libspng-dev      # image folders (libdeit/image): JPEG and PNG decoding
  libonnx-dev libprotobuf-dev        # ONNX export (libdeit/export): ONNX's protobuf schema and checker
  python3-pil python3-skimage        # image tests: torchvision's PIL preprocessing, real sample photographs
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
