#!/usr/bin/env python3
"""The reference notebook's pipeline (../shared/seed/000_*.txt), timed phase by phase.

Eager PyTorch as the notebook runs it: a map-style data set that hands out one PIL image at a time
(as torchvision's MNIST does), per-item ToTensor + channel repeat to 3, a DataLoader with batch 64,
shuffle and drop_last; the ResNet-50 teacher's forward at every distillation step.

Phases (each reports steady-state images/s: the first 3 steps are warm-up and not timed):
  teacher  head-only fine-tune of the ResNet-50 teacher (train mode, only fc trainable, Adam 1e-3)
  distill  distillation (teacher forward under no_grad in eval mode + the student's step, soft KD
           T=2, alpha 0.5, Adam 1e-3)
  eval     the student's evaluation (eval mode, no_grad, the notebook's batch size 64, drop_last)

    /usr/bin/python3 bench/reference_pipeline.py --threads 2 --json out.json
    python3 bench/reference_pipeline.py --device cuda --phase distill --steps 50
Exits 77 (skipped) when the data set or the CUDA device is absent.
"""

import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

import benchlib as bl

try:  # the notebook's per-item path; a machine without torchvision or PIL gets the same math
    from PIL import Image
    from torchvision import transforms

    PER_ITEM = "PIL image + torchvision ToTensor + repeat(3, 1, 1), DataLoader num_workers 0"
except ImportError:
    Image = transforms = None
    PER_ITEM = "numpy image + ToTensor's arithmetic + repeat(3, 1, 1) (no torchvision/PIL), " \
        "DataLoader num_workers 0"


def _to_tensor(img):
    """What ToTensor does to a uint8 HxW image: [1, H, W] float in [0, 1]."""
    return torch.from_numpy(np.array(img, copy=True)).unsqueeze(0).contiguous().to(torch.float32).div(255)


class IdxImages(Dataset):
    """Like torchvision.datasets.MNIST: uint8 images in memory, a PIL image + transform per item."""

    def __init__(self, images, labels, transform):
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(labels)
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = self.images[i].numpy()
        if Image is not None:
            img = Image.fromarray(img, mode="L")
        return self.transform(img), int(self.labels[i])


def make_loader(images, labels, shuffle, seed):
    if transforms is not None:
        tfm = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: t.repeat(3, 1, 1))])
    else:

        def tfm(img):
            return _to_tensor(img).repeat(3, 1, 1)

    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(IdxImages(images, labels, tfm), batch_size=bl.BATCH_SIZE, shuffle=shuffle,
                      drop_last=True, generator=g)


def timed_loop(loader, step, max_steps, device):
    """Runs step(inputs, labels) over the loader (data loading included in the time) and returns
    images/s over the steps after the warm-up ones."""
    stamps = []
    steps = 0
    t0 = time.perf_counter()
    for inputs, labels in loader:
        if max_steps and steps >= max_steps:
            break
        step(inputs.to(device), labels.to(device))
        bl.sync(device)
        stamps.append(time.perf_counter())
        steps += 1
    if steps == 0:
        sys.exit("no full batch: give more images")
    warmup = bl.WARMUP_STEPS if steps > bl.WARMUP_STEPS else 0
    start = stamps[warmup - 1] if warmup else t0
    seconds = stamps[-1] - start
    images = (steps - warmup) * bl.BATCH_SIZE
    return {"images": images, "seconds": round(seconds, 4), "images_per_sec": round(images / seconds, 2),
            "steps": steps, "warmup_steps": warmup, "batch_size": bl.BATCH_SIZE}


def phase_teacher(args, device, teacher):
    images, labels = bl.load_split(args.data, True, args.teacher_images)
    bl.freeze_all_but_fc(teacher)
    opt = torch.optim.Adam(teacher.fc.parameters(), lr=bl.LR)
    criterion = nn.CrossEntropyLoss()
    teacher.train()
    losses = []

    def step(x, y):
        opt.zero_grad()
        loss = criterion(teacher(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())  # the notebook's running_loss += loss.item()

    r = timed_loop(make_loader(images, labels, True, args.seed), step, args.steps, device)
    r["mean_loss"] = round(float(np.mean(losses)), 4)
    return r


def phase_distill(args, device, teacher, student):
    images, labels = bl.load_split(args.data, True, args.distill_images)
    bl.freeze_all_but_fc(teacher)
    teacher.eval()  # the notebook evaluates the teacher (eval mode) before distilling
    opt = torch.optim.Adam(student.parameters(), lr=bl.LR)
    student.train()
    losses = []

    def step(x, y):
        with torch.no_grad():
            t = teacher(x)
        cls, dist = student(x)
        loss = bl.distillation_loss(cls, dist, t, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())

    r = timed_loop(make_loader(images, labels, True, args.seed), step, args.steps, device)
    r["mean_loss"] = round(float(np.mean(losses)), 4)
    return r


def phase_eval(args, device, student):
    images, labels = bl.load_split(args.data, False, args.eval_images)
    student.eval()
    tally = {"correct": 0, "total": 0}

    def step(x, y):
        with torch.no_grad():
            cls, dist = student(x)
            pred = ((cls + dist) / 2).argmax(dim=1)
        tally["correct"] += (pred == y).sum().item()
        tally["total"] += y.size(0)

    r = timed_loop(make_loader(images, labels, False, args.seed), step, 0, device)
    r["accuracy"] = round(tally["correct"] / tally["total"], 4)
    return r


def main():
    p = bl.common_args(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=0,
                   help="stop the teacher and distillation phases after K steps (0 = one pass)")
    args = p.parse_args()
    bl.check_images(args)
    device = bl.setup(args.threads, args.device)
    torch.manual_seed(args.seed)
    # Only the models a phase needs, so that each phase's peak memory is its own.
    teacher = bl.make_teacher().to(device) if args.phase != "eval" else None
    student = bl.SeedStudent().to(device) if args.phase != "teacher" else None
    phases = {}
    # One process per phase gives per-phase peak memory; "all" chains them as the notebook does.
    if args.phase in ("teacher", "all"):
        phases["teacher"] = phase_teacher(args, device, teacher)
    if args.phase in ("distill", "all"):
        phases["distill"] = phase_distill(args, device, teacher, student)
    if args.phase in ("eval", "all"):
        phases["eval"] = phase_eval(args, device, student)
    bl.write_result(args, "reference", device, phases,
                    {"per_item": PER_ITEM, "torchvision_resnet50": bl.have_torchvision()})


if __name__ == "__main__":
    main()
