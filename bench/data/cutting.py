"""Cutting long (video, audio) pairs into protocol clips, and silence detection.

Pure functions on numbers and arrays (no I/O), shared by every real-dataset preparer:

- `window_starts`: the offsets of whole `clip_duration`-second windows, `hop` seconds apart,
  that lie inside both the video and the audio. A partial window at the end is never kept.
- `longest_silence` / `is_silent`: the longest run of short frames whose RMS level (dB relative
  to full scale, i.e. an amplitude of 1.0) is below `silence_db`. A clip with a silent stretch of
  `max_silence` seconds or more is *discarded as a whole*; silence is never cut out of a clip,
  since that would break the clip's sync with its video (DESIGN.md §6: the paper removed silences
  with pydub, which only works for audio without a picture).
"""

from __future__ import annotations

import math

import numpy as np

# Float slack when comparing a window's end with a media duration (container durations are
# rounded to their time base; 1 ms is far below one video frame).
DURATION_TOLERANCE = 1e-3

DEFAULT_FRAME = 0.05  # s: RMS frame length for silence detection


def window_starts(
    video_duration: float,
    audio_duration: float,
    clip_duration: float,
    hop: float | None = None,
    tolerance: float = DURATION_TOLERANCE,
) -> list[float]:
    """Start times of the whole windows inside both media, `hop` apart from 0.

    hop defaults to `clip_duration` (non-overlapping windows). Starts are rounded to the
    millisecond (clip ids carry milliseconds), so they are exact multiples of the hop.
    """
    if not clip_duration > 0:
        raise ValueError(f"clip_duration must be positive, got {clip_duration}")
    hop = clip_duration if hop is None else hop
    if not hop >= 0.001:
        raise ValueError(f"hop must be at least 1 ms (clip ids carry milliseconds), got {hop}")
    length = min(float(video_duration), float(audio_duration))
    if not math.isfinite(length) or length + tolerance < clip_duration:
        return []
    n = int(math.floor((length - clip_duration + tolerance) / hop)) + 1
    starts = [round(k * hop, 3) for k in range(max(n, 0))]
    return [s for s in starts if s + clip_duration <= length + tolerance]


def frame_levels(audio: np.ndarray, sample_rate: int, frame: float = DEFAULT_FRAME) -> tuple[np.ndarray, np.ndarray]:
    """RMS level in dBFS of consecutive non-overlapping frames, and each frame's length in samples.

    A shorter last frame is kept (its RMS is over the samples it has). Multichannel input
    (samples, channels) is mixed down first. Digital silence gives -inf.
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"audio must be 1-D or (samples, channels), got shape {np.shape(audio)}")
    n = max(1, int(round(frame * sample_rate)))
    if x.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    full = x.size // n
    sq = x * x
    means = []
    lengths = []
    if full:
        means.append(sq[: full * n].reshape(full, n).mean(axis=1))
        lengths.append(np.full(full, n, dtype=np.int64))
    if x.size % n:
        means.append(np.array([sq[full * n:].mean()]))
        lengths.append(np.array([x.size - full * n], dtype=np.int64))
    ms = np.concatenate(means)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(ms)  # 20 log10(rms)
    return db, np.concatenate(lengths)


def longest_silence(audio: np.ndarray, sample_rate: int, silence_db: float = -50.0,
                    frame: float = DEFAULT_FRAME) -> float:
    """Length in seconds of the longest run of frames whose RMS is below `silence_db` dBFS."""
    db, lengths = frame_levels(audio, sample_rate, frame)
    best = run = 0
    for quiet, n in zip(db < silence_db, lengths):
        run = run + int(n) if quiet else 0
        best = max(best, run)
    return best / sample_rate


def is_silent(audio: np.ndarray, sample_rate: int, max_silence: float | None = 2.0,
              silence_db: float = -50.0, frame: float = DEFAULT_FRAME) -> bool:
    """True when the audio holds a silent stretch of at least `max_silence` seconds.

    `max_silence=None` (or a non-positive value) disables the check. A stretch exactly
    `max_silence` long counts as prolonged (pydub's `min_silence_len` semantics).
    """
    if max_silence is None or max_silence <= 0:
        return False
    # Half a sample of slack: run lengths are whole samples, max_silence is a float.
    return longest_silence(audio, sample_rate, silence_db, frame) + 0.5 / sample_rate >= max_silence


def rms_db(audio: np.ndarray) -> float:
    """Overall RMS level in dBFS (-inf for digital silence or an empty array)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.size == 0:
        return float("-inf")
    ms = float(np.mean(x * x))
    return 10.0 * math.log10(ms) if ms > 0 else float("-inf")


def cut(audio: np.ndarray, sample_rate: int, start: float, duration: float) -> np.ndarray:
    """Exactly round(duration * sample_rate) samples from `start` (zero-padded by at most the
    window tolerance when the audio ends within it; `window_starts` guarantees that)."""
    first = int(round(start * sample_rate))
    n = int(round(duration * sample_rate))
    seg = np.asarray(audio)[first:first + n]
    if seg.shape[0] < n:
        missing = n - seg.shape[0]
        if missing > int(math.ceil(DURATION_TOLERANCE * sample_rate)) + 1:
            raise ValueError(f"audio has {seg.shape[0]} samples from {start:.3f} s, {n} needed")
        seg = np.pad(seg, [(0, missing)] + [(0, 0)] * (seg.ndim - 1))
    return seg.astype(np.float32, copy=False)
