#!/usr/bin/env bash
# deitctl launch: two ranks of `deitctl distill` (Gloo on 127.0.0.1, half the batch each) write one model
# that matches a single process's run with the whole batch; only rank 0 writes and reports; a failing rank
# stops the launch with its exit status, and the other rank is not left running.
source "$(dirname "$0")/lib.sh" "$@"

make_idx tiny --train 256 --test 40 --classes 4
common=(--data tiny --distillation none --epochs 2 --threads 1 --seed 3 --json)

expect_rc 0 distill "${common[@]}" --batch-size 16 --out one.safetensors
cp out.txt one.json

expect_rc 0 launch --nproc 2 --master-port 0 -- deitctl distill "${common[@]}" --batch-size 8 --out two.safetensors
cp out.txt two.json
expect_in err.txt "deitctl launch: 2 processes (ranks 0..1 of 2)"
[ -s two.safetensors ] || fail "rank 0 wrote no model"
[ "$(grep -c '"accuracy"' two.json)" = 1 ] || fail "expected one JSON report (rank 0's), got: $(cat two.json)"
pass "two ranks: one model, one report"

# Same global batch and seed: the same images and dropout masks at every step, so the same training up to
# float rounding.  Rounding differences (gradients summed in another order) grow over the steps of this
# 2048-wide MLP (a ReLU that flips, Adam's division by tiny second moments): measured 1e-4 relative after
# 16 steps, 2e-3 after 32.  The first step's loss, before any update, must agree to float precision;
# tests/test_distributed.c checks whole runs tightly on a smaller model.
"$PY" - <<'PY' || fail "two ranks differ from one process"
import json
one, two = json.load(open("one.json")), json.load(open("two.json"))
assert one["accuracy"] == two["accuracy"], (one["accuracy"], two["accuracy"])
for a, b in zip(one["epochs"], two["epochs"]):
    assert abs(a["loss"] - b["loss"]) <= 1e-2 * abs(a["loss"]), (a["loss"], b["loss"])
print("losses", [e["loss"] for e in one["epochs"]], [e["loss"] for e in two["epochs"]])
PY
pass "two ranks of batch 8 ~ one process of batch 16 (same accuracy, losses within 1%)"

make_idx first --train 16 --test 8 --classes 4
first=(--data first --distillation none --epochs 1 --threads 1 --seed 3 --json)
expect_rc 0 distill "${first[@]}" --batch-size 16 --out one-step.safetensors
cp out.txt one-step.json
expect_rc 0 launch --nproc 2 --master-port 0 -- deitctl distill "${first[@]}" --batch-size 8 --out two-step.safetensors
"$PY" - <<'PY' || fail "the first step's loss differs between two ranks and one process"
import json
a, b = json.load(open("one-step.json"))["epochs"][0]["loss"], json.load(open("out.txt"))["epochs"][0]["loss"]
assert abs(a - b) <= 1e-6 * abs(a), (a, b)
print("first step loss", a, b)
PY
pass "one step: two ranks and one process compute the same loss (same images, same dropout masks)"

# A rank that fails (here: all ranks are given a missing data directory) fails the launch with its status.
expect_rc 1 launch --nproc 2 --master-port 0 -- deitctl distill --data missing --distillation none --out x.safetensors
expect_in err.txt "missing"
[ ! -e x.safetensors ] || fail "a failed launch wrote a model"

# A rank killed by a signal: the launch stops the other one and reports it.
expect_rc 137 launch --nproc 2 --master-port 0 -- bash -c 'if [ "$RANK" = 1 ]; then kill -KILL $$; fi; sleep 60'
expect_in err.txt "local rank 1 was killed by signal"
expect_in err.txt "stopping the other 1"
pass "a killed rank stops the launch without waiting for the others"

expect_rc 2 launch --nproc 2
expect_in err.txt "give the command to start after --"
done_checks
