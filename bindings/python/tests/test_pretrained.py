"""Pretrained students through the binding: Student.pretrained_config reads the architecture from a
plain safetensors state dict (no libdeit metadata: num_heads from the preset of that shape),
Student.from_pretrained fits it to a new task (fresh heads, resampled pos_embed) and load_weights copies
it: a student of the same architecture then predicts exactly what the original did."""
import json
import struct

import numpy as np
import pytest

import deit


def strip_metadata(src, dst):
    """The file's tensors as a plain state dict, as safetensors.torch.save_file writes one."""
    data = open(src, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__")
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    open(dst, "wb").write(struct.pack("<Q", len(head)) + head + data[8 + n:])


def test_plain_state_dict_round_trip(tmp_path):
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    with deit.Student("small-image", 10, seed=3) as original:
        original.save(tmp_path / "own.safetensors")
        want = original.predict(x)
    strip_metadata(tmp_path / "own.safetensors", tmp_path / "plain.safetensors")
    cfg = deit.Student.pretrained_config(tmp_path / "plain.safetensors")
    assert (cfg["embed_dim"], cfg["depth"], cfg["num_heads"], cfg["patch_size"], cfg["num_classes"]) == \
        (64, 6, 4, 4, 10)
    with deit.Student.from_pretrained(tmp_path / "plain.safetensors") as same:
        np.testing.assert_array_equal(same.predict(x), want)
    with deit.Student("small-image", 10, seed=99) as other:
        assert not np.array_equal(other.predict(x), want)
        other.load_weights(tmp_path / "plain.safetensors")
        np.testing.assert_array_equal(other.predict(x), want)


def test_new_task_fresh_heads_and_resampled_positions(tmp_path):
    with deit.Student("small-image", 10, seed=3) as original:
        original.save(tmp_path / "own.safetensors")
    with deit.Student.from_pretrained(tmp_path / "own.safetensors", num_classes=4, img_size=32) as s:
        assert (s.config["num_classes"], s.config["img_size"]) == (4, 32)
        assert s.predict(np.zeros((2, 1, 32, 32), np.float32)).shape == (2, 4)


def test_bad_file_is_named(tmp_path):
    bad = tmp_path / "not-a-vit.safetensors"
    head = json.dumps({"conv1.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    head += b" " * (-len(head) % 8)
    bad.write_bytes(struct.pack("<Q", len(head)) + head + b"\0\0\0\0")
    with pytest.raises(deit.Error, match="patch_embed.proj.weight") as e:
        deit.Student.from_pretrained(bad)
    assert e.value.status == deit.E_FORMAT


def test_refused_weights_leave_the_student_unchanged(tmp_path):
    x = np.random.default_rng(1).random((2, 1, 28, 28), dtype=np.float32)
    with deit.Student("seed", 10, seed=1) as post_norm, deit.Student("small-image", 10, mlp_dim=256) as wider:
        post_norm.save(tmp_path / "seed.safetensors")
        wider.save(tmp_path / "wider.safetensors")
    with deit.Student("small-image", 10, seed=2) as s:
        before = s.predict(x)
        # A libdeit checkpoint's stored layout must match (the seed is post-norm) ...
        with pytest.raises(deit.Error, match="pre_norm") as e:
            s.load_weights(tmp_path / "seed.safetensors")
        assert e.value.status == deit.E_FORMAT
        # ... and every tensor's shape: nothing is copied when one differs.
        with pytest.raises(deit.Error, match=r"blocks\.0\.mlp\.fc1\.weight"):
            s.load_weights(tmp_path / "wider.safetensors")
        np.testing.assert_array_equal(s.predict(x), before)


def test_export_onnx(tmp_path):
    """Student.export_onnx writes the model (onnxruntime runs it in tests/pretrained/test_onnx_export.py);
    a one-head model leaves the other head out, and bad arguments or paths raise with nothing written."""
    with deit.Student("small-image", 10, seed=3) as s:
        s.export_onnx(tmp_path / "avg.onnx")
        s.export_onnx(tmp_path / "cls.onnx", head="cls")
        params = s.num_params
        assert (tmp_path / "avg.onnx").stat().st_size > 4 * params
        assert 0 < (tmp_path / "cls.onnx").stat().st_size < (tmp_path / "avg.onnx").stat().st_size
        with pytest.raises(ValueError, match="head"):
            s.export_onnx(tmp_path / "bad.onnx", head="mean")
        with pytest.raises(deit.Error) as e:
            s.export_onnx(tmp_path / "missing" / "x.onnx")
        assert e.value.status == deit.E_IO and "missing" in e.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["avg.onnx", "cls.onnx"]
