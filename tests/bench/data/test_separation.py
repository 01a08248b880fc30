"""The separator registry: `none`, the demucs separator's errors, and (when the `separation`
extra is installed) demucs on a tiny random model."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bench.data import separation
from bench.data.separation import (
    HTDEMUCS_FILE,
    HTDEMUCS_URL,
    IdentitySeparator,
    Separator,
    SeparatorWeightsError,
    make_separator,
    register_separator,
)
from core.errors import DatasetError, UnknownNameError, WeightsNotFoundError


def test_none_is_identity():
    sep = make_separator("none")
    assert isinstance(sep, Separator) and sep.name == "none"
    x = np.linspace(-1, 1, 100, dtype=np.float64)
    y = sep.separate(x, 16000)
    assert y.dtype == np.float32 and np.allclose(y, x)
    stereo = np.ones((10, 2), np.float32)
    assert sep.separate(stereo, 8000).shape == (10, 2)
    assert isinstance(make_separator(None), IdentitySeparator)


def test_registry(monkeypatch):
    with pytest.raises(UnknownNameError, match="known separators: demucs, none"):
        make_separator("spleeter")
    monkeypatch.setattr(separation, "SEPARATORS", dict(separation.SEPARATORS))

    class Quiet:
        name = "quiet"

        def __init__(self, weights_path=None, gain=0.0):
            self.gain = gain

        def separate(self, audio, sample_rate):
            return np.asarray(audio, np.float32) * self.gain

    register_separator("quiet", Quiet)
    assert make_separator("quiet", gain=0.5).separate(np.ones(4), 10).tolist() == [0.5] * 4
    obj = Quiet()
    assert make_separator(obj) is obj
    with pytest.raises(DatasetError):
        make_separator(object())


def test_demucs_without_weights_names_the_file_and_where_to_get_it():
    with pytest.raises(SeparatorWeightsError) as e:
        make_separator("demucs")
    assert isinstance(e.value, DatasetError) and isinstance(e.value, WeightsNotFoundError)
    msg = str(e.value)
    assert HTDEMUCS_FILE in msg and HTDEMUCS_URL in msg and "dataset.params.separator_weights=" in msg


def test_demucs_missing_weights_file(tmp_path):
    missing = tmp_path / "models" / HTDEMUCS_FILE
    with pytest.raises(SeparatorWeightsError, match=f"{missing}: demucs weights not found"):
        make_separator("demucs", weights_path=missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeparatorWeightsError, match="no htdemucs.yaml or .th file"):
        make_separator("demucs", weights_path=tmp_path / "empty")


def test_demucs_not_installed_says_how_to_install(tmp_path, monkeypatch):
    weights = tmp_path / HTDEMUCS_FILE
    weights.write_bytes(b"x")
    for mod in [m for m in sys.modules if m == "demucs" or m.startswith("demucs.")] + ["demucs"]:
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(DatasetError, match=r"dyvim-bench\[separation\]"):
        make_separator("demucs", weights_path=weights)


@pytest.fixture(scope="module")
def tiny_demucs(tmp_path_factory):
    """A random, tiny HTDemucs saved as demucs saves its published models (a `.th` package)."""
    pytest.importorskip("demucs", reason="the `separation` extra (demucs) is not installed")
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], channels=16, depth=4, t_layers=1,
                     t_hidden_scale=1.0, bottom_channels=0, segment=4)
    args, kwargs = model._init_args_kwargs
    path = tmp_path_factory.mktemp("demucs") / "tiny.th"
    torch.save({"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": model.state_dict()}, path)
    return path


@pytest.mark.slow
def test_demucs_tiny_model_separates(tiny_demucs):
    sep = make_separator("demucs", weights_path=tiny_demucs, device="cpu")
    rng = np.random.default_rng(0)
    mono = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    acc = sep.separate(mono, 16000)
    assert acc.shape == mono.shape and acc.dtype == np.float32 and np.isfinite(acc).all()
    assert np.array_equal(acc, sep.separate(mono, 16000))  # deterministic (no random shifts)
    stereo = np.stack([mono, -mono], axis=1)
    assert sep.separate(stereo, 16000).shape == stereo.shape
    assert separation.describe(sep)["weights"] == str(tiny_demucs)


def test_demucs_folder_repo_and_bad_file(tiny_demucs, tmp_path):
    import shutil

    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(tiny_demucs, repo / "abcd1234.th")
    (repo / "mybag.yaml").write_text("models: ['abcd1234']\n")
    sep = make_separator("demucs", weights_path=repo, model="mybag", device="cpu")
    assert sep.separate(np.zeros(8000, np.float32), 8000).shape == (8000,)
    bad = tmp_path / HTDEMUCS_FILE
    bad.write_bytes(b"not a model")
    with pytest.raises(DatasetError, match=f"{bad}: not a demucs model"):
        make_separator("demucs", weights_path=bad, device="cpu").separate(np.zeros(100, np.float32), 8000)
