"""Data-parallel groups from Python: a group of one changes nothing, and two Python processes that join
a group from torchrun's environment train the same model (bit for bit on both ranks)."""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import deit
from conftest import CLASSES, make_task, small_student

RANK_SCRIPT = r"""
import sys
import numpy as np
import deit
sys.path.insert(0, sys.argv[1])
from conftest import make_task, small_student
deit.set_num_threads(1)
x, y = make_task(128, 1)
with deit.Group.from_env() as g, deit.Dataset.from_memory(x, y) as train, small_student(seed=4) as s:
    s.distill(None, train, distillation="none", epochs=2, batch_size=8, group=g)
    r = s.evaluate(train, group=g)
    np.save(sys.argv[2] + f"/logits{g.rank}.npy", s.predict(x[:16]))
    print("rank", g.rank, "of", g.world_size, "accuracy", r.accuracy, flush=True)
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_group_of_one_changes_nothing():
    x, y = make_task(64, 3)
    with deit.Group() as g, deit.Dataset.from_memory(x, y) as train:
        assert (g.rank, g.world_size) == (0, 1)
        g.barrier()
        results = []
        for group in (None, g):
            with small_student(seed=2) as s:
                s.distill(None, train, distillation="none", epochs=1, batch_size=16, group=group)
                results.append((s.predict(x[:8]), s.evaluate(train, group=group).accuracy))
        assert np.array_equal(results[0][0], results[1][0])
        assert results[0][1] == results[1][1]


def test_bad_group_options_raise():
    with pytest.raises(deit.Error) as e:
        deit.Group(rank=3, world_size=2)
    assert e.value.status == deit.E_INVALID_ARG and "rank = 3" in e.value.message
    with pytest.raises(TypeError):
        deit.Group(ranks=2)


def test_two_processes_train_one_model(tmp_path):
    port = free_port()
    here = os.path.dirname(os.path.abspath(__file__))
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), DEIT_DIST_TIMEOUT="60")
        procs.append(subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, here, str(tmp_path)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    print(*outputs)
    assert [p.returncode for p in procs] == [0, 0], outputs
    a, b = np.load(tmp_path / "logits0.npy"), np.load(tmp_path / "logits1.npy")
    assert np.array_equal(a, b)
    assert "rank 0 of 2" in outputs[0] and "rank 1 of 2" in outputs[1]
