"""Video–music beat alignment: motion beats of a clip's video against the music beats of a
waveform, scored with FACT's Beat Align Score in both directions.

Reference: FACT / AIST++ (Li et al. 2021, "AI Choreographer: Music Conditioned 3D Dance
Generation with AIST++"), code google-research/mint, tools/calculate_beat_scores.py:

    motion beats  local minima of the kinematic velocity envelope (sum over joints of the
                  per-frame joint displacement norm), scipy argrelextrema(np.less, order=10)
                  at 60 fps, i.e. a beat must be the lowest value within ±1/6 s
    music beats   librosa beat_track on a 60 Hz onset envelope (tools/preprocessing.py)
    score         BA = mean over motion beats of exp(-d² / (2σ²)), d = distance to the nearest
                  music beat, σ = 3 frames at 60 fps = 0.05 s; 0 when there is no motion beat

FACT scores only the motion→music direction. Bailando (lisiyao21/Bailando,
utils/metrics_new.py) scores the converse, mean over *music* beats of the same kernel (σ² = 9
frames² at 60 fps), and later papers quote both under one name. We report both:

    ba_v2m   video→music: for each motion beat, the nearest music beat (FACT's direction);
             high when every visual accent lands on a music beat
    ba_m2v   music→video: for each music beat, the nearest motion beat (Bailando's direction);
             high when every music beat has a visual accent
    ba_mean  their mean

with σ = SIGMA_S = 0.05 s, distances in seconds (so videos at any frame rate are scored on
FACT's scale). Music beats come from metrics.beats.music_features (FACT's front end).

Motion from pixels instead of joints
------------------------------------
AIST++ has 3D joints; a video-to-music benchmark has only video. We use a frame-difference motion
curve as the velocity envelope: the clip is decoded at its native frame rate, downscaled so the
longer side is at most MOTION_MAX_SIDE px, converted to luma in [0, 1], and
e[j] = mean_pixels |Y[j+1] - Y[j]|, stamped at the midpoint (j + 1/2) / fps. For a rigid object
this is proportional to speed × edge length, so it rises and falls with the motion the way the
joint-velocity sum does. When a clip comes with 2D keypoints in AIST++'s keypoints2d format (a
pickle with `keypoints2d` (views, N, 17, 3) and `timestamps` (N,) in ms), `motion="keypoints"`
uses FACT's envelope on them instead (sum over joints of |Δxy|, joints with confidence <= 0
ignored, view 0).

Two definitions of a motion beat are offered (`kind`):

    "minima"  FACT's kinematic beats: local minima of the envelope, at least MIN_SEPARATION_S
              (FACT's order=10 frames at 60 fps = 1/6 s) apart. Frame differences of a still
              subject are ~0 up to compression noise, which would put noise minima anywhere in
              a hold; so the envelope is first floored at REL_THRESHOLD × the mean of its top 10 %
              (and at least VIDEO_MIN_MOTION = 0.5/255 mean |Δluma| for video),
              a minimum must have that much prominence, and a flat (floored) stretch counts once,
              at its start, i.e. at the moment the motion stops (also when the stretch lasts to
              the end of the clip; one that starts the clip is no stop).
    "peaks"   motion accents: local maxima of the same envelope with the same prominence and
              separation, i.e. the moments of sudden visual change (the "visual beats" /
              impacts used for video–music work since Davis & Agrawala 2018, "Visual Rhythm
              and Beat"). A subject that snaps to a new pose on the music (the `toy` dataset,
              edited video) has its accents at velocity peaks, not minima.

`video_music_alignment` reports both: "peaks" under the plain keys (ba_v2m, ba_m2v, ba_mean) and
"minima" under `_minima` keys. Peaks are the headline because on `toy`, whose figure snaps to a
new pose on every note onset and then holds, only they separate a clip's own music from another
source's (the stops come ~0.13 s after the onsets, further than σ); FACT's minima are the
published definition for dance, where a dancer hits the beat by stopping, so compare with AIST++
numbers through the `_minima` keys (best with motion="keypoints").
"""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from metrics.trackers import beat_times
from core.media import decode_frames, probe_video
from core.cache import Cache
from core.manifest import Clip
from core.errors import DatasetError, MediaError
from metrics.beats import AudioInput, _resolve_cache, aggregate, music_features

SIGMA_S = 3.0 / 60.0  # FACT: sigma = 3 frames at 60 fps
MIN_SEPARATION_S = 10.0 / 60.0  # FACT: argrelextrema order = 10 frames at 60 fps
REL_THRESHOLD = 0.1  # noise floor / prominence, as a fraction of the mean of the envelope's top 10 %
MOTION_MAX_SIDE = 160  # px; frames are downscaled to at most this on the longer side
VIDEO_MIN_MOTION = 0.5 / 255  # mean |Δluma| below which a frame-difference curve is noise, not motion
DEFAULT_KIND = "peaks"
KINDS = ("peaks", "minima")

VIDEO_EXTRACTOR = "motion_curve_video"
VIDEO_CONFIG = {"version": 1, "max_side": MOTION_MAX_SIDE, "luma": [0.299, 0.587, 0.114], "stamp": "midpoint"}
KEYPOINT_EXTRACTOR = "motion_curve_keypoints"
KEYPOINT_CONFIG = {"version": 1, "stamp": "midpoint", "min_confidence": 0.0}


# ----------------------------------------------------------------------------- motion curves


def _decode_size(width: int, height: int, max_side: int = MOTION_MAX_SIDE) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height, 1))
    return max(2, int(round(width * scale))), max(2, int(round(height * scale)))


def _video_curve(path: Path, start: float, duration: float | None) -> dict[str, np.ndarray]:
    info = probe_video(path)
    fps = float(info.fps) if info.fps and info.fps > 0 else 25.0
    size = _decode_size(info.width, info.height)
    # a span is sampled on the exact grid start + k/fps; to the end of the file, native frames
    frames = decode_frames(path, fps=fps if duration is not None else None, size=size, start=start, duration=duration)
    luma = frames.astype(np.float32) @ np.asarray(VIDEO_CONFIG["luma"], dtype=np.float32) / 255.0
    if len(luma) < 2:
        raise MediaError(path, f"only {len(luma)} frame(s) in the clip span; motion needs at least 2")
    curve = np.abs(np.diff(luma, axis=0)).mean(axis=(1, 2))
    times = (np.arange(len(curve)) + 0.5) / fps
    return {"curve": curve.astype(np.float64), "times": times, "fps": np.asarray(fps)}


def motion_curve(video: str | os.PathLike, start: float = 0.0, duration: float | None = None, *,
                 cache: Cache | bool | None = True) -> tuple[np.ndarray, np.ndarray]:
    """Frame-difference motion envelope of `video` over [start, start+duration): (curve, times),
    times in seconds from `start`. Cached per video file content + span + VIDEO_CONFIG."""
    path = Path(video)
    c = _resolve_cache(cache)
    if c is None:
        arrays = _video_curve(path, start, duration)
    else:
        config = {**VIDEO_CONFIG, "start": float(start), "duration": None if duration is None else float(duration)}
        arrays = c.get_or_compute(VIDEO_EXTRACTOR, config, [path], lambda: _video_curve(path, start, duration))
    return np.asarray(arrays["curve"]), np.asarray(arrays["times"])


def load_keypoints2d(path: str | os.PathLike, view: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints (N, 17, 3) of `view`, times in s) from an AIST++-style keypoints2d pickle."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: keypoints file not found") from exc
    except Exception as exc:
        raise DatasetError(f"{path}: unreadable keypoints pickle ({exc})") from exc
    if not isinstance(data, Mapping) or "keypoints2d" not in data or "timestamps" not in data:
        raise DatasetError(f"{path}: expected a dict with 'keypoints2d' (views, N, 17, 3) and 'timestamps' (N,)")
    kp = np.asarray(data["keypoints2d"], dtype=np.float64)
    if kp.ndim == 3:
        kp = kp[None]
    if kp.ndim != 4 or kp.shape[-1] < 2 or not 0 <= view < kp.shape[0]:
        raise DatasetError(f"{path}: keypoints2d has shape {kp.shape}, view {view} not available")
    times = np.asarray(data["timestamps"], dtype=np.float64) / 1000.0  # ms → s
    if times.shape[0] != kp.shape[1]:
        raise DatasetError(f"{path}: {times.shape[0]} timestamps for {kp.shape[1]} keypoint frames")
    return kp[view], times


def _keypoint_curve(path: Path, start: float, duration: float | None, view: int) -> dict[str, np.ndarray]:
    kp, times = load_keypoints2d(path, view)
    end = math.inf if duration is None else start + duration
    sel = (times >= start - 1e-6) & (times < end - 1e-6)
    kp, times = kp[sel], times[sel] - start
    if len(kp) < 2:
        raise DatasetError(f"{path}: fewer than 2 keypoint frames in [{start}, {end}) s")
    xy = kp[..., :2]
    ok = np.isfinite(xy).all(axis=-1)
    if kp.shape[-1] > 2:
        ok &= kp[..., 2] > KEYPOINT_CONFIG["min_confidence"]
    step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)
    step = np.where(ok[1:] & ok[:-1], step, 0.0)
    curve = np.nan_to_num(step).sum(axis=1)
    mid = (times[1:] + times[:-1]) / 2
    return {"curve": curve, "times": mid}


def keypoint_motion_curve(keypoints: str | os.PathLike, start: float = 0.0, duration: float | None = None,
                          view: int = 0, *, cache: Cache | bool | None = True) -> tuple[np.ndarray, np.ndarray]:
    """FACT's velocity envelope (sum over joints of |Δxy| per frame) from 2D keypoints."""
    path = Path(keypoints)
    c = _resolve_cache(cache)
    if c is None:
        arrays = _keypoint_curve(path, start, duration, view)
    else:
        config = {**KEYPOINT_CONFIG, "start": float(start), "duration": None if duration is None else float(duration),
                  "view": int(view)}
        arrays = c.get_or_compute(KEYPOINT_EXTRACTOR, config, [path], lambda: _keypoint_curve(path, start, duration, view))
    return np.asarray(arrays["curve"]), np.asarray(arrays["times"])


# ----------------------------------------------------------------------------- motion beats


def motion_beats(curve: np.ndarray, times: np.ndarray, kind: str = DEFAULT_KIND, *,
                 min_separation: float = MIN_SEPARATION_S, rel_threshold: float = REL_THRESHOLD,
                 abs_threshold: float = 0.0) -> np.ndarray:
    """Motion beat times (s) of a velocity envelope sampled at `times` (see the module docstring).

    The noise floor / prominence is max(rel_threshold × mean of the top 10 %, abs_threshold);
    a curve whose top 10 % stays below abs_threshold has no beats (nothing moves)."""
    from scipy.signal import find_peaks

    if kind not in KINDS:
        raise ValueError(f"unknown motion beat kind {kind!r}; known: {', '.join(KINDS)}")
    curve = np.asarray(curve, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if curve.size < 3:
        return np.zeros(0)
    top = np.sort(curve)[-max(1, int(math.ceil(0.1 * curve.size))):]
    scale = float(top.mean())  # typical size of the largest motions (mean of the top 10 %)
    if not np.isfinite(scale) or scale <= 0 or scale < abs_threshold:
        return np.zeros(0)  # nothing moves
    dt = float(np.median(np.diff(times)))
    distance = max(1, int(round(min_separation / dt)))
    threshold = max(rel_threshold * scale, abs_threshold)
    if kind == "peaks":
        idx, _ = find_peaks(curve, prominence=threshold, distance=distance)
        return times[idx]
    floored = np.maximum(curve, threshold)
    if floored[-1] <= threshold:  # at rest when the clip ends: that last stop counts too
        floored = np.r_[floored, floored.max()]
    idx, props = find_peaks(-floored, prominence=threshold, distance=distance, plateau_size=1)
    return times[props["left_edges"]] if idx.size else np.zeros(0)


# ----------------------------------------------------------------------------- scores


def beat_align_score(from_beats: Iterable[float], to_beats: Iterable[float], sigma: float = SIGMA_S) -> float:
    """Mean over `from_beats` of exp(-d² / (2σ²)), d the distance to the nearest of `to_beats`
    (FACT's alignment_score with times in seconds). 0.0 when either side is empty (FACT returns
    0 for no motion beats; with no beat to align to, nothing is aligned)."""
    a = np.asarray(list(from_beats), dtype=np.float64)
    b = np.sort(np.asarray(list(to_beats), dtype=np.float64))
    if a.size == 0 or b.size == 0:
        return 0.0
    pos = np.clip(np.searchsorted(b, a), 1, max(b.size - 1, 1))
    d = np.minimum(np.abs(a - b[pos - 1]), np.abs(a - b[np.minimum(pos, b.size - 1)]))
    return float(np.mean(np.exp(-(d ** 2) / (2.0 * sigma ** 2))))


def alignment_scores(motion: Sequence[float], music: Sequence[float], sigma: float = SIGMA_S) -> dict[str, float]:
    """Both directions and their mean for given motion and music beat times."""
    v2m = beat_align_score(motion, music, sigma)
    m2v = beat_align_score(music, motion, sigma)
    return {"ba_v2m": v2m, "ba_m2v": m2v, "ba_mean": (v2m + m2v) / 2.0}


def clip_motion_curve(clip: Clip, *, motion: str = "video",
                      cache: Cache | bool | None = True) -> tuple[np.ndarray, np.ndarray]:
    """(curve, times) of a clip's motion envelope, times in s from the clip start.

    motion: "video" (frame differences), "keypoints" (the clip's keypoints2d pickle; an error
    if it has none) or "auto" (keypoints when the clip has them, else video)."""
    if _uses_keypoints(clip, motion):
        return keypoint_motion_curve(clip.path("keypoints"), clip.start, clip.duration, cache=cache)
    return motion_curve(clip.video_path, clip.start, clip.duration, cache=cache)


def _uses_keypoints(clip: Clip, motion: str) -> bool:
    if motion not in ("video", "keypoints", "auto"):
        raise ValueError(f"motion must be 'video', 'keypoints' or 'auto', not {motion!r}")
    return motion == "keypoints" or (motion == "auto" and bool(clip.keypoints))


def _abs_threshold(clip: Clip, motion: str) -> float:
    return 0.0 if _uses_keypoints(clip, motion) else VIDEO_MIN_MOTION


def clip_motion_beats(clip: Clip, *, motion: str = "video", kind: str = DEFAULT_KIND,
                      cache: Cache | bool | None = True) -> np.ndarray:
    """Motion beat times (s from the clip start) of a clip (see `clip_motion_curve`)."""
    curve, times = clip_motion_curve(clip, motion=motion, cache=cache)
    return motion_beats(curve, times, kind, abs_threshold=_abs_threshold(clip, motion))


def video_music_alignment(clip: Clip, generated_wav: AudioInput, sample_rate: int | None = None, *,
                          motion: str = "video", kinds: Sequence[str] = KINDS, sigma: float = SIGMA_S,
                          beat_tracker: str = "librosa", cache: Cache | bool | None = True) -> dict[str, float]:
    """Beat Align Scores between `clip`'s motion and the music beats of `generated_wav` (a path,
    or an array at `sample_rate`, whose t=0 is the clip's start), in both directions.

    For the first of `kinds` (default "peaks") the keys are ba_v2m, ba_m2v, ba_mean and
    n_motion_beats; every further kind adds the same keys suffixed `_<kind>` (by default
    ba_v2m_minima, ... : FACT's kinematic-beat definition). n_music_beats counts the music
    beats used (from `beat_tracker`: 'librosa' or 'madmom'); music beats at or past the clip's
    duration are ignored."""
    if not kinds:
        raise ValueError("kinds must name at least one motion beat kind")
    if beat_tracker == "librosa":
        beats = music_features(generated_wav, sample_rate, cache=cache).beat_times
    else:  # metrics.trackers (madmom: CC BY-NC-SA 4.0 models)

        beats = beat_times(generated_wav, beat_tracker, sample_rate, cache=cache)
    beats = beats[beats < clip.duration]
    curve, times = clip_motion_curve(clip, motion=motion, cache=cache)
    out: dict[str, float] = {}
    for i, kind in enumerate(kinds):
        suffix = "" if i == 0 else f"_{kind}"
        mb = motion_beats(curve, times, kind, abs_threshold=_abs_threshold(clip, motion))
        out.update({k + suffix: v for k, v in alignment_scores(mb, beats, sigma).items()})
        out["n_motion_beats" + suffix] = float(mb.size)
    out["n_music_beats"] = float(beats.size)
    return out


def video_music_alignment_set(clips: Iterable[Clip], generated: Mapping[str, AudioInput],
                              sample_rate: int | None = None, **kwargs) -> dict:
    """`video_music_alignment` for every clip that has an entry in `generated` (clip id → wav),
    and the mean over those clips: {"per_clip": {id: {...}}, "mean": {...}}."""
    per_clip = {c.id: video_music_alignment(c, generated[c.id], sample_rate, **kwargs)
                for c in sorted(clips, key=lambda c: c.id) if c.id in generated}
    return {"per_clip": per_clip, "mean": aggregate(per_clip)}
