#!/usr/bin/env bash
# example_python.sh PYTHON PREFIX SITE_DIR EXAMPLE_SRC WORK_DIR DATA_DIR
# Runs examples/python against the deit package installed under PREFIX/SITE_DIR.
# Exit 77 when the data set is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python=$1 prefix=$2 site=$3 src=$4 work=$5 data=$6
if [ ! -e "$data/train-images-idx3-ubyte.gz" ] && [ ! -e "$data/train-images-idx3-ubyte" ]; then
  echo "skipped: no IDX files in $data (apt-get install dataset-fashion-mnist)"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
cd "$work"
export PYTHONPATH="$prefix/$site" PYTHONDONTWRITEBYTECODE=1
# The package and its extension come from the prefix, and the extension finds the installed libdeit.
"$python" - "$prefix" <<'PY'
import os, sys
import deit, deit.deit_c
prefix = os.path.realpath(sys.argv[1])
for f in (deit.__file__, deit._deit_c.__file__):
    assert os.path.realpath(f).startswith(prefix + os.sep), f"{f} is not under {prefix}"
maps = open("/proc/self/maps").read().split()
libs = {os.path.realpath(p) for p in maps if "libdeit.so" in p}
assert libs and all(p.startswith(prefix + os.sep) for p in libs), f"libdeit loaded from {libs}"
print("deit", deit.version(), "from", os.path.dirname(deit.__file__))
PY
"$python" "$src/train_and_predict.py" "$data" "$work/student.safetensors" | tee "$work/output.txt"
bash "$here/check_accuracy.sh" "$work/output.txt"
[ "$(grep -c '^  image [0-4]: predicted ' "$work/output.txt")" -eq 5 ]
[ -s "$work/student.safetensors" ]
