"""Beat metrics (metrics/beats.py) on click tracks at known times: BCS/BHS (published 1-s-bin
protocol and our ±70 ms variant), tempo and tempo error, and the feature cache."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.cache import Cache
from bench.media import atomic_write_audio
from metrics import beats as mb

SR = 22050
DUR = 10.0


def click_track(times, duration: float = DUR, sr: int = SR) -> np.ndarray:
    """10 ms 1 kHz Hann-windowed clicks at `times` (s)."""
    y = np.zeros(int(round(duration * sr)), np.float32)
    n = int(0.01 * sr)
    blip = (0.8 * np.sin(2 * np.pi * 1000 * np.arange(n) / sr) * np.hanning(n)).astype(np.float32)
    for t in times:
        i = int(round(t * sr))
        seg = y[i:i + n]
        seg += blip[:seg.size]
    return y


BEATS_120 = np.arange(0.25, DUR, 0.5)  # 120 bpm


def test_identical_click_tracks_score_one_and_tempo_is_120():
    y = click_track(BEATS_120)
    m = mb.beat_metrics(y, y, SR, cache=False)
    assert m["bcs"] == 1.0 and m["bhs"] == 1.0
    assert m["bcs_tol"] == 1.0 and m["bhs_tol"] == 1.0
    assert m["tempo_ref"] == pytest.approx(120.0, abs=2.0)
    assert m["tempo_error"] == 0.0 and m["tempo_error_octave"] == 0.0
    # the tracker's beats sit on the clicks (within a 60 Hz frame plus onset latency)
    f = mb.music_features(y, SR, cache=False)
    d = np.abs(f.beat_times[:, None] - BEATS_120[None, :]).min(axis=1)
    assert np.all(d < 0.04)


def test_shift_beyond_tolerance_drops_bhs_tol_but_not_the_binned_bhs():
    ref = click_track(BEATS_120)
    gen = click_track(BEATS_120 + 0.15)  # > 70 ms off every reference beat
    m = mb.beat_metrics(gen, ref, SR, cache=False)
    assert m["bhs_tol"] < 0.1
    assert m["bcs_tol"] == pytest.approx(1.0, abs=0.1)
    # the published 1-s bins cannot see a 150 ms shift of a dense click track
    assert m["bhs"] == 1.0


def test_half_the_beats_removed():
    ref = click_track(BEATS_120)
    gen = click_track(BEATS_120[::2])  # 60 bpm
    m = mb.beat_metrics(gen, ref, SR, cache=False)
    assert m["bcs_tol"] == pytest.approx(0.5, abs=0.1)
    assert m["bhs_tol"] == pytest.approx(0.5, abs=0.1)
    assert m["tempo_gen"] == pytest.approx(60.0, abs=2.0)
    assert m["tempo_error"] == pytest.approx(60.0, abs=3.0)
    assert m["tempo_error_octave"] < 3.0


def test_published_protocol_on_sparse_clicks():
    one_per_second = np.arange(10) + 0.3
    ref = click_track(one_per_second)
    m = mb.beat_metrics(ref, ref, SR, cache=False)
    assert (m["bcs"], m["bhs"]) == (1.0, 1.0)
    half = mb.beat_metrics(click_track(one_per_second[::2]), ref, SR, cache=False)
    assert (half["bcs"], half["bhs"]) == (0.5, 0.5)
    # every other second, then shifted by one bin: same count, no bin in common
    two_s = np.arange(0, 10, 2) + 0.3
    shifted = mb.beat_metrics(click_track(two_s + 1.0), click_track(two_s), SR, cache=False)
    assert shifted["bcs"] == 1.0 and shifted["bhs"] == 0.0


def test_binned_scores_follow_the_authors_script():
    # ceil(duration) bins, bin trunc(t); several onsets in one second count once
    assert mb.beat_bins([0.1, 0.2, 2.99, 3.0, 9.5], 9.6).tolist() == [1, 0, 1, 1, 0, 0, 0, 0, 0, 1]
    assert mb.beat_coverage_hit_binned([0.5, 1.5, 4.2], [0.1, 2.5, 4.9, 5.1], 6.0) == (3 / 4, 2 / 4)
    assert all(math.isnan(v) for v in mb.beat_coverage_hit_binned([1.0], [], 5.0))
    # the reference is compared over the shorter track
    assert mb.beat_coverage_hit_binned([0.5], [0.5, 7.5], 3.0, 10.0) == (1.0, 1.0)


def test_tolerance_matching_is_one_to_one():
    assert mb.match_events([1.0, 1.01, 1.02], [1.0], 0.07) == 1
    assert mb.match_events([1.0, 2.0], [1.06, 2.08], 0.07) == 1
    bcs, bhs = mb.beat_coverage_hit([0.0, 0.5, 1.0, 1.5], [0.02, 1.03], 0.07)
    assert (bcs, bhs) == (2.0, 1.0)
    assert all(math.isnan(v) for v in mb.beat_coverage_hit([1.0], []))


def test_tempo_errors():
    assert mb.tempo_error(123.0, 120.0) == 3.0
    assert mb.tempo_error_octave(61.0, 120.0) == pytest.approx(2.0)
    assert mb.tempo_error_octave(242.0, 120.0) == pytest.approx(1.0)
    assert mb.tempo_error_octave(90.0, 120.0) == pytest.approx(30.0)


def test_silence_has_no_beats():
    f = mb.music_features(np.zeros(SR * 3, np.float32), SR, cache=False)
    assert f.beat_times.size == 0 and f.onset_times.size == 0 and f.tempo == 0.0
    m = mb.beat_metrics(np.zeros(SR * 3, np.float32), np.zeros(SR * 3, np.float32), SR, cache=False)
    assert math.isnan(m["bcs"]) and math.isnan(m["bhs_tol"])


def test_features_are_cached_by_file_content(tmp_path):
    cache = Cache(tmp_path / "cache")
    a = atomic_write_audio(tmp_path / "a.wav", click_track(BEATS_120, duration=4.0), SR)
    f1 = mb.music_features(a, cache=cache)
    assert (cache.hits, cache.misses) == (0, 1)
    copy = tmp_path / "copy.wav"
    copy.write_bytes(a.read_bytes())
    f2 = mb.music_features(copy, cache=cache)  # same bytes, another name: a hit
    assert (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(f1.beat_times, f2.beat_times)
    assert f1.tempo == f2.tempo
    atomic_write_audio(a, click_track(BEATS_120[::2], duration=4.0), SR)  # changed content: a miss
    mb.music_features(a, cache=cache)
    assert cache.misses == 2
    # an array gives the same features as its file
    f3 = mb.music_features(click_track(BEATS_120, duration=4.0), SR, cache=cache)
    np.testing.assert_allclose(f3.beat_times, f1.beat_times)


def test_set_aggregation_is_a_mean_over_clips_ignoring_nan():
    per_clip = {"a": {"bcs": 1.0, "bhs": math.nan}, "b": {"bcs": 0.5, "bhs": 0.25}}
    agg = mb.aggregate(per_clip)
    assert agg == {"bcs": 0.75, "bhs": 0.25, "n_clips": 2.0}
    y = click_track(BEATS_120, duration=4.0)
    out = mb.beat_metrics_set({"x": y}, {"x": y}, SR, cache=False)
    assert out["per_clip"]["x"]["bhs_tol"] == 1.0 and out["mean"]["bhs_tol"] == 1.0
    from metrics.errors import PairingError

    with pytest.raises(PairingError):
        mb.beat_metrics_set({"x": y}, {"y": y}, SR, cache=False)
