#!/usr/bin/env bash
# ctest's run of examples/pretrained_to_onnx.sh (docs/INTEROP.md's whole path) on crops of scikit-image's
# photographs at 32 px, so that it takes seconds.  Exits 77 (skipped) without the venv or the photographs.
#   example_pretrained_to_onnx.sh VENV_PYTHON DEITCTL TMPDIR
set -euo pipefail
python="$1" deitctl="$2" tmp="$3"
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ ! -x "$python" ]; then
  echo "skipped: $python does not exist (scripts/install-python-venv.sh)" >&2
  exit 77
fi
if ! /usr/bin/python3 -c 'import PIL, skimage' 2>/dev/null; then
  echo "skipped: /usr/bin/python3 lacks PIL or scikit-image (apt-get install python3-pil python3-skimage)" >&2
  exit 77
fi
rm -rf "$tmp"
mkdir -p "$tmp"
/usr/bin/python3 "$root/cli/tests/make_tiny_data.py" photos "$tmp"
DEITCTL="$deitctl" PYTHON="$python" "$root/examples/pretrained_to_onnx.sh" "$tmp/photos" "$tmp/work" 32
