#!/usr/bin/env python3
"""A PyTorch baseline that does what libdeit does algorithmically, with the reference's models and loss.

  - the data set is one uint8 tensor on the device; a batch is a permutation slice + index_select,
    scaled by 1/255 and expanded to 3 channels (no per-item work, no DataLoader);
  - distillation computes the frozen teacher's logits once (eval mode, no_grad, batches of 256),
    then trains the same student with the same loss against the cached logits;
    images/s = images trained / (logits time + epochs time), as for libdeit;
  - evaluation in batches of 256 (libdeit's evaluation batch).
Times cover whole epochs, first steps included, as libdeit's progress reports do (the reference
skips 3 warm-up steps instead, which favours it slightly).

    /usr/bin/python3 bench/pytorch_inmemory.py --threads 2 --epochs 1 --json out.json
Exits 77 (skipped) when the data set or the CUDA device is absent.
"""

import time

import numpy as np
import torch
import torch.nn as nn

import benchlib as bl

EVAL_BATCH = 256
TEACHER_BATCH = 256


class DeviceData:
    """Images as one uint8 [N, 1, 28, 28] tensor and labels as int64, both on the device."""

    def __init__(self, images, labels, device):
        self.images = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).to(device)
        self.labels = torch.from_numpy(labels).to(device)
        self.count = len(labels)

    def batch(self, idx):
        x = self.images.index_select(0, idx).to(torch.float32).div_(255)
        return x.expand(-1, bl.CHANNELS, -1, -1), self.labels.index_select(0, idx)


def run_epochs(data, epochs, step, device, seed):
    """step(idx) over shuffled full batches of indices; returns (images, seconds, steady-state images/s
    after the warm-up steps)."""
    g = torch.Generator()
    g.manual_seed(seed)
    steps = data.count // bl.BATCH_SIZE
    stamps = []
    bl.sync(device)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(data.count, generator=g).to(device)
        for s in range(steps):
            step(perm.narrow(0, s * bl.BATCH_SIZE, bl.BATCH_SIZE))
            stamps.append(time.perf_counter())
    bl.sync(device)
    seconds = time.perf_counter() - t0
    images = steps * epochs * bl.BATCH_SIZE
    warm = bl.WARMUP_STEPS if len(stamps) > bl.WARMUP_STEPS else 0
    steady = (stamps[-1] - stamps[warm - 1]) if warm else seconds
    steady_images = (len(stamps) - warm) * bl.BATCH_SIZE
    return images, seconds, steady_images / steady


def phase_teacher(args, device, teacher):
    images, labels = bl.load_split(args.data, True, args.teacher_images)
    data = DeviceData(images, labels, device)
    bl.freeze_all_but_fc(teacher)
    opt = torch.optim.Adam(teacher.fc.parameters(), lr=bl.LR)
    criterion = nn.CrossEntropyLoss()
    teacher.train()
    losses = []

    def step(idx):
        x, y = data.batch(idx)
        opt.zero_grad()
        loss = criterion(teacher(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())  # one host sync per step, as libdeit

    n, secs, steady = run_epochs(data, 1, step, device, args.seed)
    return {"images": n, "seconds": round(secs, 4), "images_per_sec": round(n / secs, 2),
            "steady_images_per_sec": round(steady, 2), "epochs": 1, "batch_size": bl.BATCH_SIZE,
            "mean_loss": round(float(np.mean(losses)), 4)}


def teacher_logits(teacher, data, device):
    teacher.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, data.count, TEACHER_BATCH):
            idx = torch.arange(start, min(start + TEACHER_BATCH, data.count), device=device)
            parts.append(teacher(data.batch(idx)[0]))
    return torch.cat(parts)


def phase_distill(args, device, teacher, student):
    images, labels = bl.load_split(args.data, True, args.distill_images)
    data = DeviceData(images, labels, device)
    bl.freeze_all_but_fc(teacher)
    bl.sync(device)
    t0 = time.perf_counter()
    cached = teacher_logits(teacher, data, device)
    bl.sync(device)
    logits_seconds = time.perf_counter() - t0

    opt = torch.optim.Adam(student.parameters(), lr=bl.LR)
    student.train()
    losses = []

    def step(idx):
        x, y = data.batch(idx)
        t = cached.index_select(0, idx)
        cls, dist = student(x)
        loss = bl.distillation_loss(cls, dist, t, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())

    n, epoch_secs, steady = run_epochs(data, args.epochs, step, device, args.seed)
    total = logits_seconds + epoch_secs
    return {"images": n, "seconds": round(total, 4), "images_per_sec": round(n / total, 2),
            "logits_seconds": round(logits_seconds, 4), "epochs_seconds": round(epoch_secs, 4),
            "epoch_images_per_sec": round(n / epoch_secs, 2), "steady_images_per_sec": round(steady, 2),
            "epochs": args.epochs, "batch_size": bl.BATCH_SIZE, "mean_loss": round(float(np.mean(losses)), 4)}


def phase_eval(args, device, student):
    images, labels = bl.load_split(args.data, False, args.eval_images)
    data = DeviceData(images, labels, device)
    student.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    bl.sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        for start in range(0, data.count, EVAL_BATCH):
            idx = torch.arange(start, min(start + EVAL_BATCH, data.count), device=device)
            x, y = data.batch(idx)
            cls, dist = student(x)
            correct += ((cls + dist) / 2).argmax(dim=1).eq(y).sum()
    accuracy = correct.item() / data.count  # the one host sync
    secs = time.perf_counter() - t0
    return {"images": data.count, "seconds": round(secs, 4), "images_per_sec": round(data.count / secs, 2),
            "batch_size": EVAL_BATCH, "accuracy": round(accuracy, 4)}


def main():
    p = bl.common_args(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1, help="distillation epochs over --distill-images")
    args = p.parse_args()
    bl.check_images(args)
    if args.epochs < 1:
        raise SystemExit(f"--epochs = {args.epochs}: at least 1")
    device = bl.setup(args.threads, args.device)
    torch.manual_seed(args.seed)
    teacher = bl.make_teacher().to(device) if args.phase != "eval" else None
    student = bl.SeedStudent().to(device) if args.phase != "teacher" else None
    phases = {}
    if args.phase in ("teacher", "all"):
        phases["teacher"] = phase_teacher(args, device, teacher)
    if args.phase in ("distill", "all"):
        phases["distill"] = phase_distill(args, device, teacher, student)
    if args.phase in ("eval", "all"):
        phases["eval"] = phase_eval(args, device, student)
    bl.write_result(args, "pytorch_inmemory", device, phases)


if __name__ == "__main__":
    main()
