"""The reference notebook's DeiT and its training, in PyTorch: the independent
reference of the conformance tests that train (test_student_seed.py,
test_training_options.py, test_torchscript.py) and of the loss test
(test_losses.py).

- NotebookDeiT, notebook_distillation_loss: the notebook's model and loss;
- reference_loss: the DeiT objective for soft, hard and none, with label
  smoothing, written with torch.nn.functional;
- cosine_lr: the cosine + warmup schedule, written out from its definition;
- SeedTask: a random notebook model exported as a libdeit `seed` student, one
  batch of images and a teacher; SeedTask.run trains it with the C driver and
  with reference_training (torch.optim) and returns both;
- check_*: the comparisons, with the tolerances they justify.
"""
import copy
import math
import os
import re
import sys
from collections import OrderedDict

import conformance_common as cc  # first: exits 77 without torch

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 10
N = 8  # images per batch
RTOL = 1e-5
# Gradients agree to this (relative to the tensor's largest), checked with SGD.  Float32 sums over the
# rows of a batch in another order (libdeit adds fc1's bias after the product) differ by ~1e-6.
GRAD_RTOL = 5e-6
ADAM_EPS = 1e-8  # libdeit and torch.optim's default


class NotebookDeiT(nn.Module):
    """The notebook's DeiT (section 4), with its constants as arguments."""

    def __init__(self, classes=CLASSES, embed_dim=32, heads=4, layers=4, img=28, patch=7, channels=3, dropout=0.1):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(channels, embed_dim, kernel_size=patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (img // patch) ** 2 + 2, embed_dim))
        layer = nn.TransformerEncoderLayer(d_model=embed_dim, nhead=heads, batch_first=True, dropout=dropout)
        self.transformer_blocks = nn.TransformerEncoder(layer, num_layers=layers)
        self.layernorm = nn.LayerNorm(embed_dim)
        self.head_cls = nn.Linear(embed_dim, classes)
        self.head_dist = nn.Linear(embed_dim, classes)

    def forward(self, x):
        B = x.shape[0]
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(B, -1, -1), self.dist_token.expand(B, -1, -1), x), dim=1)
        x = self.layernorm(self.transformer_blocks(x + self.pos_embed))
        return self.head_cls(x[:, 0]), self.head_dist(x[:, 1])


def notebook_distillation_loss(cls_logits, dist_logits, teacher_logits, labels, alpha=0.5, temperature=2.0):
    """The notebook's distillation_loss (section 5)."""
    loss_ce = F.cross_entropy(cls_logits, labels)
    distillation = F.kl_div(F.log_softmax(dist_logits / temperature, dim=1),
                            F.softmax(teacher_logits / temperature, dim=1), reduction="batchmean") * temperature**2
    return alpha * distillation + (1 - alpha) * loss_ce, loss_ce, distillation


def reference_loss(cls, dist, teacher, labels, kind, alpha=0.5, T=2.0, smoothing=0.0):
    """The DeiT objective as libdeit documents it: (total, cls, dist).  Label
    smoothing applies to the class head's CE, and to the dist head's CE only
    for "none" (its target is the labels); never to the hard target."""
    loss_cls = F.cross_entropy(cls, labels, label_smoothing=smoothing)
    if kind == "soft":  # the notebook's distillation term
        loss_dist = notebook_distillation_loss(cls, dist, teacher, labels, alpha, T)[2]
    elif kind == "hard":  # DeiT: CE against the teacher's argmax, no smoothing
        loss_dist = F.cross_entropy(dist, teacher.argmax(dim=1))
    elif kind == "none":  # libdeit's "none": the distillation head learns the labels too
        loss_dist = F.cross_entropy(dist, labels, label_smoothing=smoothing)
    else:
        raise ValueError(kind)
    return alpha * loss_dist + (1 - alpha) * loss_cls, loss_cls, loss_dist


def cosine_lr(lr, step, warmup_steps, total_steps):
    """DEIT_SCHEDULE_COSINE at 0-based `step`: lr * (step + 1) / warmup_steps
    during the warmup, then half a cosine period from lr down towards 0 over
    the remaining steps."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * lr * (1.0 + math.cos(math.pi * t))


def schedule_lrs(lr, epochs, schedule="constant", warmup=0):
    """The lr of every step of a run of `epochs` one-step epochs (so the
    warmup in epochs is the warmup in steps)."""
    if schedule == "constant":
        return [lr] * epochs
    return [cosine_lr(lr, k, warmup, epochs) for k in range(epochs)]


# Notebook name -> libdeit (timm) name.
_RENAMES = [(r"^transformer_blocks\.layers\.(\d+)\.", r"blocks.\1."),
            (r"self_attn\.in_proj_weight$", "attn.qkv.weight"), (r"self_attn\.in_proj_bias$", "attn.qkv.bias"),
            (r"self_attn\.out_proj\.", "attn.proj."), (r"\.linear1\.", ".mlp.fc1."), (r"\.linear2\.", ".mlp.fc2."),
            (r"^layernorm\.", "norm."), (r"^head_cls\.", "head.")]


def libdeit_name(name):
    for pattern, repl in _RENAMES:
        name = re.sub(pattern, repl, name)
    return name


def libdeit_state(model):
    return OrderedDict((libdeit_name(k), v.detach().clone()) for k, v in model.state_dict().items())


def randomize(model, seed):
    """Non-trivial values everywhere: tokens and positions (zero in the notebook),
    LayerNorm weights and biases, attention biases."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("token") or name == "pos_embed":
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1 and "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model


def export_student(test, model, dropout, path, dir):
    """Writes `model` as a libdeit checkpoint: names and metadata from a
    student that libdeit saved itself (dropout `dropout`), values from the
    PyTorch model.  Returns libdeit's tensor names in file order."""
    template = os.path.join(dir, f"template-{dropout}.safetensors")
    if not os.path.exists(template):
        cc.run_driver("student-init", "seed", CLASSES, 1, dropout, template)
    names, metadata = cc.load_safetensors(template)
    ours = libdeit_state(model)
    test.assertEqual(sorted(ours), sorted(names), "the notebook model and libdeit name different tensors")
    for k, v in names.items():
        test.assertEqual(tuple(ours[k].shape), tuple(v.shape), k)
    cc.save_safetensors(path, OrderedDict((k, ours[k]) for k in names), metadata)
    return list(names)


def reference_training(model, x, labels, teacher_logits, kind, optim, lrs, alpha=0.5, T=2.0, smoothing=0.0, wd=0.0):
    """deit_distill of the one batch (x, labels) for len(lrs) steps, in
    PyTorch: train mode, step k with learning rate lrs[k], torch.optim.Adam /
    AdamW / SGD (no momentum) with weight_decay `wd`.  Trains `model` in place;
    returns per step {"loss", "cls", "dist", "grads": libdeit name -> grad}.
    (libdeit takes the batch's rows in the epoch's random order; the losses
    are means over the rows, so that changes only float rounding.)"""
    model.train()
    params = list(model.parameters())
    if optim == "adam":
        opt = torch.optim.Adam(params, lr=lrs[0], weight_decay=wd)
    elif optim == "adamw":
        opt = torch.optim.AdamW(params, lr=lrs[0], weight_decay=wd)
    elif optim == "sgd":
        opt = torch.optim.SGD(params, lr=lrs[0], weight_decay=wd)
    else:
        raise ValueError(optim)
    steps = []
    for lr in lrs:
        for group in opt.param_groups:
            group["lr"] = lr
        cls, dist = model(x)
        loss, loss_cls, loss_dist = reference_loss(cls, dist, teacher_logits, labels, kind, alpha, T, smoothing)
        opt.zero_grad()
        loss.backward()
        steps.append({"loss": loss.item(), "cls": loss_cls.item(), "dist": loss_dist.item(),
                      "grads": {libdeit_name(k): p.grad.detach().clone() for k, p in model.named_parameters()}})
        opt.step()
    return steps


class Run:
    """One training by libdeit (the driver) and by reference_training from the
    same start: `epochs` (the driver's per-epoch lines as dicts), `got` and
    `before` (libdeit's weights after and before), `steps` and `want` (the
    reference's steps and weights after), `lrs` (the schedule's lr per step)."""


class SeedTask:
    """The notebook's model with random weights (dropout 0) saved as a libdeit
    `seed` student, one batch of N random images and, with a teacher, labels
    that differ from the teacher's argmax on every row (so that a hard
    distillation against the labels instead of the teacher shows).

    teacher: a callable giving the teacher's logits in PyTorch (None for no
    teacher); teacher_spec: the same teacher as the driver's TEACHER."""

    def __init__(self, test, dir, teacher=None, teacher_spec="none", seed=10):
        self.dir, self.teacher_spec = dir, teacher_spec
        torch.manual_seed(seed)
        model = randomize(NotebookDeiT(dropout=0.0), seed + 1)
        self.state = copy.deepcopy(model.state_dict())
        self.start = os.path.join(dir, "task-start.safetensors")
        export_student(test, model, 0, self.start, dir)
        g = torch.Generator().manual_seed(seed + 2)
        self.x = torch.rand(N, 3, 28, 28, generator=g)
        self.teacher_logits = None
        if teacher is not None:
            with torch.no_grad():
                self.teacher_logits = teacher(self.x)
            self.labels = (self.teacher_logits.argmax(1) + torch.randint(1, CLASSES, (N,), generator=g)) % CLASSES
        else:
            self.labels = torch.randint(0, CLASSES, (N,), generator=g)
        self.x_path, self.labels_path = os.path.join(dir, "task-x.f32"), os.path.join(dir, "task-labels.i64")
        cc.write_f32(self.x_path, self.x)
        cc.write_i64(self.labels_path, self.labels)

    def model(self):
        model = NotebookDeiT(dropout=0.0)
        model.load_state_dict(self.state)
        return model

    def run(self, kind, optim, lr, alpha=0.5, T=2.0, epochs=1, wd=0.0, smoothing=0.0, schedule="constant",
            warmup=0):
        """Trains with the driver and with the reference; see Run."""
        r = Run()
        tag = f"{kind}-{optim}-{lr:g}-{epochs}-{wd:g}-{smoothing:g}-{schedule}-{warmup}"
        after = os.path.join(self.dir, f"task-after-{tag}.safetensors")
        teacher_spec = self.teacher_spec if kind != "none" else "none"
        out = cc.run_driver("distill", self.start, teacher_spec, self.x_path, self.labels_path, N, kind, alpha,
                            T, optim, lr, after, f"epochs={epochs}", f"wd={wd!r}", f"smoothing={smoothing!r}",
                            f"schedule={schedule}", f"warmup={warmup}")
        r.epochs = parse_distill_output(out)
        r.got, _ = cc.load_safetensors(after)
        r.before, _ = cc.load_safetensors(self.start)
        r.lrs = schedule_lrs(lr, epochs, schedule, warmup)
        model = self.model()
        r.steps = reference_training(model, self.x, self.labels, self.teacher_logits, kind, optim, r.lrs, alpha, T,
                                     smoothing, wd)
        r.want = libdeit_state(model)
        return r

    def reference(self, kind, optim, lrs, **kwargs):
        """Only the reference's weights after training with `lrs`."""
        model = self.model()
        reference_training(model, self.x, self.labels, self.teacher_logits, kind, optim, lrs, **kwargs)
        return libdeit_state(model)


def parse_distill_output(out):
    """The driver's "epoch E lr R loss L cls C dist D" lines -> list of dicts."""
    epochs = []
    for line in out.splitlines():
        f = line.split()
        if len(f) != 10 or f[0::2] != ["epoch", "lr", "loss", "cls", "dist"]:
            raise AssertionError(f"unexpected driver output line '{line}'")
        epochs.append({"epoch": int(f[1]), "lr": float(f[3]), "loss": float(f[5]), "cls": float(f[7]),
                       "dist": float(f[9])})
    return epochs


_LOSS_NAMES = {"loss": "total loss", "cls": "class-head loss", "dist": "dist-head loss"}


def check_losses(test, r, what, rtol=RTOL):
    """Every step's total, class and dist loss (libdeit's progress report vs the reference)."""
    test.assertEqual([e["epoch"] for e in r.epochs], list(range(1, len(r.steps) + 1)), f"{what}: epochs reported")
    worst = 0.0
    for k, (e, s) in enumerate(zip(r.epochs, r.steps)):
        for name in ("loss", "cls", "dist"):
            err = abs(e[name] - s[name]) / abs(s[name])
            worst = max(worst, err)
            test.assertLessEqual(err, rtol, f"{what}: step {k + 1} {_LOSS_NAMES[name]} is {e[name]!r} in libdeit, "
                                 f"{s[name]!r} in PyTorch (relative error {err:.3g}, limit {rtol:g})")
    last = r.epochs[-1]
    print(f"{what}: {len(r.steps)} step(s), last loss {last['loss']:.8g} cls {last['cls']:.8g} "
          f"dist {last['dist']:.8g}; worst relative error of the losses {worst:.3g} (limit {rtol:g})",
          file=sys.stderr)


def check_lrs(test, r, what):
    """The lr of every epoch's end-of-epoch report against the schedule's formula."""
    for k, (e, want) in enumerate(zip(r.epochs, r.lrs)):
        test.assertAlmostEqual(e["lr"], want, delta=1e-12 * want,
                               msg=f"{what}: lr reported at the end of epoch {k + 1} (the schedule's formula "
                               f"gives {want!r})")


def check_sgd_gradients(test, r, lr, what):
    """One SGD step w - lr * g with a large lr (the step dwarfs w, so
    (w - w') / lr loses no digits): every element of every gradient."""
    worst = (0.0, "")
    grads = r.steps[0]["grads"]
    for k in r.before:
        err = cc.rel_err((r.before[k].double() - r.got[k].double()) / lr, grads[k])
        worst = max(worst, (err, k))
        test.assertLessEqual(err, GRAD_RTOL, f"{what}: the gradient of {k} differs by {err:.3g} relative")
    print(f"{what}: gradients of {len(r.before)} tensors, worst relative error {worst[0]:.3g} ({worst[1]})",
          file=sys.stderr)


def check_adam_step(test, r, lr, what):
    """One Adam step: every updated weight.

    Adam's first step moves an element by lr * g / (|g| + eps), eps 1e-8:
    about lr wherever |g| >> eps, but near eps it magnifies the gradient's
    rounding error dg by lr * eps / (|g| + eps)^2.  So each element may differ
    by RTOL of the tensor's scale plus what a gradient error of GRAD_RTOL (of
    the tensor's largest gradient; the SGD step measures it) explains, at most
    the 2 lr of opposite steps.  That widening matters for few elements,
    mostly weights of almost dead ReLU units."""
    worst, n_wide, n_zero, total = (0.0, ""), 0, 0, 0
    grads = r.steps[0]["grads"]
    for k in r.before:
        g = grads[k].double().abs()
        scale = r.want[k].abs().max().item()
        dg = GRAD_RTOL * g.max().item()
        # Where PyTorch's gradient is exactly 0 (ReLU units dead for the whole batch) both steps are 0.
        tol = torch.where(g > 0, (RTOL * scale + lr * ADAM_EPS * dg / (g + ADAM_EPS) ** 2).clamp(max=2 * lr),
                          torch.full_like(g, RTOL * scale))
        n_zero += int((g == 0).sum())
        if k.endswith("attn.qkv.bias"):
            # The key bias adds the same score to every key of a query: softmax cancels it, so its
            # gradient is 0 plus rounding, which Adam scales up to any step in [-lr, lr].  The SGD
            # step checks that libdeit's gradient there is 0 too.
            D = g.numel() // 3
            test.assertLess(g[D:2 * D].max().item(), 1e-6 * g.max().item(), f"{k}: key bias gradient")
            tol[D:2 * D] = 2 * lr
        wide = tol > 2 * RTOL * scale
        n_wide += int(wide.sum())
        total += g.numel()
        diff = (r.got[k] - r.want[k]).double().abs()
        excess = (diff - tol).max().item()
        test.assertLessEqual(excess, 0.0, f"{what}: updated {k} differs by {excess:.3g} more than allowed "
                             f"(relative error {cc.rel_err(r.got[k], r.want[k]):.3g})")
        err = diff[~wide].max().item() / scale if not wide.all() else 0.0
        worst = max(worst, (err, k))
        test.assertLessEqual(err, RTOL, f"{what}: updated {k} differs by {err:.3g} relative")
        moved = (r.want[k] - r.before[k]).abs().max().item()
        test.assertGreater(moved, 0.5 * lr, f"{k} did not move in PyTorch's step")
    print(f"{what}: {len(r.before)} updated tensors, worst relative error {worst[0]:.3g} ({worst[1]}); "
          f"{n_wide} of {total} elements with |g| near Adam's eps checked with a wider bound, {n_zero} with g = 0",
          file=sys.stderr)
    test.assertLess(n_wide, total // 100, "too many elements with a vanishing gradient for a meaningful test")


# Several steps (test_training_options.py): Adam's near-eps magnification of
# rounding errors (see check_adam_step) compounds over the steps, so a few
# elements move off by up to ~lr; the rest stay within RTOL.  Measured on the
# seed model (3 and 6 steps, lr 1e-3, Adam and AdamW): losses within 2.1e-5,
# at most 0.023% of the elements further than RTOL of their tensor's largest,
# displacement error at most 2.9e-4.  The nearest wrong settings (AdamW's
# weight decay 0.5 ignored; the cosine over one step less) put 99% of the
# elements off, with displacement errors 0.059 and 0.10.
MULTI_LOSS_RTOL = 1e-4
MULTI_MAX_OFF = 0.01  # fraction of the elements allowed further than RTOL of their tensor's largest
MULTI_DISP_RTOL = 5e-3  # |displacement error| / |displacement| over all weights


def multistep_errors(before, got, want):
    """(fraction of elements further than RTOL of their tensor's largest,
    |(got - before) - (want - before)| / |want - before| over all weights)."""
    off = total = 0
    err2 = disp2 = 0.0
    for k in want:
        diff = (got[k] - want[k]).double()
        off += int((diff.abs() > RTOL * want[k].abs().max().item()).sum())
        total += diff.numel()
        err2 += diff.pow(2).sum().item()
        disp2 += (want[k] - before[k]).double().pow(2).sum().item()
    return off / total, math.sqrt(err2 / disp2)


def check_training(test, r, what):
    """Several steps: every step's losses and lr, and the weights after them."""
    check_lrs(test, r, what)
    check_losses(test, r, what, MULTI_LOSS_RTOL)
    off, disp = multistep_errors(r.before, r.got, r.want)
    print(f"{what}: {off:.3%} of the weights further than {RTOL:g} of their tensor's largest (limit "
          f"{MULTI_MAX_OFF:.0%}), displacement error {disp:.3g} (limit {MULTI_DISP_RTOL:g})", file=sys.stderr)
    test.assertLessEqual(off, MULTI_MAX_OFF, f"{what}: {off:.3%} of the updated weights differ from PyTorch's")
    test.assertLessEqual(disp, MULTI_DISP_RTOL, f"{what}: the weights moved differently from PyTorch's "
                         f"(displacement error {disp:.3g})")


def check_fails_against(test, r, wrong, what):
    """libdeit's weights compared with those of a wrong reference (`wrong`):
    the comparison of check_training must fail, and clearly."""
    off, disp = multistep_errors(r.before, r.got, wrong)
    print(f"{what}: against it {off:.3%} of the weights off, displacement error {disp:.3g}", file=sys.stderr)
    test.assertGreater(off, 50 * MULTI_MAX_OFF, f"{what}: the test cannot tell this reference apart")
    test.assertGreater(disp, 2 * MULTI_DISP_RTOL, f"{what}: the test cannot tell this reference apart")
