"""Failures raise deit.Error with the status and deit_last_error()'s message; misuse raises Python errors."""
import numpy as np
import pytest

import deit
from conftest import CLASSES, make_task, small_student


def test_build_info():
    major, minor, _ = deit.libtorch_version().split(".")
    assert int(major) >= 1 and int(minor) >= 0
    assert isinstance(deit.cuda_compiled(), bool)
    assert deit.cuda_compiled() or not deit.cuda_available()


def test_model_names_come_from_the_library():
    assert deit.teacher_archs() == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                    "resnet18-small-image", "resnet34-small-image", "resnet50-small-image",
                                    "resnet20-small-image", "resnet56-small-image"]
    assert deit.student_presets() == ["seed", "deit-tiny", "deit-small", "deit-base", "small-image"]


def test_bad_path_raises_error_with_status_and_message(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(deit.Error) as e:
        deit.Dataset.open_dir(missing)
    assert e.value.status == deit.E_IO
    assert e.value.message.startswith("deit_dataset_open_dir: ")
    assert str(missing) in e.value.message
    assert e.value.message in str(e.value) and "status -2" in str(e.value)
    assert e.value.status_name == "input/output error"


def test_malformed_file_is_a_format_error(tmp_path):
    images = tmp_path / "images.idx"
    labels = tmp_path / "labels.idx"
    images.write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x05" * 3)  # says 5 images of 5x5, has none
    labels.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05" + bytes(5))
    with pytest.raises(deit.Error) as e:
        deit.Dataset.open_idx(images, labels)
    assert e.value.status == deit.E_FORMAT
    assert str(images) in e.value.message


def test_each_error_carries_its_own_message(tmp_path):
    with pytest.raises(deit.Error) as first:
        deit.Student.load(tmp_path / "a.safetensors")
    assert deit.resolve_device("cpu") == "cpu"  # a success in between
    with pytest.raises(deit.Error) as second:
        deit.Teacher("resnet999", CLASSES)
    assert "a.safetensors" in first.value.message
    assert second.value.status == deit.E_INVALID_ARG
    assert "resnet999" in second.value.message
    with pytest.raises(deit.Error) as third:
        deit.resolve_device("gpu:x")
    assert third.value.status == deit.E_INVALID_ARG and "gpu:x" in third.value.message
    with pytest.raises(deit.Error) as fourth:
        deit.describe_checkpoint(tmp_path / "none.safetensors")
    assert fourth.value.status == deit.E_IO
    with pytest.raises(deit.Error) as fifth:
        deit.checkpoint_kind(tmp_path / "none.safetensors")
    assert fifth.value.status == deit.E_IO and "none.safetensors" in fifth.value.message


def test_bad_images_and_options():
    images, labels = make_task(8, 0)
    with small_student() as s:
        with pytest.raises(deit.Error) as e:
            s.predict(np.zeros((2, 32, 32, 1), dtype=np.uint8))  # the student takes 28 x 28
        assert e.value.status == deit.E_INVALID_ARG
        with pytest.raises(TypeError, match="uint8 or float32"):
            s.predict(images.astype(np.int16))
        with pytest.raises(ValueError, match="NCHW"):
            s.predict(images.astype(np.float32), layout="nhwc")
        with pytest.raises(ValueError, match="dimensions"):
            s.predict(images[0, :, :, 0])
        ds = deit.Dataset.from_memory(images, labels)
        with pytest.raises(TypeError, match="unknown option 'epoch'"):
            s.distill(None, ds, epoch=1)
        with pytest.raises(ValueError, match="distillation: unknown value 'medium'"):
            s.distill(None, ds, distillation="medium")
        with pytest.raises(deit.Error) as e:
            s.distill(None, ds, epochs=1, batch_size=4)  # a teacher is needed for soft distillation
        assert e.value.status == deit.E_INVALID_ARG and "teacher" in e.value.message
        with pytest.raises(ValueError, match="2 labels for 8 images"):
            deit.Dataset.from_memory(images, labels[:2])
        with pytest.raises(deit.Error) as e:
            ds.images(start=4, count=10)
        assert e.value.status == deit.E_INVALID_ARG
        ds.close()
    with pytest.raises(ValueError, match="Student is closed"):
        s.predict(images)
    with pytest.raises(ValueError, match="Dataset is closed"):
        len(ds)
    s.close()  # twice is fine


def test_low_level_buffers_are_checked():
    images, labels = make_task(4, 1)
    with deit.Dataset.from_memory(images, labels) as ds:
        small = np.empty((3, 1, 28, 28), dtype=np.uint8)
        with pytest.raises(deit.Error) as e:
            deit.deit_c.deit_dataset_copy_images(ds._h, 0, 4, small)
        assert e.value.status == deit.E_BUFFER_TOO_SMALL
        strided = np.empty((4, 1, 28, 56), dtype=np.uint8)[..., ::2]
        with pytest.raises(TypeError, match="C-contiguous"):
            deit.deit_c.deit_dataset_copy_images(ds._h, 0, 4, strided)


def test_model_larger_than_memory_is_out_of_memory():
    # In a child process whose address space is capped at 3 GiB: a student of ~550 GB must fail with
    # E_OOM and a message, not crash or be killed, and the process stays usable afterwards.  Its first
    # MLP weight (2048 x 2^24 floats, 137 GB) is what fails, after the first attention weights were
    # allocated and initialised (a failure part way through the build), in a fraction of a second.
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        import deit
        try:
            deit.Student("seed", 10, embed_dim=2048, depth=2, num_heads=8, mlp_dim=1 << 24)
            print("created")
        except deit.Error as e:
            print(e.status, e.message)
        with deit.Student("seed", 10) as s:  # still usable
            print("small ok", s.num_params)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first.startswith(f"{deit.E_OOM} deit_student_create: "), out.stdout
    assert "allocate" in first
    assert second.startswith("small ok")


def test_non_finite_loss_stops_training():
    # NaN pixels make the first loss NaN: training stops with E_NUMERIC naming where, before the update,
    # so the student keeps its weights and stays usable.
    images = np.full((64, 3, 28, 28), np.nan, dtype=np.float32)
    labels = np.arange(64, dtype=np.int64) % CLASSES
    probe = np.random.default_rng(0).random((2, 3, 28, 28), dtype=np.float32)
    with deit.Dataset.from_memory(images, labels, CLASSES) as data, small_student() as s:
        before = s.predict(probe)
        with pytest.raises(deit.Error) as e:
            s.distill(None, data, epochs=1, batch_size=16, distillation="none")
        assert e.value.status == deit.E_NUMERIC
        assert "student loss became NaN at epoch 1, step 1" in e.value.message
        assert np.array_equal(s.predict(probe), before)
