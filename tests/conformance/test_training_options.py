"""deit_distill's optimizer options against torch.optim, over several
one-step epochs (the `seed` student as the notebook's model, dropout 0, one
batch of N images, soft distillation from a random ResNet-18 teacher;
notebook_reference.py):

- weight decay: DEIT_OPTIM_ADAM adds wd * w to the gradient
  (torch.optim.Adam(weight_decay=)), DEIT_OPTIM_ADAMW decays the weights
  apart from Adam's step (torch.optim.AdamW(weight_decay=));
- DEIT_SCHEDULE_COSINE with warmup_epochs: the lr of every epoch's progress
  report against the schedule's formula, and the training against torch.optim
  with that lr set before every step.

Every step's losses (within 1e-4) and the weights after the last step are
compared (see notebook_reference.check_training), and each test checks that
the comparison fails against the nearest wrong references: the other
optimizer, weight decay ignored, the warmup one step short or long, no
warmup, a cosine over one step less, a constant lr."""
import os
import unittest

import conformance_common as cc  # first: exits 77 without torch
import notebook_reference as nr

LR = 1e-3
WD = 0.5  # large, so that AdamW's decay (lr * wd = 5e-4 of every weight per step) shows
WD_EPOCHS = 3
COSINE_EPOCHS, WARMUP = 6, 2


class TrainingOptionsConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = cc.tmp_dir("training-options")
        teacher = cc.torchvision_resnet("resnet18", nr.CLASSES, 13)
        path = os.path.join(cls.dir, "teacher.safetensors")
        cc.save_safetensors(path, teacher.state_dict())
        cls.task = nr.SeedTask(cls(), cls.dir, teacher, f"weights:resnet18:{nr.CLASSES}:{path}")

    def check_weight_decay(self, optim, other):
        r = self.task.run("soft", optim, LR, epochs=WD_EPOCHS, wd=WD)
        what = f"{optim} wd {WD:g}, {WD_EPOCHS} steps"
        nr.check_training(self, r, what)
        nr.check_fails_against(self, r, self.task.reference("soft", other, r.lrs, wd=WD), f"{what} vs torch {other}")
        nr.check_fails_against(self, r, self.task.reference("soft", optim, r.lrs, wd=0.0), f"{what} vs wd 0")

    def test_adam_weight_decay(self):
        self.check_weight_decay("adam", "adamw")

    def test_adamw_weight_decay(self):
        self.check_weight_decay("adamw", "adam")

    def test_cosine_schedule_with_warmup(self):
        r = self.task.run("soft", "adamw", LR, epochs=COSINE_EPOCHS, wd=WD, schedule="cosine", warmup=WARMUP)
        what = f"adamw wd {WD:g}, cosine over {COSINE_EPOCHS} steps, warmup {WARMUP}"
        # The schedule reaches every part of its formula: warmup, the peak, the decay.
        self.assertEqual(r.lrs[0], LR / WARMUP)
        self.assertEqual(max(r.lrs), LR)
        self.assertLess(r.lrs[-1], 0.2 * LR)
        nr.check_training(self, r, what)
        E, W = COSINE_EPOCHS, WARMUP
        wrong = {
            "warmup one step short": [nr.cosine_lr(LR, k, W - 1, E) for k in range(E)],
            "warmup one step long": [nr.cosine_lr(LR, k, W + 1, E) for k in range(E)],
            "warmup lr * step / W": [LR * k / W if k < W else r.lrs[k] for k in range(E)],
            "no warmup": [nr.cosine_lr(LR, k, 0, E) for k in range(E)],
            "cosine over one step less": [nr.cosine_lr(LR, k, W, E - 1) for k in range(E)],
            "constant lr": [LR] * E,
        }
        for name, lrs in wrong.items():
            self.assertNotEqual(lrs, r.lrs, name)
            nr.check_fails_against(self, r, self.task.reference("soft", "adamw", lrs, wd=WD), f"{what} vs {name}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
