"""deit_distillation_loss against torch.nn.functional on random logits:
soft, hard and none, several temperatures, alphas and label smoothings.

libdeit's definitions (include/deit/deit.h, libdeit/train/losses.h) are the
reference notebook's (notebook_reference.reference_loss, here in float64):
soft = F.kl_div(log_softmax(s/T), softmax(t/T), reduction='batchmean') * T^2.
facebookresearch/deit (losses.py) divides the summed KL by numel = batch *
classes instead, so its soft term is libdeit's / num_classes;
test_soft_relation_to_deit_reference pins that relation down.
"""
import itertools
import os
import sys
import unittest

import conformance_common as cc  # first: exits 77 without torch
import notebook_reference as nr

import torch
import torch.nn.functional as F

N, K = 8, 10
TYPES = ("soft", "hard", "none")
TEMPERATURES = (0.5, 1.0, 2.0, 4.0)
ALPHAS = (0.0, 0.25, 0.5, 1.0)
SMOOTHINGS = (0.0, 0.1)


def deit_reference_soft(dist, teacher, T):
    """facebookresearch/deit losses.py, distillation_type='soft'."""
    return F.kl_div(F.log_softmax(dist / T, dim=1), F.log_softmax(teacher / T, dim=1),
                    reduction="sum", log_target=True) * (T * T) / dist.numel()


class LossConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        g = torch.Generator().manual_seed(6)
        # float32 as the C API takes them; scale 3 so that softmaxes are far from uniform
        cls.logits = (3 * torch.randn(3, N, K, generator=g)).float()
        cls.labels = torch.randint(0, K, (N,), generator=g)
        cls.dir = cc.tmp_dir("losses")
        cls.logits_path = os.path.join(cls.dir, "logits.f32")
        cls.labels_path = os.path.join(cls.dir, "labels.i64")
        cc.write_f32(cls.logits_path, cls.logits)
        cc.write_i64(cls.labels_path, cls.labels)

    def libdeit(self, cases):
        path = os.path.join(self.dir, "cases.txt")
        with open(path, "w") as f:
            for kind, alpha, T, ls in cases:
                f.write(f"{kind} {alpha!r} {T!r} {ls!r}\n")
        out = cc.run_driver("loss", path, self.logits_path, self.labels_path, N, K)
        rows = [tuple(float(v) for v in line.split()) for line in out.splitlines()]
        self.assertEqual(len(rows), len(cases), "the driver answered a different number of cases")
        return rows

    def test_all_types_temperatures_alphas(self):
        cases = list(itertools.product(TYPES, ALPHAS, TEMPERATURES, SMOOTHINGS))
        got = self.libdeit(cases)
        cls, dist, teacher = (t.double() for t in self.logits)
        worst = 0.0
        for case, row in zip(cases, got):
            want = [v.item() for v in nr.reference_loss(cls, dist, teacher, self.labels, *case)]
            for name, g, w in zip(("total", "cls", "dist"), row, want):
                err = abs(g - w) / max(abs(w), 1e-12)
                worst = max(worst, err)
                # The C API computes in float64 from float32 logits: any difference in definition shows.
                self.assertLessEqual(err, 1e-6, f"{case}: {name} is {g!r} in libdeit, {w!r} in PyTorch")
        print(f"{len(cases)} cases, worst relative error {worst:.3g}", file=sys.stderr)

    def test_soft_relation_to_deit_reference(self):
        cases = [("soft", 1.0, T, 0.0) for T in TEMPERATURES]
        got = self.libdeit(cases)
        dist, teacher = self.logits[1].double(), self.logits[2].double()
        for (_, _, T, _), row in zip(cases, got):
            deit = deit_reference_soft(dist, teacher, T).item()
            # libdeit (the notebook): mean over the batch; DeiT: mean over batch * classes.
            self.assertAlmostEqual(row[2] / K, deit, delta=1e-6 * abs(deit),
                                   msg=f"T={T}: libdeit soft {row[2]!r}, DeiT reference {deit!r} (x{K} expected)")

    def test_soft_is_zero_when_student_matches_teacher(self):
        # Identical distributions: no distillation loss, whatever the temperature.
        logits = self.logits.clone()
        logits[1] = logits[2] + 1.5  # softmax is shift-invariant
        path = os.path.join(self.dir, "same.f32")
        cc.write_f32(path, logits)
        cases_path = os.path.join(self.dir, "same.txt")
        with open(cases_path, "w") as f:
            f.write("soft 0.5 2.0 0.0\nsoft 0.5 0.5 0.0\n")
        out = cc.run_driver("loss", cases_path, path, self.labels_path, N, K)
        for line in out.splitlines():
            self.assertLess(abs(float(line.split()[2])), 1e-6, line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
