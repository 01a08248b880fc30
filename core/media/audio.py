"""Audio read/write (soundfile), resampling (soxr), mono mix-down and exact-length trim/pad.

All arrays here are float32; multichannel arrays are (samples, channels) as soundfile gives them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import MediaError


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def audio_info(path: str | os.PathLike) -> AudioInfo:
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise MediaError(path, "audio file not found")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError
        raise MediaError(path, f"unreadable audio ({exc})", "re-export it as WAV or FLAC") from exc
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames))


def read_audio(path: str | os.PathLike, start: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """Read `duration` seconds from `start` as float32 (samples, channels) and the file's rate."""
    import soundfile as sf

    info = audio_info(path)
    first = int(round(start * info.sample_rate))
    frames = -1 if duration is None else int(round(duration * info.sample_rate))
    try:
        data, sr = sf.read(str(path), start=first, frames=frames, dtype="float32", always_2d=True)
    except Exception as exc:
        raise MediaError(path, f"cannot decode audio ({exc})", "the file may be truncated; re-export it") from exc
    if data.size and not np.isfinite(data).all():
        raise MediaError(path, "audio contains NaN or Inf samples")
    return data, int(sr)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of a (samples, channels) array; 1-D input is returned as is."""
    if audio.ndim == 1:
        return audio.astype(np.float32, copy=False)
    return audio.mean(axis=1, dtype=np.float64).astype(np.float32)


def resample(audio: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """The protocol's resampler: soxr 'HQ'. Works on 1-D or (samples, channels) arrays."""
    if sr_from == sr_to:
        return audio.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(audio, sr_from, sr_to, quality="HQ").astype(np.float32, copy=False)


def fit_duration(audio: np.ndarray, sample_rate: int, duration: float) -> np.ndarray:
    """Trim or zero-pad along the first axis to exactly round(duration * sample_rate) samples."""
    n = int(round(duration * sample_rate))
    if audio.shape[0] >= n:
        return audio[:n]
    pad = [(0, n - audio.shape[0])] + [(0, 0)] * (audio.ndim - 1)
    return np.pad(audio, pad)


def load_audio(
    path: str | os.PathLike,
    sample_rate: int,
    start: float = 0.0,
    duration: float | None = None,
    mono: bool = True,
) -> np.ndarray:
    """Read, mix down, resample to `sample_rate` and (given `duration`) trim/pad exactly.

    A file shorter than the requested span is an error, not silently padded: a short
    reference would bias every metric. Pad explicitly with `fit_duration` where intended.
    """
    data, sr = read_audio(path, start, duration)
    if duration is not None:
        have = data.shape[0] / sr
        if have + 1.0 / sr < duration:
            raise MediaError(path, f"audio has {have:.3f} s from {start:.3f} s, {duration:.3f} s needed")
    audio = to_mono(data) if mono else data
    audio = resample(audio, sr, sample_rate)
    if duration is not None:
        audio = fit_duration(audio, sample_rate, duration)
    return audio


def atomic_write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> Path:
    """Write a WAV atomically (see `core.atomic`): a killed write never counts as finished.

    Float WAVs are written without libsndfile's PEAK chunk, which stamps the write time into the
    header: identical audio then gives identical bytes, so content hashes (the cache, evaluation
    fingerprints) see a rewritten but unchanged file as unchanged.
    """
    import soundfile as sf

    data = np.asarray(audio, dtype=np.float32)
    with atomic_path(path, expected_size=data.nbytes + 1024) as tmp:
        with sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=1 if data.ndim == 1 else data.shape[1],
                          subtype=subtype, format="WAV") as fh:
            _disable_peak_chunk(fh)
            fh.write(data)
    return Path(path)


_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sf_command id


def _disable_peak_chunk(fh) -> None:
    try:  # soundfile exposes no public sf_command; without it the file is merely less reproducible
        import soundfile as sf

        sf._snd.sf_command(fh._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
    except Exception:
        pass
