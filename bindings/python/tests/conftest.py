"""Shared by the Python tests: a tiny synthetic task the tests make themselves."""
import numpy as np
import pytest

import deit

CLASSES = 4
SIDE = 28


def make_task(n, seed):
    """n gray images N x H x W x 1 (uint8, NHWC) and int64 labels; class k is one of four noisy
    textures with a random phase (stripes three ways, checkerboard), so every patch carries it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    labels = np.arange(n, dtype=np.int64) % CLASSES
    images = np.empty((n, SIDE, SIDE, 1), dtype=np.uint8)
    for i, k in enumerate(labels):
        p = rng.integers(4)
        on = [((y + p) // 2) % 2, ((x + p) // 2) % 2, ((x + y + p) // 2) % 2, (x // 4 + y // 4 + p) % 2][k]
        images[i, :, :, 0] = np.where(on, 160, 20) + rng.integers(0, 80, size=(SIDE, SIDE))
    return images, labels


@pytest.fixture(scope="session", autouse=True)
def two_threads():
    deit.set_num_threads(2)


def small_student(seed=0, **config):
    """The notebook's student with a narrow MLP: small and fast."""
    return deit.Student("seed", CLASSES, seed, mlp_dim=128, **config).to("cpu")
