#!/usr/bin/env bash
# example_c.sh cmake|pkgconfig PREFIX LIBDIR EXAMPLE_SRC WORK_DIR DATA_DIR
# Builds examples/c as an outside project against the installed PREFIX only, runs it and checks
# what it prints.  Exit 77 when the data set is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
how=$1 prefix=$2 libdir=$3 src=$4 work=$5 data=$6
if [ ! -e "$data/train-images-idx3-ubyte.gz" ] && [ ! -e "$data/train-images-idx3-ubyte" ]; then
  echo "skipped: no IDX files in $data (apt-get install dataset-fashion-mnist)"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
case "$how" in
  cmake)
    # Only the prefix: no hint to the build tree or the sources' include/.
    "${CMAKE_COMMAND:-cmake}" -S "$src" -B "$work/build" -G "${CMAKE_GENERATOR:-Ninja}" \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    "${CMAKE_COMMAND:-cmake}" --build "$work/build"
    exe="$work/build/train_and_predict"
    ;;
  pkgconfig)
    cp "$src/Makefile" "$src/train_and_predict.c" "$work/"
    PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" PKG_CONFIG_LIBDIR="$prefix/$libdir/pkgconfig" \
      make -C "$work" CFLAGS="-O2 -Wall -Wextra -Werror"
    exe="$work/train_and_predict"
    ;;
  *) echo "example_c.sh: unknown mode '$how'" >&2; exit 2 ;;
esac
# The program must load the installed library, not one from the build tree.
lib=$(ldd "$exe" | awk '/libdeit\.so/ {print $3}')
case "$lib" in
  "$prefix"/*) ;;
  *) echo "example_c.sh: $exe loads libdeit from '$lib', not from $prefix" >&2; exit 1 ;;
esac
cd "$work"
"$exe" "$data" "$work/student.safetensors" | tee "$work/output.txt"
bash "$here/check_accuracy.sh" "$work/output.txt"
[ "$(grep -c '^  image [0-4]: predicted ' "$work/output.txt")" -eq 5 ]
[ -s "$work/student.safetensors" ]
