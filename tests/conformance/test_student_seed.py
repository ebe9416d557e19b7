"""The `seed` student preset against the reference notebook's PyTorch model
(../shared/seed: nn.TransformerEncoder, post-norm, FFN 2048, ReLU, dropout,
final LayerNorm, [CLS] + [DIST] tokens, two heads; notebook_reference.py).
Weights go from PyTorch into a libdeit checkpoint; eval-mode logits agree to
1e-5, and one training step (dropout 0, one batch) gives the same losses and
the same updated weights (Adam lr 1e-3) or gradients (SGD) to 1e-5 (5e-6)
for soft, hard and no distillation, with and without label smoothing.

The labels differ from the teacher's argmax on every row, so hard
distillation against the labels instead of the teacher fails."""
import os
import unittest

import conformance_common as cc  # first: exits 77 without torch
import notebook_reference as nr

import torch

LR = 1e-3  # the Adam steps' learning rate
SGD_LR = 1e3
SMOOTHING = 0.1


class SeedStudentConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = cc.tmp_dir("student-seed")

    def path(self, name):
        return os.path.join(self.dir, name)

    def task(self):
        """The student, the batch and a random torchvision ResNet-18 teacher (built once)."""
        cls = type(self)
        if not hasattr(cls, "_task"):
            teacher = cc.torchvision_resnet("resnet18", nr.CLASSES, 13)
            cc.save_safetensors(self.path("teacher.safetensors"), teacher.state_dict())
            cls._task = nr.SeedTask(self, self.dir, teacher,
                                    f"weights:resnet18:{nr.CLASSES}:{self.path('teacher.safetensors')}")
        return cls._task

    def test_eval_logits(self):
        torch.manual_seed(0)
        model = nr.randomize(nr.NotebookDeiT(dropout=0.1), 1).eval()
        ckpt = self.path("eval.safetensors")
        nr.export_student(self, model, "keep", ckpt, self.dir)
        x = torch.rand(nr.N, 3, 28, 28, generator=torch.Generator().manual_seed(2))
        cc.write_f32(self.path("x-eval.f32"), x)
        cc.run_driver("student-predict", ckpt, self.path("x-eval.f32"), nr.N, self.path("logits.f32"))
        got = cc.read_f32(self.path("logits.f32"), (3, nr.N, nr.CLASSES))
        with torch.no_grad():
            cls, dist = model(x)
        self.assertGreater(cc.rel_err(cls, dist), 0.1, "the two heads should not agree by themselves")
        cc.assert_close(self, got[0], cls, nr.RTOL, "seed class head")
        cc.assert_close(self, got[1], dist, nr.RTOL, "seed distillation head")
        cc.assert_close(self, got[2], (cls + dist) / 2, nr.RTOL, "seed averaged head")

    def check_training_step(self, kind, optim, smoothing=0.0):
        """One libdeit step (deit_distill, one batch, one epoch) against the same step in PyTorch."""
        lr = LR if optim == "adam" else SGD_LR
        r = self.task().run(kind, optim, lr, smoothing=smoothing)
        what = f"{kind}/{optim}" + (f"/smoothing {smoothing:g}" if smoothing else "") + " step"
        nr.check_losses(self, r, what)
        nr.check_lrs(self, r, what)
        if optim == "sgd":
            nr.check_sgd_gradients(self, r, lr, what)
        else:
            nr.check_adam_step(self, r, lr, what)

    def test_data_tells_hard_targets_from_labels(self):
        t = self.task()
        differ = (t.teacher_logits.argmax(1) != t.labels).float().mean().item()
        self.assertGreaterEqual(differ, 0.75, "the teacher's argmax should differ from the labels on most rows")

    def test_training_step_soft_adam(self):
        self.check_training_step("soft", "adam")

    def test_training_step_soft_sgd(self):
        self.check_training_step("soft", "sgd")

    def test_training_step_none_adam(self):
        self.check_training_step("none", "adam")

    def test_training_step_hard_sgd(self):
        # The dist head's CE against the teacher's argmax: every gradient.
        self.check_training_step("hard", "sgd")

    def test_training_step_hard_adam_smoothing(self):
        # Smoothing on the class head's CE only, not on the hard target.
        self.check_training_step("hard", "adam", SMOOTHING)

    def test_training_step_none_sgd_smoothing(self):
        # Smoothing on both heads' CE against the labels.
        self.check_training_step("none", "sgd", SMOOTHING)


if __name__ == "__main__":
    unittest.main(verbosity=2)
