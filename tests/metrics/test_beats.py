"""Beat metrics (metrics/beats.py) on click tracks at known times: BCS/BHS (published 1-s-bin
protocol and our ±70 ms variant), tempo and tempo error, and the feature cache."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.cache import Cache
from core.media import atomic_write_audio
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


# ----------------------------------------------------------------------------- precision / recall / F1, BCS's target


def test_beat_precision_recall_f():
    ref = np.arange(0.5, 10, 0.5)  # 19 beats
    gen = np.r_[ref[:10] + 0.02, np.arange(20.0, 30.0, 1.0)]  # 10 hits, 10 extra
    prf = mb.beat_precision_recall_f(gen, ref)
    assert prf["beat_precision"] == pytest.approx(10 / 20)  # hits / generated (LORIS)
    assert prf["beat_recall"] == pytest.approx(10 / 19)  # hits / reference (D2M-GAN's BHS)
    assert prf["beat_f"] == pytest.approx(2 * 10 / (20 + 19))
    assert math.isnan(mb.beat_precision_recall_f([], [])["beat_f"])
    none = mb.beat_precision_recall_f([], ref)
    assert none["beat_recall"] == 0.0 and none["beat_f"] == 0.0 and math.isnan(none["beat_precision"])


def test_twice_the_beats_is_not_better_than_the_reference():
    """D2M-GAN's BCS = #gen / #ref rewards extra beats; the metric ranks it by |BCS - 1| and F1
    puts the reference first."""
    from metrics.rhythm import BEAT_KEYS, _per_clip_scores

    double = np.arange(0.25, DUR, 0.25)  # every reference beat plus one between each pair
    bcs_more, bhs_more = mb.beat_coverage_hit(double, BEATS_120)
    bcs_same, _ = mb.beat_coverage_hit(BEATS_120, BEATS_120)
    assert bcs_more == pytest.approx(2.0, abs=0.06) and bhs_more == 1.0 and bcs_same == 1.0
    scores = _per_clip_scores([{k: 1.0 for k in BEAT_KEYS}], BEAT_KEYS)
    assert scores["bcs_tol"].target == 1.0 and scores["bcs"].target == 1.0
    assert scores["beat_f"].target is None and scores["beat_f"].higher_is_better
    assert abs(bcs_same - 1) < abs(bcs_more - 1)
    more, same = mb.beat_precision_recall_f(double, BEATS_120), mb.beat_precision_recall_f(BEATS_120, BEATS_120)
    assert same["beat_f"] == 1.0 > more["beat_f"]
    assert more["beat_recall"] == 1.0 and more["beat_precision"] == pytest.approx(0.5, abs=0.02)


@pytest.mark.slow
def test_beat_metric_with_madmom_and_ground_truth(tmp_path):
    """beat_tracker=madmom, and each truth tracker's F-measure against a clip's events file."""
    import json

    from core.manifest import Clip
    from metrics.rhythm import BeatMetric

    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "c.json").write_text(json.dumps({"beats": BEATS_120.tolist(), "downbeats": [],
                                                             "notes": [], "duration": DUR}))
    clip = Clip("c", "video/c.mp4", "audio/c.wav", 0.0, DUR, "s", root=str(tmp_path))
    wav = atomic_write_audio(tmp_path / "audio" / "c.wav", click_track(BEATS_120), SR)
    m = BeatMetric(cache=Cache(tmp_path / "cache"), beat_tracker="madmom", truth_trackers=["librosa", "madmom"])
    assert m.weights == "pretrained" and "CC BY-NC-SA" in m.describe()["licence"]
    out = m.scores([clip], {"c": wav}, {"c": wav})
    assert out["beat_f"].per_clip[0] == 1.0
    assert out["beat_f_truth_madmom"].per_clip[0] >= 0.9 and out["beat_f_truth_librosa"].per_clip[0] >= 0.9
    assert "downbeat_f_truth_madmom" in out
    assert "beat_f_truth_madmom" not in BeatMetric(cache=False).scores([Clip("x", "v", "a", 0.0, DUR, "s",
                                                                             root=str(tmp_path / "nothing"))],
                                                                       {"x": wav}, {"x": wav})
