#!/usr/bin/env bash
# Student inference: libdeit's deit_student_predict (the Python binding, Debian's python3) against
# onnxruntime (CPU provider, the venv of scripts/install-python-venv.sh) running the same student's
# `deitctl export`, on the same random images, in separate processes; each side times only its predict
# calls (after one warm-up call), median of R repeats.
#
#   bench/onnx_inference.sh [PRESET] [BATCH] [BATCHES] [REPEATS]     (default: seed 256 20 5)
#
# Prints images/s for both and the ratio onnxruntime / libdeit.  CPU figures on the 2-core machines are
# noisy: run it on a quiet machine and quote medians.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
preset="${1:-seed}" batch="${2:-256}" batches="${3:-20}" repeats="${4:-5}"
build="${DEIT_BUILD_DIR:-$root/build}"
venv="$root/third_party/venv-torch211/bin/python"
[ -x "$venv" ] || { echo "onnx_inference.sh: no $venv (scripts/install-python-venv.sh)" >&2; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export PYTHONPATH="$build/bindings/python" OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"

/usr/bin/python3 - "$preset" "$batch" "$batches" "$repeats" "$work" <<'PY'
import json, statistics, sys, time
import numpy as np
import deit
preset, batch, batches, repeats, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
s = deit.Student(preset, 10, 0).to("cpu")
c = s.config
s.save(f"{work}/student.safetensors")
s.export_onnx(f"{work}/student.onnx")
x = np.random.default_rng(0).random((batch, c["in_channels"], c["img_size"], c["img_size"]), dtype=np.float32)
np.save(f"{work}/x.npy", x)
s.predict(x)  # warm-up
rates = []
for _ in range(repeats):
    t = time.perf_counter()
    for _ in range(batches):
        s.predict(x)
    rates.append(batch * batches / (time.perf_counter() - t))
json.dump({"libdeit": statistics.median(rates), "threads": deit.get_num_threads()}, open(f"{work}/libdeit.json", "w"))
PY

"$venv" - "$batch" "$batches" "$repeats" "$work" <<'PY'
import json, os, statistics, sys, time
import numpy as np
import onnxruntime as ort
batch, batches, repeats, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
o = ort.SessionOptions()
o.intra_op_num_threads = int(os.environ["OMP_NUM_THREADS"])
sess = ort.InferenceSession(f"{work}/student.onnx", o, providers=["CPUExecutionProvider"])
x = np.load(f"{work}/x.npy")
sess.run(["logits"], {"images": x})  # warm-up
rates = []
for _ in range(repeats):
    t = time.perf_counter()
    for _ in range(batches):
        sess.run(["logits"], {"images": x})
    rates.append(batch * batches / (time.perf_counter() - t))
r = json.load(open(f"{work}/libdeit.json"))
r["onnxruntime"] = statistics.median(rates)
print(f"batch {batch}, {r['threads']} threads, median of {repeats}: libdeit {r['libdeit']:.0f} images/s, "
      f"onnxruntime {ort.__version__} {r['onnxruntime']:.0f} images/s, onnxruntime / libdeit {r['onnxruntime'] / r['libdeit']:.2f}x")
PY
