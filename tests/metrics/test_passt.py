"""PaSST (passt_s_swa_p16_128_ap476) against golden values made by the real code: stable-audio-metrics'
``return_probabilities`` running hear21passt 0.0.26's model, loaded from the same seeded random
weight file in the official layout (scripts/golden/passt_golden.py; random weights: the numbers say
nothing about the pretrained model). ``protocol="audiocraft"`` (10 s segments, no overlap, no
padding, no normalisation, julius resampling, one row per segment) is checked against audiocraft's
own ``PasstKLDivergenceMetric._get_label_distribution`` the same way. Not checked: the pretrained
file itself (GitHub releases are out of reach)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.embedders.passt import (MIN_SAMPLES, PasstEmbedder, kaldi_mel_banks, save_random_weights,
                                     windows)
from metrics.errors import MetricError
from tests.metrics.conftest import ROOT, load_script

golden_script = load_script("golden/passt_golden")
GOLDEN = ROOT / "tests/metrics/golden/passt_golden.npz"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_random_weights(tmp_path_factory.mktemp("passt") / "passt-s-f128-p16-s10-ap.476-swa.pt",
                               seed=golden_script.SEED)


@pytest.mark.slow
def test_matches_stable_audio_metrics_and_hear21passt(tmp_path, weights):
    golden = np.load(GOLDEN)
    # the same weights as the golden run
    assert str(golden["weights_digest"]) == golden_script.state_digest(torch.load(weights))
    # three clips (4 windows) of the five in the golden file keep this test short: two overlapping
    # windows of resampled stereo, a padded window, an unpadded 1 s window
    clips = {k: v for k, v in golden_script.make_audio(tmp_path).items()
             if k in ("mix_15s_44k_stereo", "chirp_3s_32k", "short_1s_16k")}
    emb = PasstEmbedder(weights="pretrained", checkpoint=str(weights), batch_size=4)
    outs = emb.embed_files(list(clips.values()))
    for (name, path), out in zip(clips.items(), outs):
        assert out["logits"].shape == (527,) and out["embedding"].shape == (768,)
        assert len(windows(emb.load(path))) == int(golden[f"{name}/n_windows"])
        probs = torch.softmax(torch.from_numpy(out["logits"]).double(), 0).numpy()
        np.testing.assert_allclose(probs, golden[f"{name}/probs"], rtol=1e-4, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(out["embedding"], golden[f"{name}/embedding"], rtol=1e-4, atol=2e-5,
                                   err_msg=name)


@pytest.mark.slow
def test_matches_audiocraft(tmp_path, weights):
    golden = np.load(GOLDEN)
    clips = {k: v for k, v in golden_script.make_audio(tmp_path).items()
             if k in ("mix_15s_44k_stereo", "chirp_3s_32k", "short_1s_16k")}
    emb = PasstEmbedder(weights="pretrained", checkpoint=str(weights), protocol="audiocraft")
    for (name, path), out in zip(clips.items(), emb.embed_files(list(clips.values()))):
        ref = golden[f"{name}/audiocraft_probs"]  # (segments, 527)
        assert out["segment_logits"].shape == ref.shape, name  # 15 s: a 10 s and a 5 s segment
        probs = torch.softmax(torch.from_numpy(out["segment_logits"]).double(), -1).numpy()
        np.testing.assert_allclose(probs, ref, rtol=1e-4, atol=1e-8, err_msg=name)


def test_windowing_as_stable_audio_metrics():
    sr = 32000
    # 15 s: windows at 0 and 5 s (the last one 10 s long); 12 s: 0 and 5 s, the last padded from 7 s
    assert [len(w) for w in windows(np.ones(15 * sr, np.float32))] == [10 * sr, 10 * sr]
    w = windows(np.ones(12 * sr, np.float32))
    assert [len(x) for x in w] == [10 * sr, 10 * sr] and w[1][7 * sr - 1] == 1 and w[1][7 * sr] == 0
    # ≤ 1.5 s stays unpadded (the reference's rule), 1.6 s is padded to 10 s
    assert [len(x) for x in windows(np.ones(int(1.5 * sr), np.float32))] == [int(1.5 * sr)]
    assert [len(x) for x in windows(np.ones(int(1.6 * sr), np.float32))] == [10 * sr]


def test_too_short_and_silent_audio_are_named_errors(tmp_path):
    import soundfile as sf

    from core.errors import MediaError

    emb = PasstEmbedder(weights="random")
    short = tmp_path / "short.wav"
    sf.write(short, np.full(MIN_SAMPLES - 10, 0.1, np.float32), 32000, subtype="PCM_16")
    with pytest.raises(MediaError, match=r"short\.wav.*needs ≥ 4801"):
        emb.embed_file(short)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(32000, np.float32), 32000, subtype="PCM_16")
    with pytest.raises(MediaError, match=r"silent\.wav: audio is silent"):
        emb.embed_file(silent)
    assert emb._model is None  # both refused before any network was built


@pytest.mark.slow  # ~8 s of CPU (86M seeded random weights, three clips twice); over 15 s on a busy machine
def test_shortest_accepted_clip_runs_batched_and_cached(tmp_path):
    import soundfile as sf

    from core.cache import Cache

    rng = np.random.RandomState(0)
    files = []
    for i, n in enumerate([MIN_SAMPLES, MIN_SAMPLES, 20000]):
        files.append(tmp_path / f"c{i}.wav")
        sf.write(files[-1], 0.3 * rng.standard_normal(n).astype(np.float32), 32000, subtype="PCM_16")
    one = PasstEmbedder(weights="random", seed=3, batch_size=1)
    cache = Cache(tmp_path / "cache")
    a = one.embed_files(files, cache=cache)
    b = one._embed_many(files, 3)
    for x, y in zip(a, b):  # batching gives each file its own numbers
        np.testing.assert_allclose(x["logits"], y["logits"], rtol=1e-5, atol=1e-5)
    assert not np.allclose(a[0]["logits"], a[2]["logits"], atol=1e-3)  # the random network is informative
    warm = PasstEmbedder(weights="random", seed=3)
    assert all(np.array_equal(x["logits"], y["logits"]) for x, y in zip(a, warm.embed_files(files, cache=cache)))
    assert warm._model is None
    assert PasstEmbedder(weights="random", seed=4).config() != one.config()


def test_wrong_checkpoint_names_expected_keys(tmp_path):
    bad = tmp_path / "passt-s-f128-p16-s10-ap.476-swa.pt"  # a PANNs Cnn14 file under PaSST's name
    torch.save({"model": {"conv_block1.conv1.weight": torch.zeros(64, 1, 3, 3), "fc1.weight": torch.zeros(2048, 2048)}},
               bad)
    with pytest.raises(MetricError, match=r"not a PaSST passt_s_swa_p16_128_ap476 checkpoint.*cls_token"):
        _ = PasstEmbedder(weights="pretrained", checkpoint=str(bad)).model
    # a 20 s PaSST (its time positional embedding is 199 patches long) is refused by shape
    from metrics.embedders.passt import _shapes

    state = {k: torch.zeros(1).expand(s) for k, s in _shapes().items()}  # shapes only: a tiny file
    state["time_new_pos_embed"] = torch.zeros(1, 768, 1, 199)
    torch.save({"model": state}, tmp_path / "passt20.pt")
    with pytest.raises(MetricError, match=r"time_new_pos_embed \(1, 768, 1, 199\) \(expected \(1, 768, 1, 99\)\)"):
        _ = PasstEmbedder(weights="pretrained", checkpoint=str(tmp_path / "passt20.pt")).model


def test_missing_weights_names_file_and_url(tmp_path, monkeypatch):
    from core.errors import WeightsNotFoundError

    monkeypatch.setenv("BENCH_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError,
                       match=r"passt-s-f128-p16-s10-ap\.476-swa\.pt.*github\.com/kkoutini/PaSST/releases"):
        PasstEmbedder(weights="pretrained", cache_dir=tmp_path)
    d = PasstEmbedder(weights="random", seed=2).describe()
    assert d["official_file"] == "passt-s-f128-p16-s10-ap.476-swa.pt" and d["seed"] == 2


def test_kaldi_mel_banks_against_the_kaldi_formula():
    # independent float64 evaluation of Kaldi's triangular mel filters (mel = 1127 ln(1 + f/700))
    banks = kaldi_mel_banks().double().numpy()
    mel = lambda f: 1127.0 * np.log1p(np.asarray(f, float) / 700.0)  # noqa: E731
    edges = np.linspace(mel(0.0), mel(15000.0), 130)
    m = mel(np.arange(512) * 32000 / 1024)
    i = 40
    expect = np.maximum(0, np.minimum((m - edges[i]) / (edges[i + 1] - edges[i]),
                                      (edges[i + 2] - m) / (edges[i + 2] - edges[i + 1])))
    np.testing.assert_allclose(banks[i, :512], expect, atol=1e-5)
    assert banks.shape == (128, 513) and not banks[:, 512].any()
