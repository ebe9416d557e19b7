#!/usr/bin/env bash
# check_accuracy.sh OUTPUT: the C and Python examples' output holds one teacher and one student accuracy
# line, each above its bar (example_c.sh, example_python.sh).
set -euo pipefail
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
  }' "$1" >&2
