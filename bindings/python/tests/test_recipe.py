"""DeiT's recipe options reach libdeit: augment= (deit_augment_options), clip_grad, drop_path and ema_decay of the
distillation, and the teacher's schedule, warmup_epochs, label_smoothing, clip_grad and augment.  Each
setting changes what a tiny training gives while a rerun with the same settings gives the same weights."""
import numpy as np
import pytest

import deit
from conftest import CLASSES, make_task, small_student


@pytest.fixture(scope="module")
def data():
    x, y = make_task(64, 5)
    test_x, _ = make_task(16, 6)
    with deit.Dataset.from_memory(x, y) as train:
        yield train, test_x


def test_augment_defaults_come_from_libdeit():
    d = deit.augment_defaults()
    assert d == {"crop_padding": 4, "resized_crop_scale": 0.0, "hflip": 0, "erase_prob": 0.25,
                 "mixup_alpha": 0.0, "cutmix_alpha": 0.0}, d
    o = deit.deit_c.deit_distill_options_init()
    assert (o.augment, o.clip_grad, o.drop_path, o.ema_decay) == (None, 0.0, 0.0, 0.0)
    t = deit.deit_c.deit_teacher_train_options_init()
    assert (t.schedule, t.warmup_epochs, t.label_smoothing, t.augment, t.clip_grad) == (
        deit.deit_c.DEIT_SCHEDULE_CONSTANT, 0, 0.0, None, 0.0)


def distilled(train, test_x, **options):
    """The logits of a fresh student (always the same initial weights) after one epoch on train."""
    with small_student(seed=5) as s:
        s.distill(None, train, distillation="none", epochs=1, batch_size=16, seed=3, **options)
        return s.predict(test_x)


def test_student_recipe_options_are_passed(data):
    train, test_x = data
    base = distilled(train, test_x)
    np.testing.assert_array_equal(distilled(train, test_x), base)
    variants = {
        "augment": dict(augment=True),
        "augment_mixup": dict(augment={"crop_padding": 0, "erase_prob": 0.0, "mixup_alpha": 0.8}),
        "drop_path": dict(drop_path=0.3),
        "clip_grad": dict(clip_grad=1e-3),
        "ema_decay": dict(ema_decay=0.9),
    }
    for name, options in variants.items():
        logits = distilled(train, test_x, **options)
        assert not np.array_equal(logits, base), f"{name}: training did not change"
        np.testing.assert_array_equal(distilled(train, test_x, **options), logits, err_msg=f"{name}: not repeatable")
    # augment=False and None mean the stored images.
    np.testing.assert_array_equal(distilled(train, test_x, augment=False), base)


def test_invalid_recipe_values_reach_libdeit(data):
    train, _ = data
    with small_student() as s:
        with pytest.raises(deit.Error, match="choose one crop") as e:
            s.distill(None, train, distillation="none", epochs=1, augment={"resized_crop_scale": 0.5})
        assert e.value.status == deit.E_INVALID_ARG
        with pytest.raises(deit.Error, match="drop_path"):
            s.distill(None, train, distillation="none", epochs=1, drop_path=1.5)
        with pytest.raises(TypeError, match="unknown option 'flip'"):
            s.distill(None, train, distillation="none", epochs=1, augment={"flip": 1})
        with pytest.raises(TypeError, match="augment must be"):
            s.distill(None, train, distillation="none", epochs=1, augment="yes")


def trained_teacher(train, test_x, lrs=None, **options):
    """Logits of a fresh resnet18 (seed 0) after 4 head-only steps on 16 images."""
    progress = (lambda p: lrs.append(p.lr)) if lrs is not None else None
    with deit.Teacher("resnet18", CLASSES).to("cpu") as t, train.subset_first(16) as few:
        t.train(few, epochs=2, batch_size=8, trainable="head", progress=progress, **options)
        return t.predict(test_x)


def test_teacher_recipe_options_are_passed(data):
    train, test_x = data
    base_lrs = []
    base = trained_teacher(train, test_x, base_lrs)
    np.testing.assert_array_equal(trained_teacher(train, test_x), base)
    assert len(set(base_lrs)) == 1, base_lrs  # constant schedule
    for name, options in {"augment": dict(augment=True), "label_smoothing": dict(label_smoothing=0.2),
                          "clip_grad": dict(clip_grad=1e-4)}.items():
        logits = trained_teacher(train, test_x, **options)
        assert not np.array_equal(logits, base), f"{name}: training did not change"
    np.testing.assert_array_equal(trained_teacher(train, test_x, augment=True),
                                  trained_teacher(train, test_x, augment=True))
    cosine_lrs = []
    trained_teacher(train, test_x, cosine_lrs, schedule="cosine", warmup_epochs=1)
    assert len(set(cosine_lrs)) > 1 and max(cosine_lrs) <= base_lrs[0] * (1 + 1e-12), cosine_lrs
    with deit.Teacher("resnet18", CLASSES).to("cpu") as t:
        with pytest.raises(deit.Error, match="erase_prob"):
            t.train(train, epochs=1, augment={"erase_prob": 2.0})
        with pytest.raises(deit.Error, match="warmup_epochs"):
            t.train(train, epochs=1, schedule="cosine", warmup_epochs=3)
