#!/usr/bin/env bash
# A tiny `deitctl run` end to end, then info / eval / predict on what it wrote.
source "$(dirname "$0")/lib.sh" "$@"

make_idx tiny --train 128 --test 64 --classes 4 --gzip
make_images img

expect_rc 0 run --data tiny --teacher-arch resnet18 --teacher-epochs 1 --student-epochs 1 --batch-size 16 \
  --fraction 1 --threads 2 --out out --quiet --json
[ ! -s err.txt ] || fail "--quiet run wrote to stderr"
cp out.txt stdout-summary.json
for f in teacher.safetensors student.safetensors metrics.jsonl summary.json predictions.png; do
  [ -s "out/$f" ] || fail "out/$f missing or empty"
done
[ -z "$(ls out | grep -v -E '^(teacher.safetensors|student.safetensors|metrics.jsonl|summary.json|predictions.png)$')" ] \
  || fail "unexpected files in out/: $(ls out)"
pass "run wrote the five outputs and nothing else"

"$PY" - <<'PY' || fail "summary.json / metrics.jsonl content"
import json
s = json.load(open("out/summary.json"))
assert s == json.load(open("stdout-summary.json")), "--json output differs from summary.json"
assert list(s) == ["version", "device", "threads", "data", "teacher", "student"], list(s)
assert list(s["data"]) == ["dir", "format", "train_count", "test_count", "classes", "fraction"], s["data"]
assert list(s["teacher"]) == ["arch", "epochs", "accuracy", "train_seconds", "eval_seconds"], s["teacher"]
assert list(s["student"]) == ["preset", "params", "epochs", "accuracy", "teacher_logits_seconds", "train_seconds",
                              "eval_seconds"], s["student"]
assert s["teacher"]["epochs"] == 1 and s["student"]["epochs"] == 1, (s["teacher"], s["student"])
assert list(s["student"]["accuracy"]) == ["avg", "cls", "dist"]
assert s["device"] == "cpu" or s["device"].startswith("cuda:"), s["device"]
assert s["threads"] >= 1
d = s["data"]
assert (d["dir"], d["format"], d["train_count"], d["test_count"], d["classes"], d["fraction"]) == \
    ("tiny", "IDX", 128, 64, 4, 1.0), d
assert s["teacher"]["arch"] == "resnet18"
assert s["student"]["preset"] == "seed" and s["student"]["params"] > 1000
for acc in [s["teacher"]["accuracy"]] + list(s["student"]["accuracy"].values()):
    assert 0.0 <= acc <= 1.0, acc
for part in ("teacher", "student"):
    for k, v in s[part].items():
        if k.endswith("_seconds"):
            assert v >= 0, (part, k, v)
assert s["student"]["teacher_logits_seconds"] > 0, "no teacher-logits phase time"

lines = [json.loads(l) for l in open("out/metrics.jsonl")]
epochs = [l for l in lines if l["phase"] in ("teacher", "student")]
assert [(l["phase"], l["epoch"]) for l in epochs] == [("teacher", 1), ("student", 1)], epochs
for l in epochs:
    assert list(l) == ["phase", "epoch", "loss", "loss_cls", "loss_dist", "images_per_sec", "seconds"], l
    assert l["loss"] > 0 and l["images_per_sec"] > 0 and l["seconds"] > 0, l
st = epochs[1]
assert abs(st["loss"] - (0.5 * st["loss_dist"] + 0.5 * st["loss_cls"])) < 1e-3 * max(1.0, st["loss"]), st
evals = [l for l in lines if l["phase"] == "eval"]
assert [l["model"] for l in evals] == ["teacher", "student"], evals
assert evals[0]["accuracy"] == s["teacher"]["accuracy"] and evals[1]["accuracy"] == s["student"]["accuracy"]["avg"]
assert evals[1]["accuracy_cls"] == s["student"]["accuracy"]["cls"] and evals[1]["count"] == 64
PY
pass "summary.json has exactly the documented keys; metrics.jsonl has one line per epoch and eval"

"$PY" - <<'PY' || fail "predictions.png"
import struct, zlib
data = open("out/predictions.png", "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
length, kind = struct.unpack(">I4s", data[8:16])
assert kind == b"IHDR" and length == 13
w, h, depth, color = struct.unpack(">IIBB", data[16:26])
# 4 classes -> 32 images in a 8 x 4 grid, each 28 px scaled x3.
assert w >= 8 * 84 and h >= 4 * 84 and depth == 8 and color == 2, (w, h, depth, color)
# Decode the pixels: both a green (right) and/or red (wrong) frame colour must be present.
idat = b""
pos = 8
while pos < len(data):
    n, k = struct.unpack(">I4s", data[pos:pos + 8])
    if k == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
assert len(raw) == h * (1 + 3 * w), (len(raw), w, h)
PY
pass "predictions.png is a valid RGB PNG of the grid's size"

# The teacher's default augmentation follows its epochs: under 10 it underfits and trains on the images as
# stored; asked for (--teacher-augment on, or an op such as --erase) or from 10 epochs up it is kept.
few=(--data tiny --teacher-arch resnet18 --student-epochs 0 --batch-size 32 --threads 2)
expect_rc 0 run "${few[@]}" --teacher-epochs 2 --out out-few
expect_in err.txt "the teacher trains without augmentation: 2 epochs are fewer than 10"
expect_in err.txt "2 epochs, adamw lr 0.003 cosine, no augmentation | student"
expect_rc 0 run "${few[@]}" --teacher-epochs 2 --teacher-augment on --out out-few-on
grep -qF "trains without augmentation" err.txt && fail "--teacher-augment on was dropped at 2 epochs"
expect_in err.txt "2 epochs, adamw lr 0.003 cosine, augment crop pad 4, erase 0.25 | student"
expect_rc 0 run "${few[@]}" --teacher-epochs 2 --erase 0.5 --out out-few-erase
expect_in err.txt "2 epochs, adamw lr 0.003 cosine, augment crop pad 4, erase 0.5 | student"
expect_rc 0 run "${few[@]}" --teacher-epochs 10 --out out-ten
grep -qF "trains without augmentation" err.txt && fail "the teacher's augmentation was dropped at 10 epochs"
expect_in err.txt "10 epochs, adamw lr 0.003 cosine, augment crop pad 4, erase 0.25 | student"
pass "the teacher's default augmentation: off under 10 epochs, kept from 10 or when asked for"

# info
expect_rc 0 info out/student.safetensors
expect_in out.txt "student"
expect_in out.txt "parameters"
expect_in out.txt "head_dist"
expect_rc 0 info out/teacher.safetensors --json
"$PY" -c 'import json; d=json.load(open("out.txt")); assert d["kind"]=="teacher" and d["config"]["arch"]=="resnet18" and d["params"]>10**6, d["kind"]' \
  || fail "info --json on the teacher"
pass "info --json describes the teacher"

# eval: the reloaded student scores what the run reported; confusion matrices add up.
expect_rc 0 eval out/student.safetensors --data tiny --json
"$PY" - <<'PY' || fail "eval --json on the student"
import json
e = json.load(open("out.txt")); s = json.load(open("out/summary.json"))
assert e["kind"] == "student" and e["count"] == 64 and e["split"] == "test", e
for head in ("avg", "cls", "dist"):
    assert abs(e["accuracy_" + head] - s["student"]["accuracy"][head]) < 1e-9, (head, e, s["student"])
PY
pass "eval of the saved student matches the run's accuracies"
expect_rc 0 eval out/student.safetensors --data tiny --head cls --confusion --json
"$PY" - <<'PY' || fail "eval --head cls --confusion"
import json
e = json.load(open("out.txt"))
m = e["confusion"]
assert len(m) == 4 and all(len(r) == 4 for r in m), m
assert sum(map(sum, m)) == 64, m
assert abs(sum(m[i][i] for i in range(4)) / 64 - e["accuracy_cls"]) < 1e-9, (m, e)
assert e["head"] == "cls" and e["accuracy"] == e["accuracy_cls"]
PY
pass "the cls head's confusion matrix agrees with its accuracy"
expect_rc 0 eval out/teacher.safetensors --data tiny --split train --confusion
expect_in out.txt "confusion matrix"
expect_in out.txt "train split"
expect_rc 2 eval out/teacher.safetensors --data tiny --head dist

# predict: IDX file (with and without labels), image files, wrong size.
expect_rc 0 predict out/student.safetensors --idx tiny/t10k-images-idx3-ubyte.gz --limit 5
[ "$(wc -l <out.txt)" = 5 ] || fail "predict --limit 5 printed $(wc -l <out.txt) lines"
expect_rc 0 predict out/student.safetensors --idx tiny/t10k-images-idx3-ubyte.gz \
  --labels tiny/t10k-labels-idx1-ubyte.gz --json
"$PY" - <<'PY' || fail "predict --idx --labels --json"
import json
rows = [json.loads(l) for l in open("out.txt")]
assert len(rows) == 64 and [r["index"] for r in rows] == list(range(64))
for r in rows:
    assert len(r["logits"]) == 4 and abs(sum(r["probabilities"]) - 1) < 1e-6, r
    assert r["class"] == max(range(4), key=lambda k: r["logits"][k])
acc = sum(r["class"] == r["label"] for r in rows) / 64
s = json.load(open("out/summary.json"))
assert abs(acc - s["student"]["accuracy"]["avg"]) < 1e-9, (acc, s["student"]["accuracy"])
PY
pass "predict over the test IDX file reproduces the averaged head's accuracy"
expect_in err.txt "accuracy:"
expect_rc 0 predict out/student.safetensors img/gray.png img/rgb.png img/gray.pgm
[ "$(wc -l <out.txt)" = 3 ] || fail "predict on 3 images printed $(wc -l <out.txt) lines"
expect_in out.txt "img/rgb.png"
expect_rc 0 predict out/teacher.safetensors img/gray.png --json
"$PY" -c 'import json; r=json.loads(open("out.txt").read()); assert r["file"]=="img/gray.png" and len(r["probabilities"])==4' \
  || fail "predict --json with the teacher"
# A 32x32 image for the 28x28 student (trained on IDX, so no preprocessing in its checkpoint): the centre
# square resized to 28x28, as the library's deit_image_read_file does it.
expect_rc 0 predict out/student.safetensors img/big.pgm --top 2
[ "$(wc -l <out.txt)" = 1 ] && [ "$(tr '\t' '\n' <out.txt | wc -l)" = 4 ] \
  || fail "predict on a 32x32 image with --top 2: $(cat out.txt)"
expect_rc 1 predict out/student.safetensors img/big.pgm --image-size 32
expect_in err.txt "32x32"
expect_in err.txt "28x28"
expect_rc 1 predict out/student.safetensors img/missing.png
expect_in err.txt "img/missing.png"

# teacher / distill subcommands on the same data, reusing the run's teacher.
expect_rc 0 distill --teacher out/teacher.safetensors --data tiny --out s2.safetensors --epochs 1 --batch-size 16 \
  --distillation hard --quiet --json
"$PY" -c 'import json; d=json.load(open("out.txt")); assert d["out"]=="s2.safetensors" and len(d["epochs"])==1' \
  || fail "distill --json"
[ -s s2.safetensors ] && [ ! -e s2.safetensors.tmp ] || fail "distill output"
# --logits-cache: the first run computes and writes the teacher's logits, the second reads them (no teacher
# pass) and trains to the same loss.
for i in 1 2; do
  expect_rc 0 distill --teacher out/teacher.safetensors --data tiny --out s2.safetensors --epochs 1 \
    --batch-size 16 --logits-cache logits.safetensors --quiet --json
  cp out.txt cache$i.json
done
"$PY" -c '
import json
a, b = (json.load(open(f"cache{i}.json")) for i in (1, 2))
assert a["teacher_logits_seconds"] > 0 and b["teacher_logits_seconds"] == 0, (a, b)
assert a["loss"] == b["loss"], (a["loss"], b["loss"])' || fail "distill --logits-cache reuses the logits"
[ -s logits.safetensors ] || fail "distill --logits-cache wrote no file"
# --ema: the same training (same losses), but the student saved is the average of its weights.
expect_rc 0 distill --teacher out/teacher.safetensors --data tiny --out s5.safetensors --epochs 1 \
  --batch-size 16 --logits-cache logits.safetensors --ema 0.9 --quiet --json
"$PY" -c '
import json
a, b = json.load(open("cache2.json")), json.load(open("out.txt"))
assert a["epochs"][0]["loss"] == b["epochs"][0]["loss"], (a["epochs"], b["epochs"])' || fail "distill --ema changed the training"
cmp -s s2.safetensors s5.safetensors && fail "distill --ema saved the last weights, not their average"
expect_rc 0 teacher --data tiny --out t2.safetensors --arch resnet18 --epochs 1 --batch-size 32 --fraction 0.5 --quiet
expect_in out.txt "teacher resnet18"
expect_rc 0 info t2.safetensors --json
expect_rc 1 distill --teacher s2.safetensors --data tiny --out s3.safetensors --epochs 1 --quiet
[ ! -e s3.safetensors ] && [ ! -e s3.safetensors.tmp ] || fail "a failed distill left an output"

# --init: a saved student starts a new distillation; with 0 epochs it evaluates exactly as it did.
expect_rc 0 distill --init out/student.safetensors --distillation none --data tiny --out s4.safetensors \
  --epochs 0 --quiet --json
cp out.txt init.json
"$PY" -c '
import json
s, i = json.load(open("out/summary.json")), json.load(open("init.json"))
assert i["accuracy"] == s["student"]["accuracy"], (i["accuracy"], s["student"]["accuracy"])
assert i["preset"] == "from out/student.safetensors", i["preset"]' || fail "distill --init keeps the weights"
# The same weights as a plain state dict (no libdeit metadata, as timm writes one) are read as timm's
# layout; the seed's 32-wide embedding matches no preset and no 64-wide heads, so num_heads is unknown.
"$PY" - <<'PY' || fail "writing plain.safetensors"
import json, struct
d = open("out/student.safetensors", "rb").read()
n = struct.unpack("<Q", d[:8])[0]
h = json.loads(d[8:8 + n])
h.pop("__metadata__")
b = json.dumps(h).encode()
b += b" " * (-len(b) % 8)
open("plain.safetensors", "wb").write(struct.pack("<Q", len(b)) + b + d[8 + n:])
PY
expect_rc 1 distill --init plain.safetensors --distillation none --data tiny --out s5.safetensors --epochs 1
expect_in err.txt "num_heads cannot be told from the weights"
expect_rc 2 distill --init plain.safetensors --preset seed --distillation none --data tiny --out s6.safetensors
expect_in err.txt "the architecture comes from the weights"
expect_rc 1 distill --init out/teacher.safetensors --distillation none --data tiny --out s6.safetensors
expect_in err.txt "not a student checkpoint"
[ ! -e s6.safetensors ] || fail "a failed distill --init left an output"
pass "distill --init: a checkpoint keeps its accuracy; plain-file, usage and wrong-kind errors"

# export: the student's inference as ONNX (onnxruntime runs such files in tests/pretrained/test_onnx_export.py).
expect_rc 0 export out/student.safetensors --onnx student.onnx --json
python3 -c '
import json, os
j = json.load(open("out.txt"))
assert j["opset"] == 17 and j["head"] == "avg", j
assert j["input"] == ["batch", 3, 28, 28] and j["output"] == ["batch", 4], j
assert j["bytes"] == os.path.getsize("student.onnx") > 0, j' || fail "export --json describes the file"
cp student.onnx student-avg.onnx
expect_rc 0 export out/student.safetensors --onnx cls.onnx --head cls
expect_in out.txt "cls head"
[ "$(stat -c %s cls.onnx)" -lt "$(stat -c %s student.onnx)" ] || fail "a one-head model leaves the other head out"
# Bad input: clear errors, nothing written, an existing file left as it was.
expect_rc 1 export out/teacher.safetensors --onnx student.onnx
expect_in err.txt "is a teacher checkpoint; deitctl export writes students"
expect_rc 1 export no-such.safetensors --onnx student.onnx
expect_in err.txt "no-such.safetensors: cannot open"
expect_rc 1 export out/student.safetensors --onnx out/teacher.safetensors/x.onnx
expect_in err.txt "out/teacher.safetensors/x.onnx: cannot create a temporary file beside it"
expect_rc 1 export out/student.safetensors --onnx missing-dir/x.onnx
expect_rc 2 export out/student.safetensors
expect_in err.txt "--onnx OUT is required"
expect_rc 2 export out/student.safetensors --onnx student.onnx --head mean
cmp -s student.onnx student-avg.onnx || fail "a failed export changed the existing file"
[ -z "$(ls -A . out | grep -E 'tmp|^x.onnx$')" ] || fail "a failed export left a file: $(ls -A . out)"
pass "export: ONNX written with --json and --head; teacher, missing, unwritable and usage errors leave nothing"

done_checks
