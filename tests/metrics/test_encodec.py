"""EnCodec embeddings (fadtk's encodec-emb / encodec-emb-48k) against fadtk 1.1.0's own
``EncodecEmbModel._get_embedding`` + ``get_embedding`` running facebookresearch/encodec 0.1.1's model
code, both loading one file of seeded random weights in the official layout (random weights:
these numbers say nothing about the pretrained codec)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.embedders.encodec import EncodecEmbedder, kaiser_resample_kernel, save_random_weights
from metrics.errors import MetricError
from tests.metrics.conftest import load_script

ref_tools = load_script("reference_fadtk")


def _fadtk_model(sample_rate: int, weights_file):
    """fadtk's EncodecEmbModel with the encodec package's model holding `weights_file` (its
    load_model would download the pretrained file; the same constructor with pretrained=False)."""
    ref_tools.load_fadtk()
    encodec = ref_tools.load_encodec()
    from fadtk.model_loader import EncodecEmbModel

    ml = EncodecEmbModel("24k" if sample_rate == 24000 else "48k")
    model = (encodec.EncodecModel.encodec_model_24khz(pretrained=False) if sample_rate == 24000
             else encodec.EncodecModel.encodec_model_48khz(pretrained=False))
    result = model.load_state_dict(torch.load(weights_file), strict=False)
    assert not result.unexpected_keys
    assert all(not k.startswith("encoder.") for k in result.missing_keys)  # decoder/quantizer only
    ml.model = model.eval()
    ml.device = torch.device("cpu")
    return ml


@pytest.mark.parametrize("sample_rate,seconds", [(24000, 1.3), (48000, 1.5)])
def test_encoder_matches_fadtk_and_encodec(tmp_path, sample_rate, seconds):
    path = save_random_weights(tmp_path / "encodec.th", sample_rate, seed=4)
    ours = EncodecEmbedder(sample_rate, weights="pretrained", checkpoint=str(path))
    ml = _fadtk_model(sample_rate, path)
    rng = np.random.RandomState(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    audio = (0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)
    audio = np.round(audio * 32767).astype(np.float32) / 32768  # a 16-bit PCM waveform, as fadtk's load_wav gives
    wav = torch.from_numpy(audio)[None]
    if sample_rate == 48000:
        wav = wav.expand(2, -1)
    theirs = ml.get_embedding(wav[None])
    got = ours.embed_waveform(audio)
    assert got.dtype == np.float16 and theirs.dtype == np.float16
    assert got.shape == theirs.shape == (theirs.shape[0], 128)
    assert theirs.shape[0] == (75 if sample_rate == 24000 else 150) * int(np.ceil(seconds)) - (
        int(75 * (np.ceil(seconds) - seconds)) if sample_rate == 24000 else int(150 * (np.ceil(seconds) - seconds)))
    np.testing.assert_allclose(got.astype(np.float32), theirs.astype(np.float32), rtol=2e-3, atol=2e-3)
    # batched files give the per-file result
    import soundfile as sf

    files = []
    for i, n in enumerate((len(audio), len(audio), len(audio) // 3)):
        files.append(tmp_path / f"f{i}.wav")
        sf.write(files[-1], audio[:n], sample_rate, subtype="PCM_16")
    assert ours.batch_size == 1  # on the CPU: batching is slower (metrics.embedders.encodec.default_batch_size)
    batched = EncodecEmbedder(sample_rate, weights="pretrained", checkpoint=str(path), batch_size=8).embed_files(files)
    for f, b in zip(files, batched):
        np.testing.assert_allclose(b["frames"].astype(np.float32), ours.embed_file(f)["frames"].astype(np.float32),
                                   rtol=2e-3, atol=2e-3)


def test_wrong_checkpoint_names_expected_keys(tmp_path):
    bad = tmp_path / "encodec_24khz-d7cc33bc.th"
    save_random_weights(bad, 48000, seed=0)  # the 48 kHz codec's file where the 24 kHz one is expected
    with pytest.raises(MetricError, match=r"not an EnCodec 24 kHz checkpoint.*encoder\.model\.0\.conv\.conv"):
        _ = EncodecEmbedder(24000, weights="pretrained", checkpoint=str(bad)).model


def test_missing_weights_names_file_and_url(tmp_path):
    from core.errors import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match=r"encodec_48khz-7e698e3e\.th.*dl\.fbaipublicfiles\.com"):
        EncodecEmbedder(48000, weights="pretrained", cache_dir=tmp_path)


def test_short_audio_and_no_model_until_needed(tmp_path):
    import soundfile as sf

    from core.cache import Cache

    emb = EncodecEmbedder(24000, weights="random", seed=1)
    f = tmp_path / "short.wav"
    sf.write(f, np.zeros(100, np.float32) + 0.1, 44100, subtype="PCM_16")  # 2 ms, below one 320-sample hop
    cache = Cache(tmp_path / "cache")
    rows = emb.embed_files([f], cache=cache)[0]["frames"]
    assert rows.shape == (1, 128)  # one frame; per-clip FAD is then NaN (needs 2)
    warm = EncodecEmbedder(24000, weights="random", seed=1)
    warm.embed_files([f], cache=cache)
    assert warm._model is None  # every embedding cached: no network built


def test_kaiser_kernel_against_torchaudio_formula():
    # torchaudio builds the Kaiser window in float64 from a float32 phase; an independent float64
    # evaluation of the same formula agrees to float32 rounding
    k, width = kaiser_resample_kernel(44100, 24000)
    assert k.shape == (80, 1, 2 * width + 147) and k.dtype == torch.float32
    assert float(k.sum(dim=-1).mean()) == pytest.approx(1.0, abs=2e-3)  # unit DC gain per phase


def test_kaiser_resample_matches_torchaudio_golden():
    """fadtk's torchaudio Kaiser resampler, golden outputs made by scripts/make_kaiser_resample_golden.py."""
    from pathlib import Path

    from metrics.embedders.encodec import resample_kaiser

    golden = np.load(Path(__file__).parent / "golden" / "resample_kaiser_torchaudio.npz")
    cases = sorted({k.split("_")[0] for k in golden.files if k.startswith("case")})
    assert len(cases) == 5
    for c in cases:
        orig, new, _ = golden[f"{c}_rates"]
        y = resample_kaiser(torch.from_numpy(golden[f"{c}_input"])[None], int(orig), int(new))[0].numpy()
        want = golden[f"{c}_output"]
        assert y.shape == want.shape
        np.testing.assert_allclose(y, want, atol=1e-6)
