#!/usr/bin/env bash
# Crash safety: a teacher training and a distillation killed with SIGKILL in the middle of training and
# restarted with --resume end with the same model, byte for byte, as runs never interrupted (CPU, same
# threads); a state written for other settings is refused.
source "$(dirname "$0")/lib.sh" "$@"

make_idx tiny --train 512 --test 32 --classes 4

# check_resume NAME deitctl-args...: straight run vs a run killed after epoch 2's report, then resumed.
check_resume() {
  local name="$1"
  shift
  expect_rc 0 "$@" --out "$name-straight.safetensors"
  # States are written every 5 steps and at each epoch's end.
  start_deitctl "$@" --out "$name-resumed.safetensors" --state "$name-state.safetensors" --state-every 5
  local pid=$BG_PID
  wait_for_line "$pid" "epoch 2/"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  [ -s "$name-state.safetensors" ] || fail "$name: no training state after the kill"
  [ ! -e "$name-resumed.safetensors" ] || fail "$name: the killed run wrote its final checkpoint"
  pass "$name: SIGKILL after epoch 2 leaves a training state and no final checkpoint"

  expect_rc 0 "$@" --out "$name-resumed.safetensors" --state "$name-state.safetensors" --resume
  expect_in err.txt "deitctl: resuming from $name-state.safetensors"
  ! grep -qF "epoch 1/" err.txt || fail "$name: the resumed run trained epoch 1 again"
  cmp -s "$name-straight.safetensors" "$name-resumed.safetensors" ||
    fail "$name: the resumed run's model differs from the uninterrupted run's"
  pass "$name: resumed run ends with the same model, byte for byte"
}

check_resume teacher teacher --data tiny --arch resnet18 --epochs 3 --batch-size 16 --threads 1 --seed 5
common=(distill --data tiny --distillation none --epochs 4 --batch-size 16 --threads 1 --seed 5)
check_resume student "${common[@]}"

expect_rc 1 "${common[@]}" --lr 0.01 --out other.safetensors --state student-state.safetensors --resume
expect_in err.txt "written for another run"
[ ! -e other.safetensors ] || fail "a refused resume wrote a checkpoint"
pass "a state from other settings is refused"

expect_rc 2 "${common[@]}" --out x.safetensors --resume
expect_in err.txt "--resume and --state-every need --state FILE"
done_checks
