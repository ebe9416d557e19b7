"""Do layer-wise fine-tuning options help a pretrained DeiT student?  (Issue 18 asks for them "if
measurements show they help"; no pretrained weights exist on this project's machines, so this script makes
its own.)  A small-image DeiT (timm's VisionTransformerDistilled: 28 px, patch 4, width 64, depth 6, the
`small-image` preset's shape) is pretrained on Fashion-MNIST classes 0-4, then fine-tuned on classes 5-9
(new heads) from N training images, with: a new student (no pretraining), all weights at the full lr, the
backbone at 0.1 x lr, and the backbone frozen (heads only).  Accuracy on the test images of classes 5-9.

    third_party/venv-torch211/bin/python bench/finetune_layerwise.py [N ...]

PyTorch (torch 2.11, timm 1.0.31 from scripts/install-python-venv.sh), CPU; labels only on both heads (no
teacher), so that only the fine-tuning option differs.  Prints one line per (N, option)."""
import gzip
import math
import sys
import time

import numpy as np
import timm  # noqa: F401  (registers the models)
import torch
import torch.nn.functional as F
from timm.models.deit import VisionTransformerDistilled

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(f"{DATA}/{name}", "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def split(images, labels, classes):
    keep = np.isin(labels, classes)
    x = torch.from_numpy(images[keep].astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels[keep].astype(np.int64) - classes[0])
    return x, y


def model():
    return VisionTransformerDistilled(img_size=28, patch_size=4, in_chans=1, num_classes=5, embed_dim=64,
                                      depth=6, num_heads=4, mlp_ratio=2.0)


def train(m, x, y, epochs, lr, backbone_scale, seed, batch=64):
    torch.manual_seed(seed)
    heads = [p for n, p in m.named_parameters() if n.startswith("head")]
    backbone = [p for n, p in m.named_parameters() if not n.startswith("head")]
    groups = [{"params": heads, "lr": lr}]
    if backbone_scale > 0:
        groups.append({"params": backbone, "lr": lr * backbone_scale})
    else:
        for p in backbone:
            p.requires_grad_(False)
    opt = torch.optim.AdamW(groups, weight_decay=0.05)
    base = [g["lr"] for g in opt.param_groups]
    steps = epochs * math.ceil(len(x) / batch)
    step = 0
    m.train()
    m.set_distilled_training(True)  # both heads' logits in training (timm returns their mean otherwise)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx_ = order[i:i + batch]
            for g, b in zip(opt.param_groups, base):
                g["lr"] = b * 0.5 * (1 + math.cos(math.pi * step / steps))  # cosine, as libdeit's
            cls, dist = m(x[idx_])
            loss = 0.5 * F.cross_entropy(cls, y[idx_], label_smoothing=0.1) + 0.5 * F.cross_entropy(dist, y[idx_])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    return m


def accuracy(m, x, y):
    m.eval()
    with torch.no_grad():
        return sum((m(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item() for i in range(0, len(x), 500)) / len(x)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [500, 5000]
    torch.set_num_threads(2)
    tr_x, tr_y = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    te_x, te_y = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    src_x, src_y = split(tr_x, tr_y, [0, 1, 2, 3, 4])
    dst_x, dst_y = split(tr_x, tr_y, [5, 6, 7, 8, 9])
    test_x, test_y = split(te_x, te_y, [5, 6, 7, 8, 9])
    t = time.time()
    torch.manual_seed(0)
    pre = train(model(), src_x, src_y, epochs=4, lr=1e-3, backbone_scale=1.0, seed=0, batch=128)
    src_test = split(te_x, te_y, [0, 1, 2, 3, 4])
    print(f"pretrained on classes 0-4 ({len(src_x)} images, 4 epochs): {accuracy(pre, *src_test):.4f} "
          f"on their test images, {time.time() - t:.0f} s", flush=True)
    state = {k: v for k, v in pre.state_dict().items() if not k.startswith("head")}
    for n in sizes:
        g = torch.Generator().manual_seed(n)
        pick = torch.randperm(len(dst_x), generator=g)[:n]
        x, y = dst_x[pick], dst_y[pick]
        epochs = max(3, min(100, 60000 // n))  # ~60k images seen, as a budget
        for name, load, lr, scale in (("new student", False, 1e-3, 1.0), ("all weights, lr", True, 1e-3, 1.0),
                                      ("all weights, lr / 10", True, 1e-4, 1.0),
                                      ("backbone at 0.1 x lr", True, 1e-3, 0.1), ("backbone frozen", True, 1e-3, 0.0)):
            torch.manual_seed(1)
            m = model()
            if load:
                m.load_state_dict(state, strict=False)
            t = time.time()
            train(m, x, y, epochs, lr, scale, seed=2)
            print(f"N={n:5d} epochs {epochs:3d}  {name:22s} test accuracy {accuracy(m, test_x, test_y):.4f}"
                  f"  ({time.time() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
