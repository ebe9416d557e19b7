"""Train on a synthetic 4-class task: a teacher trains and a student distils from it (both held to
accuracy bars), predictions agree with evaluation, checkpoints round-trip, the teacher-logit file is
reused, and the GIL is released while libdeit trains."""
import threading
import time

import numpy as np
import pytest

import deit
from conftest import CLASSES, make_task, small_student

# Accuracy bars on the 128 test images (chance is 0.25). Over up to 5 teacher and 20 student seeds at 1 and
# 2 threads (in Go, Rust and Python, each with its own images) the teacher reached 0.91-1.0, the student
# 0.99-1.0 (both heads' average), 0.98-1.0 (class head) and 0.59-1.0 (distillation head); an untrained
# teacher (lr 1e-12) gives 0.31-0.41, shuffled labels 0.20-0.29.
TEACHER_BAR = 0.7
STUDENT_BAR = 0.7  # averaged heads and class head
STUDENT_DIST_BAR = 0.45


@pytest.fixture(scope="module")
def task():
    train_x, train_y = make_task(256, 1)
    test_x, test_y = make_task(128, 2)
    with deit.Dataset.from_memory(train_x, train_y) as train, train.subset_first(64) as few, \
            deit.Dataset.from_memory(test_x, test_y) as test:
        yield train, few, test, test_x, test_y


@pytest.fixture(scope="module")
def teacher(task):
    """One teacher for the module, trained on 64 images.  Smoke-sized: its head only (the notebook's
    fine-tuning; backpropagating through the whole ResNet costs 5x as much), 64 steps (BatchNorm's
    running statistics, used in eval mode, need that many)."""
    _, few, _, _, _ = task
    reports = []

    def progress(p):
        reports.append((p.phase, p.epoch, p.epochs, p.step, p.steps, p.end_of_epoch))

    with deit.Teacher("resnet18", CLASSES).to("cpu") as t:
        t.train(few, epochs=8, batch_size=8, trainable="head", progress=progress)
        yield t, reports


def test_teacher_trains(task, teacher, tmp_path):
    _, _, test, test_x, test_y = task
    t, reports = teacher
    assert {r[:3] for r in reports} == {("teacher_train", e, 8) for e in range(1, 9)}
    assert all(r[4] == 8 for r in reports)
    assert [r[1] for r in reports if r[5]] == list(range(1, 9)) and reports[-1][3] == 8
    r = t.evaluate(test, confusion=True)
    print(f"teacher accuracy {r.accuracy:.3f} loss {r.loss:.3f} (bar {TEACHER_BAR})")
    assert r.count == 128 and r.accuracy > TEACHER_BAR and r.loss > 0
    assert np.trace(r.confusion) / 128 == pytest.approx(r.accuracy, abs=1e-12)
    assert (t.classify(test_x) == test_y).mean() == pytest.approx(r.accuracy, abs=1e-12)
    t.save(tmp_path / "teacher.safetensors")
    assert deit.checkpoint_kind(tmp_path / "teacher.safetensors") == "teacher"
    with deit.Teacher.load(tmp_path / "teacher.safetensors") as back:
        assert back.arch == "resnet18"
        np.testing.assert_array_equal(back.to("cpu").predict(test_x[:4]), t.predict(test_x[:4]))


def test_student_distils_and_predicts(task, teacher, tmp_path):
    train, _, test, test_x, test_y = task
    t, _ = teacher
    losses = []

    def progress(p):
        if p.end_of_epoch and p.phase == "distill":
            losses.append((p.loss, p.loss_dist))

    with small_student(seed=7) as s:
        # The default five epochs: with fewer, some seeds leave a head at chance.
        s.distill(t, train, epochs=5, batch_size=16, temperature=2.0, progress=progress)
        assert len(losses) == 5 and losses[-1][0] < losses[0][0]
        assert all(np.isfinite(losses).ravel()) and losses[-1][1] > 0
        r = s.evaluate(test, confusion=True)
        print(f"student accuracy avg {r.accuracy:.3f} cls {r.accuracy_cls:.3f} dist {r.accuracy_dist:.3f} "
              f"(bars {STUDENT_BAR}, {STUDENT_BAR}, {STUDENT_DIST_BAR})")
        assert r.count == 128
        assert r.accuracy > STUDENT_BAR and r.accuracy_cls > STUDENT_BAR
        assert r.accuracy_dist > STUDENT_DIST_BAR
        assert np.trace(r.confusion) / 128 == pytest.approx(r.accuracy, abs=1e-12)
        classes = s.classify(test_x)
        assert (classes == test_y).mean() == pytest.approx(r.accuracy, abs=1e-12)
        assert (s.classify(test_x, head="cls") == test_y).mean() == pytest.approx(r.accuracy_cls, abs=1e-12)
        assert (s.classify(test_x, head="dist") == test_y).mean() == pytest.approx(r.accuracy_dist, abs=1e-12)
        path = tmp_path / "student.safetensors"
        s.save(path)
        logits = s.predict(test_x[:5])
    assert deit.describe_checkpoint(path)["kind"] == "student"
    assert deit.checkpoint_kind(path) == "student"
    with deit.Student.load(path) as loaded:
        assert loaded.config["mlp_dim"] == 128
        np.testing.assert_array_equal(loaded.to("cpu").predict(test_x[:5]), logits)


def test_teacher_logits_file_is_reused(task, teacher, tmp_path):
    # teacher_logits_path: the second run reads the logits the first wrote (no teacher pass).
    _, few, _, _, _ = task
    t, _ = teacher
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
    train, _, _, _, _ = task
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
