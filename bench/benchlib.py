"""Shared pieces of the PyTorch benchmarks (reference_pipeline.py, pytorch_inmemory.py).

The student, its loss and the data reader follow the reference notebook
(../shared/seed/000_*.txt); nothing here downloads anything.

Run directly for the machine numbers that compare.sh prints beside the throughputs:
    python3 bench/benchlib.py matmul [--threads N] [--device cpu|cuda]   # GFLOP/s of a 2048x2048 matmul
    python3 bench/benchlib.py flops                                        # FLOPs per training image
"""

import argparse
import gzip
import json
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
SKIP_EXIT = 77  # what ctest and compare.sh read as "skipped"

# The notebook's hyperparameters.
BATCH_SIZE = 64
IMG_SIZE = 28
PATCH_SIZE = 7
CHANNELS = 3
CLASSES = 10
EMBED_DIM = 32
HEADS = 4
DEPTH = 4
MLP_DIM = 2048  # nn.TransformerEncoderLayer's default dim_feedforward
LR = 1e-3
TEMPERATURE = 2.0
ALPHA = 0.5
WARMUP_STEPS = 3  # steps left out of steady-state throughput


# --------------------------------------------------------------------------- data


def read_idx(path):
    """An IDX file (.gz or raw) as a numpy array; the header is checked against the file size."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, file has {len(body)} data bytes")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims).copy()  # writable, for torch.from_numpy


def load_split(data_dir, train, limit=None):
    """(images uint8 [N, 28, 28], labels int64 [N]): the first `limit` images of a split."""
    prefix = "train" if train else "t10k"
    images_path = os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz")
    labels_path = os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz")
    for p in (images_path, labels_path):
        if not os.path.exists(p):
            print(f"{p} not found (apt-get install dataset-fashion-mnist); skipped", file=sys.stderr)
            sys.exit(SKIP_EXIT)
    images = read_idx(images_path)
    labels = read_idx(labels_path).astype(np.int64)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


# --------------------------------------------------------------------------- models


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(CHANNELS, EMBED_DIM, kernel_size=PATCH_SIZE, stride=PATCH_SIZE)
        self.n_patches = (IMG_SIZE // PATCH_SIZE) ** 2

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class SeedStudent(nn.Module):
    """The notebook's DeiT: [CLS] + [DIST] + 16 patches, 4 post-norm encoder layers, two heads."""

    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, EMBED_DIM))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, EMBED_DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.n_patches + 2, EMBED_DIM))
        layer = nn.TransformerEncoderLayer(d_model=EMBED_DIM, nhead=HEADS, batch_first=True)
        self.transformer_blocks = nn.TransformerEncoder(layer, num_layers=DEPTH)
        self.layernorm = nn.LayerNorm(EMBED_DIM)
        self.head_cls = nn.Linear(EMBED_DIM, CLASSES)
        self.head_dist = nn.Linear(EMBED_DIM, CLASSES)

    def forward(self, x):
        b = x.shape[0]
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(b, -1, -1), self.dist_token.expand(b, -1, -1), x), dim=1)
        x = self.layernorm(self.transformer_blocks(x + self.pos_embed))
        return self.head_cls(x[:, 0]), self.head_dist(x[:, 1])


class _Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck (stride on the 3x3), for machines without torchvision."""

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class _ResNet50(nn.Module):
    """The same layers, shapes and initialisation as torchvision.models.resnet50()."""

    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin, layers = 64, []
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            seq = []
            for i in range(blocks):
                seq.append(_Bottleneck(cin, width, stride if i == 0 else 1))
                cin = width * 4
            layers.append(nn.Sequential(*seq))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def have_torchvision():
    import importlib.util

    return importlib.util.find_spec("torchvision") is not None


def make_teacher():
    """torchvision's ResNet-50 with its fc replaced by a 10-class one, as the notebook does; random
    weights (none can be downloaded here; throughput does not depend on the values).  Without
    torchvision (the GPU machine may lack it) the same network built here."""
    if not have_torchvision():
        return _ResNet50(CLASSES)
    import torchvision

    teacher = torchvision.models.resnet50()
    teacher.fc = nn.Linear(teacher.fc.in_features, CLASSES)
    return teacher


def freeze_all_but_fc(teacher):
    for p in teacher.parameters():
        p.requires_grad = False
    for p in teacher.fc.parameters():
        p.requires_grad = True


def distillation_loss(cls_logits, dist_logits, teacher_logits, labels):
    """alpha * KL(teacher || student) at T (x T^2, batchmean) + (1 - alpha) * CE: the notebook's loss."""
    ce = F.cross_entropy(cls_logits, labels)
    kd = F.kl_div(
        F.log_softmax(dist_logits / TEMPERATURE, dim=1),
        F.softmax(teacher_logits / TEMPERATURE, dim=1),
        reduction="batchmean",
    ) * (TEMPERATURE**2)
    return ALPHA * kd + (1 - ALPHA) * ce


# --------------------------------------------------------------------------- FLOPs


def student_flops_per_image(last_block_two_rows=False):
    """Multiply-adds x 2 of the seed student's forward for one image (matrix products only;
    LayerNorm, softmax, ReLU, dropout and the loss are left out).

    With S = 18 rows (CLS, DIST, 16 patches), D = 32, F = 2048, C = 10, P = 16 patches of 3x7x7:
      patch embed   2 * P * (3*7*7) * D
      per block     qkv 2*S*D*3D + scores 2*S*S*D + attn*V 2*S*S*D + proj 2*S*D*D + FFN 2 * 2*S*D*F
      heads         2 * (2*D*C)
    libdeit's last block needs only the CLS and DIST rows after attention (R = 2): keys and
    values for all S rows (2*S*D*2D), queries 2*R*D*D, scores and attn*V 2*R*S*D each,
    proj 2*R*D*D, FFN 2 * 2*R*D*F.  PyTorch computes all S rows in every block.
    A training step is counted as 3 forwards (forward + backward for inputs and weights).
    """
    s, d, f, c = IMG_SIZE // PATCH_SIZE * (IMG_SIZE // PATCH_SIZE) + 2, EMBED_DIM, MLP_DIM, CLASSES
    patches = s - 2
    patch_embed = 2 * patches * (CHANNELS * PATCH_SIZE * PATCH_SIZE) * d
    full_block = 2 * s * d * 3 * d + 2 * s * s * d + 2 * s * s * d + 2 * s * d * d + 2 * 2 * s * d * f
    r = 2
    last_block = (
        2 * s * d * 2 * d + 2 * r * d * d + 2 * r * s * d + 2 * r * s * d + 2 * r * d * d + 2 * 2 * r * d * f
    )
    heads = 2 * (2 * d * c)
    blocks = DEPTH * full_block if not last_block_two_rows else (DEPTH - 1) * full_block + last_block
    return patch_embed + blocks + heads


def student_train_flops_per_image(last_block_two_rows=False):
    return 3 * student_flops_per_image(last_block_two_rows)


# --------------------------------------------------------------------------- machine


def setup(threads, device):
    """Threads (0 = all cores) and the device; exits 77 when CUDA is asked for but absent."""
    torch.set_num_threads(threads if threads > 0 else (os.cpu_count() or 1))
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("--device cuda: this PyTorch has no CUDA device; skipped", file=sys.stderr)
        sys.exit(SKIP_EXIT)
    return torch.device(device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(device, n=2048, repeats=7):
    """Median rate of an n x n float32 matmul (2 n^3 FLOPs), after one warm-up product."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    torch.mm(a, b)
    sync(device)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        rates.append(2.0 * n**3 / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates)


def peak_rss_mib():
    """Peak resident set of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_device_mib(device):
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def common_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--phase", choices=["teacher", "distill", "eval", "all"], default="all")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = all cores)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--data", default=DATA_DIR, help="directory with the Fashion-MNIST IDX .gz files")
    p.add_argument("--teacher-images", type=int, default=1280,
                   help="head-only fine-tune: first N train images")
    p.add_argument("--distill-images", type=int, default=6400, help="distillation: first N train images")
    p.add_argument("--eval-images", type=int, default=10000, help="evaluation: first N test images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results to this file")
    return p


def check_images(args):
    for name in ("teacher_images", "distill_images"):
        if getattr(args, name) < BATCH_SIZE:
            flag = "--" + name.replace("_", "-")
            sys.exit(f"{flag} = {getattr(args, name)}: at least one batch ({BATCH_SIZE}) is needed")
    if args.eval_images < 1:
        sys.exit(f"--eval-images = {args.eval_images}: at least 1 is needed")


def write_result(args, implementation, device, phases, extra=None):
    """Print one line per phase and write the JSON file when asked."""
    result = {
        "implementation": implementation,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "phases": phases,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_device_mib": None if peak_device_mib(device) is None else round(peak_device_mib(device), 1),
    }
    if extra:
        result.update(extra)
    for name, ph in phases.items():
        print(f"{implementation} {name}: {ph['images_per_sec']:.1f} images/s "
              f"({ph['images']} images, {ph['seconds']:.2f} s)")
    print(f"{implementation}: peak RSS {result['peak_rss_mib']:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return result


def main():
    p = argparse.ArgumentParser(description="machine numbers for compare.sh")
    p.add_argument("what", choices=["matmul", "flops"])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    out = {}
    if args.what == "matmul":
        device = setup(args.threads, args.device)
        out = {"matmul_gflops": round(matmul_gflops(device), 2), "threads": torch.get_num_threads(),
               "device": str(device)}
    else:
        out = {
            "student_train_flops_pytorch": student_train_flops_per_image(False),
            "student_train_flops_libdeit": student_train_flops_per_image(True),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
