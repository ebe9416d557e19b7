#!/usr/bin/env bash
# Data parallelism on this machine: the same distillation (seed student, Fashion-MNIST subset, global batch
# 64, labels only so that no teacher file is needed) by 1 process x N threads and by N processes x 1 thread
# through `deitctl launch` (Gloo on 127.0.0.1).  Prints images/s of each (median of --repeat runs) and
# the ratio, and writes bench/results/<date>-<host>-distributed.json (or --out).
#
#   bench/distributed.sh [--procs N] [--images N] [--epochs E] [--repeat R] [--deitctl PATH] [--out FILE]
#
# Run it on a quiet machine: LibTorch's spinning threads make shared cores meaningless.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
procs="$(nproc)"
images=6400
epochs=1
repeat=3
deitctl="${DEIT_BUILD_DIR:-$root/build}/cli/deitctl"
data=/usr/share/datasets/fashion-mnist
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --procs) procs="$2" ;;
    --images) images="$2" ;;
    --epochs) epochs="$2" ;;
    --repeat) repeat="$2" ;;
    --deitctl) deitctl="$2" ;;
    --out) out="$2" ;;
    *) echo "distributed.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -x "$deitctl" ] || { echo "distributed.sh: no deitctl at $deitctl (build it first)" >&2; exit 2; }
[ -d "$data" ] || { echo "distributed.sh: no data at $data" >&2; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fraction="$(/usr/bin/python3 -c "print($images / 60000)")"
batch=64
[ $((batch % procs)) -eq 0 ] || { echo "distributed.sh: 64 is not divisible by --procs $procs" >&2; exit 2; }
common=(distill --data "$data" --fraction "$fraction" --distillation none --epochs "$epochs" --seed 0 --json)

# images/s of the first (only) epoch of a deitctl JSON report on stdin
rate() { /usr/bin/python3 -c 'import json,sys; e=json.load(sys.stdin)["epochs"]; print(sum(x["images_per_sec"] for x in e)/len(e))'; }

one=(); many=()
for r in $(seq "$repeat"); do
  one+=("$("$deitctl" "${common[@]}" --threads "$procs" --batch-size $batch --out "$work/one.safetensors" \
            --quiet | rate)")
  many+=("$(OMP_NUM_THREADS=1 "$deitctl" launch --nproc "$procs" --master-port 0 -- deitctl "${common[@]}" \
            --threads 1 --batch-size $((batch / procs)) --out "$work/many.safetensors" 2>/dev/null | rate)")
  echo "run $r: 1 process x $procs threads ${one[-1]} images/s, $procs processes x 1 thread ${many[-1]} images/s" >&2
done

[ -n "$out" ] || out="$root/bench/results/$(date +%F)-$(hostname)-distributed.json"
/usr/bin/python3 - "$out" "$procs" "$images" "$epochs" "${one[*]}" "${many[*]}" <<'PY'
import json, statistics, sys, datetime
out, procs, images, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
one = [float(x) for x in sys.argv[5].split()]
many = [float(x) for x in sys.argv[6].split()]
m1, m2 = statistics.median(one), statistics.median(many)
print(f"distillation (labels only), {images} images x {epochs} epoch(s), global batch 64, median of {len(one)}")
print(f"  1 process  x {procs} threads : {m1:8.1f} images/s")
print(f"  {procs} processes x 1 thread  : {m2:8.1f} images/s   ({m2 / m1:.2f}x)")
json.dump({"date": datetime.date.today().isoformat(), "procs": procs, "images": images, "epochs": epochs,
           "one_process_images_per_sec": one, "processes_images_per_sec": many,
           "median_one": m1, "median_many": m2, "ratio": m2 / m1}, open(out, "w"), indent=2)
print("wrote", out)
PY
