"""The Python side of bench/image_folder.sh (see there for what is measured and how to run it).

    python3 bench/image_folder_torchvision.py make DIR [--classes 10] [--per-class 200] [--seed 0]
        An ImageFolder of real photographs: DIR/<class>/NNNN.jpg, one class per photograph of Debian's
        scikit-image data (python3-skimage), each image a random crop of 250-600 px per side of it,
        saved as JPEG quality 90 with PIL.  Deterministic for a seed; DIR/.stamp records the settings,
        and a DIR whose stamp matches is kept as it is (so reruns reuse it).
    python3 bench/image_folder_torchvision.py load DIR [--workers 2] [--batch-size 64] [--collect uint8]
        torchvision's ImageFolder(DIR, Compose([Resize(256, bicubic), CenterCrop(224), ToTensor()]))
        iterated once through DataLoader(batch_size, num_workers), every batch copied into one
        preallocated tensor (uint8: ToTensor's floats x 255, rounded, as libdeit stores them; float:
        the floats as they are).  Prints one JSON line: image count, the seconds from building the
        ImageFolder to the last batch copied (worker start included; `import torch` is not, the
        process's wall time from /usr/bin/time is) and the mean pixel (0-255) of a sample.
"""

import argparse
import json
import os
import sys
import time

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
# Photographs (no drawings, charts or synthetic patterns), largest first in spirit; gray ones stay gray.
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
          "retina.jpg", "motorcycle_left.png", "ihc.png", "camera.png", "brick.png",
          "coins.png", "grass.png", "gravel.png", "moon.png", "cell.png"]
SKIP_EXIT = 77


def make(args):
    from PIL import Image
    import random

    if args.classes > len(PHOTOS):
        sys.exit(f"at most {len(PHOTOS)} classes (one per photograph)")
    stamp = json.dumps({"classes": args.classes, "per_class": args.per_class, "seed": args.seed,
                        "sizes": [250, 600], "quality": 90, "version": 1})
    stamp_path = os.path.join(args.dir, ".stamp")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        return
    missing = [p for p in PHOTOS[:args.classes] if not os.path.exists(os.path.join(SKIMAGE_DATA, p))]
    if missing:
        print(f"no {', '.join(missing)} in {SKIMAGE_DATA} (apt-get install python3-skimage); skipped",
              file=sys.stderr)
        sys.exit(SKIP_EXIT)
    if os.path.exists(stamp_path):
        os.remove(stamp_path)
    rng = random.Random(args.seed)
    for name in PHOTOS[:args.classes]:
        src = Image.open(os.path.join(SKIMAGE_DATA, name))
        src = src.convert("L" if src.mode in ("L", "I", "I;16") else "RGB")
        # Crops of up to 600 px need a source at least that large: small photographs are enlarged first.
        scale = max(1.0, 640 / min(src.size))
        if scale > 1:
            src = src.resize((round(src.width * scale), round(src.height * scale)), Image.BICUBIC)
        out_dir = os.path.join(args.dir, os.path.splitext(name)[0])
        os.makedirs(out_dir, exist_ok=True)
        for i in range(args.per_class):
            w, h = rng.randint(250, 600), rng.randint(250, 600)
            x, y = rng.randint(0, src.width - w), rng.randint(0, src.height - h)
            src.crop((x, y, x + w, y + h)).save(os.path.join(out_dir, f"{i:04d}.jpg"), quality=90)
    with open(stamp_path, "w") as f:
        f.write(stamp)


def load(args):
    try:
        import torch
        import torchvision
        from torchvision import datasets, transforms
    except ImportError as e:
        print(f"no torch/torchvision ({e}); skipped", file=sys.stderr)
        sys.exit(SKIP_EXIT)
    torch.set_num_threads(1)  # the main process only copies; the workers decode
    t0 = time.perf_counter()
    ds = datasets.ImageFolder(args.dir, transform=transforms.Compose([
        transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(224),
        transforms.ToTensor()]))
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers, shuffle=False)
    dtype = torch.uint8 if args.collect == "uint8" else torch.float32
    out = torch.empty((len(ds), 3, 224, 224), dtype=dtype)
    labels = torch.empty(len(ds), dtype=torch.int64)
    pos = 0
    for x, y in loader:
        n = x.shape[0]
        if dtype == torch.uint8:
            out[pos:pos + n] = x.mul_(255).round_().to(torch.uint8)
        else:
            out[pos:pos + n] = x
        labels[pos:pos + n] = y
        pos += n
    seconds = time.perf_counter() - t0
    assert pos == len(ds), (pos, len(ds))
    # Mean pixel of every 50th image, a sanity check that costs nothing (summing all 300 M values takes
    # seconds on one thread, a whole-tensor conversion would inflate the peak RSS).
    mean = float(out[::50].double().mean()) * (255 if dtype == torch.float32 else 1)
    print(json.dumps({"count": pos, "classes": len(ds.classes), "seconds": seconds, "collect": args.collect,
                      "workers": args.workers, "batch_size": args.batch_size, "mean_pixel_0_255": mean,
                      "torch": torch.__version__, "torchvision": torchvision.__version__}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir")
    m.add_argument("--classes", type=int, default=10)
    m.add_argument("--per-class", type=int, default=200)
    m.add_argument("--seed", type=int, default=0)
    l = sub.add_parser("load")
    l.add_argument("dir")
    l.add_argument("--workers", type=int, default=2)
    l.add_argument("--batch-size", type=int, default=64)
    l.add_argument("--collect", choices=["uint8", "float"], default="uint8")
    args = p.parse_args()
    make(args) if args.cmd == "make" else load(args)


if __name__ == "__main__":
    main()
