#!/usr/bin/python3
"""deit::image::resize / center_crop against PIL 9.4 and torchvision 0.14, bit for bit, on real photographs.

usage: test_resize_vs_pil.py RESIZE_TOOL [--bench]
Run with Debian's /usr/bin/python3 (PIL, numpy, torchvision, skimage).  Exits nonzero on any mismatch.
--bench also times a 4000x3000 RGB resize to short side 256, ours vs PIL (informational, no assertion).
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image
from torchvision import transforms

DATA = "/usr/lib/python3/dist-packages/skimage/data"
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
TV_FILTERS = {"bilinear": transforms.InterpolationMode.BILINEAR,
              "bicubic": transforms.InterpolationMode.BICUBIC}

TOOL = None
TMP = None
failures = []


def load(name, box=None):
    img = Image.open(os.path.join(DATA, name))
    img = img.convert("L" if img.mode in ("L", "I", "I;16") else "RGB")
    return img.crop(box) if box else img


def raw_args(img):
    """Writes img's pixels to a raw file; returns the tool's IN.raw W H C arguments."""
    arr = np.asarray(img)
    path = os.path.join(TMP, "in.raw")
    arr.tofile(path)
    return [path, str(img.width), str(img.height), "1" if arr.ndim == 2 else "3"]


def call_tool(args, shape):
    proc = subprocess.run([TOOL] + args, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"resize_tool {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()}")
    out = np.frombuffer(proc.stdout, dtype=np.uint8)
    if out.size != int(np.prod(shape)):
        raise RuntimeError(f"resize_tool returned {out.size} bytes, expected {shape}")
    return out.reshape(shape)


def report(label, ok, detail):
    print(f"{'PASS' if ok else 'FAIL'} {label}: {detail}")
    if not ok:
        failures.append(label)


def check_resize(label, img, w, h, filt):
    theirs = np.asarray(img.resize((w, h), FILTERS[filt]))
    ours = call_tool(raw_args(img) + [str(w), str(h), filt], theirs.shape)
    diff = int(np.abs(ours.astype(np.int32) - theirs.astype(np.int32)).max())
    report(f"resize {label} {img.width}x{img.height}{'' if theirs.ndim == 2 else 'x3'} -> {w}x{h} {filt}",
           diff == 0, f"max |diff| = {diff} levels")


def check_pipeline(label, img, size, crop, filt):
    tv = transforms.Compose([transforms.Resize(size, interpolation=TV_FILTERS[filt]),
                             transforms.CenterCrop(crop), transforms.ToTensor()])
    theirs = tv(img).numpy()  # C x H x W float32 in [0, 1]
    ours = call_tool(["--preprocess"] + raw_args(img) + [str(size), str(crop), filt],
                     (crop, crop) if theirs.shape[0] == 1 else (crop, crop, 3))
    ours = ours.reshape(crop, crop, -1).transpose(2, 0, 1).astype(np.float32) / 255
    diff = float(np.abs(ours - theirs).max())
    report(f"pipeline {label} {img.width}x{img.height} Resize({size}, {filt}) + CenterCrop({crop})",
           diff <= 1 / 255 + 1e-7, f"max |diff| = {diff:.6f} (= {round(diff * 255)} levels)")


def unantialiased(arr, w, h, filt):
    """PIL's resampler with the support NOT widened when shrinking, in float: what a resize without
    antialiasing gives, to show the exact checks above would catch it."""
    support, fn = (1.0, lambda x: np.maximum(0.0, 1 - np.abs(x))) if filt == "bilinear" else (2.0, None)
    assert fn is not None, "bilinear only"

    def matrix(n_in, n_out):
        scale = n_in / n_out
        m = np.zeros((n_out, n_in))
        for i in range(n_out):
            center = (i + 0.5) * scale
            lo, hi = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), n_in)
            k = fn(np.arange(lo, hi) - center + 0.5)
            m[i, lo:hi] = k / k.sum()
        return m

    mh, mv = matrix(arr.shape[1], w), matrix(arr.shape[0], h)
    out = np.einsum("xj,yjc->yxc", mh, np.einsum("yi,ijc->yjc", mv, arr.astype(np.float64)))
    return np.clip(np.round(out), 0, 255)


def check_sensitivity():
    img = load("chelsea.png")
    theirs = np.asarray(img.resize((224, 149), Image.BILINEAR)).astype(np.float64)
    diff = float(np.abs(unantialiased(np.asarray(img), 224, 149, "bilinear") - theirs).max())
    report("sensitivity: resize without antialiasing differs from PIL 451x300 -> 224x149", diff > 10,
           f"max |diff| = {diff:.0f} levels (must exceed 10)")


def check_errors():
    img = load("astronaut.png", (0, 0, 8, 8))
    args = raw_args(img)
    cases = {
        "channels 2": args[:3] + ["2", "4", "4", "bilinear"],
        "size mismatch": [args[0], "9", "8", "3", "4", "4", "bilinear"],
        "output width 0": args + ["0", "4", "bilinear"],
        "unknown filter": args + ["4", "4", "lanczos"],
        "crop 0": ["--preprocess"] + args + ["8", "0", "bilinear"],
    }
    for label, a in cases.items():
        proc = subprocess.run([TOOL] + a, capture_output=True)
        ok = proc.returncode == 2 and proc.stderr and not proc.stdout
        report(f"error {label}", ok, f"exit {proc.returncode}: {proc.stderr.decode().strip()}")


def bench():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8))
    args = raw_args(img)
    for filt in FILTERS:
        out = subprocess.run([TOOL, "--bench", "5"] + args + ["256", filt], capture_output=True, check=True)
        ours = float(out.stdout.split()[1])
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            img.resize((341, 256), FILTERS[filt])
            times.append((time.perf_counter() - t0) * 1000)
        print(f"BENCH 4000x3000x3 -> 341x256 {filt}: ours {ours:.1f} ms, PIL {sorted(times)[2]:.1f} ms "
              "(median of 5)")


def main():
    global TOOL, TMP
    TOOL = os.path.abspath(sys.argv[1])
    astro, chelsea, coffee = load("astronaut.png"), load("chelsea.png"), load("coffee.png")
    rocket, camera = load("rocket.jpg"), load("camera.png")
    odd = astro.crop((200, 100, 237, 191))  # 37x91
    column = coffee.crop((300, 100, 301, 150))  # 1x50
    strip = coffee.crop((150, 200, 450, 207))  # 300x7
    gray_odd = camera.crop((11, 13, 48, 104))  # 37x91
    tiny = astro.crop((250, 250, 253, 253))  # 3x3

    for filt in FILTERS:
        check_resize("224 short side from 451", chelsea, 336, 224, filt)
        check_resize("square 224 from 451x300", chelsea, 224, 224, filt)
        check_resize("0.3x", astro, 154, 154, filt)
        check_resize("7x reduction", coffee.crop((0, 0, 595, 399)), 85, 57, filt)
        check_resize("~7x reduction", coffee, 86, 57, filt)
        check_resize("to 1x1", astro, 1, 1, filt)
        check_resize("upscale 28->224", astro.crop((100, 100, 128, 128)), 224, 224, filt)
        check_resize("upscale 3->17", tiny, 17, 17, filt)
        check_resize("upscale 3x3->17x11", tiny, 17, 11, filt)
        check_resize("up one axis, down the other", chelsea, 900, 100, filt)
        check_resize("vertical only", chelsea, 451, 150, filt)
        check_resize("horizontal only", chelsea, 200, 300, filt)
        check_resize("same size", chelsea, 451, 300, filt)
        check_resize("jpeg 224 short side", rocket, 335, 224, filt)
        check_resize("gray", camera, 224, 224, filt)
        check_resize("gray mixed", camera, 100, 733, filt)
        check_resize("gray horizontal only", camera, 97, 512, filt)
        check_resize("odd crop up", odd, 224, 224, filt)
        check_resize("odd crop down", odd, 13, 40, filt)
        check_resize("gray odd crop", gray_odd, 50, 20, filt)
        check_resize("1x50 vertical only", column, 1, 7, filt)
        check_resize("1x50 wider", column, 5, 50, filt)
        check_resize("1x50 to 3x1", column, 3, 1, filt)
        check_resize("300x7", strip, 64, 3, filt)
        check_resize("300x7 up", strip, 301, 29, filt)

    pipelines = [
        ("Resize(256)+CenterCrop(224)", chelsea, 256, 224, "bilinear"),
        ("Resize(256)+CenterCrop(224)", rocket, 256, 224, "bilinear"),
        ("Resize(256)+CenterCrop(224)", astro, 256, 224, "bilinear"),
        ("Resize(256)+CenterCrop(224) gray", camera, 256, 224, "bilinear"),
        ("Resize(32)+CenterCrop(28)", coffee, 32, 28, "bilinear"),
        ("Resize(32)+CenterCrop(28)", rocket, 32, 28, "bilinear"),
        ("Resize(32)+CenterCrop(28) bicubic", odd, 32, 28, "bicubic"),
        ("timm eval Resize(int(224/0.875))+CenterCrop(224)", chelsea, int(224 / 0.875), 224, "bicubic"),
        ("timm eval Resize(int(224/0.875))+CenterCrop(224)", coffee, int(224 / 0.875), 224, "bicubic"),
        ("timm eval Resize(int(224/0.875))+CenterCrop(224)", rocket, int(224 / 0.875), 224, "bicubic"),
        ("crop only, odd margins (round half to even)", odd, 37, 28, "bilinear"),
        ("crop only, odd margins gray", gray_odd, 37, 32, "bicubic"),
        ("crop larger than image (padding)", chelsea, 20, 28, "bilinear"),
        ("crop larger than image, odd padding", odd, 37, 64, "bicubic"),
        ("crop larger than image both sides", column, 1, 57, "bilinear"),
        ("crop larger, gray", gray_odd, 16, 33, "bilinear"),
        ("crop larger than 300x7", strip, 7, 11, "bicubic"),
    ]
    for p in pipelines:
        check_pipeline(*p)

    check_sensitivity()
    check_errors()
    if "--bench" in sys.argv[2:]:
        bench()
    print(f"{'FAILED' if failures else 'OK'}: {len(failures)} failure(s)"
          + (f": {failures}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        TMP = tmp
        sys.exit(main())
