"""Pretrained students: timm's own models (PyPI timm, torch 2.11, in the venv of
scripts/install-python-venv.sh), on random initialisation, saved with
safetensors' own save_file -- no libdeit metadata -- and loaded by libdeit's
C API (deit_student_config_from_weights + deit_student_load_weights, through
deit_conformance_driver).  Same logits in eval mode, and libdeit's checkpoints
load back into timm with load_state_dict(strict=True).

The fitting to a new task is compared with timm's own code for the same step:
vision_transformer.checkpoint_filter_fn (which calls resample_abs_pos_embed)
for another image size, _manipulate.adapt_input_conv for gray input."""
import math
import os
import subprocess
import sys
import unittest

from pretrained_common import RTOL, cc, st, timm  # first: exits 77 without the venv's packages

import torch
from timm.models._manipulate import adapt_input_conv
from timm.models.vision_transformer import checkpoint_filter_fn

N = 2


def timm_model(name, seed, **kwargs):
    """timm.create_model(name) on random weights, every parameter moved off timm's init (LayerNorm 1/0,
    zero biases, tiny tokens) so that no part is the identity and a swapped tensor shows."""
    torch.manual_seed(seed)
    m = timm.create_model(name, pretrained=False, **kwargs)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith("norm1.weight") or n.endswith("norm2.weight") or n == "norm.weight":
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif n.endswith(".bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif n in ("cls_token", "dist_token", "pos_embed"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    return m.eval()


def timm_heads(m, x):
    """(class head, distillation head, their mean) of a distilled timm model in eval mode."""
    with torch.no_grad():
        f = m.forward_features(x)
        cls, dist = m.head(f[:, 0]), m.head_dist(f[:, 1])
        return cls, dist, m(x)


class TimmStudents(unittest.TestCase):
    def setUp(self):
        self.dir = cc.tmp_dir("timm")

    def path(self, name):
        return os.path.join(self.dir, name)

    def load_in_libdeit(self, state, classes="file", img="file", channels="file", out="libdeit.safetensors"):
        """Saves `state` with safetensors.torch.save_file, loads it through the C API; returns (config
        line as a dict, path of libdeit's checkpoint `out`)."""
        src, out = self.path("timm.safetensors"), self.path(out)
        st.save_file({k: v.contiguous() for k, v in state.items()}, src)
        line = cc.run_driver("student-from-weights", src, classes, img, channels, 0, out).split()
        return {line[i]: int(line[i + 1]) for i in range(0, len(line), 2)}, out

    def libdeit_heads(self, ckpt, x):
        cc.write_f32(self.path("x.f32"), x)
        cc.run_driver("student-predict", ckpt, self.path("x.f32"), x.shape[0], self.path("y.f32"))
        y = cc.read_f32(self.path("y.f32"), (3, x.shape[0], -1))
        return y[0], y[1], y[2]

    def compare(self, ref, x, ckpt, what):
        for head, got, want in zip(("cls", "dist", "avg"), self.libdeit_heads(ckpt, x), timm_heads(ref, x)):
            cc.assert_close(self, got, want, RTOL, f"{what} {head}")

    def test_distilled_presets_load_as_they_are(self):
        for name, dim, heads in (("deit_tiny_distilled_patch16_224", 192, 3),
                                 ("deit_small_distilled_patch16_224", 384, 6)):
            with self.subTest(name):
                m = timm_model(name, seed=1)
                cfg, ckpt = self.load_in_libdeit(m.state_dict())
                self.assertEqual((cfg["embed_dim"], cfg["num_heads"], cfg["depth"], cfg["img_size"],
                                  cfg["patch_size"], cfg["num_classes"], cfg["mlp_dim"]),
                                 (dim, heads, 12, 224, 16, 1000, 4 * dim))
                x = torch.rand(N, 3, 224, 224, generator=torch.Generator().manual_seed(5))
                self.compare(m, x, ckpt, name)
                # ... and back: libdeit's checkpoint into timm's model, strictly, the same tensors.
                back = timm.create_model(name, pretrained=False).eval()
                back.load_state_dict(st.load_file(ckpt), strict=True)
                for k, v in m.state_dict().items():
                    self.assertTrue(torch.equal(back.state_dict()[k], v), k)

    def test_non_distilled_vit_starts_dist_from_cls(self):
        vit = timm_model("vit_tiny_patch16_224", seed=2)
        cfg, ckpt = self.load_in_libdeit(vit.state_dict())
        self.assertEqual((cfg["embed_dim"], cfg["num_heads"], cfg["num_classes"]), (192, 3, 1000))
        # The documented mapping, built with timm's distilled model: [DIST] = [CLS] (token and position),
        # head_dist = head.
        s = vit.state_dict()
        s["dist_token"] = s["cls_token"].clone()
        s["pos_embed"] = torch.cat([s["pos_embed"][:, :1], s["pos_embed"]], 1)
        s["head_dist.weight"], s["head_dist.bias"] = s["head.weight"].clone(), s["head.bias"].clone()
        ref = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False).eval()
        ref.load_state_dict(s, strict=True)
        x = torch.rand(N, 3, 224, 224, generator=torch.Generator().manual_seed(6))
        self.compare(ref, x, ckpt, "vit_tiny as distilled")

    def test_new_task_resamples_pos_embed_and_adapts_channels(self):
        # 112 px: a 7x7 grid from 14x14 (antialiasing matters); 288 px: 18x18 (upsampling).
        for img, channels in ((112, 1), (288, 3)):
            with self.subTest(img=img, channels=channels):
                m = timm_model("deit_tiny_distilled_patch16_224", seed=3)
                cfg, ckpt = self.load_in_libdeit(m.state_dict(), classes=10, img=img, channels=channels)
                self.assertEqual((cfg["img_size"], cfg["num_classes"], cfg["in_channels"]), (img, 10, channels))
                mine = st.load_file(ckpt)
                # timm's own fine-tuning path for the same model: checkpoint_filter_fn resamples pos_embed,
                # adapt_input_conv fits the patch embedding; the new heads are libdeit's fresh ones.
                ref = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False, num_classes=10,
                                        img_size=img, in_chans=channels).eval()
                s = {k: v for k, v in m.state_dict().items() if not k.startswith("head")}
                s = checkpoint_filter_fn(s, ref)
                s["patch_embed.proj.weight"] = adapt_input_conv(channels, s["patch_embed.proj.weight"])
                for k in ("head.weight", "head.bias", "head_dist.weight", "head_dist.bias"):
                    s[k] = mine[k]
                ref.load_state_dict(s, strict=True)
                cc.assert_close(self, mine["pos_embed"], s["pos_embed"], 1e-6, f"pos_embed resampled to {img} px")
                x = torch.rand(N, channels, img, img, generator=torch.Generator().manual_seed(7))
                self.compare(ref, x, ckpt, f"deit_tiny at {img} px, {channels} channel(s), 10 classes")

    def test_resampled_positions_keep_their_meaning(self):
        """The issue's target for fine-tuning at another resolution.  Same grid: pos_embed copied exactly.
        Another grid: a pos_embed that is a smooth field over the 14x14 patch grid (as trained ones are)
        comes out as the same field sampled on the new grid, to interpolation error; a grid read transposed
        or flipped, the classic resampling bug, misses it by 30x more.  And on a smooth image the fitted
        model's logits stay close to the 224 px model's on the same image (relative to how far apart two
        different images' logits are; with random weights the positions sway the logits little, so that
        part guards gross breakage, and the field check is the one that catches a wrong resample)."""
        dim, n = 192, 14

        def field(side):  # [side*side, dim]: cos(pi (fy y + fx x) + phase) at the cell centres
            g = torch.Generator().manual_seed(5)
            fy, fx = torch.rand(dim, generator=g), torch.rand(dim, generator=g)
            phase = 2 * math.pi * torch.rand(dim, generator=g)
            c = (torch.arange(side, dtype=torch.float64) + 0.5) / side
            y, x = torch.meshgrid(c, c, indexing="ij")
            f = torch.cos(math.pi * (fy[:, None, None] * y + fx[:, None, None] * x) + phase[:, None, None])
            return f.flatten(1).T.float()

        m = timm_model("deit_tiny_distilled_patch16_224", seed=6)
        with torch.no_grad():
            m.pos_embed[0, 2:] = field(n)
        _, same = self.load_in_libdeit(m.state_dict(), out="same.safetensors")
        self.assertTrue(torch.equal(st.load_file(same)["pos_embed"], m.pos_embed.detach()), "same grid: exact")
        for img, limit in ((288, 0.04), (112, 0.04)):  # measured 0.027 and 0.021 (bicubic at the edges)
            side = img // 16
            _, ckpt = self.load_in_libdeit(m.state_dict(), img=img, out=f"{img}.safetensors")
            got = st.load_file(ckpt)["pos_embed"][0]
            self.assertTrue(torch.equal(got[:2], m.pos_embed[0, :2].detach()), "prefix rows kept")
            want = field(side)
            err = (got[2:] - want).abs().max().item()
            t = want.reshape(side, side, dim)
            bug = min((got[2:] - t.transpose(0, 1).reshape(-1, dim)).abs().max().item(),
                      (got[2:] - t.flip(0).reshape(-1, dim)).abs().max().item())
            print(f"{img} px: field error {err:.3g} (limit {limit}); transposed/flipped grid {bug:.3g}",
                  file=sys.stderr)
            self.assertLessEqual(err, limit, f"{img} px: the resampled pos_embed is not the field")
            self.assertGreater(bug, 30 * err, f"{img} px: the check cannot tell a transposed grid")

        # Whole model on smooth images: the 288 px student on the image resized to 288 (bicubic, antialiased)
        # against the 224 px one on the original, next to two different images at 224 px.
        big = self.path("288.safetensors")
        c = torch.linspace(0, 1, 224)
        yy, xx = torch.meshgrid(c, c, indexing="ij")
        g = torch.Generator().manual_seed(8)
        images = []
        for _ in range(4):
            a = torch.rand(3, 3, generator=g)
            images.append(torch.stack([0.5 + 0.4 * torch.sin(2 * math.pi * (a[k, 0] * xx + a[k, 1] * yy) + 6 * a[k, 2])
                                       for k in range(3)]))
        x = torch.stack(images)
        x288 = torch.nn.functional.interpolate(x, size=(288, 288), mode="bicubic", antialias=True, align_corners=False)
        y224 = self.libdeit_heads(same, x)[2]
        y288 = self.libdeit_heads(big, x288)[2]
        moved = cc.rel_err(y288, y224)
        apart = cc.rel_err(y224.roll(1, 0), y224)  # each image's logits against another image's
        print(f"288 px vs 224 px logits: {moved:.3g} relative; two different images: {apart:.3g}", file=sys.stderr)
        self.assertLess(moved, apart / 5, "the fitted model's logits moved as far as another image's")

    def failing_load(self, state, channels="file"):
        src = self.path("bad.safetensors")
        st.save_file({k: v.contiguous() for k, v in state.items()}, src)
        r = subprocess.run([cc.DRIVER, "student-from-weights", src, "file", "file", str(channels), "0",
                            self.path("never.safetensors")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertFalse(os.path.exists(self.path("never.safetensors")))
        return r.stderr

    def test_mismatches_are_named(self):
        s = timm_model("deit_tiny_distilled_patch16_224", seed=4).state_dict()
        missing = dict(s)
        del missing["blocks.3.mlp.fc2.weight"]
        self.assertIn("blocks.3.mlp.fc2.weight", self.failing_load(missing))
        odd = dict(s)
        odd["blocks.0.attn.qkv.weight"] = odd["blocks.0.attn.qkv.weight"][:500]
        self.assertIn("blocks.0.attn.qkv.weight", self.failing_load(odd))
        two = dict(s)
        two["patch_embed.proj.weight"] = two["patch_embed.proj.weight"][:, :2]
        self.assertIn("only RGB weights", self.failing_load(two, channels=1))
        no_vit = {"conv1.weight": torch.zeros(8, 3, 3, 3)}
        self.assertIn("patch_embed.proj.weight", self.failing_load(no_vit))


if __name__ == "__main__":
    unittest.main()
