#!/usr/bin/env bash
# DeiT's recipe at equal budget (issue 16, docs/RESULTS.md): one teacher, then the student without a
# teacher, with soft and with hard distillation, each with and without augmentation, on a random subset of
# the training split (FRACTION) or all of it.  Prints one line per run; the logs stay in OUT.
#   bench/recipe_experiments.sh FRACTION TEACHER_EPOCHS STUDENT_EPOCHS [OUT] [PRESET]
# AUG: the student's augmentation options when on (default: the library's defaults); KDS: the distillation
# kinds to run (default "none soft hard"); AUGS: "off on" by default; TEACHER_ARCH: resnet18 by default.
set -euo pipefail
fraction=${1:?fraction}; teacher_epochs=${2:?teacher epochs}; student_epochs=${3:?student epochs}
out=${4:-/tmp/recipe-$fraction}; preset=${5:-seed}
deitctl=${DEITCTL:-$(dirname "$0")/../build/cli/deitctl}
mkdir -p "$out"
common=(--fraction "$fraction" --seed 0)
if [ ! -f "$out/teacher.safetensors" ]; then
  "$deitctl" teacher "${common[@]}" --arch "${TEACHER_ARCH:-resnet18}" --epochs "$teacher_epochs" --optimizer adamw \
    --schedule cosine --label-smoothing 0.1 --augment on --out "$out/teacher.safetensors" --quiet --json \
    > "$out/teacher.json"
fi
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print('teacher', j['accuracy'])" "$out/teacher.json"
read -r -a aug_args <<< "${AUG:-}"
for aug in ${AUGS:-off on}; do
  for kd in ${KDS:-none soft hard}; do
    name="$kd-aug$aug"
    [ -f "$out/$name.json" ] || "$deitctl" distill "${common[@]}" --teacher "$out/teacher.safetensors" \
      --preset "$preset" --epochs "$student_epochs" --optimizer adamw --schedule cosine --label-smoothing 0.1 \
      --distillation "$kd" --augment "$aug" $([ "$aug" = on ] && printf '%s ' "${aug_args[@]}") --out "$out/$name.safetensors" --quiet --json > "$out/$name.json"
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); a=j['accuracy']; print(sys.argv[2], 'avg %.4f cls %.4f dist %.4f train %.0fs' % (a['avg'], a['cls'], a['dist'], j['train_seconds']))" "$out/$name.json" "$name"
  done
done
