"""Validation during training: Dataset.split holds a share out (the counts add up); with val= every
epoch's end reports a val_accuracy in [0, 1] (no other report has one), the last is the trained
student's accuracy on val, and best_path= holds a loadable checkpoint of the best epoch.  The teacher
passes val through too."""
import numpy as np
import pytest

import deit
from conftest import CLASSES, make_task, small_student


def test_split_counts_add_up():
    x, y = make_task(40, 11)
    with deit.Dataset.from_memory(x, y) as all_:
        first, rest = all_.split(0.25, 9)
        with first, rest, all_.subset_fraction(0.25, 9) as sub:
            assert (len(first), len(rest)) == (10, 30)
            assert len(first) + len(rest) == len(all_)
            np.testing.assert_array_equal(first.images(), sub.images())  # the same permutation
        with pytest.raises(deit.Error, match="leaves none") as e:
            all_.split(1.0, 9)
        assert e.value.status == deit.E_INVALID_ARG
        with pytest.raises(deit.Error, match=r"outside \(0, 1\]"):
            all_.split(0.0)


def test_distill_with_val_and_best_path(tmp_path):
    x, y = make_task(256, 12)
    with deit.Dataset.from_memory(x, y) as all_:
        val, train = all_.split(0.25, 1)
    best = tmp_path / "best.safetensors"
    accs, stray = [], []

    def progress(p):
        if p.end_of_epoch and p.phase == "distill":
            accs.append(p.val_accuracy)
        elif p.val_accuracy != -1:
            stray.append(p)

    with val, train, small_student(seed=4) as s:
        s.distill(None, train, progress=progress, distillation="none", epochs=2, batch_size=32, val=val,
                  best_path=best)  # a pathlib.Path
        assert not stray, stray
        assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs), accs
        assert s.evaluate(val).accuracy == accs[-1]
        assert best.exists()
        with deit.Student.load(best) as b:
            assert b.evaluate(val).accuracy == max(accs)

        # best_path needs val; without val nothing is reported.
        with pytest.raises(deit.Error, match="best_path is set but val is NULL"):
            s.distill(None, train, distillation="none", epochs=1, best_path=str(best))
        seen = []
        s.distill(None, train, progress=lambda p: seen.append(p.val_accuracy), distillation="none", epochs=1,
                  batch_size=32)
        assert seen and set(seen) == {-1.0}, set(seen)
        with pytest.raises(TypeError, match="val must be a deit.Dataset"):
            s.distill(None, train, distillation="none", epochs=1, val="not a dataset")

        # The teacher: one head-only epoch on 16 images.
        t_acc = []
        with deit.Teacher("resnet18", CLASSES).to("cpu") as t, train.subset_first(16) as few:
            t.train(few, progress=lambda p: t_acc.append(p.val_accuracy) if p.end_of_epoch else None,
                    epochs=1, batch_size=8, trainable="head", val=val)
            assert t_acc == [t.evaluate(val).accuracy]
