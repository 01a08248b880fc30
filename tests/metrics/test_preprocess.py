"""metrics.preprocess: torchaudio's sinc resampler re-implemented, and audioldm_eval's two loaders."""

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from core.errors import MediaError
from metrics.preprocess import (REFERENCE_MIN_SAMPLES, load_like_reference, load_like_reference_vggish,
                                resample_like_resampy, resample_sinc)

GOLDEN = Path(__file__).parent / "golden" / "resample_torchaudio.npz"


def _golden_cases():
    with np.load(GOLDEN) as z:
        n = len([k for k in z.files if k.endswith("_rates")])
        return [(int(z[f"case{i}_rates"][0]), int(z[f"case{i}_rates"][1]), z[f"case{i}_input"], z[f"case{i}_output"])
                for i in range(n)]


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda c: f"{c[0]}->{c[1]}-{c[2].dtype}-{c[2].shape[0]}")
def test_resample_matches_torchaudio_golden(case):
    orig, new, x, expected = case
    y = resample_sinc(x, orig, new)
    assert y.dtype == x.dtype and y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)
    # the torch route gives the same
    yt = resample_sinc(torch.from_numpy(x), orig, new)
    assert isinstance(yt, torch.Tensor)
    np.testing.assert_array_equal(yt.numpy(), y)


def test_golden_covers_the_rate_pairs_asked_for():
    pairs = {(o, n) for o, n, _, _ in _golden_cases()}
    assert {(32000, 16000), (44100, 16000), (22050, 16000), (48000, 32000), (16000, 16000)} <= pairs


@pytest.mark.parametrize("orig,new", [(32000, 16000), (44100, 16000), (22050, 16000), (48000, 32000), (16000, 32000),
                                      (44100, 32000)])
@pytest.mark.parametrize("n", [1, 7, 1000, 4411])
def test_resample_output_length(orig, new, n):
    g = math.gcd(orig, new)
    y = resample_sinc(np.zeros(n, np.float32), orig, new)
    assert y.shape == (math.ceil((new // g) * n / (orig // g)),)


def test_equal_rates_are_identity():
    x = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    assert resample_sinc(x, 16000, 16000) is x
    t = torch.from_numpy(x)
    assert resample_sinc(t, 32000, 32000) is t


def test_leading_axes_are_resampled_independently():
    x = np.random.default_rng(1).standard_normal((2, 3, 901)).astype(np.float32)
    y = resample_sinc(x, 44100, 16000)
    assert y.shape == (2, 3, math.ceil(160 * 901 / 441))
    np.testing.assert_allclose(y[1, 2], resample_sinc(x[1, 2], 44100, 16000), atol=1e-7)


def test_integer_input_is_refused():
    with pytest.raises(TypeError):
        resample_sinc(np.zeros(10, np.int16), 32000, 16000)


def test_resampled_tone_keeps_its_amplitude():
    sr = 44100
    t = np.arange(sr) / sr
    y = resample_sinc(np.sin(2 * np.pi * 1000 * t).astype(np.float32), sr, 16000)
    mid = y[2000:-2000]
    assert abs(np.max(np.abs(mid)) - 1.0) < 0.01


# --------------------------------------------------------------------------- loaders

def _by_hand_cnn14(path, target_sr):
    """The reference's order written out: first channel → mean off → resample → pad to 32000."""
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    a = torch.from_numpy(np.ascontiguousarray(data[:, 0]))
    a = a - a.mean()
    a = resample_sinc(a, sr, target_sr) if sr != target_sr else a
    a = a.numpy()
    return np.pad(a, (0, max(0, REFERENCE_MIN_SAMPLES - a.shape[0])))


@pytest.mark.parametrize("file_sr,dur,channels,subtype", [(44100, 1.0, 2, "PCM_16"), (32000, 2.5, 1, "FLOAT"),
                                                           (16000, 1.2, 2, "PCM_24")])
@pytest.mark.parametrize("target_sr", [16000, 32000])
def test_cnn14_loader_follows_the_reference_order(tmp_path, file_sr, dur, channels, subtype, target_sr):
    rng = np.random.default_rng(file_sr)
    n = int(file_sr * dur)
    t = np.arange(n) / file_sr
    x = np.stack([0.3 + 0.2 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.standard_normal(n),  # DC offset 0.3
                  -0.5 + 0.1 * rng.standard_normal(n)], axis=1)[:, :channels]
    path = tmp_path / "x.wav"
    sf.write(path, x.astype(np.float32), file_sr, subtype=subtype)

    got = load_like_reference(path, target_sr)
    assert got.dtype == np.float32 and got.ndim == 1
    expected = _by_hand_cnn14(path, target_sr)
    np.testing.assert_array_equal(got, expected)

    n_out = math.ceil(n * target_sr / file_sr)
    assert got.shape[0] == max(n_out, REFERENCE_MIN_SAMPLES)
    if n_out < REFERENCE_MIN_SAMPLES:
        assert np.all(got[n_out:] == 0)  # padded after the mean removal: true zeros
    # mean removed before resampling: the signal part is centred (the DC of 0.3 is gone)
    assert abs(float(np.mean(got[:n_out]))) < 0.01

    # the wrong orders are distinguishable from the right one
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    first = data[:, 0]
    if sr != target_sr:  # resampling before the mean removal
        wrong = resample_sinc(first, sr, target_sr)
        wrong = wrong - wrong.mean()
        assert not np.array_equal(got[:n_out], wrong)
    if n_out < REFERENCE_MIN_SAMPLES:  # mean removal after padding
        padded = np.pad(resample_sinc(first, sr, target_sr) if sr != target_sr else first,
                        (0, REFERENCE_MIN_SAMPLES - n_out))
        assert not np.allclose(got, padded - padded.mean(), atol=1e-3)
    if channels == 2:  # a channel mix instead of the first channel
        mix = _by_hand_cnn14_mix(path, target_sr)
        assert not np.allclose(got, mix, atol=1e-3)


def _by_hand_cnn14_mix(path, target_sr):
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    a = data.mean(axis=1)
    a = a - a.mean()
    a = resample_sinc(a, sr, target_sr) if sr != target_sr else a
    return np.pad(a, (0, max(0, REFERENCE_MIN_SAMPLES - a.shape[0])))


def test_vggish_loader_int16_scaling_mono_and_resampy(tmp_path):
    import resampy

    rng = np.random.default_rng(3)
    ints = rng.integers(-20000, 20000, size=(22050, 2)).astype(np.int16)
    path = tmp_path / "s.wav"
    sf.write(path, ints, 22050, subtype="PCM_16")
    got = load_like_reference_vggish(path)
    expected = resampy.resample((ints / 32768.0).mean(axis=1), 22050, 16000)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (16000,)

    # 16 kHz mono is only scaled (no resampling, no mean removal, no padding)
    mono = rng.integers(-30000, 30000, size=8000).astype(np.int16) + 1000
    sf.write(path, mono, 16000, subtype="PCM_16")
    np.testing.assert_array_equal(load_like_reference_vggish(path), mono / 32768.0)


@pytest.mark.parametrize("sr, n", [(32000, 64003), (48000, 48000), (32000, 2), (32000, 301), (96000, 1000)])
def test_fir_form_of_resampy_equals_resampy_on_integer_factors(sr, n):
    """The strided-FIR route is resampy's kaiser_best computation (only additions reordered),
    edges and output length included."""
    import resampy

    x = np.random.default_rng(n).standard_normal(n) * 0.3
    expected = resampy.resample(x, sr, 16000)
    got = resample_like_resampy(x, sr, 16000)
    assert got.shape == expected.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("sr", [44100, 22050, 8000])
def test_other_rate_pairs_go_to_resampy_itself(sr, monkeypatch):
    import resampy

    x = np.random.default_rng(1).standard_normal(sr // 10)
    calls = []
    orig = resampy.resample
    monkeypatch.setattr(resampy, "resample", lambda *a, **k: calls.append(a[1:3]) or orig(*a, **k))
    resample_like_resampy(x, sr, 16000)
    assert calls == [(sr, 16000)]


def test_loaders_name_bad_files(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        load_like_reference(tmp_path / "missing.wav", 16000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file at all")
    with pytest.raises(MediaError, match="bad.wav"):
        load_like_reference(bad, 16000)
    with pytest.raises(MediaError, match="bad.wav"):
        load_like_reference_vggish(bad)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(MediaError, match="no samples"):
        load_like_reference(empty, 16000)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples_are_named_errors_in_both_loaders(tmp_path, bad):
    x = np.zeros(16000, np.float32)
    x[[5, 700]] = bad
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(MediaError, match=r"nan.wav: 2 of 16000 samples are NaN or Inf"):
        load_like_reference(path, 16000)
    with pytest.raises(MediaError, match=r"nan.wav: 2 of 16000 samples are NaN or Inf"):
        load_like_reference_vggish(path)
