#!/usr/bin/env bash
# Image folders end to end on real photographs (Debian's scikit-image data: astronaut, chelsea, coffee,
# rocket): `deitctl data` on train/ + val/ folders, a plain class folder (held-out test split) and a CSV
# list file; a tiny `run` on them, then info / predict / eval with the class names; bad files (empty,
# truncated, a class folder without images, a list naming a missing file, a PNG header claiming
# 100000 x 100000 pixels) fail naming the file, and --skip-bad skips them.
source "$(dirname "$0")/lib.sh" "$@"

SK=/usr/lib/python3/dist-packages/skimage/data
for f in astronaut.png chelsea.png coffee.png rocket.jpg; do
  [ -f "$SK/$f" ] || { echo "SKIP: no $SK/$f (apt-get install python3-skimage)"; exit 77; }
done
"$PY" -c 'import PIL' 2>/dev/null || { echo "SKIP: $PY has no PIL (apt-get install python3-pil)"; exit 77; }

# photos/{train,val}/<class>/ (crops of the photographs, several formats, some gray, a notes.txt) and full/.
"$PY" "$HERE/make_tiny_data.py" photos . || fail "making the image folders"
NAMES='["astronaut", "cat", "coffee", "rocket"]'

# --- deitctl data on train/ + val/
expect_rc 0 data photos --image-size 32 --json
"$PY" - "$NAMES" <<'PY' || fail "data --json on photos/"
import json, sys
names = json.loads(sys.argv[1])
d = json.load(open("out.txt"))
tr, te = d["splits"]["train"], d["splits"]["test"]
for s, n in ((tr, 40), (te, 16)):
    assert s["format"] == "images", s
    assert s["count"] == n and s["histogram"] == [n // 4] * 4, s
    assert (s["channels"], s["height"], s["width"], s["classes"]) == (3, 32, 32, 4), s
    assert s["class_names"] == names, s["class_names"]
    assert "skipped" not in s, s
PY
pass "data --json: 40 training and 16 test images of 4 classes, named in sorted order"
expect_rc 0 data photos --image-size 32
expect_in out.txt "train  images  40 images  3x32x32  4 classes"
expect_in out.txt "classes: astronaut, cat, coffee, rocket"

# --- run, then info / predict / eval.  --threads 1: LibTorch's spinning threads make shared cores slow (ctest -j,
# a build beside it); one thread keeps the test quick on a busy 2-core machine.
expect_rc 0 run --data photos --image-size 32 --teacher-epochs 1 --student-epochs 1 --student-preset small-image \
  --batch-size 16 --threads 1 --out out --quiet
[ ! -s err.txt ] || fail "--quiet run wrote to stderr"
for f in teacher.safetensors student.safetensors metrics.jsonl summary.json predictions.png; do
  [ -s "out/$f" ] || fail "out/$f missing or empty"
done
"$PY" - <<'PY' || fail "summary.json of the image-folder run"
import json
d = json.load(open("out/summary.json"))["data"]
assert (d["dir"], d["format"], d["train_count"], d["test_count"], d["classes"]) == ("photos", "images", 40, 16, 4), d
PY
pass "run on the image folder wrote the usual outputs"
for model in student teacher; do
  expect_rc 0 info out/$model.safetensors --json
  "$PY" - "$NAMES" <<'PY' || fail "info --json: data of the $model"
import json, sys
d = json.load(open("out.txt"))["data"]
assert d["class_names"] == json.loads(sys.argv[1]), d
p = d["preprocess"]
assert (p["image_size"], p["channels"], p["filter"]) == (32, 3, "bicubic") and abs(p["crop_pct"] - 0.875) < 1e-9, p
PY
done
pass "info --json: class names and preprocessing (image size 32) in both checkpoints"

# export: the ONNX model carries the checkpoint's data card (class names, preprocessing) in its metadata.
expect_rc 0 export out/student.safetensors --onnx student.onnx
"$PY" - "$NAMES" <<'PY' || fail "the ONNX metadata holds the data card"
import json, sys
b = open("student.onnx", "rb").read()
key = b"libdeit.data_card"
at = b.index(key) + len(key)  # StringStringEntryProto: key (field 1), then value (field 2, length-delimited)
assert b[at] == 0x12, b[at]
n, shift, at = 0, 0, at + 1
while True:
    n |= (b[at] & 0x7F) << shift
    shift, at = shift + 7, at + 1
    if b[at - 1] < 0x80:
        break
card = json.loads(b[at:at + n])
assert card["class_names"] == json.loads(sys.argv[1]), card
assert card["preprocess"]["image_size"] == 32, card
PY
pass "export: the ONNX metadata keeps the class names and preprocessing"

# A whole photograph of any size: resized and centre-cropped as the training images were.
expect_rc 0 predict out/student.safetensors full/coffee.jpg --top 3 --threads 1
"$PY" - "$NAMES" <<'PY' || fail "predict --top 3 text line: $(cat out.txt)"
import json, re, sys
names = json.loads(sys.argv[1])
lines = open("out.txt").read().splitlines()
assert len(lines) == 1, lines
fields = lines[0].split("\t")
assert len(fields) == 5 and fields[0] == "full/coffee.jpg", fields
m = re.fullmatch(r"(\d) \((\w+)\)", fields[1])
assert m and names[int(m[1])] == m[2], fields[1]
p = float(fields[2])
shown = [int(m[1])]
for f in fields[3:]:
    r = re.fullmatch(r"(\d) \((\w+)\) (0\.\d+)", f)
    assert r and names[int(r[1])] == r[2] and float(r[3]) <= p, f
    p = float(r[3])
    shown.append(int(r[1]))
assert len(set(shown)) == 3, shown
PY
pass "predict --top 3: one line, the class with its name, three classes by falling probability"
expect_rc 0 predict out/student.safetensors full/coffee.jpg --top 3 --json --threads 1
"$PY" - "$NAMES" <<'PY' || fail "predict --top 3 --json"
import json, sys
names = json.loads(sys.argv[1])
lines = open("out.txt").read().splitlines()
assert len(lines) == 1, lines
r = json.loads(lines[0])
assert r["file"] == "full/coffee.jpg" and r["class_name"] == names[r["class"]], r
top = r["top"]
assert len(top) == 3 and top[0]["class"] == r["class"], top
probs = [t["probability"] for t in top]
assert probs == sorted(probs, reverse=True), probs
assert len({t["class"] for t in top}) == 3 and all(t["name"] == names[t["class"]] for t in top), top
assert len(r["probabilities"]) == 4 and abs(sum(r["probabilities"]) - 1) < 1e-6, r
assert all(abs(t["probability"] - r["probabilities"][t["class"]]) < 1e-12 for t in top), (top, r["probabilities"])
PY
pass "predict --json: top 3 sorted by probability, class_name"
expect_rc 0 predict out/student.safetensors photos/val --top 2 --threads 1
"$PY" - <<'PY' || fail "predict on a folder"
import os
want = sorted(os.path.join(dp, f) for dp, _, fs in os.walk("photos/val") for f in fs)
got = [l.split("\t")[0] for l in open("out.txt").read().splitlines()]
assert len(want) == 16 and sorted(got) == want, (got, want)
PY
expect_rc 0 predict out/student.safetensors full --threads 1
[ "$(wc -l <out.txt)" = 3 ] || fail "predict on full/ printed $(wc -l <out.txt) lines"
for f in full/coffee.jpg full/astronaut.png full/rocket.bmp; do expect_in out.txt "$f"; done
pass "predict on a folder lists every image under it"

expect_rc 0 eval out/student.safetensors --data photos --json --threads 1
"$PY" - <<'PY' || fail "eval --json on photos/"
import json
e = json.load(open("out.txt")); s = json.load(open("out/summary.json"))
assert e["kind"] == "student" and e["split"] == "test" and e["count"] == 16, e
for head in ("avg", "cls", "dist"):
    assert abs(e["accuracy_" + head] - s["student"]["accuracy"][head]) < 1e-9, (head, e, s["student"])
assert e["accuracy"] == e["accuracy_avg"]
PY
pass "eval on the image folder (preprocessing from the checkpoint) matches the run's accuracies"

# --- a plain class folder: 20 % held out as the test split
expect_rc 0 data photos/train --image-size 32
expect_in err.txt "held out"
expect_in out.txt "train  images  32 images"
expect_in out.txt "test   images  8 images"
expect_rc 0 data photos/train --image-size 32 --json
"$PY" - "$NAMES" <<'PY' || fail "data --json on a plain class folder"
import json, sys
d = json.load(open("out.txt"))["splits"]
tr, te = d["train"], d["test"]
assert (tr["count"], te["count"]) == (32, 8), (tr, te)
assert [a + b for a, b in zip(tr["histogram"], te["histogram"])] == [10] * 4, (tr["histogram"], te["histogram"])
assert tr["class_names"] == te["class_names"] == json.loads(sys.argv[1])
PY
expect_rc 0 run --data photos/train --image-size 32 --teacher-epochs 1 --student-epochs 1 \
  --student-preset small-image --batch-size 16 --threads 1 --out out-plain
expect_in err.txt "held out"
expect_in err.txt "deitctl run: teacher resnet20-small-image for 32x32 images (at most 64 px"
"$PY" - <<'PY' || fail "summary.json of the plain-folder run"
import json
s = json.load(open("out-plain/summary.json"))
d = s["data"]
assert (d["format"], d["train_count"], d["test_count"], d["classes"]) == ("images", 32, 8, 4), d
assert s["teacher"]["arch"] == "resnet20-small-image", s["teacher"]
PY
pass "a plain class folder: 32 + 8 images, the test split held out, by data and by run"
# Above 64 px the default teacher is torchvision's ResNet-18 (no training needed to see it).
expect_rc 0 run --data photos/train --image-size 72 --teacher-epochs 0 --student-epochs 0 \
  --student-preset small-image --threads 1 --out out-72 --json
"$PY" - <<'PY' || fail "the default teacher at 72 px"
import json
assert json.load(open("out.txt"))["teacher"]["arch"] == "resnet18"
PY
grep -qF "for 72x72 images" err.txt && fail "a 72 px run chose the small-image teacher"
pass "deitctl run's default teacher: resnet20-small-image at 32 px, resnet18 at 72 px"

# --- a CSV list file, paths relative to it, class-name labels
mkdir lists
"$PY" - <<'PY' || fail "writing lists/photos.csv"
import os
rows = ["path,label"]
for cls in ("rocket", "cat", "coffee"):  # not sorted: the indices come from the sorted names
    for f in sorted(os.listdir(f"photos/train/{cls}")):
        if not f.endswith(".txt"):
            rows.append(f"../photos/train/{cls}/{f},{cls}")
open("lists/photos.csv", "w").write("\n".join(rows) + "\n")
PY
expect_rc 0 data lists/photos.csv --image-size 32 --json
"$PY" - <<'PY' || fail "data --json on a CSV list file"
import json
d = json.load(open("out.txt"))["splits"]
tr, te = d["train"], d["test"]
assert tr["format"] == "images" and (tr["count"], te["count"]) == (24, 6), (tr, te)
assert [a + b for a, b in zip(tr["histogram"], te["histogram"])] == [10] * 3, (tr["histogram"], te["histogram"])
assert tr["class_names"] == ["cat", "coffee", "rocket"], tr["class_names"]
PY
pass "data on a CSV list file: 30 images of 3 named classes"

# --- bad input: rc 1, the file named
mkdir -p bad/train/a bad/train/b bad/val/a bad/val/b
cp photos/train/cat/00.jpg bad/train/a/
cp photos/train/cat/01.png photos/train/cat/02.bmp bad/train/b/
cp photos/val/cat/00.jpg bad/val/a/
cp photos/val/cat/01.png bad/val/b/
: >bad/train/b/empty.jpg
expect_rc 1 data bad --image-size 32
expect_in err.txt "bad/train/b/empty.jpg"
expect_rc 0 data bad --image-size 32 --skip-bad --json
expect_in err.txt "bad/train/b/empty.jpg"
"$PY" -c '
import json
d = json.load(open("out.txt"))["splits"]
assert d["train"]["count"] == 3 and d["train"]["skipped"] == 1, d["train"]
assert d["test"]["count"] == 2 and "skipped" not in d["test"], d["test"]' || fail "data --skip-bad --json"
pass "a zero-byte .jpg fails the open, naming it; --skip-bad skips it and counts it"

mkdir -p noimg/a noimg/b
cp photos/train/cat/00.jpg noimg/a/
echo "no images here" >noimg/b/readme.txt
expect_rc 1 data noimg --image-size 32
expect_in err.txt "noimg/b"
expect_in err.txt "without images"

mkdir -p trunc/a trunc/b
cp photos/train/cat/00.jpg trunc/a/
size=$(stat -c %s full/coffee.jpg)
head -c $((size / 2)) full/coffee.jpg >trunc/b/half.jpg
expect_rc 1 data trunc --image-size 32
expect_in err.txt "trunc/b/half.jpg"

printf 'path,label\n../photos/train/cat/00.jpg,cat\n../photos/train/cat/missing.jpg,cat\n' >lists/missing.csv
expect_rc 1 data lists/missing.csv --image-size 32
expect_in err.txt "missing.jpg"
pass "an empty class folder, a truncated JPEG and a list naming a missing file fail, naming them"

# A PNG whose header claims 100000 x 100000 RGB pixels (30 GB decoded): refused before any allocation.
mkdir -p huge/a huge/b
cp photos/train/cat/00.jpg huge/a/
"$PY" - <<'PY' || fail "writing huge/b/huge.png"
import struct, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) +
       chunk(b"IDAT", zlib.compress(b"\0" * 301)) + chunk(b"IEND", b""))
open("huge/b/huge.png", "wb").write(png)
PY
# Under a 4 GB address-space limit when deitctl starts under one at all (sanitizer or CUDA builds may not).
limit=unlimited
(ulimit -v 4000000 && "$DEITCTL" version) >/dev/null 2>&1 && limit=4000000
start=$(date +%s%N)
(ulimit -v "$limit" && exec "$DEITCTL" data huge --image-size 32) >out.txt 2>err.txt
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
[ "$rc" = 1 ] || fail "data on a 100000 x 100000 PNG exited $rc, expected 1"
expect_in err.txt "huge/b/huge.png"
expect_in err.txt "exceeds the limit"
[ "$ms" -lt 10000 ] || fail "data on a 100000 x 100000 PNG took $ms ms"
pass "a 100000 x 100000 PNG header fails on the pixel limit in $ms ms (address space: $limit KiB)"
expect_rc 1 predict out/student.safetensors huge/b/huge.png --threads 1
expect_in err.txt "exceeds the limit"

done_checks
