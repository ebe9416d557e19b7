"""A torch.jit.trace'd torchvision ResNet-18 (saved with .save) stands in as
the teacher (deit_teacher_load_torchscript): same logits as the Python model,
and a distillation step with it gives the losses and updated weights of the
same step in PyTorch (notebook_reference.py) with the traced module's logits."""
import os
import unittest

import conformance_common as cc  # first: exits 77 without torch
import notebook_reference as nr

import torch

CLASSES = nr.CLASSES
RTOL = 1e-4


class TorchScriptConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = cc.tmp_dir("torchscript")
        cls.model = cc.torchvision_resnet("resnet18", CLASSES, 5)
        cls.script = os.path.join(cls.dir, "resnet18.pt")
        with torch.no_grad():
            torch.jit.trace(cls.model, torch.rand(1, 3, 32, 32)).save(cls.script)

    def check_logits(self, n, side):
        x = torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(side))
        x_path, out = os.path.join(self.dir, "x.f32"), os.path.join(self.dir, "logits.f32")
        cc.write_f32(x_path, x)
        cc.run_driver("teacher-predict", f"torchscript:{CLASSES}:{self.script}", x_path, n, 3, side, side, out)
        with torch.no_grad():
            want = self.model(x)
        cc.assert_close(self, cc.read_f32(out, (n, CLASSES)), want, RTOL, f"TorchScript teacher {n}x3x{side}x{side}")

    def test_logits_match_python(self):
        # Another batch size and image size than the trace's example input.
        self.check_logits(3, 64)
        self.check_logits(2, 28)

    def test_distillation_with_torchscript_teacher(self):
        # One Adam step of soft distillation from the TorchScript teacher against the same step in PyTorch,
        # with the teacher's logits from the traced module itself (torch.jit.load).
        task = nr.SeedTask(self, self.dir, torch.jit.load(self.script).eval(), f"torchscript:{CLASSES}:{self.script}")
        r = task.run("soft", "adam", 1e-3)
        self.assertGreater(r.steps[0]["dist"], 0.0)
        nr.check_losses(self, r, "soft/adam step, TorchScript teacher")
        nr.check_adam_step(self, r, 1e-3, "soft/adam step, TorchScript teacher")


if __name__ == "__main__":
    unittest.main(verbosity=2)
