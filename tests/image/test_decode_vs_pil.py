#!/usr/bin/python3
"""deit::image::decode against PIL, pixel for pixel, on real photographs and on files PIL writes.

usage: /usr/bin/python3 test_decode_vs_pil.py PATH/TO/decode_tool

Every image is decoded by decode_tool (channels 0, 1 and 3) and by
np.asarray(ImageOps.exif_transpose(Image.open(f)).convert(mode)); the two must be identical (max abs
diff 0).  Channels 0 means PIL's mode for gray files ("1", "L", "LA", "I") and RGB for the rest.  Documented
differences, for which the expected pixels are computed here: 16-bit gray+alpha PNG, which PIL opens as
RGBA and libdeit as gray (same values, so only channels 0 differs, in shape); 16-bit gray (PNG, PGM),
which PIL opens as mode "I" and clips to 255 in convert("L"), while libdeit reduces it to 8 bits (PNG: the
high byte; PGM: round(v / maxval * 255)).  Files that must fail (truncated) must exit 2 with the file
name in the message.  Exits 1 on any mismatch.
"""
import os
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B")
# PIL opens 16-bit gray+alpha PNG as RGBA (same gray in R, G and B); libdeit keeps it a gray file.
GRAY_AS_RGBA = ("ga16.png",)
failures = []
compared = 0


def run_tool(tool, path, channels):
    proc = subprocess.run([tool, path, str(channels)], capture_output=True)
    if proc.returncode != 0:
        return None, proc.returncode, proc.stderr.decode(errors="replace").strip()
    head, _, body = proc.stdout.partition(b"\n")
    w, h, c = (int(v) for v in head.split())
    if len(body) != w * h * c:
        return None, -1, f"{len(body)} bytes for {w}x{h}x{c}"
    return np.frombuffer(body, np.uint8).reshape(h, w, c), 0, ""


def pil_pixels(path, channels, sixteen_bit_gray=None):
    """sixteen_bit_gray: for 16-bit gray files, maps PIL's mode "I" array to the 8-bit pixels expected."""
    img = ImageOps.exif_transpose(Image.open(path))
    gray = img.mode in GRAY_MODES or os.path.basename(path) in GRAY_AS_RGBA
    if sixteen_bit_gray is not None:  # our documented reduction, not PIL's clipping
        g = sixteen_bit_gray(np.asarray(img).astype(np.int64)).astype(np.uint8)
        rgb = np.repeat(g[:, :, None], 3, axis=2)
        return g[:, :, None] if channels in (0, 1) else rgb
    mode = {0: "L" if gray else "RGB", 1: "L", 3: "RGB"}[channels]
    a = np.asarray(img.convert(mode))
    return a[:, :, None] if a.ndim == 2 else a


def compare(tool, path, label, sixteen_bit_gray=None):
    global compared
    for channels in (0, 1, 3):
        ours, rc, err = run_tool(tool, path, channels)
        want = pil_pixels(path, channels, sixteen_bit_gray)
        what = f"{label} channels={channels}"
        if ours is None:
            failures.append(f"{what}: decode_tool failed ({rc}): {err}")
            continue
        if ours.shape != want.shape:
            failures.append(f"{what}: shape {ours.shape}, PIL {want.shape}")
            continue
        diff = int(np.abs(ours.astype(int) - want.astype(int)).max()) if ours.size else 0
        compared += 1
        print(f"{what}: {ours.shape[1]}x{ours.shape[0]}x{ours.shape[2]} max abs diff {diff}")
        if diff != 0:
            failures.append(f"{what}: max abs diff {diff} ({int((ours != want).sum())} samples differ)")


def expect_failure(tool, path, label):
    _, rc, err = run_tool(tool, path, 0)
    try:
        Image.open(path).load()
        pil = "PIL loads it"
    except Exception as e:  # noqa: BLE001 - any PIL failure is fine, it is only reported
        pil = f"PIL: {type(e).__name__}"
    print(f"{label}: exit {rc}: {err} ({pil})")
    if rc != 2 or not err.startswith(path):
        failures.append(f"{label}: expected exit 2 and a message naming the file, got {rc}: {err}")


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_rows(a, depth):
    """Rows of samples (h x w*channels) as PNG scanlines, each with filter byte 0."""
    rows = []
    for row in a:
        if depth == 16:
            raw = row.astype(">u2").tobytes()
        elif depth == 8:
            raw = row.astype(np.uint8).tobytes()
        else:
            bits = np.unpackbits(row.astype(np.uint8)[:, None], axis=1)[:, 8 - depth:].reshape(-1)
            raw = np.packbits(bits).tobytes()
        rows.append(b"\0" + raw)
    return b"".join(rows)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, a, color_type, depth, interlace=False, plte=None):
    """A PNG written by hand (PIL cannot write interlaced, 16-bit RGB or 2/4-bit gray files)."""
    h, w = a.shape[:2]
    a = a.reshape(h, w, -1)
    if interlace:
        data = b""
        for x0, y0, dx, dy in ADAM7:
            sub = a[y0::dy, x0::dx]
            if sub.size:
                data += pack_rows(sub.reshape(sub.shape[0], -1), depth)
    else:
        data = pack_rows(a.reshape(h, -1), depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    png = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if plte is not None:
        png += png_chunk(b"PLTE", bytes(plte))
    png += png_chunk(b"IDAT", zlib.compress(data)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def write_bmp_top_down_32(path, rgb):
    h, w = rgb.shape[:2]
    bgrx = np.concatenate([rgb[:, :, ::-1], np.full((h, w, 1), 7, np.uint8)], axis=2).tobytes()
    info = struct.pack("<IiiHHIIiiII", 40, w, -h, 1, 32, 0, len(bgrx), 2835, 2835, 0, 0)
    head = b"BM" + struct.pack("<IHHI", 14 + 40 + len(bgrx), 0, 0, 54)
    with open(path, "wb") as f:
        f.write(head + info + bgrx)


def write_pnm(path, magic, a, maxval):
    h, w = a.shape[:2]
    head = f"{magic}\n# written by test_decode_vs_pil\n{w} {h}\n{maxval}\n".encode()
    if magic in ("P2", "P3"):
        body = "\n".join(" ".join(str(int(v)) for v in row.reshape(-1)) for row in a).encode() + b"\n"
    else:
        body = a.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(head + body)


def make_files(tmp, rocket, astronaut):
    """(path, label, sixteen-bit-gray reduction or None) of files written here."""
    files = []
    small = astronaut.resize((67, 45))

    def add(name, save, reduce16=None):
        path = os.path.join(tmp, name)
        save(path)
        files.append((path, name, reduce16))

    add("gray.jpg", lambda p: rocket.convert("L").save(p, quality=90))
    add("cmyk.jpg", lambda p: rocket.convert("CMYK").save(p, quality=90))
    add("progressive.jpg", lambda p: rocket.save(p, quality=85, progressive=True))
    add("444.jpg", lambda p: rocket.save(p, quality=95, subsampling=0))
    add("422.jpg", lambda p: rocket.save(p, quality=75, subsampling=1))
    add("odd-size.jpg", lambda p: rocket.crop((3, 5, 3 + 101, 5 + 77)).save(p))
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        add(f"exif-orientation-{o}.jpg",
            lambda p, e=exif: rocket.crop((0, 0, 120, 70)).save(p, exif=e.tobytes()))
    add("rgba.png", lambda p: astronaut.convert("RGBA").save(p))
    add("la.png", lambda p: astronaut.convert("LA").save(p))
    add("bilevel.png", lambda p: astronaut.convert("1").save(p))
    add("palette-trns.png", lambda p: astronaut.convert("P").save(p, transparency=3))
    add("gray16.png", lambda p: Image.fromarray((np.asarray(astronaut.convert("L")).astype(np.uint16) * 257
                                                 + 3).astype(np.uint16)).save(p), lambda a: a >> 8)
    arr = np.asarray(small)
    g = np.asarray(small.convert("L"))
    add("rgb16.png", lambda p: write_png(p, arr.astype(np.uint16) * 251 + 7, 2, 16))
    add("rgba16-interlaced.png", lambda p: write_png(p, np.concatenate(
        [arr, g[:, :, None]], axis=2).astype(np.uint16) * 256 + 200, 6, 16, interlace=True))
    add("rgb-interlaced.png", lambda p: write_png(p, arr, 2, 8, interlace=True))
    add("gray-interlaced.png", lambda p: write_png(p, g, 0, 8, interlace=True))
    add("ga16.png", lambda p: write_png(p, np.stack([g, 255 - g], axis=2).astype(np.uint16) * 257, 4, 16))
    for depth in (1, 2, 4):
        add(f"gray{depth}.png", lambda p, d=depth: write_png(p, g >> (8 - d), 0, d, interlace=(d == 2)))
    pal = np.asarray(small.convert("P", palette=Image.ADAPTIVE, colors=16))
    plte = np.asarray(small.convert("P", palette=Image.ADAPTIVE, colors=16).getpalette()[:48], np.uint8)
    add("palette4.png", lambda p: write_png(p, pal, 3, 4, plte=plte))
    add("rgb.bmp", lambda p: small.save(p))
    add("gray.bmp", lambda p: small.convert("L").save(p))
    add("palette.bmp", lambda p: small.convert("P").save(p))
    add("bilevel.bmp", lambda p: small.convert("1").save(p))
    add("top-down-32.bmp", lambda p: write_bmp_top_down_32(p, arr))
    add("rgb.ppm", lambda p: small.save(p))
    add("gray.pgm", lambda p: small.convert("L").save(p))
    add("plain.ppm", lambda p: write_pnm(p, "P3", arr, 255))
    add("plain-maxval-100.pgm", lambda p: write_pnm(p, "P2", (g.astype(int) * 100) // 255, 100))
    add("maxval-100.pgm", lambda p: write_pnm(p, "P5", (g.astype(int) * 100) // 255, 100))
    add("maxval-1000.ppm", lambda p: write_pnm(p, "P6", (arr.astype(int) * 1000) // 255, 1000))
    g1000 = (g.astype(int) * 1000) // 255
    add("maxval-1000.pgm", lambda p: write_pnm(p, "P5", g1000, 1000),
        lambda _: np.array([round(v / 1000 * 255) for v in g1000.reshape(-1)]).reshape(g1000.shape))
    return files


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_decode_vs_pil.py PATH/TO/decode_tool")
    tool = sys.argv[1]
    warnings.simplefilter("ignore", UserWarning)  # PIL on palette files with tRNS
    real = ["rocket.jpg", "retina.jpg", "hubble_deep_field.jpg", "astronaut.png", "chelsea.png", "coffee.png",
            "camera.png", "foo3x5x4indexed.png", "green_palette.png", "palette_color.png", "palette_gray.png",
            "logo.png", "bw_text.png", "page.png", "horse.png", "moon.png"]
    for name in real:
        path = os.path.join(SKIMAGE, name)
        if os.path.exists(path):
            compare(tool, path, name)
        else:
            print(f"{name}: not installed, skipped")
    rocket = Image.open(os.path.join(SKIMAGE, "rocket.jpg")).convert("RGB")
    astronaut = Image.open(os.path.join(SKIMAGE, "astronaut.png")).convert("RGB")
    with tempfile.TemporaryDirectory() as tmp:
        for path, label, reduce16 in make_files(tmp, rocket, astronaut):
            compare(tool, path, label, reduce16)
        with open(os.path.join(SKIMAGE, "astronaut.png"), "rb") as f:
            png = f.read()
        cut = os.path.join(tmp, "cut.png")
        with open(cut, "wb") as f:
            f.write(png[: len(png) // 2])
        expect_failure(tool, cut, "astronaut.png cut in half")
        with open(os.path.join(SKIMAGE, "rocket.jpg"), "rb") as f:
            jpg = f.read()
        cut = os.path.join(tmp, "cut.jpg")
        with open(cut, "wb") as f:
            f.write(jpg[: len(jpg) * 2 // 3])
        expect_failure(tool, cut, "rocket.jpg cut at 2/3")
        if os.path.exists(os.path.join(SKIMAGE, "truncated.jpg")):
            expect_failure(tool, os.path.join(SKIMAGE, "truncated.jpg"), "skimage truncated.jpg")
    print(f"{compared} decodes compared with PIL, {len(failures)} failures")
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures or compared == 0 else 0)


if __name__ == "__main__":
    main()
