"""Shared start of the pretrained_* tests: conformance_common's driver, file and error helpers (from
tests/conformance), and the PyPI packages of scripts/install-python-venv.sh.  Import it first: without
them the test exits 77 (ctest's "skipped"), it never passes."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import conformance_common as cc  # noqa: E402,F401  (exits 77 without numpy, torch, torchvision)

try:
    import safetensors.torch as st  # noqa: F401
    import timm  # noqa: F401
except ImportError as e:
    print(f"skipped: {sys.executable} cannot import {e.name} (run scripts/install-python-venv.sh)", file=sys.stderr)
    sys.exit(77)

# torch 2.11's timm runs attention through scaled_dot_product_attention, libdeit its own kernels
# (measured: 7.5e-7 relative at most).
RTOL = 1e-5
