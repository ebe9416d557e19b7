#!/usr/bin/env bash
# `deitctl data` on tiny IDX sets (raw and gzip): counts, shapes, histograms, JSON with escaping.
source "$(dirname "$0")/lib.sh" "$@"

make_idx raw --train 128 --test 64 --classes 4
expect_rc 0 data raw
expect_in out.txt "train  IDX  128 images  1x28x28  4 classes"
expect_in out.txt "test   IDX  64 images  1x28x28  4 classes"
expect_in out.txt "per class: 32 32 32 32"
expect_in out.txt "per class: 16 16 16 16"

# A directory name that needs escaping in JSON.
dir='gz "quoted"\dir'
make_idx "$dir" --train 40 --test 20 --classes 5 --gzip
expect_rc 0 data "$dir" --json
"$PY" - "$dir" <<'PY' || fail "data --json content"
import json, sys
d = json.load(open("out.txt"))
assert d["dir"] == sys.argv[1], d["dir"]
tr, te = d["splits"]["train"], d["splits"]["test"]
assert (tr["count"], te["count"]) == (40, 20), (tr, te)
assert tr["classes"] == 5 and tr["histogram"] == [8] * 5, tr
assert (tr["channels"], tr["height"], tr["width"]) == (1, 28, 28), tr
assert tr["format"] == "IDX"
PY
pass "data --json parses, escapes the directory name and counts right"

done_checks
