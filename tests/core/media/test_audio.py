import numpy as np
import pytest
import soundfile as sf

from core.errors import MediaError
from core.media import atomic_write_audio, fit_duration, load_audio, read_audio, resample, to_mono


def test_fit_duration_trims_and_pads_exactly():
    x = np.arange(100, dtype=np.float32)
    assert fit_duration(x, 10, 5.0).tolist() == list(range(50))
    padded = fit_duration(x, 10, 12.0)
    assert padded.shape == (120,) and padded[:100].tolist() == list(range(100)) and not padded[100:].any()
    stereo = np.ones((7, 2), np.float32)
    assert fit_duration(stereo, 10, 1.0).shape == (10, 2)


def test_fit_duration_rounds_to_nearest_sample():
    assert fit_duration(np.zeros(10), 32000, 10.0).shape == (320000,)
    assert fit_duration(np.zeros(10), 22050, 0.1).shape == (2205,)


def test_to_mono_averages_channels():
    x = np.stack([np.ones(4), -np.ones(4) * 3], axis=1).astype(np.float32)
    assert to_mono(x).tolist() == [-1.0] * 4
    assert to_mono(x).dtype == np.float32


def test_resample_preserves_a_tone_and_length():
    sr_in, sr_out = 44100, 32000
    t = np.arange(sr_in) / sr_in
    y = resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), sr_in, sr_out)
    assert y.dtype == np.float32 and abs(len(y) - sr_out) <= 1
    spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(len(y) - 2000)))
    peak_hz = np.argmax(spectrum) * sr_out / (len(y) - 2000)
    assert abs(peak_hz - 440) < 2


def test_load_audio_mixes_resamples_and_cuts(tmp_path):
    sr = 48000
    stereo = np.random.default_rng(0).uniform(-0.5, 0.5, (sr * 3, 2)).astype(np.float32)
    sf.write(tmp_path / "a.wav", stereo, sr)
    y = load_audio(tmp_path / "a.wav", 32000, start=1.0, duration=1.5)
    assert y.shape == (48000,) and y.dtype == np.float32


def test_load_audio_refuses_a_short_file(tmp_path):
    sf.write(tmp_path / "short.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(MediaError, match="short.wav.*needed"):
        load_audio(tmp_path / "short.wav", 16000, 0.0, 2.0)


def test_unreadable_and_missing_audio_name_the_file(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(MediaError, match="junk.wav"):
        read_audio(tmp_path / "junk.wav")
    with pytest.raises(MediaError, match="nope.wav.*not found"):
        read_audio(tmp_path / "nope.wav")


def test_nan_audio_is_rejected(tmp_path):
    x = np.zeros(100, np.float32)
    x[3] = np.nan
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(MediaError, match="NaN"):
        read_audio(tmp_path / "nan.wav")


def test_atomic_write_roundtrip_and_no_temp_left(tmp_path):
    x = np.linspace(-1, 1, 1000, dtype=np.float32)
    p = atomic_write_audio(tmp_path / "sub" / "x.wav", x, 8000)
    y, sr = sf.read(p, dtype="float32")
    assert sr == 8000 and np.array_equal(x, y)
    assert [f.name for f in p.parent.iterdir()] == ["x.wav"]


def test_identical_audio_gives_identical_bytes(tmp_path):
    import time

    x = np.random.default_rng(0).uniform(-1, 1, 4000).astype(np.float32)
    a = atomic_write_audio(tmp_path / "a.wav", x, 16000).read_bytes()
    time.sleep(1.1)  # the PEAK chunk libsndfile would add carries a timestamp in seconds
    b = atomic_write_audio(tmp_path / "b.wav", x, 16000).read_bytes()
    assert a == b
