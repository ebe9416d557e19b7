#!/usr/bin/env bash
# example_c.sh cmake|pkgconfig PREFIX LIBDIR EXAMPLE_SRC WORK_DIR DATA_DIR
# Builds examples/c as an outside project against the installed PREFIX only, runs it and checks
# what it prints.  Exit 77 when the data set is missing.
set -euo pipefail
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
# Accuracy bars (chance is 10%) that a model that does not learn misses: at 1, 2 and 3 threads
# these settings gave the teacher 63-80%, the student 59-71% (class head 70-72%, distillation
# head 55-68%).
awk -v teacher_bar=40 -v student_bar=40 -v cls_bar=40 -v dist_bar=35 '
  /^teacher accuracy [0-9.]+% on 500 test images$/ { teacher = $3 + 0; nt++ }
  /^student accuracy [0-9.]+% \(class head [0-9.]+%, distillation head [0-9.]+%\)$/ {
    student = $3 + 0; cls = $6 + 0; dist = $9 + 0; ns++ }
  END {
    if (nt != 1 || ns != 1) { print "no single teacher and student accuracy line in the output"; exit 1 }
    printf "accuracy: teacher %.1f%% (bar %d%%), student %.1f%% (bar %d%%), class head %.1f%% (bar %d%%), " \
           "distillation head %.1f%% (bar %d%%)\n", teacher, teacher_bar, student, student_bar, cls, cls_bar,
           dist, dist_bar
    if (!(teacher > teacher_bar && student > student_bar && cls > cls_bar && dist > dist_bar)) {
      print "an accuracy is below its bar"; exit 1 }
  }' "$work/output.txt" >&2
[ "$(grep -c '^  image [0-4]: predicted ' "$work/output.txt")" -eq 5 ]
[ -s "$work/student.safetensors" ]
