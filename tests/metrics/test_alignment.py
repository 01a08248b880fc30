"""Video–music alignment (metrics/alignment.py): FACT's Beat Align Score in both directions,
motion beats from frame differences and from AIST++-style keypoints, the cache, and — on the
built-in `toy` dataset — a clip's own music aligning better than a different source's."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from core.cache import Cache
from core.manifest import Clip
from core.media import atomic_write_audio, write_video
from metrics import alignment as al

FPS = 25
SR = 22050


# ----------------------------------------------------------------------------- the score


def test_identical_beats_score_one():
    beats = np.arange(0.5, 10, 0.5)
    assert al.alignment_scores(beats, beats) == {"ba_v2m": 1.0, "ba_m2v": 1.0, "ba_mean": 1.0}


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_shift_by_k_frames_gives_the_gaussian_kernel(k):
    music = np.arange(0, 600, 60) / 60.0  # a beat per second on FACT's 60 fps grid
    motion = music + k / 60.0
    expected = math.exp(-(k ** 2) / (2 * 3 ** 2))  # sigma = 3 frames at 60 fps
    assert al.SIGMA_S == pytest.approx(3 / 60)
    assert al.beat_align_score(motion, music) == pytest.approx(expected)
    assert al.beat_align_score(music, motion) == pytest.approx(expected)


def test_directions_differ_when_beat_counts_differ():
    music = np.array([0.0, 1.0, 2.0, 3.0])
    motion = np.array([0.0, 2.0])  # every motion beat is on a music beat, half the music unmatched
    s = al.alignment_scores(motion, music)
    assert s["ba_v2m"] == pytest.approx(1.0)
    far = math.exp(-1.0 / (2 * al.SIGMA_S ** 2))
    assert s["ba_m2v"] == pytest.approx((2 + 2 * far) / 4)
    assert s["ba_m2v"] < s["ba_v2m"]
    assert s["ba_mean"] == pytest.approx((s["ba_v2m"] + s["ba_m2v"]) / 2)
    assert al.beat_align_score([], music) == 0.0 and al.beat_align_score(music, []) == 0.0


# ----------------------------------------------------------------------------- motion beats


JUMPS = np.array([12, 30, 47, 70, 88])  # frame index of the first frame at the new position


def jumping_square(n: int = 100, size: int = 64) -> np.ndarray:
    """A white square that jumps to a new position at frames JUMPS and holds still otherwise."""
    spots = [(8, 8), (36, 30), (10, 40), (40, 8), (20, 20), (38, 40)]
    frames = np.full((n, size, size, 3), 40, np.uint8)
    pos = np.searchsorted(JUMPS, np.arange(n), side="right")
    for f in range(n):
        y, x = spots[pos[f] % len(spots)]
        frames[f, y:y + 16, x:x + 16] = 230
    return frames


@pytest.fixture(scope="module")
def square_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("sq") / "square.mp4", jumping_square(), FPS)


def test_motion_beats_of_a_jumping_square(square_video, tmp_path):
    curve, times = al.motion_curve(square_video, cache=Cache(tmp_path / "c"))
    assert curve.shape == times.shape == (99,)
    jump_t = JUMPS / FPS  # the square is first seen at its new place at this time
    peaks = al.motion_beats(curve, times, "peaks")
    np.testing.assert_allclose(peaks, jump_t - 0.5 / FPS, atol=1e-6)  # the move between frames k-1 and k
    stops = al.motion_beats(curve, times, "minima")
    np.testing.assert_allclose(stops, jump_t + 0.5 / FPS, atol=1e-6)  # still from frame k on


def test_motion_curve_of_a_clip_span_and_its_cache(square_video, tmp_path):
    cache = Cache(tmp_path / "c")
    curve, times = al.motion_curve(square_video, start=1.0, duration=2.0, cache=cache)
    assert curve.size == 2 * FPS - 1
    peaks = al.motion_beats(curve, times, "peaks")  # times are relative to the span's start
    inside = JUMPS[(JUMPS / FPS > 1.0) & (JUMPS / FPS < 3.0)] / FPS - 1.0
    np.testing.assert_allclose(peaks, inside - 0.5 / FPS, atol=1e-6)
    assert (cache.hits, cache.misses) == (0, 1)
    al.motion_curve(square_video, start=1.0, duration=2.0, cache=cache)
    assert (cache.hits, cache.misses) == (1, 1)
    al.motion_curve(square_video, start=0.0, duration=2.0, cache=cache)  # another span: a miss
    assert cache.misses == 2


def test_nothing_moving_has_no_motion_beats(tmp_path):
    still = write_video(tmp_path / "still.mp4", np.full((50, 32, 32, 3), 90, np.uint8), FPS)
    curve, times = al.motion_curve(still, cache=False)
    for kind in al.KINDS:
        assert al.motion_beats(curve, times, kind).size == 0
    # a still scene with sensor noise: the differences are noise, not motion
    rng = np.random.default_rng(0)
    noisy = np.round(90 + rng.normal(0, 0.4, (50, 32, 32, 3))).astype(np.uint8)
    curve, times = al.motion_curve(write_video(tmp_path / "noisy.mp4", noisy, FPS, crf=0), cache=False)
    assert 0 < curve.max() < al.VIDEO_MIN_MOTION
    for kind in al.KINDS:
        assert al.motion_beats(curve, times, kind).size > 0  # relative thresholds alone see "beats"
        assert al.motion_beats(curve, times, kind, abs_threshold=al.VIDEO_MIN_MOTION).size == 0


def test_keypoint_motion_curve(tmp_path):
    n, fps = 120, 60
    kp = np.zeros((1, n, 17, 3), np.float32)
    kp[..., 2] = 1.0
    jumps = [20, 50, 90]
    kp[0, :, :, 0] = 100 + 30 * np.searchsorted(jumps, np.arange(n), side="right")[:, None]
    kp[0, 60:64, 3, 2] = 0.0  # an undetected joint is ignored, not a jump
    kp[0, 60:64, 3, :2] = 0.0
    path = tmp_path / "kp.pkl"
    ts = (np.arange(n, dtype=np.int64) * 1000) // fps
    path.write_bytes(pickle.dumps({"keypoints2d": kp, "det_scores": np.ones((1, n)), "timestamps": ts}))
    curve, times = al.keypoint_motion_curve(path, cache=False)
    assert curve.max() == pytest.approx(17 * 30)  # FACT's envelope: sum over joints of |Δxy|
    peaks = al.motion_beats(curve, times, "peaks")
    np.testing.assert_allclose(peaks, (ts[jumps] + ts[np.subtract(jumps, 1)]) / 2000, atol=1e-6)
    clip = Clip("c", "v.mp4", "a.wav", 0.5, 1.0, "s", keypoints=str(path))
    beats = al.clip_motion_beats(clip, motion="keypoints", cache=False)
    np.testing.assert_allclose(beats, peaks[1:2] - 0.5, atol=1e-6)


@pytest.fixture
def click_clip(tmp_path):
    """A square that jumps on every beat of a 120 bpm click track (10 s at 25 fps)."""
    n = 250
    beat_t = np.arange(0.24, 10, 0.5)
    k = np.ceil(beat_t * FPS - 1e-9).astype(int)  # first frame showing the new position
    frames = np.full((n, 64, 64, 3), 40, np.uint8)
    pos = np.searchsorted(k, np.arange(n), side="right")
    for f in range(n):
        x = 8 + 32 * (pos[f] % 2)
        frames[f, 24:40, x:x + 16] = 230
    write_video(tmp_path / "video" / "c.mp4", frames, FPS)
    clip = Clip("c", "video/c.mp4", "audio/c.wav", 0.0, 10.0, "s", root=str(tmp_path))
    return clip, beat_t


def _clicks(times, duration=10.0, sr=SR):
    y = np.zeros(int(duration * sr), np.float32)
    m = int(0.01 * sr)
    blip = (0.8 * np.sin(2 * np.pi * 1000 * np.arange(m) / sr) * np.hanning(m)).astype(np.float32)
    for t in times:
        i = int(round(t * sr))
        seg = y[i:i + m]
        seg += blip[:seg.size]
    return y


@pytest.mark.slow
def test_video_music_alignment_of_a_synthetic_clip(click_clip, tmp_path):
    clip, beat_t = click_clip
    own = atomic_write_audio(tmp_path / "own.wav", _clicks(beat_t), SR)
    late = atomic_write_audio(tmp_path / "late.wav", _clicks(beat_t + 0.125), SR)  # a quarter beat
    a = al.video_music_alignment(clip, own)
    b = al.video_music_alignment(clip, late)
    assert a["ba_v2m"] > 0.7 and a["ba_m2v"] > 0.7
    assert b["ba_v2m"] < 0.2 and b["ba_m2v"] < 0.2
    assert {"ba_v2m_minima", "ba_m2v_minima", "ba_mean_minima", "n_motion_beats_minima"} <= set(a)
    assert a["n_motion_beats"] == pytest.approx(len(beat_t), abs=1)
    out = al.video_music_alignment_set([clip], {"c": own})
    assert out["per_clip"]["c"] == a and out["mean"]["ba_v2m"] == a["ba_v2m"]


@pytest.mark.slow
def test_alignment_with_madmom_beats(click_clip, tmp_path):
    clip, beat_t = click_clip
    own = atomic_write_audio(tmp_path / "own.wav", _clicks(beat_t), SR)
    late = atomic_write_audio(tmp_path / "late.wav", _clicks(beat_t + 0.125), SR)
    a = al.video_music_alignment(clip, own, beat_tracker="madmom")
    b = al.video_music_alignment(clip, late, beat_tracker="madmom")
    assert a["ba_v2m"] > 0.7 and b["ba_v2m"] < 0.2
    assert a["n_music_beats"] == pytest.approx(len(beat_t), abs=2)


# ----------------------------------------------------------------------------- the toy dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from bench.data import toy_music
    from core.errors import DatasetError

    if not toy_music.SOUNDFONT.is_file():
        pytest.skip("FluidR3_GM soundfont not installed: no toy dataset")
    from bench.data.params import PrepareParams
    from bench.data.toy import ToyOptions, prepare_toy

    try:
        return prepare_toy(PrepareParams(tmp_path_factory.mktemp("toy"), 32000, 10.0, 0, {}), ToyOptions(size="tiny"))
    except DatasetError as exc:
        pytest.skip(f"toy dataset unavailable: {exc}")


@pytest.mark.slow
def test_toy_reference_aligns_better_than_shuffled(toy, tmp_path):
    from systems.base import SystemContext
    from systems.controls import ShuffledControl

    ctx = SystemContext(tuple(toy), 32000, 0, tmp_path / "work", tmp_path / "cache")
    shuffled = ShuffledControl(ctx, pool="all")  # tiny's test split holds one source only
    ref = al.video_music_alignment_set(toy, {c.id: c.audio_path for c in toy})["mean"]
    shuf = al.video_music_alignment_set(toy, {c.id: shuffled.donor(c, 0, 0).audio_path for c in toy})["mean"]
    print("\ntoy tiny, mean over", int(ref["n_clips"]), "clips (reference | shuffled):")
    for key in ("ba_v2m", "ba_m2v", "ba_mean", "ba_v2m_minima", "ba_m2v_minima", "ba_mean_minima"):
        print(f"  {key:16s} {ref[key]:.3f} | {shuf[key]:.3f}")
    for key in ("ba_v2m", "ba_m2v", "ba_mean"):
        assert ref[key] > shuf[key], key
