"""Tiny data for the deitctl tests: an IDX data set with a learnable pattern, image files, a broken set.

usage: make_tiny_data.py idx DIR --train N --test N --classes K [--size S] [--gzip] [--seed N]
       make_tiny_data.py images DIR   (gray.png, rgb.png, gray.pgm at 28x28, big.pgm at 32x32)
       make_tiny_data.py broken DIR   (an IDX pair whose image header claims more images than it has)
       make_tiny_data.py photos DIR   (DIR/photos/{train,val}/<class>/ from scikit-image's photographs, and
                                       DIR/full/: whole photographs; needs PIL and python3-skimage)
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


SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = {"rocket": "rocket.jpg", "cat": "chelsea.png", "coffee": "coffee.png", "astronaut": "astronaut.png"}


def make_photos(a):
    """photos/{train,val}/<class>/: 10 training and 4 validation images a class, random crops of 40-300 px
    of one photograph, as .jpg .png .bmp and .JPEG in turn, every fifth one gray; a notes.txt that is no
    image.  full/: whole photographs."""
    import random
    from PIL import Image
    rng = random.Random(0)
    exts = [".jpg", ".png", ".bmp", ".JPEG"]
    # Not in sorted order: the labels come from the sorted folder names, not from the order of creation.
    for cls, name in PHOTOS.items():
        src = Image.open(os.path.join(SKIMAGE_DATA, name)).convert("RGB")
        for split, n in (("train", 10), ("val", 4)):
            d = os.path.join(a.dir, "photos", split, cls)
            os.makedirs(d)
            for i in range(n):
                w, h = rng.randint(40, 300), rng.randint(40, 300)
                x, y = rng.randint(0, src.width - w), rng.randint(0, src.height - h)
                im = src.crop((x, y, x + w, y + h))
                if i % 5 == 4:
                    im = im.convert("L")
                ext = exts[i % len(exts)]
                im.save(os.path.join(d, f"{i:02d}{ext}"), **({"quality": 90} if ext.lower() in (".jpg", ".jpeg") else {}))
    open(os.path.join(a.dir, "photos/train/cat/notes.txt"), "w").write("not an image\n")
    full = os.path.join(a.dir, "full")
    os.makedirs(full)
    Image.open(os.path.join(SKIMAGE_DATA, "coffee.png")).convert("RGB").save(os.path.join(full, "coffee.jpg"), quality=90)  # 600 x 400
    Image.open(os.path.join(SKIMAGE_DATA, "astronaut.png")).save(os.path.join(full, "astronaut.png"))  # 512 x 512
    Image.open(os.path.join(SKIMAGE_DATA, "rocket.jpg")).save(os.path.join(full, "rocket.bmp"))  # 640 x 427


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["idx", "images", "broken", "photos"])
    p.add_argument("dir")
    p.add_argument("--train", type=int, default=128)
    p.add_argument("--test", type=int, default=64)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    {"idx": make_idx, "images": make_images, "broken": make_broken, "photos": make_photos}[a.what](a)


if __name__ == "__main__":
    main()
