"""OpenL3 (mel256, music, 512-d) against golden values made by the real code: stable-audio-metrics'
``extract_embeddings`` running marl/openl3 0.4.2 + kapre 0.3.7 on TensorFlow 2.15, loading the same
seeded random weight file in the official Keras HDF5 layout (scripts/golden/openl3_golden.py;
random weights: the numbers say nothing about the pretrained model).

What is checked how closely, and why:
- the STFT magnitude (kapre's ``STFT`` + ``Magnitude``): bit for bit (sha256 of the float32 bytes),
  on seeded full-band windows and on a 16 kHz clip upsampled to 48 kHz, and TensorFlow's Hann window
  bit for bit. Bands without content (above an upsampled clip's old Nyquist frequency, far below a
  tone) hold only the float32 FFT's rounding noise, about 1e-7 of the window's largest magnitude,
  −70 dB on openl3's ``10·log10(magnitude)`` scale, above its −80 dB floor: any other rounding
  there moves those bands by up to 2.7 dB. With torch's FFT and Hann window (before 2026-12-02)
  file frames differed by up to 4.9e-3 of the largest value and FD by up to 1.8e-3 relative;
- the model alone (front end + network, weights read from the .h5) on full-band windows: measured
  1.4e-6 relative, checked at 1e-5;
- whole files (peak normalisation, soxr, resampy for 44.1 kHz, centring, windows, channels): the
  same frame counts, frames measured within 2.0e-6 of the largest value on every golden clip and
  setting, checked at 1e-5; FD between two sets of these frames measured within 4.1e-7 relative
  over 33 splits of the golden clips, checked at 1e-5 (the rest: float32 rounding of the mel sum,
  the log and the convolutions, which differ in order from TensorFlow's). Also after a float64
  resampy call in the same process (the VGGish loader), which made resampy's numba gufunc run
  float32 audio through its float64 loop: frames off by 6.2e-3 (short_1s_16k) to 3.1e-2 (the 0.4 s
  clip) of the largest value before ``resampy_float32``, 2.0e-6 since.
Not checked: the pretrained file itself (GitHub is out of reach), and stable-audio-metrics' GPU run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.embedders.openl3 import (OpenL3Embedder, eigen_cos_float32, openl3_windows, read_keras_weights,
                                      resampy_float32, save_random_weights, slaney_mel_filterbank, stft_magnitude,
                                      tf_hann_window)
from metrics.errors import MetricError
from tests.metrics.conftest import ROOT, load_script

golden_script = load_script("golden/openl3_golden")
GOLDEN = ROOT / "tests/metrics/golden/openl3_golden.npz"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_random_weights(tmp_path_factory.mktemp("openl3") / "openl3_audio_mel256_music.h5",
                               seed=golden_script.SEED)


def _digest(path) -> str:
    import hashlib

    import h5py

    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: (h.update(n.encode()), h.update(np.asarray(o).tobytes()))
                     if isinstance(o, h5py.Dataset) else None)
    return h.hexdigest()


def test_model_matches_openl3_on_full_band_windows(weights):
    golden = np.load(GOLDEN)
    assert str(golden["weights_digest"]) == _digest(weights)  # the golden run's weights
    torch.set_num_threads(1)
    ours = OpenL3Embedder(weights="pretrained", checkpoint=str(weights))._run(golden_script.window_check_input())
    ref = golden["windows/out"]
    assert ours.shape == ref.shape == (3, 512)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * np.abs(ref).max())  # measured 1.4e-6
    assert np.abs(ref[0] - ref[2]).max() > 0.1 * np.abs(ref).max()  # the random network is informative


@pytest.mark.slow
@pytest.mark.parametrize("channels,sample_rate,names", [
    (1, 48000, ("noise_12s_48k", "short_1s_16k", "chirp_3s_32k", "tiny_0.4s_22k_stereo")),
    (2, 44100, ("short_1s_16k", "chirp_3s_32k", "tiny_0.4s_22k_stereo")),  # resampy to 48 kHz
])
def test_files_match_stable_audio_metrics(tmp_path, weights, channels, sample_rate, names):
    from metrics.frechet import fd_from_embeddings

    golden = np.load(GOLDEN)
    clips = golden_script.make_audio(tmp_path)
    clips = {k: v for k, v in clips.items() if k in names}  # a subset of the golden clips: ~40 windows
    emb = OpenL3Embedder(channels=channels, sample_rate=sample_rate, weights="pretrained", checkpoint=str(weights))
    outs = dict(zip(clips, emb.embed_files(list(clips.values()))))
    for name, out in outs.items():
        ref = golden[f"{name}/ch{channels}/{sample_rate}"]
        assert out["frames"].shape == ref.shape, name
        # measured ≤ 2.0e-6 of the largest value (4.9e-3 with torch's STFT)
        np.testing.assert_allclose(out["frames"], ref, rtol=0, atol=1e-5 * np.abs(ref).max(), err_msg=name)
    if channels == 1:
        a, b = list(outs)[:1], list(outs)[1:]
        ours = fd_from_embeddings(np.concatenate([outs[n]["frames"] for n in a]),
                                  np.concatenate([outs[n]["frames"] for n in b]))
        ref = fd_from_embeddings(np.concatenate([golden[f"{n}/ch1/48000"] for n in a]),
                                 np.concatenate([golden[f"{n}/ch1/48000"] for n in b]))
        assert abs(ours - ref) <= 1e-5 * abs(ref), (ours, ref)  # measured 3.7e-7 (5.6e-4 with torch's STFT)


@pytest.mark.slow
def test_44k_files_match_after_float64_resampy(tmp_path, weights):
    """The state that moved the 44.1 kHz frames in the full suite: resampy's loop is a dynamic numba
    gufunc, and after one float64 call (here the VGGish loader's route, 44.1 → 16 kHz) it runs
    float32 audio through that float64 loop. ``resampy_float32`` (what openl3_windows resamples
    with) stays on the float32 loop, so the frames keep the 1e-5 bound (measured 2.0e-6; 6.2e-3 to
    3.1e-2 through ``resampy.resample``)."""
    import resampy

    from metrics.preprocess import resample_like_resampy

    x = np.random.RandomState(5).standard_normal(44100) * 0.3
    resample_like_resampy(x, 44100, 16000)
    x32 = x.astype(np.float32)
    assert not np.array_equal(resampy.resample(x32, 44100, 48000), resampy_float32(x32, 44100, 48000)), \
        "resampy compiled its float32 loop before its float64 one: this test no longer sets up the drift"
    golden = np.load(GOLDEN)
    clips = golden_script.make_audio(tmp_path)
    names = ("short_1s_16k", "tiny_0.4s_22k_stereo")
    emb = OpenL3Embedder(channels=2, sample_rate=44100, weights="pretrained", checkpoint=str(weights))
    for name, out in zip(names, emb.embed_files([clips[n] for n in names])):
        ref = golden[f"{name}/ch2/44100"]
        np.testing.assert_allclose(out["frames"], ref, rtol=0, atol=1e-5 * np.abs(ref).max(), err_msg=name)


def test_stft_magnitude_is_tensorflows_bit_for_bit(tmp_path):
    import hashlib

    golden = np.load(GOLDEN)
    window = tf_hann_window()
    assert window.dtype == np.float32 and np.array_equal(window, golden["tf_hann_window"])
    x = golden_script.window_check_input()
    mag = stft_magnitude(x)
    assert mag.shape == (3, 199, 1025) and mag.dtype == np.float32
    assert hashlib.sha256(mag.tobytes()).hexdigest() == str(golden["windows/magnitude_sha256"])
    # a 16 kHz clip upsampled to 48 kHz: its bands above 8 kHz are the float32 FFT's rounding noise
    emb = OpenL3Embedder(weights="random")
    clip = golden_script.make_audio(tmp_path)["short_1s_16k"]
    windows = openl3_windows(emb._signals(emb.load(clip))[0], 48000, 0.5)
    mag = stft_magnitude(windows)
    assert hashlib.sha256(mag.tobytes()).hexdigest() == str(golden["short_1s_16k/ch1/48000/magnitude_sha256"])
    # above 8.4 kHz most frames hold only rounding noise (median 3.5e-7 of the window's largest
    # magnitude; the frames at the clip's edges jump from zero padding and have broadband content)
    assert np.median(mag[:, :, 360:].max(axis=2) / mag.max(axis=(1, 2))[:, None]) < 1e-6
    # torch's Hann window (float64 cos, rounded) is not TensorFlow's: 1 ulp off in many samples
    assert not np.array_equal(window, torch.hann_window(2048, periodic=True).numpy())


def test_eigen_cos_float32():
    x = np.linspace(-20, 20, 10001, dtype=np.float32)
    c = eigen_cos_float32(x)
    assert c.dtype == np.float32
    np.testing.assert_allclose(c, np.cos(x.astype(np.float64)), rtol=0, atol=2.5e-7)  # Eigen: ≤ 2 ulp
    assert eigen_cos_float32(np.float32([0.0]))[0] == 1.0
    with pytest.raises(ValueError, match="18838"):
        eigen_cos_float32(np.float32([20000.0]))


def test_windows_as_openl3():
    sr = 48000
    # centred (0.5 s of zeros first), hop 0.5 s, the end zero-padded so every sample is in a window
    assert openl3_windows(np.ones(10 * sr, np.float32), sr, 0.5).shape == (20, sr)
    w = openl3_windows(np.ones(int(0.4 * sr), np.float32), sr, 0.5)  # shorter than a window: one, padded
    assert w.shape == (1, sr) and w[0, :sr // 2].sum() == 0 and w[0, sr // 2:sr // 2 + int(0.4 * sr)].all()
    assert not w[0, sr // 2 + int(0.4 * sr):].any()
    assert openl3_windows(np.ones(sr, np.float32), sr, 0.5).shape == (2, sr)


def test_short_silent_and_batched_files(tmp_path):
    import soundfile as sf

    from core.cache import Cache
    from core.errors import MediaError

    rng = np.random.RandomState(0)
    short = tmp_path / "short.wav"
    sf.write(short, (0.3 * rng.standard_normal((4800, 2))).astype(np.float32), 48000, subtype="PCM_16")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(48000, np.float32), 48000, subtype="PCM_16")
    one = OpenL3Embedder(channels=2, weights="random", seed=1, batch_size=1)
    with pytest.raises(MediaError, match=r"silent\.wav: audio is silent"):
        one.embed_file(silent)
    assert one._model is None
    cache = Cache(tmp_path / "cache")
    a = one.embed_files([short], cache=cache)[0]["frames"]
    assert a.shape == (1, 1024)  # 0.1 s: one zero-padded window, L ‖ R
    b = OpenL3Embedder(channels=2, weights="random", seed=1, batch_size=8).embed_file(short)["frames"]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    warm = OpenL3Embedder(channels=2, weights="random", seed=1)
    assert np.array_equal(warm.embed_files([short], cache=cache)[0]["frames"], a) and warm._model is None
    assert OpenL3Embedder(channels=1, weights="random", seed=1).config() != one.config()


def test_wrong_file_names_expected_layers(tmp_path):
    import h5py

    bad = tmp_path / "openl3_audio_mel256_music.h5"
    save_random_weights(bad)
    with h5py.File(bad, "a") as f:  # the 6144-d / linear models differ; here: one conv's width changed
        del f["conv2d_2"]["conv2d_2/kernel:0"]
        f["conv2d_2"].create_dataset("conv2d_2/kernel:0", data=np.zeros((3, 3, 64, 64), np.float32))
    with pytest.raises(MetricError, match=r"not OpenL3 mel256 audio weights.*layer 5 has \[\(3, 3, 64, 64\).*"
                                          r"batch_normalization: gamma\(1,\)"):
        _ = OpenL3Embedder(weights="pretrained", checkpoint=str(bad)).model
    torch.save({"x": torch.zeros(1)}, tmp_path / "passt.pt")
    with pytest.raises(MetricError, match=r"passt\.pt: cannot read it as HDF5"):
        _ = OpenL3Embedder(weights="pretrained", checkpoint=str(tmp_path / "passt.pt")).model


def test_weights_file_layout_and_missing_file(tmp_path, monkeypatch):
    from core.errors import WeightsNotFoundError

    layers = read_keras_weights(save_random_weights(tmp_path / "w.h5", seed=3))
    assert [len(x) for x in layers] == [4] + [2, 4] * 7 + [2]  # bn, (conv, bn) × 7, audio_embedding_layer
    assert layers[-1][0].shape == (3, 3, 512, 512)
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match=r"openl3_audio_mel256_music\.h5.*github\.com/marl/openl3"):
        OpenL3Embedder(weights="pretrained", cache_dir=tmp_path)


def test_slaney_filterbank_properties():
    fb = slaney_mel_filterbank()
    assert fb.shape == (256, 1025) and fb.dtype == np.float32
    # Slaney area normalisation: each triangle's peak is 2 / (its width in Hz) — checked on band 10
    # (linear part of the scale: edges every 200/3 · Δmel Hz)
    assert fb[0, 0] == 0 and (fb.max(axis=1) > 0).all()
    peaks = np.argmax(fb, axis=1)
    assert (np.diff(peaks) >= 0).all()
