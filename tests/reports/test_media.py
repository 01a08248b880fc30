"""Case studies in a report are read from what `bench evaluate` stored (`<run>/case_studies/`):
nothing is recomputed, and an old run folder without them is told to re-run `bench evaluate`."""

from __future__ import annotations

import json
import shutil

import pytest

import metrics.alignment
import metrics.beats
import metrics.case_study
from metrics.case_study import CaseStudyMissing, case_study_path
from reports.html import write_report
from reports.media import case_study


def _copy(scored_run, tmp_path):
    run = tmp_path / "runs" / "demo"
    shutil.copytree(scored_run, run, ignore=shutil.ignore_patterns("report"))
    return run


def _no_feature_work(*_, **__):
    raise AssertionError("a report recomputed a case-study feature")


def test_report_renders_the_case_study_from_stored_files_without_any_cache(scored_run, tmp_path, monkeypatch):
    run = _copy(scored_run, tmp_path)
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "empty-cache"))  # the metrics caches are gone
    for module, name in ((metrics.alignment, "clip_motion_curve"), (metrics.beats, "music_features"),
                         (metrics.case_study, "clip_motion_curve"), (metrics.case_study, "music_features")):
        monkeypatch.setattr(module, name, _no_feature_work)
    page = write_report(run, gallery_clips=0, case_studies=2)
    assert len(list((page.parent / "figures").glob("case_*.png"))) == 2
    assert "case study of" not in page.read_text()


def test_stored_case_study_holds_motion_and_every_music(scored_run):
    first = sorted((scored_run / "case_studies").glob("*.json"))[0]
    data = case_study(scored_run, first.stem)
    assert data["duration"] > 0 and len(data["times"]) == len(data["motion"]) > 10
    assert data["times"][0] >= 0 and data["times"][-1] <= data["duration"] + 1e-6
    assert list(data["music"])[0] == "original" and "shuffled" in data["music"] and "reference" not in data["music"]
    for feats in data["music"].values():
        assert set(feats) == {"onsets", "beats"}
    stored = json.loads(first.read_text())
    assert stored["clip"] == first.stem and stored["fingerprint"]


def test_an_old_run_folder_without_case_studies_says_to_re_evaluate(scored_run, tmp_path):
    run = _copy(scored_run, tmp_path)
    shutil.rmtree(run / "case_studies")
    clip = sorted(p.stem for p in (run / "reference").glob("*.wav"))[0]
    with pytest.raises(CaseStudyMissing, match=r"re-run `bench evaluate --run .*demo`") as exc:
        case_study(run, clip)
    assert str(case_study_path(run, clip)) in str(exc.value)
    page = write_report(run, gallery_clips=0, case_studies=1)
    assert not list((page.parent / "figures").glob("case_*.png"))
    assert f"case study of {clip} skipped" in page.read_text() and "bench evaluate --run" in page.read_text()
