#!/usr/bin/env bash
# Opening and preprocessing an image folder: libdeit (`deitctl data DIR --image-size 224 --json`, which
# decodes every image once, on all cores, into 224 x 224 RGB bytes) against torchvision's ImageFolder
# with Resize(256, bicubic) + CenterCrop(224) + ToTensor through DataLoader(batch 64, 2 workers), every
# batch collected into one uint8 tensor (bench/image_folder_torchvision.py), on this machine, in one go.
#
#   bench/image_folder.sh [--classes N] [--per-class N] [--repeat R] [--workers W] [--collect uint8|float]
#                         [--work DIR] [--deitctl PATH] [--python PY] [--out FILE]
#
# The folder (default 10 classes x 200 JPEGs: random 250-600 px crops of Debian's scikit-image photographs,
# quality 90) is made once in --work (default ~/.cache/libdeit-bench/image-folder) and reused by reruns;
# its files are read once before timing so that both sides find them in the page cache.  Each side runs
# R times (default 3), alternating, each run its own process under /usr/bin/time: wall time includes
# process start (LibTorch's shared libraries; `import torch` and the DataLoader workers' start).  Prints
# the medians (wall time, CPU time, peak RSS) and the ratio torchvision / libdeit, and writes
# bench/results/<date>-<host>-image-folder.json (or --out).  Run it on a quiet machine.
# Exits 77 when /usr/bin/time, the photographs or torch/torchvision are missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
command_line="bench/image_folder.sh $*"
classes=10
per_class=200
repeat=3
workers=2
collect=uint8
work="${XDG_CACHE_HOME:-$HOME/.cache}/libdeit-bench/image-folder"
deitctl="${DEIT_BUILD_DIR:-$root/build}/cli/deitctl"
python=/usr/bin/python3
out=""
die() { echo "image_folder.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --classes) classes="${2:?}" ;;
    --per-class) per_class="${2:?}" ;;
    --repeat) repeat="${2:?}" ;;
    --workers) workers="${2:?}" ;;
    --collect) collect="${2:?}" ;;
    --work) work="${2:?}" ;;
    --deitctl) deitctl="${2:?}" ;;
    --python) python="${2:?}" ;;
    --out) out="${2:?}" ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done
for v in classes per_class repeat workers; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v//_/-} = '${!v}': expected a positive whole number"
done
[ -x "$deitctl" ] || die "no deitctl at $deitctl (build it first, or pass --deitctl)"
[ -x /usr/bin/time ] || { echo "image_folder.sh: no /usr/bin/time (apt-get install time); skipped" >&2; exit 77; }
"$python" -c 'import torch, torchvision, PIL' 2>/dev/null ||
  { echo "image_folder.sh: $python lacks torch/torchvision/PIL; skipped" >&2; exit 77; }

helper="$root/bench/image_folder_torchvision.py"
dir="$work/${classes}x${per_class}"
mkdir -p "$dir"
"$python" "$helper" make "$dir" --classes "$classes" --per-class "$per_class"
count=$((classes * per_class))
cat "$dir"/*/*.jpg > /dev/null  # into the page cache

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/deit-image-folder.XXXXXX")"
trap 'rm -rf "$run_dir"' EXIT
echo "image_folder.sh: $count JPEGs in $dir; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
load_before="$(cut -d' ' -f1 /proc/loadavg)"

# timed NAME R COMMAND...: /usr/bin/time's "wall_s peak_rss_kb user_s sys_s" in $run_dir/NAME-R.time, stdout in .out.
timed() {
  local name="$1" r="$2"; shift 2
  /usr/bin/time -f "%e %M %U %S" -o "$run_dir/$name-$r.time" "$@" > "$run_dir/$name-$r.out" 2> "$run_dir/$name-$r.err" ||
    { echo "image_folder.sh: $name run $r failed: $*" >&2; cat "$run_dir/$name-$r.err" >&2; exit 1; }
  read -r wall rss user sys < <(tail -1 "$run_dir/$name-$r.time")
  echo "   $name run $r: $wall s, $rss KiB, CPU $user s user + $sys s system" >&2
}
for r in $(seq "$repeat"); do
  timed libdeit "$r" "$deitctl" data "$dir" --image-size 224 --json
  timed torchvision "$r" "$python" "$helper" load "$dir" --workers "$workers" --batch-size 64 --collect "$collect"
done

[ -n "$out" ] || out="$root/bench/results/$(date +%F)-$(hostname -s 2>/dev/null || hostname)-image-folder.json"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo true || echo false)"
"$python" - "$run_dir" "$out" "$repeat" "$count" "$classes" "$dir" "$workers" "$collect" "$load_before" \
  "$commit" "$dirty" "$command_line" <<'PY'
import datetime, json, os, platform, statistics, sys
run_dir, out, repeat, count, classes, folder, workers, collect, load_before, commit, dirty, command = sys.argv[1:]
repeat, count, classes = int(repeat), int(count), int(classes)
runs = {"libdeit": [], "torchvision": []}
for side in runs:
    for r in range(1, repeat + 1):
        wall, rss, user, system = open(os.path.join(run_dir, f"{side}-{r}.time")).read().split()[-4:]
        res = json.load(open(os.path.join(run_dir, f"{side}-{r}.out")))
        if side == "libdeit":
            # An image folder without train/ and val/: `deitctl data` holds out 20 % as the test split.
            splits = res["splits"]
            got = sum(s["count"] for s in splits.values())
            assert got == count and all(s["classes"] == classes and s["format"] == "images" and
                                        (s["channels"], s["height"], s["width"]) == (3, 224, 224)
                                        for s in splits.values()), (got, splits)
            run = {}
        else:
            assert res["count"] == count and res["classes"] == classes, res
            run = {"loop_seconds": res["seconds"], "torch": res["torch"], "torchvision": res["torchvision"]}
        runs[side].append(dict(wall_seconds=float(wall), cpu_seconds=float(user) + float(system),
                               peak_rss_mib=int(rss) / 1024, **run))
med = {side: statistics.median(x["wall_seconds"] for x in v) for side, v in runs.items()}
rss = {side: statistics.median(x["peak_rss_mib"] for x in v) for side, v in runs.items()}
loop = statistics.median(x["loop_seconds"] for x in runs["torchvision"])
cpu = {side: statistics.median(x["cpu_seconds"] for x in v) for side, v in runs.items()}
ratio = med["torchvision"] / med["libdeit"]
print(f"image folder: {count} JPEGs (250-600 px), to 224 x 224 (resize 256 bicubic, centre crop); "
      f"median of {repeat}, {os.cpu_count()} cores")
print(f"  libdeit  deitctl data             : {med['libdeit']:6.2f} s  {count / med['libdeit']:6.1f} images/s  "
      f"peak RSS {rss['libdeit']:6.0f} MiB  CPU {cpu['libdeit']:6.2f} s")
print(f"  torchvision DataLoader, {workers} workers : {med['torchvision']:6.2f} s  "
      f"{count / med['torchvision']:6.1f} images/s  peak RSS {rss['torchvision']:6.0f} MiB  CPU {cpu['torchvision']:6.2f} s"
      f"\n      (peak RSS of the largest process, CPU of all with the workers; loop alone {loop:.2f} s)")
print(f"  ratio torchvision / libdeit: {ratio:.2f}x (wall times of whole processes; "
      f"{loop / med['libdeit']:.2f}x against the torchvision loop alone; CPU time "
      f"{cpu['torchvision'] / cpu['libdeit']:.2f}x)")
result = {
    "settings": {"date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "host": platform.node(),
                 "nproc": os.cpu_count(), "images": count, "classes": classes, "folder": folder,
                 "image_size": 224, "resize": 256, "filter": "bicubic", "workers": int(workers),
                 "batch_size": 64, "collect": collect, "repeat": repeat, "load_average_before": float(load_before),
                 "load_average_after": float(open("/proc/loadavg").read().split()[0]),
                 "python": platform.python_version(), "git_commit": commit, "git_dirty": dirty == "true",
                 "command": command},
    "median_wall_seconds": med, "median_cpu_seconds": cpu, "median_peak_rss_mib": rss, "torchvision_median_loop_seconds": loop,
    "ratio_torchvision_over_libdeit": ratio, "runs": runs,
}
os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
with open(out, "w") as f:
    json.dump(result, f, indent=2)
print("wrote", out)
PY
