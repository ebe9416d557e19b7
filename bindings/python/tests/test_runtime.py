"""Process-wide settings from Python, and model creation leaving the process's LibTorch generator alone."""
import importlib.metadata
import re

import pytest

import deit
from deit import deit_c


def _c_state():
    return deit_c.DEIT_E_STATE


def test_runtime_settings_are_visible_and_applied_once():
    settings, applied = deit.runtime_settings()
    # conftest's set_num_threads is this process's first libdeit work: the defaults are in effect.
    assert applied
    assert settings == {"num_threads": 0, "single_threaded_blas": 1, "tune_malloc": 1}
    with pytest.raises(deit.Error) as e:
        deit.runtime_init(tune_malloc=0)
    assert e.value.status == _c_state() and "applied already" in e.value.message
    with pytest.raises(TypeError):
        deit.runtime_init(bogus=1)


def _major_minor(version):
    return tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", version).groups())


def test_creating_a_model_leaves_the_global_generator_alone():
    # torch must be the LibTorch libdeit links (the Debian build): checked before importing it, since two
    # LibTorch versions in one process do not mix.
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("no torch package")
    if _major_minor(torch_version) != _major_minor(deit.libtorch_version()):
        pytest.skip("torch %s is not the LibTorch libdeit uses (%s): they share no generator"
                    % (torch_version, deit.libtorch_version()))
    import torch

    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    deit.Student("seed", 4, 7)
    deit.Teacher("resnet18", 4)
    assert torch.equal(torch.rand(4), expected)
