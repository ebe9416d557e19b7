"""A torch.jit.trace'd torchvision ResNet-18 (saved with .save) stands in as
the teacher (deit_teacher_load_torchscript): same logits as the Python model,
and the same distillation loss as the same network loaded as ResNet weights."""
import os
import sys
import unittest

import conformance_common as cc  # first: exits 77 without torch

import torch

CLASSES = 10
RTOL = 1e-4


class TorchScriptConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = cc.tmp_dir("torchscript")
        cls.model = cc.torchvision_resnet("resnet18", CLASSES, 5)
        cls.script = os.path.join(cls.dir, "resnet18.pt")
        with torch.no_grad():
            torch.jit.trace(cls.model, torch.rand(1, 3, 32, 32)).save(cls.script)
        cls.weights = os.path.join(cls.dir, "resnet18.safetensors")
        cc.save_safetensors(cls.weights, cls.model.state_dict())

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
        student = os.path.join(self.dir, "student.safetensors")
        cc.run_driver("student-init", "seed", CLASSES, 1, 0, student)
        g = torch.Generator().manual_seed(9)
        x_path, y_path = os.path.join(self.dir, "train.f32"), os.path.join(self.dir, "train.i64")
        cc.write_f32(x_path, torch.rand(8, 3, 28, 28, generator=g))
        cc.write_i64(y_path, torch.randint(0, CLASSES, (8,), generator=g))
        losses = {}
        for name, spec in (("torchscript", f"torchscript:{CLASSES}:{self.script}"),
                           ("weights", f"weights:resnet18:{CLASSES}:{self.weights}")):
            out = cc.run_driver("distill", student, spec, x_path, y_path, 8, "soft", 0.5, 2.0, "adam", 1e-3,
                                os.path.join(self.dir, f"student-{name}.safetensors"))
            losses[name] = float(out.split()[5])  # "loss L cls C dist D"
        print(f"distillation term with the TorchScript teacher {losses['torchscript']!r}, "
              f"with the same ResNet-18 as weights {losses['weights']!r}", file=sys.stderr)
        self.assertGreater(losses["weights"], 0.0)
        self.assertAlmostEqual(losses["torchscript"], losses["weights"], delta=1e-5 * losses["weights"],
                               msg=f"distillation term {losses}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
