#!/usr/bin/env bash
# Crash safety: a distillation killed with SIGKILL in the middle of training and restarted with --resume
# ends with the same student, byte for byte, as a run never interrupted (CPU, same threads); a state
# written for other settings is refused.
source "$(dirname "$0")/lib.sh" "$@"

make_idx tiny --train 512 --test 32 --classes 4
common=(distill --data tiny --distillation none --epochs 4 --batch-size 16 --threads 1 --seed 5)

expect_rc 0 "${common[@]}" --out straight.safetensors
pass "uninterrupted run"

# Killed in epoch 3 or 4 (states are written every 5 steps and at each epoch's end).
"$DEITCTL" "${common[@]}" --out resumed.safetensors --state state.safetensors --state-every 5 \
  >out.txt 2>err.txt &
pid=$!
waited=0
until grep -qF -- "epoch 2/" err.txt; do
  kill -0 "$pid" 2>/dev/null || fail "deitctl ended before it could be killed"
  sleep 0.1
  waited=$((waited + 1))
  [ "$waited" -lt 3000 ] || { kill -KILL "$pid"; fail "no 'epoch 2/' after 300 s"; }
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null
[ -s state.safetensors ] || fail "no training state after the kill"
[ ! -e resumed.safetensors ] || fail "the killed run wrote its final checkpoint"
pass "SIGKILL after epoch 2 leaves a training state and no final checkpoint"

expect_rc 0 "${common[@]}" --out resumed.safetensors --state state.safetensors --resume
expect_in err.txt "deitctl: resuming from state.safetensors"
! grep -qF "epoch 1/" err.txt || fail "the resumed run trained epoch 1 again"
cmp -s straight.safetensors resumed.safetensors || fail "the resumed run's student differs from the uninterrupted run's"
pass "resumed run ends with the same student, byte for byte"

expect_rc 1 "${common[@]}" --lr 0.01 --out other.safetensors --state state.safetensors --resume
expect_in err.txt "written for another run"
[ ! -e other.safetensors ] || fail "a refused resume wrote a checkpoint"
pass "a state from other settings is refused"

expect_rc 2 "${common[@]}" --out x.safetensors --resume
expect_in err.txt "--resume and --state-every need --state FILE"
done_checks
