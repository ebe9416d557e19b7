"""The progress callback: a Python callable; raising in it cancels training, the exception reaches the
caller after the C call returns, and the model stays usable."""
import numpy as np
import pytest

import deit
from conftest import make_task, small_student


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def data():
    images, labels = make_task(64, 1)
    with deit.Dataset.from_memory(images, labels) as ds:
        yield images, ds


def test_exception_in_callback_cancels_and_is_reraised(data):
    images, ds = data
    seen = []

    def progress(p):
        seen.append(p)
        if len(seen) == 2:
            raise Stop("enough")

    with small_student(seed=4) as s:
        before = s.predict(images)
        with pytest.raises(Stop, match="enough"):
            s.distill(None, ds, progress=progress, distillation="none", epochs=3, batch_size=8)
        assert len(seen) == 2  # no call after the one that raised
        assert all(p.phase == "distill" and p.epochs == 3 and p.steps == 8 for p in seen)
        # Still usable: it took at least one step, evaluates, predicts and trains on.
        after = s.predict(images)
        assert np.isfinite(after).all() and not np.array_equal(before, after)
        assert s.evaluate(ds).count == 64
        ends = []
        s.distill(None, ds, progress=lambda p: ends.append(p.epoch) if p.end_of_epoch else None,
                  distillation="none", epochs=2, batch_size=16)
        assert ends == [1, 2]


def test_true_return_value_cancels_with_status(data):
    _, ds = data
    with small_student(seed=5) as s:
        with pytest.raises(deit.Error) as e:
            s.distill(None, ds, progress=lambda p: True, distillation="none", epochs=1, batch_size=8)
        assert e.value.status == deit.E_CANCELLED


def test_teacher_training_cancel(data):
    images, ds = data
    calls = []

    def progress(p):
        calls.append(p.phase)
        raise KeyError(p.step)

    with deit.Teacher("resnet18", 4).to("cpu") as t:
        with pytest.raises(KeyError):
            t.train(ds, progress=progress, epochs=1, batch_size=16)
        assert calls == ["teacher_train"]
        assert t.predict(images[:3]).shape == (3, 4)
        assert t.evaluate(ds).count == 64


def test_bad_callback():
    images, labels = make_task(8, 2)
    with deit.Dataset.from_memory(images, labels) as ds, small_student() as s:
        with pytest.raises(TypeError, match="callable"):
            s.distill(None, ds, progress=3, distillation="none", epochs=1)
