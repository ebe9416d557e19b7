"""The ResNet teacher against torchvision.models.resnet18/50 (random init,
random BatchNorm statistics, eval mode): a torchvision state_dict exported to
.safetensors loads with deit_teacher_load_weights under its own names, the
logits agree, and a libdeit teacher checkpoint loads back into torchvision
with load_state_dict(strict=True)."""
import os
import unittest

import conformance_common as cc  # first: exits 77 without torch

import torch

CLASSES = 10
# Small inputs keep ResNet-50 on the CPU within seconds; the network is the same.
N, C, H, W = 2, 3, 64, 64
RTOL = 1e-4


class ResNetConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = cc.tmp_dir("resnet")
        cls.x = torch.rand(N, C, H, W, generator=torch.Generator().manual_seed(3))
        cls.x_path = os.path.join(cls.dir, "x.f32")
        cc.write_f32(cls.x_path, cls.x)

    def libdeit_logits(self, teacher_spec):
        out = os.path.join(self.dir, "logits.f32")
        cc.run_driver("teacher-predict", teacher_spec, self.x_path, N, C, H, W, out)
        return cc.read_f32(out, (N, CLASSES))

    def check_torchvision_weights(self, arch, seed):
        model = cc.torchvision_resnet(arch, CLASSES, seed)
        path = os.path.join(self.dir, f"{arch}-torchvision.safetensors")
        cc.save_safetensors(path, model.state_dict())  # torchvision's names, no renaming
        with torch.no_grad():
            want = model(self.x)
        got = self.libdeit_logits(f"weights:{arch}:{CLASSES}:{path}")
        cc.assert_close(self, got, want, RTOL, f"{arch} logits (torchvision weights)")

    def test_resnet18_torchvision_weights(self):
        self.check_torchvision_weights("resnet18", 18)

    def test_resnet50_torchvision_weights(self):
        self.check_torchvision_weights("resnet50", 50)

    def test_small_image_stems(self):
        # The CIFAR stem (3x3 stride-1 conv1, no max-pool) on torchvision's ResNet: at 64 px layer4 sees
        # 8x8 maps instead of 2x2, so a missing or extra max-pool changes the logits.
        self.check_torchvision_weights("resnet18-small-image", 181)
        self.check_torchvision_weights("resnet50-small-image", 501)

    def test_cifar_resnets(self):
        # He et al.'s ResNet-20/56 from torchvision's blocks: three stages, no layer4, 16-channel stem.
        self.check_torchvision_weights("resnet20-small-image", 20)
        self.check_torchvision_weights("resnet56-small-image", 56)

    def test_torchvision_stem_weights_do_not_fit_a_small_image_stem(self):
        model = cc.torchvision_resnet("resnet18", CLASSES, 18)
        path = os.path.join(self.dir, "resnet18-into-small.safetensors")
        cc.save_safetensors(path, model.state_dict())
        with self.assertRaises(AssertionError) as e:
            self.libdeit_logits(f"weights:resnet18-small-image:{CLASSES}:{path}")
        self.assertIn("conv1.weight", str(e.exception))

    def test_resnet18_checkpoint_loads_into_torchvision(self):
        path = os.path.join(self.dir, "resnet18-libdeit.safetensors")
        cc.run_driver("teacher-init", "resnet18", CLASSES, path)
        tensors, metadata = cc.load_safetensors(path)
        self.assertEqual(metadata.get("libdeit.kind"), "teacher")
        model = cc.torchvision_resnet("resnet18", CLASSES, 0)
        model.load_state_dict(tensors, strict=True)  # raises on any missing/extra/mis-shaped name
        model.eval()
        with torch.no_grad():
            want = model(self.x)
        got = self.libdeit_logits(f"checkpoint:{path}")
        cc.assert_close(self, got, want, RTOL, "resnet18 logits (libdeit checkpoint in torchvision)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
