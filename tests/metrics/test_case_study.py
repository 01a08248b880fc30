"""`bench evaluate` stores each scored clip's case-study features (metrics.case_study): the motion
curve and every music's onsets and beats, equal to the metrics' own feature functions; an unchanged
clip is not recomputed, a changed output is; a clip whose video cannot be read is a note."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import metrics.case_study as cs
from core.cache import Cache
from core.manifest import read_manifest
from metrics.alignment import clip_motion_curve
from metrics.beats import music_features
from metrics.evaluate import evaluate


@pytest.fixture
def small_run(mini_dataset, tmp_path):
    """A run folder with `reference` and `shuffled` (reference music, rolled by one clip) for
    three test clips of the miniature dataset."""
    root, _ = mini_dataset
    clips = sorted(read_manifest(root), key=lambda c: c.id)[:3]
    run = tmp_path / "run"
    for s, shift in (("reference", 0), ("shuffled", 1)):
        (run / s).mkdir(parents=True)
        for i, clip in enumerate(clips):
            shutil.copy(clips[(i + shift) % len(clips)].audio_path, run / s / f"{clip.id}.wav")
    return run, clips, Cache(tmp_path / "cache")


def test_evaluation_stores_what_the_case_study_draws(small_run):
    run, clips, cache = small_run
    ev = evaluate(run, clips, ["reference", "shuffled"], {}, n_resamples=10, cache=cache, progress=False)
    assert not [n for n in ev.notes if "case study" in n]
    for clip in clips:
        study = cs.read_case_study(run, clip.id)
        curve, times = clip_motion_curve(clip, cache=cache)
        assert np.allclose(study.motion, curve) and np.allclose(study.times, times)
        assert study.duration == clip.duration and list(study.music) == ["original", "shuffled"]
        shuffled = music_features(run / "shuffled" / f"{clip.id}.wav", cache=cache)
        assert np.allclose(study.music["shuffled"]["beats"], shuffled.beat_times)
        assert np.allclose(study.music["shuffled"]["onsets"], shuffled.onset_times)
        assert np.allclose(study.music["original"]["onsets"], music_features(clip.audio_path, cache=cache).onset_times)


def test_unchanged_clips_are_kept_and_a_changed_output_is_recomputed(small_run, monkeypatch):
    run, clips, cache = small_run
    cs.write_case_studies(run, clips, {"shuffled": {c.id: run / "shuffled" / f"{c.id}.wav" for c in clips}}, cache)
    before = {c.id: cs.case_study_path(run, c.id).read_text() for c in clips}
    computed = []
    real = cs.compute_case_study
    monkeypatch.setattr(cs, "compute_case_study", lambda clip, *a, **k: computed.append(clip.id) or real(clip, *a, **k))
    outputs = {"shuffled": {c.id: run / "shuffled" / f"{c.id}.wav" for c in clips}}
    assert cs.write_case_studies(run, clips, outputs, cache) == [] and computed == []
    shutil.copy(clips[0].audio_path, run / "shuffled" / f"{clips[1].id}.wav")  # one output changes
    cs.write_case_studies(run, clips, outputs, cache)
    assert computed == [clips[1].id]
    after = json.loads(cs.case_study_path(run, clips[1].id).read_text())
    assert after["fingerprint"] != json.loads(before[clips[1].id])["fingerprint"]
    assert cs.case_study_path(run, clips[0].id).read_text() == before[clips[0].id]


def test_an_unreadable_video_is_a_note_not_a_failed_scoring(small_run):
    run, clips, cache = small_run
    broken = clips[0].video_path
    broken.write_bytes(b"not a video")
    notes = cs.write_case_studies(run, clips, {}, cache)
    assert len(notes) == 1 and notes[0].startswith(f"case study of {clips[0].id} not stored")
    assert not cs.case_study_path(run, clips[0].id).exists() and cs.case_study_path(run, clips[1].id).exists()
