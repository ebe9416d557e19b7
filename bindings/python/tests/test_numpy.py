"""numpy in and out: data sets copy exactly what they are given; predict/classify agree across layouts."""
import numpy as np
import pytest

import deit
from conftest import CLASSES, make_task, small_student


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
def test_gray_nhwc_round_trip(label_dtype):
    images, labels = make_task(50, 3)
    with deit.Dataset.from_memory(images, labels.astype(label_dtype)) as ds:
        info = ds.info
        assert (info["count"], info["channels"], info["height"], info["width"]) == (50, 1, 28, 28)
        assert info["num_classes"] == CLASSES and info["dtype"] == "uint8" and info["format"] == "memory"
        back = ds.images()
        assert back.dtype == np.uint8 and back.shape == (50, 1, 28, 28)
        np.testing.assert_array_equal(back, images.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(ds.labels(), labels)
        np.testing.assert_array_equal(ds.images(10, 5), back[10:15])
        np.testing.assert_array_equal(ds.labels(10, 5), labels[10:15])
        np.testing.assert_array_equal(ds.label_histogram(), np.bincount(labels, minlength=CLASSES))


def test_rgb_layouts_and_float():
    rng = np.random.default_rng(5)
    nhwc = rng.integers(0, 256, size=(7, 6, 5, 3), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2, 4])
    with deit.Dataset.from_memory(nhwc, labels) as ds:
        assert ds.num_classes == 5
        np.testing.assert_array_equal(ds.images(), nhwc.transpose(0, 3, 1, 2))
    nchw = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    with deit.Dataset.from_memory(nchw, labels, num_classes=8, layout="nchw") as ds:
        assert ds.num_classes == 8
        np.testing.assert_array_equal(ds.images(), nchw)
    f = rng.standard_normal((7, 3, 6, 5)).astype(np.float32)
    with deit.Dataset.from_memory(f, labels) as ds:
        back = ds.images()
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back, f)
    # A strided view is copied to a contiguous array on the way in, and still comes back equal.
    with deit.Dataset.from_memory(nhwc[:, ::-1], labels) as ds:
        np.testing.assert_array_equal(ds.images(), nhwc[:, ::-1].transpose(0, 3, 1, 2))


def test_subsets():
    images, labels = make_task(40, 4)
    with deit.Dataset.from_memory(images, labels) as ds:
        with ds.subset_first(7) as first:
            assert len(first) == 7
            np.testing.assert_array_equal(first.images(), ds.images(0, 7))
        with ds.subset_fraction(0.25, seed=3) as part:
            assert len(part) == 10
            # Every subset image is one of the originals, with its label.
            originals = {img.tobytes(): lab for img, lab in zip(ds.images(), ds.labels())}
            for img, lab in zip(part.images(), part.labels()):
                assert originals[img.tobytes()] == lab


def test_predict_and_classify_agree_across_inputs():
    images, _ = make_task(9, 6)
    with small_student(seed=2) as s:
        logits = s.predict(images)
        assert logits.dtype == np.float32 and logits.shape == (9, CLASSES)
        nchw_u8 = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(s.predict(nchw_u8, layout="nchw"), logits)
        np.testing.assert_allclose(s.predict(nchw_u8.astype(np.float32) / 255), logits, atol=1e-5)
        np.testing.assert_allclose(s.predict(images[..., 0]), logits, atol=0)  # N x H x W gray
        cls_l, dist_l = s.predict(images, head="cls"), s.predict(images, head="dist")
        np.testing.assert_allclose(logits, (cls_l + dist_l) / 2, atol=1e-5)
        classes = s.classify(images)
        assert classes.dtype == np.int64
        np.testing.assert_array_equal(classes, logits.argmax(axis=1))
        np.testing.assert_array_equal(s.classify(images, head="dist"), dist_l.argmax(axis=1))


def test_distillation_loss_matches_numpy():
    rng = np.random.default_rng(8)
    cls, dist, teach = (rng.standard_normal((5, 3)) for _ in range(3))
    y = np.array([0, 2, 1, 1, 0])
    T = 2.0

    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    ce = -log_softmax(cls.astype(np.float32).astype(np.float64))[np.arange(5), y].mean()
    lt, ls = log_softmax(teach / T), log_softmax(dist / T)
    kl = (np.exp(lt) * (lt - ls)).sum(axis=1).mean() * T * T
    loss, loss_cls, loss_dist = deit.distillation_loss(cls, dist, teach, y, alpha=0.25, temperature=T)
    assert loss_cls == pytest.approx(ce, abs=1e-5)
    assert loss_dist == pytest.approx(kl, abs=1e-5)
    assert loss == pytest.approx(0.25 * loss_dist + 0.75 * loss_cls, abs=1e-12)
    with pytest.raises(ValueError, match="labels"):
        deit.distillation_loss(cls, dist, teach, y[:3])


def test_cifar_files_from_a_list_of_paths(tmp_path):
    # CIFAR-10 binary records: one label byte, then 3 x 32 x 32 pixels (NCHW).
    rng = np.random.default_rng(9)
    pixels = rng.integers(0, 256, size=(5, 3, 32, 32), dtype=np.uint8)
    labels = np.array([3, 0, 9, 1, 3], dtype=np.uint8)
    paths = []
    for part, rows in enumerate([slice(0, 2), slice(2, 5)]):
        path = tmp_path / f"batch_{part}.bin"
        path.write_bytes(b"".join(bytes([y]) + img.tobytes() for y, img in zip(labels[rows], pixels[rows])))
        paths.append(path)
    with deit.Dataset.open_cifar(paths, 10) as ds:
        assert ds.info["format"] == "cifar10" and len(ds) == 5
        np.testing.assert_array_equal(ds.images(), pixels)
        np.testing.assert_array_equal(ds.labels(), labels)
    with pytest.raises(TypeError, match="sequence of str"):
        deit.deit_c.deit_dataset_open_cifar(3, 10)
