#!/usr/bin/env bash
# Exit codes and messages: 0 success, 2 usage errors (with the usage line), 1 runtime errors (with the
# library's message).  Nothing here trains a model.
source "$(dirname "$0")/lib.sh" "$@"

expect_rc 0 version
expect_in out.txt "deitctl"
expect_in out.txt "LibTorch: "
expect_in out.txt "CUDA: "
expect_rc 0 version --json
"$PY" -c 'import json,sys; d=json.load(open("out.txt")); assert set(d)=={"deitctl","libdeit","libtorch","cuda_compiled","cuda_available","cuda_devices","threads"}, d
assert d["libtorch"].count(".") == 2 and (d["cuda_compiled"] or not d["cuda_available"]), d' \
  || fail "version --json keys"
expect_rc 0 --help
expect_in out.txt "commands:"
expect_rc 0 run --help
expect_in out.txt "--teacher-arch"
expect_in out.txt "--full:"
expect_in out.txt "--val-fraction"
expect_in out.txt "--teacher-augment"

expect_rc 2
expect_in err.txt "usage: deitctl"
expect_rc 2 nosuch
expect_in err.txt "unknown command 'nosuch'"
expect_rc 2 run --alpha
expect_in err.txt "alpha"
expect_in err.txt "usage: deitctl run"
expect_rc 2 run --distillation foo
expect_in err.txt "'foo' is not one of soft, hard, none"
expect_in err.txt "usage: deitctl run"
expect_rc 2 run --optimizer rmsprop
expect_in err.txt "--optimizer"
expect_rc 2 run --schedule linear
expect_rc 2 run --teacher-arch vgg16
expect_in err.txt "vgg16"
expect_rc 2 run --no-such-option
expect_rc 2 run --alpha abc
expect_rc 2 run --alpha 1.5
expect_rc 2 run --fraction 0
expect_rc 2 run --batch-size 0
expect_rc 2 run --ema 1
expect_in err.txt "--ema: must be 0 (off) or in (0, 1)"
expect_rc 2 run --device gpu
expect_in err.txt "--device"
expect_rc 2 run stray-argument
expect_in err.txt "stray-argument"
expect_rc 2 eval
expect_in err.txt "MODEL is required"
expect_rc 2 eval model.safetensors --split valid
expect_rc 2 predict model.safetensors
expect_in err.txt "no images"
expect_rc 2 predict model.safetensors a.png --idx x
expect_rc 2 teacher --data .
expect_in err.txt "--out is required"
expect_rc 2 distill --out s.safetensors
expect_in err.txt "--teacher is required"
expect_rc 2 info

# Runtime errors: exit 1, "deitctl <cmd>: <status text>: <library message>".
expect_rc 1 data /nonexistent
expect_in err.txt "deitctl data: "
expect_in err.txt "/nonexistent"
[ ! -s out.txt ] || fail "data /nonexistent printed on stdout"
make_broken broken
expect_rc 1 data broken
expect_in err.txt "deitctl data: "
expect_in err.txt "train-images-idx3-ubyte"
[ ! -s out.txt ] || fail "data on a malformed set printed a partial report"
expect_rc 1 info /nonexistent.safetensors
expect_in err.txt "deitctl info: "
expect_rc 1 eval /nonexistent.safetensors --data broken
expect_in err.txt "deitctl eval: "

done_checks
