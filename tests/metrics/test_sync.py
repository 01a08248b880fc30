"""Model-free synchrony (metrics/sync.py) and retrieval (metrics/retrieval.py): known offsets of
the music are recovered, unrelated music correlates less, bad input gives defined values or
named errors, and ranks/R@k follow their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.manifest import Clip
from core.media import atomic_write_audio, write_video
from metrics import retrieval, sync

FPS = 25
SR = 22050


def _events(seed: int, duration: float) -> np.ndarray:
    """Irregular event times (0.25–0.7 s apart), so a shift is identifiable within ±1 s."""
    rng = np.random.default_rng(seed)
    t, out = 0.3, []
    while t < duration - 0.2:
        out.append(t)
        t += rng.uniform(0.25, 0.7)
    return np.array(out)


def _video(path, events, duration, still=False):
    """A square that jumps to a new place at every event and holds still otherwise."""
    n = int(round(duration * FPS))
    k = np.ceil(events * FPS - 1e-9).astype(int)
    pos = np.searchsorted(k, np.arange(n), side="right")
    frames = np.full((n, 64, 64, 3), 40, np.uint8)
    spots = [(8, 8), (36, 30), (10, 40), (40, 8), (20, 20), (38, 40)]
    for f in range(n):
        y, x = spots[0 if still else pos[f] % len(spots)]
        frames[f, y:y + 16, x:x + 16] = 230
    return write_video(path, frames, FPS)


def _clicks(times, duration, sr=SR):
    y = np.zeros(int(duration * sr), np.float32)
    m = int(0.02 * sr)
    blip = (0.8 * np.sin(2 * np.pi * 880 * np.arange(m) / sr) * np.hanning(m)).astype(np.float32)
    for t in times:
        i = int(round(t * sr))
        if 0 <= i < y.size:
            seg = y[i:i + m]
            seg += blip[:seg.size]
    return y


def _clip(root, name, events, duration=10.0, still=False):
    _video(root / "video" / f"{name}.mp4", events, duration, still)
    return Clip(name, f"video/{name}.mp4", f"audio/{name}.wav", 0.0, duration, name, root=str(root))


@pytest.fixture(scope="module")
def clicks(tmp_path_factory):
    root = tmp_path_factory.mktemp("sync")
    ev = _events(0, 10.0)
    return root, _clip(root, "a", ev), ev


@pytest.mark.parametrize("shift", [-0.6, -0.2, 0.0, 0.24, 0.8])
def test_known_offsets_of_the_music_are_recovered(clicks, tmp_path, shift):
    root, clip, ev = clicks
    base = sync.clip_synchrony(clip, atomic_write_audio(tmp_path / "0.wav", _clicks(ev, 10.0), SR), cache=False)
    moved = atomic_write_audio(tmp_path / "s.wav", _clicks(ev + shift, 10.0), SR)
    s = sync.clip_synchrony(clip, moved, cache=False)
    # the video's own lag (frame midpoints, envelope centring) is constant: shifts add to it
    assert s.offset - base.offset == pytest.approx(shift, abs=1.5 / 60)
    assert s.strength > 0.4
    assert abs(base.offset) <= 0.05


def test_unrelated_music_correlates_less(clicks, tmp_path):
    _, clip, ev = clicks
    own = sync.clip_synchrony(clip, atomic_write_audio(tmp_path / "o.wav", _clicks(ev, 10.0), SR), cache=False)
    other = sync.clip_synchrony(clip, atomic_write_audio(tmp_path / "x.wav", _clicks(_events(7, 10.0), 10.0), SR),
                                cache=False)
    assert own.strength > other.strength + 0.2


def test_still_video_and_silent_music_have_no_synchrony(tmp_path):
    ev = _events(1, 10.0)
    still = _clip(tmp_path, "still", ev, still=True)
    music = atomic_write_audio(tmp_path / "m.wav", _clicks(ev, 10.0), SR)
    s = sync.clip_synchrony(still, music, cache=False)
    assert s.strength == 0.0 and math.isnan(s.offset)
    moving = _clip(tmp_path, "moving", ev)
    silent = atomic_write_audio(tmp_path / "silent.wav", np.zeros(10 * SR, np.float32), SR)
    s = sync.clip_synchrony(moving, silent, cache=False)
    assert s.strength == 0.0 and math.isnan(s.offset)
    assert s.as_dict()["sync_strength"] == 0.0


def test_short_clips(tmp_path):
    ev = _events(2, 2.0)
    clip = _clip(tmp_path, "two", ev, duration=2.0)
    s = sync.clip_synchrony(clip, atomic_write_audio(tmp_path / "m.wav", _clicks(ev, 2.0), SR), cache=False)
    assert s.lags.max() == pytest.approx(1.0) and s.strength > 0.3 and np.isfinite(s.offset)
    short = _clip(tmp_path, "short", np.array([0.3]), duration=0.8)
    with pytest.raises(sync.ClipTooShortError, match="too short"):
        sync.clip_synchrony(short, atomic_write_audio(tmp_path / "s.wav", _clicks([0.3], 0.8), SR), cache=False)


def test_strength_matrix_retrieves_each_clip_s_own_music(tmp_path):
    clips, music = [], []
    for i in range(4):
        ev = _events(10 + i, 10.0)
        clips.append(_clip(tmp_path, f"c{i}", ev))
        music.append(atomic_write_audio(tmp_path / f"m{i}.wav", _clicks(ev, 10.0), SR))
    s = sync.strength_matrix(clips, music, cache=False)
    v2m, m2v = retrieval.ranks(s)
    assert v2m.tolist() == [1, 1, 1, 1] and m2v.tolist() == [1, 1, 1, 1]
    shuffled = retrieval.ranks(s[:, [1, 2, 3, 0]])[0]  # clip i got clip i+1's music
    assert (shuffled > 1).all()


# ----------------------------------------------------------------------------- retrieval


def test_ranks_count_ties_against_the_true_pair():
    s = np.array([[0.9, 0.1, 0.2],
                  [0.5, 0.5, 0.1],   # a tie with another music: rank 2, not 1
                  [0.0, 0.8, 0.3]])  # two better: rank 3
    v2m, m2v = retrieval.ranks(s)
    assert v2m.tolist() == [1, 2, 2]
    assert m2v.tolist() == [1, 2, 1]
    assert retrieval.ranks(np.zeros((3, 3)))[0].tolist() == [3, 3, 3]  # a constant score never hits


def test_retrieval_scores_and_their_floors():
    s = np.eye(12) + 0.01 * np.arange(144).reshape(12, 12) / 144
    out = retrieval.retrieval_scores(s)
    assert out["r1_v2m"].per_clip.tolist() == [1.0] * 12
    assert out["r10_v2m"].min_clips == 11 and out["r5_m2v"].min_clips == 6
    assert out["medr_v2m"].statistic(np.arange(12)[None]).tolist() == [1.0]
    assert out["medr_v2m"].higher_is_better is False and out["r1_m2v"].higher_is_better is True
    with pytest.raises(ValueError, match="square"):
        retrieval.ranks(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        retrieval.ranks(np.array([[np.nan, 0], [0, 1]]))
    assert "chance R@1 = 0.25" in retrieval.chance_note(4)


# ----------------------------------------------------------------------------- the toy dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from bench.data import toy_music
    from bench.data.params import PrepareParams
    from bench.data.toy import ToyOptions, prepare_toy

    if not toy_music.SOUNDFONT.is_file():
        pytest.fail(f"FluidR3_GM soundfont missing ({toy_music.SOUNDFONT}): run `make setup`")
    return prepare_toy(PrepareParams(tmp_path_factory.mktemp("toy"), 32000, 10.0, 0, {}),
                       ToyOptions(size="tiny", n_sources=3, clips_per_source=1))


@pytest.mark.slow
def test_toy_reference_music_shifted_by_known_offsets(toy, tmp_path):
    """The toy's own music, delayed or advanced by a known offset, is found at that offset, and
    every clip's own music is more synchronous with its video than another source's."""
    from core.media import load_audio

    # with a steady beat r(τ) has near-equal peaks one beat period apart, so an offset is only
    # identified modulo that period on some clips: shift the most clearly synchronous clip
    clip = max(toy, key=lambda c: sync.clip_synchrony(c, c.audio_path, cache=False).strength)
    y = load_audio(clip.audio_path, 32000)
    base = sync.clip_synchrony(clip, clip.audio_path, cache=False)
    for shift in (-0.5, -0.2, 0.1, 0.3):
        k = int(round(abs(shift) * 32000))
        moved = np.r_[np.zeros(k, np.float32), y[:-k]] if shift > 0 else np.r_[y[k:], np.zeros(k, np.float32)]
        s = sync.clip_synchrony(clip, atomic_write_audio(tmp_path / f"{shift}.wav", moved, 32000), cache=False)
        assert s.offset - base.offset == pytest.approx(shift, abs=2 / 60), shift
    s = sync.strength_matrix(list(toy), [c.audio_path for c in toy], cache=False)
    print("\ntoy tiny sync strength (rows: videos, columns: music)\n", np.round(s, 2))
    assert (np.diag(s) > s.max(axis=1, where=~np.eye(len(toy), dtype=bool), initial=-1)).all()
