"""The `seed` student preset against the reference notebook's PyTorch model
(../shared/seed: nn.TransformerEncoder, post-norm, FFN 2048, ReLU, dropout,
final LayerNorm, [CLS] + [DIST] tokens, two heads).  Weights go from PyTorch
into a libdeit checkpoint; eval-mode logits agree to 1e-5, and one training
step (dropout 0, Adam lr 1e-3, one batch) gives the same loss and the same
updated weights to 1e-5."""
import os
import re
import sys
import unittest
from collections import OrderedDict

import conformance_common as cc  # first: exits 77 without torch

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 10
RTOL = 1e-5
N = 8  # images per batch
LR = 1e-3  # the driver's Adam learning rate
# Gradients agree to this (relative to the tensor's largest), checked with SGD.  Float32 sums over the
# rows of a batch in another order (libdeit adds fc1's bias after the product) differ by ~1e-6.
GRAD_RTOL = 5e-6
SGD_LR = 1e3


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


# Notebook name -> libdeit (timm) name.
_RENAMES = [(r"^transformer_blocks\.layers\.(\d+)\.", r"blocks.\1."),
            (r"self_attn\.in_proj_weight$", "attn.qkv.weight"), (r"self_attn\.in_proj_bias$", "attn.qkv.bias"),
            (r"self_attn\.out_proj\.", "attn.proj."), (r"\.linear1\.", ".mlp.fc1."), (r"\.linear2\.", ".mlp.fc2."),
            (r"^layernorm\.", "norm."), (r"^head_cls\.", "head.")]


def libdeit_name(name):
    for pattern, repl in _RENAMES:
        name = re.sub(pattern, repl, name)
    return name


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


class SeedStudentConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = cc.tmp_dir("student-seed")

    def path(self, name):
        return os.path.join(self.dir, name)

    def export(self, model, dropout, path):
        """Writes `model` as a libdeit checkpoint: names and metadata from a
        student that libdeit saved itself, values from the PyTorch model."""
        template = self.path(f"template-{dropout}.safetensors")
        if not os.path.exists(template):
            cc.run_driver("student-init", "seed", CLASSES, 1, dropout, template)
        names, metadata = cc.load_safetensors(template)
        ours = OrderedDict((libdeit_name(k), v) for k, v in model.state_dict().items())
        self.assertEqual(sorted(ours), sorted(names), "the notebook model and libdeit name different tensors")
        for k, v in names.items():
            self.assertEqual(tuple(ours[k].shape), tuple(v.shape), k)
        cc.save_safetensors(path, OrderedDict((k, ours[k]) for k in names), metadata)
        return names

    def test_eval_logits(self):
        torch.manual_seed(0)
        model = randomize(NotebookDeiT(dropout=0.1), 1).eval()
        ckpt = self.path("eval.safetensors")
        self.export(model, "keep", ckpt)
        x = torch.rand(N, 3, 28, 28, generator=torch.Generator().manual_seed(2))
        cc.write_f32(self.path("x.f32"), x)
        cc.run_driver("student-predict", ckpt, self.path("x.f32"), N, self.path("logits.f32"))
        got = cc.read_f32(self.path("logits.f32"), (3, N, CLASSES))
        with torch.no_grad():
            cls, dist = model(x)
        self.assertGreater(cc.rel_err(cls, dist), 0.1, "the two heads should not agree by themselves")
        cc.assert_close(self, got[0], cls, RTOL, "seed class head")
        cc.assert_close(self, got[1], dist, RTOL, "seed distillation head")
        cc.assert_close(self, got[2], (cls + dist) / 2, RTOL, "seed averaged head")

    def check_training_step(self, kind, optim):
        """One libdeit step (deit_distill, one batch, one epoch) against the same step in PyTorch."""
        lr = LR if optim == "adam" else SGD_LR
        torch.manual_seed(10)
        model = randomize(NotebookDeiT(dropout=0.0), 11)
        start = self.path(f"start-{kind}-{optim}.safetensors")
        names = self.export(model, 0, start)
        g = torch.Generator().manual_seed(12)
        x = torch.rand(N, 3, 28, 28, generator=g)
        labels = torch.randint(0, CLASSES, (N,), generator=g)
        cc.write_f32(self.path("train.f32"), x)
        cc.write_i64(self.path("train.i64"), labels)

        teacher_spec = "none"
        if kind == "soft":
            teacher = cc.torchvision_resnet("resnet18", CLASSES, 13)
            cc.save_safetensors(self.path("teacher.safetensors"), teacher.state_dict())
            teacher_spec = f"weights:resnet18:{CLASSES}:{self.path('teacher.safetensors')}"
        after = self.path(f"after-{kind}-{optim}.safetensors")
        out = cc.run_driver("distill", start, teacher_spec, self.path("train.f32"), self.path("train.i64"), N, kind,
                            0.5, 2.0, optim, lr, after).split()
        got_loss = {out[0]: float(out[1]), out[2]: float(out[3]), out[4]: float(out[5])}

        # The same step in PyTorch: train mode, the notebook's loss.
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=lr) if optim == "adam" else torch.optim.SGD(
            model.parameters(), lr=lr)
        cls, dist = model(x)
        if kind == "soft":
            with torch.no_grad():
                t = teacher(x)
            loss, loss_cls, loss_dist = notebook_distillation_loss(cls, dist, t, labels)
        else:  # libdeit's "none": the distillation head learns the labels too
            loss_cls, loss_dist = F.cross_entropy(cls, labels), F.cross_entropy(dist, labels)
            loss = 0.5 * loss_dist + 0.5 * loss_cls
        opt.zero_grad()
        loss.backward()
        grads = {libdeit_name(k): p.grad.detach().clone() for k, p in model.named_parameters()}
        opt.step()
        what = f"{kind}/{optim} step"
        for k, v in {"loss": loss.item(), "cls": loss_cls.item(), "dist": loss_dist.item()}.items():
            err = abs(got_loss[k] - v) / abs(v)
            print(f"{what}: {k} libdeit {got_loss[k]:.8g} PyTorch {v:.8g}, relative error {err:.3g}",
                  file=sys.stderr)
            self.assertLessEqual(err, RTOL, f"{what}: {k} loss")

        got, _ = cc.load_safetensors(after)
        before, _ = cc.load_safetensors(start)
        want = OrderedDict((libdeit_name(k), v.detach()) for k, v in model.state_dict().items())
        if optim == "sgd":
            # w - lr * g with a large lr (the step dwarfs w, so (w - w') / lr loses no digits): every
            # element of every gradient, compared through the weights.
            worst = (0.0, "")
            for k in names:
                err = cc.rel_err((before[k].double() - got[k].double()) / SGD_LR, grads[k])
                worst = max(worst, (err, k))
                self.assertLessEqual(err, GRAD_RTOL, f"{what}: the gradient of {k} differs by {err:.3g} relative")
            print(f"{what}: gradients of {len(names)} tensors, worst relative error {worst[0]:.3g} ({worst[1]})",
                  file=sys.stderr)
            return
        # Adam's first step moves an element by lr * g / (|g| + eps), eps 1e-8: about lr wherever
        # |g| >> eps, but near eps it magnifies the gradient's rounding error dg by lr * eps / (|g| + eps)^2.
        # So each element may differ by RTOL of the tensor's scale plus what a gradient error of GRAD_RTOL
        # (of the tensor's largest gradient; the SGD step measures it) explains, at most the 2 lr of
        # opposite steps.  That widening matters for few elements, mostly weights of almost dead ReLU units.
        worst, n_wide, n_zero, total = (0.0, ""), 0, 0, 0
        for k in names:
            g = grads[k].double().abs()
            scale = want[k].abs().max().item()
            dg = GRAD_RTOL * g.max().item()
            # Where PyTorch's gradient is exactly 0 (ReLU units dead for the whole batch) both steps are 0.
            tol = torch.where(g > 0, (RTOL * scale + LR * 1e-8 * dg / (g + 1e-8) ** 2).clamp(max=2 * LR),
                              torch.full_like(g, RTOL * scale))
            n_zero += int((g == 0).sum())
            if k.endswith("attn.qkv.bias"):
                # The key bias adds the same score to every key of a query: softmax cancels it, so its
                # gradient is 0 plus rounding, which Adam scales up to any step in [-lr, lr].  The SGD
                # step checks that libdeit's gradient there is 0 too.
                D = g.numel() // 3
                self.assertLess(g[D:2 * D].max().item(), 1e-6 * g.max().item(), f"{k}: key bias gradient")
                tol[D:2 * D] = 2 * LR
            wide = tol > 2 * RTOL * scale
            n_wide += int(wide.sum())
            total += g.numel()
            diff = (got[k] - want[k]).double().abs()
            excess = (diff - tol).max().item()
            self.assertLessEqual(excess, 0.0, f"{what}: updated {k} differs by {excess:.3g} more than allowed "
                                 f"(relative error {cc.rel_err(got[k], want[k]):.3g})")
            err = diff[~wide].max().item() / scale if not wide.all() else 0.0
            worst = max(worst, (err, k))
            self.assertLessEqual(err, RTOL, f"{what}: updated {k} differs by {err:.3g} relative")
            moved = (want[k] - before[k]).abs().max().item()
            self.assertGreater(moved, 0.5 * LR, f"{k} did not move in PyTorch's step")
        print(f"{what}: {len(names)} updated tensors, worst relative error {worst[0]:.3g} ({worst[1]}); "
              f"{n_wide} of {total} elements with |g| near Adam's eps checked with a wider bound, {n_zero} with g = 0",
              file=sys.stderr)
        self.assertLess(n_wide, total // 100, "too many elements with a vanishing gradient for a meaningful test")

    def test_training_step_soft_adam(self):
        self.check_training_step("soft", "adam")

    def test_training_step_soft_sgd(self):
        self.check_training_step("soft", "sgd")

    def test_training_step_none_adam(self):
        self.check_training_step("none", "adam")


if __name__ == "__main__":
    unittest.main(verbosity=2)
