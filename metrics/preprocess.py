"""Audio loading and resampling exactly as haoheliu/audioldm_eval 0.0.3 does it (DESIGN.md §8).

Two loaders, one per embedder of the reference:

- Cnn14 (FD, KL, IS): ``audioldm_eval.datasets.load_mel.WaveDataset.read_from_file`` —
  ``torchaudio.load`` (float32 in [-1, 1]), first channel only, the mean subtracted (in float32,
  by torch), ``torchaudio.functional.resample`` to the evaluation rate when the file's rate
  differs, then zero-padded at the end to at least 32000 samples (at the *evaluation* rate; the
  constant 32000 is the same for 16 and 32 kHz). In that order: mean removal happens before
  resampling and padding, so the padded zeros are not mean-corrected.
  → :func:`load_like_reference`
- VGGish (FAD): ``audioldm_eval.metrics.fad.load_audio_task`` — ``soundfile.read(dtype="int16")``,
  ``/ 32768.0`` (float64), channels averaged, ``resampy.resample(x, sr, 16000)`` (kaiser_best)
  when the rate differs (:func:`resample_like_resampy`: the same filter, faster); no mean removal, no padding. torchvggish's ``waveform_to_examples`` is then
  called with 16000, so it does not resample again. → :func:`load_like_reference_vggish`

torchaudio cannot be installed beside this project's torch, so :func:`resample_sinc` re-implements
``torchaudio.functional.resample`` with its defaults from its definition; its outputs are checked
against torchaudio's on committed golden files (tests/metrics/golden/, made by
scripts/make_resample_golden.py). soundfile replaces ``torchaudio.load``: for PCM and float WAV both
give the same float32 values (integer PCM divided by 2**(bits-1)).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from core.errors import MediaError

# audioldm_eval.datasets.load_mel.pad_short_audio(audio, min_samples=32000)
REFERENCE_MIN_SAMPLES = 32000
VGGISH_SAMPLE_RATE = 16000


# --------------------------------------------------------------------------- resampling

def _sinc_resample_kernel(orig_freq: int, new_freq: int, gcd: int, lowpass_filter_width: int, rolloff: float,
                          dtype: torch.dtype, device) -> tuple[torch.Tensor, int]:
    """torchaudio.functional.functional._get_sinc_resample_kernel, method "sinc_interp_hann".

    torchaudio's ``resample`` passes the waveform's dtype, so the kernel is computed in that dtype
    (float32 for float32 audio) — the float64-then-cast path is only taken for ``dtype=None``."""
    orig_freq = int(orig_freq) // gcd
    new_freq = int(new_freq) // gcd
    if lowpass_filter_width <= 0:
        raise ValueError("Low pass filter width should be positive.")
    base_freq = min(orig_freq, new_freq)
    base_freq *= rolloff
    width = math.ceil(lowpass_filter_width * orig_freq / base_freq)
    idx = torch.arange(-width, width + orig_freq, dtype=dtype, device=device)[None, None] / orig_freq
    t = torch.arange(0, -new_freq, -1, dtype=dtype, device=device)[:, None, None] / new_freq + idx
    t *= base_freq
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t *= math.pi
    scale = base_freq / orig_freq
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * scale
    return kernels, width


def _resample_torch(waveform: torch.Tensor, orig_freq: int, new_freq: int, lowpass_filter_width: int = 6,
                    rolloff: float = 0.99) -> torch.Tensor:
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError("Original frequency and desired frequecy should be positive")
    if int(orig_freq) != orig_freq or int(new_freq) != new_freq:
        raise ValueError(f"sample rates must be integers, got {orig_freq} and {new_freq}")
    if orig_freq == new_freq:
        return waveform
    if not waveform.is_floating_point():
        raise TypeError(f"Expected floating point type for waveform tensor, but received {waveform.dtype}.")
    gcd = math.gcd(int(orig_freq), int(new_freq))
    kernel, width = _sinc_resample_kernel(orig_freq, new_freq, gcd, lowpass_filter_width, rolloff,
                                          waveform.dtype, waveform.device)
    # torchaudio.functional.functional._apply_sinc_resample_kernel
    orig = int(orig_freq) // gcd
    new = int(new_freq) // gcd
    shape = waveform.size()
    waveform = waveform.reshape(-1, shape[-1])
    num_wavs, length = waveform.shape
    waveform = torch.nn.functional.pad(waveform, (width, width + orig))
    resampled = torch.nn.functional.conv1d(waveform[:, None], kernel, stride=orig)
    resampled = resampled.transpose(1, 2).reshape(num_wavs, -1)
    target_length = torch.ceil(torch.as_tensor(new * length / orig)).long()
    resampled = resampled[..., :target_length]
    return resampled.view(shape[:-1] + resampled.shape[-1:])


def resample_sinc(x, orig_freq: int, new_freq: int, lowpass_filter_width: int = 6, rolloff: float = 0.99):
    """``torchaudio.functional.resample(x, orig_freq, new_freq)`` with its defaults
    (sinc_interp_hann, width 6, rolloff 0.99), over the last axis.

    Accepts a numpy array or a torch tensor and returns the same kind (and dtype). Output length
    ``ceil(new * n / orig)`` after reducing the rates by their gcd. Equal rates return the input
    itself, as torchaudio does.
    """
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            return _resample_torch(x, orig_freq, new_freq, lowpass_filter_width, rolloff)
    arr = np.asarray(x)
    if orig_freq == new_freq:
        return x if isinstance(x, np.ndarray) else arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"Expected floating point waveform, but received {arr.dtype}.")
    with torch.no_grad():
        out = _resample_torch(torch.from_numpy(np.ascontiguousarray(arr)), orig_freq, new_freq,
                              lowpass_filter_width, rolloff)
    return out.numpy()


def resample_like_resampy(x: np.ndarray, sr_orig: int, sr_new: int) -> np.ndarray:
    """``resampy.resample(x, sr_orig, sr_new)`` (kaiser_best) of a 1-D float64 signal, ~10× faster
    when `sr_orig` is an integer multiple of `sr_new` (32 → 16 kHz, 48 → 16 kHz …).

    Why it is the same computation: resampy evaluates output k at input time ``t = k·q`` with
    ``q = 1 / (sr_new / sr_orig)``. When q is an integer (exactly, in floating point) every output
    has the same fractional offset (0 on the left wing, ``scale`` on the right), so the
    interpolated filter taps are the same for every k and its loop is the strided FIR filter
    ``y[k] = Σᵢ wₗ[i]·x[qk − i] + Σⱼ wᵣ[j]·x[qk + 1 + j]``, its bounds checks being zero padding.
    Here that filter runs as ``scipy.signal.upfirdn`` in float64 (only the order of the additions
    differs: ~1e-15 relative). Other rate pairs, and non-float64 input, go to resampy itself.
    """
    import resampy

    x = np.asarray(x)
    sample_ratio = float(sr_new) / sr_orig
    time_increment = 1.0 / sample_ratio
    if (x.ndim != 1 or x.dtype != np.float64 or sample_ratio >= 1 or time_increment != int(time_increment)
            or x.shape[0] < time_increment):
        return resampy.resample(x, sr_orig, sr_new)
    from resampy.filters import get_filter

    q = int(time_increment)
    n_out = int(x.shape[0] * sample_ratio)
    win, precision, _ = get_filter("kaiser_best")
    win = sample_ratio * win  # as resampy.resample scales the window when downsampling
    delta = np.diff(win, append=win[-1])
    index_step = int(sample_ratio * precision)
    nwin = win.shape[0]
    left = win[np.arange(nwin // index_step) * index_step]  # offset 0, eta 0
    index_frac = sample_ratio * precision  # right wing: frac = scale − 0
    offset = int(index_frac)
    eta = index_frac - offset
    idx = offset + np.arange((nwin - offset) // index_step) * index_step
    right = win[idx] + eta * delta[idx]
    # y[k] = Σₜ h[t]·x[qk − (L−1) + t], h = (wₗ reversed, wᵣ): as a convolution with h reversed,
    # y[k] = (x ∗ h̃)[qk + R]; upfirdn keeps every q-th output from 0, so x is delayed by s = q·c₀ − R
    from scipy.signal import upfirdn

    kernel = np.concatenate([left[::-1], right])
    c0 = -(-right.size // q)
    delayed = np.concatenate([np.zeros(q * c0 - right.size), x])
    return upfirdn(kernel[::-1], delayed, up=1, down=q)[c0:c0 + n_out]


# --------------------------------------------------------------------------- loaders

def _read(path, dtype: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not os.path.exists(path):
        raise MediaError(path, "audio file not found")
    try:
        data, sr = sf.read(str(path), dtype=dtype, always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError/RuntimeError/TypeError
        raise MediaError(path, f"cannot read audio ({e})", "write WAV/FLAC files readable by libsndfile") from e
    if data.shape[0] == 0:
        raise MediaError(path, "audio file has no samples")
    _check_finite_samples(path, data)
    return data, int(sr)


def _check_finite_samples(path, data: np.ndarray) -> None:
    """NaN/Inf samples (possible in float files) are an error naming the file: the reference would
    carry them into NaN embeddings and a silent NaN metric."""
    if np.issubdtype(data.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise MediaError(path, f"{bad} of {data.size} samples are NaN or Inf",
                             "regenerate the file; the metrics need finite audio")


def load_like_reference(path: str | os.PathLike, target_sr: int) -> np.ndarray:
    """The waveform audioldm_eval's Cnn14 sees for this file at `target_sr` (float32, 1-D).

    Order, as ``WaveDataset.read_from_file``: first channel → subtract its mean (float32 torch mean)
    → ``resample_sinc`` to `target_sr` if the file's rate differs → zero-pad at the end to
    ≥ 32000 samples. The reference skips an empty file silently (moving to the next index); here
    it is a MediaError.
    """
    data, sr = _read(path, "float32")
    audio = torch.from_numpy(np.ascontiguousarray(data[:, 0]))[None]  # (1, n), like audio[0:1, ...]
    audio = audio - audio.mean()
    if sr != target_sr:
        audio = resample_sinc(audio, sr, target_sr)
    if audio.size(-1) < REFERENCE_MIN_SAMPLES:
        audio = torch.nn.functional.pad(audio, (0, REFERENCE_MIN_SAMPLES - audio.size(-1)), mode="constant",
                                        value=0.0)
    return audio[0].numpy().astype(np.float32, copy=False)


def load_like_reference_vggish(path: str | os.PathLike) -> np.ndarray:
    """The waveform audioldm_eval's FAD gives VGGish for this file: float64 mono at 16 kHz.

    As ``audioldm_eval.metrics.fad.load_audio_task``: ``soundfile.read(dtype="int16")`` (a float
    file is converted to int16 by libsndfile), ``/ 32768.0``, mean over channels when there are
    several, ``resampy.resample(x, sr, 16000)`` when the rate differs. (The reference replaces an
    unreadable file by 10 s of silence; here it is a MediaError.)
    """
    import soundfile as sf

    if not os.path.exists(path):
        raise MediaError(path, "audio file not found")
    try:
        wav_data, sr = sf.read(str(path), dtype="int16")
    except Exception as e:
        raise MediaError(path, f"cannot read audio ({e})", "write WAV/FLAC files readable by libsndfile") from e
    if wav_data.shape[0] == 0:
        raise MediaError(path, "audio file has no samples")
    if sf.info(str(path)).subtype in ("FLOAT", "DOUBLE"):  # only float files can hold NaN/Inf
        _check_finite_samples(path, sf.read(str(path), dtype="float32")[0])
    wav_data = wav_data / 32768.0
    if len(wav_data.shape) > 1:
        wav_data = np.mean(wav_data, axis=1)
    if sr != VGGISH_SAMPLE_RATE:
        wav_data = resample_like_resampy(wav_data, sr, VGGISH_SAMPLE_RATE)
    return wav_data


__all__ = ["resample_sinc", "resample_like_resampy", "load_like_reference", "load_like_reference_vggish", "REFERENCE_MIN_SAMPLES",
           "VGGISH_SAMPLE_RATE"]
