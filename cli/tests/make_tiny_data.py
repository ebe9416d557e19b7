"""Tiny data for the deitctl tests: an IDX data set with a learnable pattern, image files, a broken set.

usage: make_tiny_data.py idx DIR --train N --test N --classes K [--size S] [--gzip] [--seed N]
       make_tiny_data.py images DIR   (gray.png, rgb.png, gray.pgm at 28x28, big.pgm at 32x32)
       make_tiny_data.py broken DIR   (an IDX pair whose image header claims more images than it has)
"""
import argparse
import gzip
import os
import struct
import zlib

import numpy as np


def idx_bytes(array, dims):
    header = struct.pack(">I", 0x0800 | dims) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write(path, data, gz):
    if gz:
        path += ".gz"
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)


def pattern_images(n, classes, size, rng):
    """Class k lights one horizontal band (its position says the class) over faint noise."""
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    images = rng.integers(0, 50, size=(n, size, size))
    band = max(2, (size - 4) // classes)
    for i, k in enumerate(labels):
        top = 2 + k * band
        images[i, top:top + band - 1, 2:size - 2] = rng.integers(200, 256, size=(band - 1, size - 4))
    return images.astype(np.uint8), labels.astype(np.uint8)


def make_idx(a):
    os.makedirs(a.dir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for prefix, n in (("train", a.train), ("t10k", a.test)):
        images, labels = pattern_images(n, a.classes, a.size, rng)
        write(os.path.join(a.dir, prefix + "-images-idx3-ubyte"), idx_bytes(images, 3), a.gzip)
        write(os.path.join(a.dir, prefix + "-labels-idx1-ubyte"), idx_bytes(labels, 1), a.gzip)


def png_bytes(pixels):
    """A minimal PNG writer (8-bit gray or RGB), so the tests need nothing beyond numpy."""
    h, w = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else 2
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def make_images(a):
    os.makedirs(a.dir, exist_ok=True)
    rng = np.random.default_rng(1)
    gray, _ = pattern_images(1, 4, 28, rng)
    gray = gray[0]
    rgb = np.stack([gray, gray // 2, 255 - gray], axis=-1).astype(np.uint8)
    with open(os.path.join(a.dir, "gray.png"), "wb") as f:
        f.write(png_bytes(gray))
    with open(os.path.join(a.dir, "rgb.png"), "wb") as f:
        f.write(png_bytes(rgb))
    with open(os.path.join(a.dir, "gray.pgm"), "wb") as f:
        f.write(b"P5\n28 28\n255\n" + gray.tobytes())
    with open(os.path.join(a.dir, "big.pgm"), "wb") as f:
        f.write(b"P5\n32 32\n255\n" + np.zeros((32, 32), np.uint8).tobytes())


def make_broken(a):
    os.makedirs(a.dir, exist_ok=True)
    rng = np.random.default_rng(2)
    for prefix in ("train", "t10k"):
        images, labels = pattern_images(8, 2, 28, rng)
        data = idx_bytes(images, 3)
        data = data[:4] + struct.pack(">I", 1000) + data[8:]  # header claims 1000 images, file holds 8
        write(os.path.join(a.dir, prefix + "-images-idx3-ubyte"), data, False)
        write(os.path.join(a.dir, prefix + "-labels-idx1-ubyte"), idx_bytes(labels, 1), False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["idx", "images", "broken"])
    p.add_argument("dir")
    p.add_argument("--train", type=int, default=128)
    p.add_argument("--test", type=int, default=64)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    {"idx": make_idx, "images": make_images, "broken": make_broken}[a.what](a)


if __name__ == "__main__":
    main()
