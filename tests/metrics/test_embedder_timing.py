"""The embedders' `bench perf metrics` hooks: the shared timing helper, and the PaSST / OpenL3 hooks
run against their golden values (the peer's own side environment is absent in CI: then the line
says the peer was not timed, and "rel" still compares with the golden values the peer made)."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.embedders.timing import build, seconds_per_10s_file


class _Fake:
    model = object()

    def __init__(self):
        self.seen = []

    def load(self, path):
        return np.zeros(32000 * 5, np.float32)  # 5 s at 32 kHz

    def embed_waveform(self, audio):
        self.seen.append(audio.shape[0])


def test_seconds_per_10s_file_counts_the_audio_it_embedded():
    import torch

    threads = torch.get_num_threads()
    fake = _Fake()
    t = seconds_per_10s_file(fake, ["a.wav", "b.wav"], 32000)
    assert fake.seen == [160000, 160000] and 0 <= t < 1.0
    assert torch.get_num_threads() == threads  # restored


def test_build_makes_what_the_first_embedding_would():
    """Cnn14 runs an inference copy (batch norms folded) built on first use beside `model`; a timing
    that built `model` only counted that copy's build as embedding time."""
    from metrics.embedders.cnn14 import Cnn14Embedder

    emb = Cnn14Embedder(weights="random")
    assert emb._model is None and emb._net_cache is None
    build(emb)
    assert emb._model is not None and emb._net_cache is not None
    plain = _Fake()
    plain.model = None
    build(plain)  # no build(): its `model` property is what gets built


@pytest.mark.slow
@pytest.mark.parametrize("name", ["passt", "openl3"])
def test_hooks_report_a_line_presets_and_parity_against_the_golden_values(name, tmp_path, monkeypatch):
    import importlib

    monkeypatch.setenv(f"DYVIM_{name.upper()}_PEER_PYTHON", str(tmp_path / "no-such-python"))
    r = importlib.import_module(f"metrics.embedders.{name}").perf_line(tmp_path)
    assert r["presets"] and r["rel"] and "10-s file" in r["line"]
    assert max(r["rel"].values()) <= 1e-4, r["rel"]  # OpenL3 since TF's STFT is reproduced: ~2e-6
