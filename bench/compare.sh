#!/usr/bin/env bash
# Speed of libdeit against the reference notebook's PyTorch pipeline and an in-memory PyTorch
# baseline, on this machine, in one go, with the same threads, data and subset sizes.
#
#   bench/compare.sh [--quick] [--device cpu|cuda] [--threads N] [--epochs E]
#                    [--teacher-images N] [--distill-images N] [--eval-images N]
#                    [--python PY] [--bench-bin PATH] [--data DIR] [--out FILE]
#
# Each implementation runs each phase in its own process (so peak RSS is per phase), one process at
# a time, phases interleaved so that a change in machine load hits all three alike.  Prints a table
# and writes bench/results/<date>-<host>[-cuda][-quick].json (or --out).
# Needs bench_pipeline built (cmake --build build --target bench_pipeline; $DEIT_BUILD_DIR/bench/
# or --bench-bin) and a Python with torch and numpy (torchvision and PIL used when present).
# Default sizes take a few minutes on a quiet 2-core CPU; --quick is a ~1 minute smoke run.
# Exits 77 when the data set or the requested device is absent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bench="$root/bench"
command_line="bench/compare.sh $*"

device=cpu
threads="$(nproc)"
epochs=1
teacher_images=1280
distill_images=6400
eval_images=10000
quick=0
python=""
bench_bin="${DEIT_BUILD_DIR:-$root/build}/bench/bench_pipeline"
data=/usr/share/datasets/fashion-mnist
out=""

die() { echo "compare.sh: $*" >&2; exit 2; }
need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift; continue ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --device) need "$@"; device="$2" ;;
    --threads) need "$@"; threads="$2" ;;
    --epochs) need "$@"; epochs="$2" ;;
    --teacher-images) need "$@"; teacher_images="$2" ;;
    --distill-images) need "$@"; distill_images="$2" ;;
    --eval-images) need "$@"; eval_images="$2" ;;
    --python) need "$@"; python="$2" ;;
    --bench-bin) need "$@"; bench_bin="$2" ;;
    --data) need "$@"; data="$2" ;;
    --out) need "$@"; out="$2" ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done
if [ "$quick" = 1 ]; then
  # 6 steps of 64 leave 3 timed steps after the reference's 3 warm-up steps.
  teacher_images=384 distill_images=384 eval_images=1000 epochs=1
fi
for v in threads epochs teacher_images distill_images eval_images; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "--${v//_/-} = '${!v}': expected a whole number"
done

if [ ! -f "$data/train-images-idx3-ubyte.gz" ] || [ ! -f "$data/t10k-images-idx3-ubyte.gz" ]; then
  echo "compare.sh: no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist); skipped" >&2
  exit 77
fi
[ -x "$bench_bin" ] ||
  die "$bench_bin not found: build it (cmake --build build --target bench_pipeline) or pass --bench-bin"

# A Python with what the PyTorch side needs; on CUDA, one whose torch sees the device.  Debian's
# /usr/bin/python3 first on CPU (the python3 first on PATH may lack numpy), PATH's first on CUDA.
check_py='import numpy, torch, sys
sys.exit(0 if not sys.argv[1].startswith("cuda") or torch.cuda.is_available() else 3)'
if [ -z "$python" ]; then
  candidates=(/usr/bin/python3 python3)
  [[ "$device" == cuda* ]] && candidates=(python3 /usr/bin/python3)
  for p in "${candidates[@]}"; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "$check_py" "$device" 2>/dev/null; then
      python="$p"
      break
    fi
  done
  if [ -z "$python" ]; then
    what="numpy and torch$([[ "$device" == cuda* ]] && echo ' with CUDA')"
    echo "compare.sh: no Python with $what found (give --python); skipped" >&2
    exit 77
  fi
fi

date_tag="$(date +%Y-%m-%d)"
host="$(hostname -s 2>/dev/null || hostname)"
suffix=""
[[ "$device" == cuda* ]] && suffix="-cuda"
[ "$quick" = 1 ] && suffix="$suffix-quick"
[ -n "$out" ] || out="$bench/results/$date_tag-$host$suffix.json"

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/deit-compare.XXXXXX")"
trap 'rm -rf "$run_dir"' EXIT

sizes=(--teacher-images "$teacher_images" --distill-images "$distill_images" --eval-images "$eval_images")
common=(--threads "$threads" --device "$device" --data "$data" "${sizes[@]}")
echo "compare.sh: device $device, $threads threads; images: teacher $teacher_images," \
  "distillation $distill_images x $epochs epochs, evaluation $eval_images; python $python" >&2

# run NAME COMMAND...: one process; 77 (skipped) is recorded, any other failure stops the run.
skipped=()
run() {
  local name="$1"; shift
  local t0=$SECONDS rc=0
  echo "== $name" >&2
  "$@" || rc=$?
  if [ "$rc" = 77 ]; then
    skipped+=("$name,"); echo "   skipped" >&2
  elif [ "$rc" != 0 ]; then
    echo "compare.sh: $name failed (exit $rc): $*" >&2; exit 1
  else
    echo "   $((SECONDS - t0)) s" >&2
  fi
}

cd "$bench"
rc=0
"$python" benchlib.py matmul --threads "$threads" --device "$device" > "$run_dir/machine.json" || rc=$?
[ "$rc" = 0 ] || { echo "compare.sh: measuring the matmul rate failed (exit $rc)" >&2; exit "$rc"; }
"$python" benchlib.py flops > "$run_dir/flops.json"
for phase in teacher distill eval; do
  run "reference $phase" "$python" reference_pipeline.py --phase "$phase" "${common[@]}" \
    --json "$run_dir/reference-$phase.json"
  run "pytorch_inmemory $phase" "$python" pytorch_inmemory.py --phase "$phase" "${common[@]}" \
    --epochs "$epochs" --json "$run_dir/pytorch_inmemory-$phase.json"
  run "libdeit $phase" "$bench_bin" --phase "$phase" "${common[@]}" \
    --epochs "$epochs" --json "$run_dir/libdeit-$phase.json"
done

cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
gpu_model=""
if [[ "$device" == cuda* ]] && command -v nvidia-smi >/dev/null 2>&1; then
  gpu_model="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)"
fi
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo true || echo false)"
# Values go in as arguments, not pasted into code, so no quoting in them can break the JSON.
"$python" - "$run_dir/settings.json" \
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" host="$host" quick="$quick" device="$device" threads="$threads" \
  nproc="$(nproc)" cpu="$cpu_model" gpu="$gpu_model" teacher_images="$teacher_images" \
  distill_images="$distill_images" distill_epochs="$epochs" eval_images="$eval_images" batch_size=64 \
  git_commit="$commit" git_dirty="$dirty" command="$command_line" skipped="${skipped[*]+"${skipped[*]}"}" <<'PY'
import json, platform, sys
import torch
s = dict(a.split("=", 1) for a in sys.argv[2:])
for k in ("quick", "threads", "nproc", "teacher_images", "distill_images", "distill_epochs", "eval_images",
          "batch_size"):
    s[k] = int(s[k])
s["quick"] = s["quick"] == 1
s["git_dirty"] = s["git_dirty"] == "true"
s["skipped"] = [x.strip() for x in s["skipped"].split(",") if x.strip()]
s.update(python=platform.python_version(), torch=torch.__version__)
with open(sys.argv[1], "w") as f:
    json.dump(s, f, indent=2)
PY
"$python" compare_report.py "$run_dir" "$out"
