"""The `deit-tiny` preset against a PyTorch module with timm's
VisionTransformerDistilled layout and state-dict names (written here; timm is
not needed): pre-norm blocks, GELU, fused qkv, LayerNorm eps 1e-6, [CLS] and
[DIST] tokens, head and head_dist averaged in eval mode.  Weights move both
ways without renaming: a libdeit checkpoint loads with
load_state_dict(strict=True), and the module's state_dict loads into libdeit."""
import math
import os
import unittest
from collections import OrderedDict

import conformance_common as cc  # first: exits 77 without torch

import torch
import torch.nn as nn

CLASSES = 10
RTOL = 1e-5
N = 2


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) / math.sqrt(D // self.heads)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, T, D))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_ratio * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformerDistilled(nn.Module):
    """timm's deit_tiny_distilled_patch16_224 layout and names."""

    def __init__(self, num_classes=CLASSES, img_size=224, patch_size=16, embed_dim=192, depth=12, heads=3):
        super().__init__()
        n = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 2, embed_dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.blocks = nn.Sequential(*[Block(embed_dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        self.head_dist = nn.Linear(embed_dim, num_classes)

    def forward_heads(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        B = x.shape[0]
        x = torch.cat((self.cls_token.expand(B, -1, -1), self.dist_token.expand(B, -1, -1), x), dim=1)
        x = self.norm(self.blocks(x + self.pos_embed))
        return self.head(x[:, 0]), self.head_dist(x[:, 1])

    def forward(self, x):
        cls, dist = self.forward_heads(x)
        return (cls, dist) if self.training else (cls + dist) / 2


class DeiTTinyConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = cc.tmp_dir("deit-tiny")
        cls.x = torch.randn(N, 3, 224, 224, generator=torch.Generator().manual_seed(4))
        cls.x_path = os.path.join(cls.dir, "x.f32")
        cc.write_f32(cls.x_path, cls.x)
        cls.libdeit_ckpt = os.path.join(cls.dir, "libdeit.safetensors")
        cc.run_driver("student-init", "deit-tiny", CLASSES, 21, "keep", cls.libdeit_ckpt)

    def libdeit_logits(self, ckpt):
        out = os.path.join(self.dir, "logits.f32")
        cc.run_driver("student-predict", ckpt, self.x_path, N, out)
        return cc.read_f32(out, (3, N, CLASSES))

    def compare(self, got, model, what):
        model.eval()
        with torch.no_grad():
            cls, dist = model.forward_heads(self.x)
            avg = model(self.x)
        cc.assert_close(self, got[0], cls, RTOL, f"{what}: head")
        cc.assert_close(self, got[1], dist, RTOL, f"{what}: head_dist")
        cc.assert_close(self, got[2], avg, RTOL, f"{what}: eval output (mean of both heads)")

    def test_libdeit_checkpoint_loads_into_timm_layout(self):
        tensors, metadata = cc.load_safetensors(self.libdeit_ckpt)
        self.assertEqual(metadata.get("libdeit.kind"), "student")
        model = VisionTransformerDistilled()
        model.load_state_dict(tensors, strict=True)  # raises on any missing/extra/mis-shaped name
        self.assertEqual(list(tensors), list(model.state_dict()), "tensor order differs from timm's state_dict")
        self.compare(self.libdeit_logits(self.libdeit_ckpt), model, "libdeit deit-tiny in PyTorch")

    def test_timm_state_dict_loads_into_libdeit(self):
        torch.manual_seed(22)
        model = VisionTransformerDistilled()
        g = torch.Generator().manual_seed(23)
        with torch.no_grad():  # timm-like values, and non-trivial LayerNorms and biases
            for name, p in model.named_parameters():
                if p.dim() == 1 and "norm" in name and name.endswith("weight"):
                    p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
                elif p.dim() == 1:
                    p.copy_(0.05 * torch.randn(p.shape, generator=g))
                elif name.endswith("token") or name == "pos_embed" or p.dim() == 2:
                    p.copy_(0.02 * torch.randn(p.shape, generator=g))
        _, metadata = cc.load_safetensors(self.libdeit_ckpt)
        path = os.path.join(self.dir, "timm.safetensors")
        cc.save_safetensors(path, OrderedDict(model.state_dict()), metadata)  # timm's names as they are
        self.compare(self.libdeit_logits(path), model, "timm-layout weights in libdeit")


if __name__ == "__main__":
    unittest.main(verbosity=2)
