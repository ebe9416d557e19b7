"""Train on a synthetic 4-class task: the student learns, predictions agree with evaluation,
checkpoints round-trip, a teacher trains and distils, and the GIL is released while libdeit trains."""
import threading
import time

import numpy as np
import pytest

import deit
from conftest import CLASSES, make_task, small_student


@pytest.fixture(scope="module")
def task():
    train_x, train_y = make_task(256, 1)
    test_x, test_y = make_task(128, 2)
    with deit.Dataset.from_memory(train_x, train_y) as train, deit.Dataset.from_memory(test_x, test_y) as test:
        yield train, test, test_x, test_y


def test_student_learns_and_predicts(task, tmp_path):
    train, test, test_x, test_y = task
    losses = []
    with small_student(seed=7) as s:
        # Both heads learn the labels: no teacher needed, so this stays fast on a small CPU.
        s.distill(None, train, distillation="none", epochs=3, batch_size=16,
                  progress=lambda p: losses.append(p.loss) if p.end_of_epoch else None)
        assert len(losses) == 3 and losses[-1] < losses[0]
        r = s.evaluate(test, confusion=True)
        print("student", r)
        assert r.count == 128 and r.accuracy > 0.5  # chance is 0.25
        assert np.trace(r.confusion) / 128 == pytest.approx(r.accuracy, abs=1e-12)
        classes = s.classify(test_x)
        assert (classes == test_y).mean() == pytest.approx(r.accuracy, abs=1e-12)
        path = tmp_path / "student.safetensors"
        s.save(path)
        logits = s.predict(test_x[:5])
    assert deit.describe_checkpoint(path)["kind"] == "student"
    with deit.Student.load(path) as loaded:
        assert loaded.config["mlp_dim"] == 128
        np.testing.assert_array_equal(loaded.to("cpu").predict(test_x[:5]), logits)


def test_teacher_trains_and_teaches(task, tmp_path):
    train, test, test_x, _ = task
    with train.subset_first(64) as few, deit.Teacher("resnet18", CLASSES).to("cpu") as t:
        phases = []
        t.train(few, epochs=1, batch_size=16, progress=lambda p: phases.append((p.phase, p.step, p.steps)))
        assert phases[-1] == ("teacher_train", 4, 4)
        r = t.evaluate(test)
        assert r.count == 128
        assert (t.classify(test_x) == test.labels()).mean() == pytest.approx(r.accuracy, abs=1e-12)
        t.save(tmp_path / "teacher.safetensors")
        with deit.Teacher.load(tmp_path / "teacher.safetensors") as back:
            assert back.arch == "resnet18"
            np.testing.assert_allclose(back.to("cpu").predict(test_x[:4]), t.predict(test_x[:4]), atol=1e-5)
        dist_losses = []
        with small_student(seed=3) as s:
            s.distill(t, few, epochs=1, batch_size=16, temperature=2.0,
                      progress=lambda p: dist_losses.append(p.loss_dist) if p.phase == "distill" else None)
        assert dist_losses and all(np.isfinite(dist_losses)) and dist_losses[-1] > 0
        # teacher_logits_path: the second run reads the logits the first wrote (no teacher pass).
        cache = tmp_path / "logits.safetensors"
        runs = []
        for _ in range(2):
            phases = set()
            with small_student(seed=3) as s:
                s.distill(t, few, epochs=1, batch_size=16, teacher_logits_path=str(cache),
                          progress=lambda p: phases.add(p.phase))
            runs.append(phases)
        assert cache.stat().st_size > 0
        assert "teacher_logits" in runs[0] and "teacher_logits" not in runs[1], runs


def test_gil_is_released_during_training(task):
    train, _, _, _ = task
    failure, call = [], {}
    s = small_student(seed=1)

    def work():
        try:
            start = time.monotonic()
            s.distill(None, train, distillation="none", epochs=2, batch_size=16)
            call["seconds"] = time.monotonic() - start
        except BaseException as e:  # reported below
            failure.append(e)

    worker = threading.Thread(target=work)
    worker.start()
    ticks = [time.monotonic()]
    while worker.is_alive():
        # Python bytecode: runs only while the worker, inside libdeit, does not hold the GIL.
        ticks.append(time.monotonic())
        deadline = time.perf_counter() + 0.002
        while time.perf_counter() < deadline:
            pass
    worker.join()
    s.close()
    assert not failure, failure
    gap = float(np.max(np.diff(ticks)))
    print(f"training {call['seconds']:.2f} s, {len(ticks)} ticks, longest pause {gap:.3f} s")
    assert call["seconds"] > 0.3 and gap < 0.5 * call["seconds"]
