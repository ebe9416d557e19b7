#!/usr/bin/env bash
# Ctrl-C: the run stops at the next step, exits 130, and leaves no temporary or half-written files:
# outputs finished before the interrupt stay, complete; the rest are absent.
source "$(dirname "$0")/lib.sh" "$@"

make_idx tiny --train 512 --test 32 --classes 4

# run_and_interrupt OUT WAIT_FOR deitctl-run-args...: SIGINT once WAIT_FOR appears in the progress lines.
run_and_interrupt() {
  local out="$1" pattern="$2"
  shift 2
  start_deitctl run --data tiny --teacher-arch resnet18 --batch-size 16 --threads 2 --out "$out" "$@"
  local pid=$BG_PID
  wait_for_line "$pid" "$pattern"
  kill -INT "$pid"
  wait "$pid"
  RC=$?
}

# 1. During the teacher's training: nothing has been written yet.
run_and_interrupt outA "teacher epoch 1/" --teacher-epochs 1000 --student-epochs 1
[ "$RC" = 130 ] || fail "interrupted run exited $RC, expected 130"
expect_in err.txt "deitctl: interrupted"
[ -d outA ] || fail "outA was not created"
[ -z "$(ls -A outA)" ] || fail "files left after an interrupt during teacher training: $(ls -A outA)"
pass "SIGINT during teacher training: exit 130, output directory empty"

# 2. During distillation: the finished teacher checkpoint stays (and is complete); nothing else is there.
run_and_interrupt outB "student epoch 1/" --teacher-epochs 1 --student-epochs 1000
[ "$RC" = 130 ] || fail "interrupted run exited $RC, expected 130"
expect_in err.txt "deitctl: interrupted"
[ "$(ls -A outB)" = "teacher.safetensors" ] || fail "expected only teacher.safetensors in outB: $(ls -A outB)"
expect_rc 0 info outB/teacher.safetensors
expect_rc 0 eval outB/teacher.safetensors --data tiny
pass "SIGINT during distillation: exit 130, only the complete teacher checkpoint left"

done_checks
