"""Every registered metric, built from its YAML (`bench/conf/metric/<name>.yaml`, the toy's random
embedder weights), scores a small run on the miniature dataset through `metrics.evaluate` and
writes well-formed tidy rows: every field, a set row per system and key, per-clip rows naming
scored clips, ordered intervals, and no NaN value without a note saying why."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from core.cache import Cache
from metrics.base import METRICS
from metrics.evaluate import ROW_FIELDS, evaluate

# metrics whose first scoring here takes over ~2.3 s (an embedding model or video decoding to build)
SLOW = {"fd", "fad", "fad_inf", "fad_clip", "kid", "kl", "is", "imagebind", "desync", "align", "clap_score"}
SYSTEMS = ("reference", "shuffled")


def project_metrics() -> list[str]:
    """The project's registered metrics (a user's plug-in elsewhere, e.g. another test's temporary
    YAML, is not the project's to check)."""
    return [n for n in METRICS.names() if (METRICS.target(n) or "").startswith("metrics.")]


def _metric_params():
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in project_metrics()]


@pytest.fixture
def small_run(mini_dataset, tmp_path):
    """(run folder, test clips, dataset overrides): `reference` and `shuffled` (each clip gets the
    next clip's music) as a scored run would hold them."""
    from bench.api import dataset_clips, load_config

    _, overrides = mini_dataset
    clips = [c for c in dataset_clips(load_config("toy", (), overrides, [])) if c.split == "test"]
    assert len(clips) >= 3
    run = tmp_path / "run"
    for s, shift in zip(SYSTEMS, (0, 1)):
        (run / s).mkdir(parents=True)
        for i, clip in enumerate(clips):
            shutil.copy(clips[(i + shift) % len(clips)].audio_path, run / s / f"{clip.id}.wav")
    return run, clips, overrides


def _explained(row, notes: list[str]) -> bool:
    """A NaN value's stated reason: the key was not computed (too few clips), or it is undefined
    for this system's clips (the evaluation's note names key and system)."""
    return any(n.startswith((f"{row['key']}: not computed", f"{row['key']} ({row['system']}): undefined"))
               for n in notes)


@pytest.mark.parametrize("name", _metric_params())
def test_metric_rows_are_well_formed(name, small_run):
    from bench.api import load_config
    from omegaconf import OmegaConf

    run, clips, overrides = small_run
    if getattr(METRICS.load(name), "uses_captions", False):  # the miniature dataset has none: the CLAP score's prompts
        clips = [dataclasses.replace(c, caption=f"music for scene {i}") for i, c in enumerate(clips)]
    config = {k: dict(v) for k, v in OmegaConf.to_container(load_config("toy", (), overrides, [name]).metric,
                                                              resolve=True).items()}
    ev = evaluate(run, clips, list(SYSTEMS), config, n_resamples=20, cache=Cache(run.parent / "cache"), progress=False)
    df = pd.read_parquet(run / "metrics" / f"{name}.parquet")
    assert len(df) and set(ROW_FIELDS) <= set(df.columns), set(ROW_FIELDS) - set(df.columns)
    assert set(df["metric"]) == {name} and set(df["system"]) == set(SYSTEMS)
    assert set(df["weights"]) <= {"random", "pretrained", "none"} and (df["n_resamples"] == 20).all()
    ids = {c.id for c in clips}
    sets = df[df["clip"].isna()]
    per_clip = df[df["clip"].notna()]
    for key in set(df["key"]):
        assert sorted(sets.loc[sets["key"] == key, "system"]) == sorted(SYSTEMS), key  # one set row per system
    assert set(per_clip["clip"]) <= ids and (per_clip["n_clips"] == 1).all()
    assert (per_clip.groupby(["key", "system"]).size() <= len(clips)).all()
    for row in df.to_dict("records"):
        assert isinstance(row["higher_is_better"], (bool, np.bool_)), row
        assert json.loads(row["config"]) is not None and json.loads(row["versions"])
        assert row["fingerprint"] and 0 <= row["n_clips"] <= len(clips)
        value = row["value"]
        if value is None or math.isnan(value):
            assert _explained(row, ev.notes), (row["key"], row["system"], ev.notes)
            continue
        assert math.isfinite(value), row
        if isinstance(row["clip"], str) or not math.isfinite(row["ci_low"]):
            assert isinstance(row["clip"], str) or not math.isfinite(row["ci_high"]), row  # both or neither
            continue
        # a percentile interval need not hold its estimate (FAD∞ of a set against itself: ~0 < ci_low)
        assert row["ci_low"] <= row["ci_high"] and row["ci_method"], row


def test_the_slow_list_names_registered_metrics():
    assert set(METRICS.builtin_names()) <= set(project_metrics())
    assert SLOW <= set(METRICS.builtin_names())  # a renamed metric is not silently left in the quick loop


def test_a_metric_reading_captions_refuses_clips_without_them_before_any_work(small_run):
    run, clips, _ = small_run
    config = {"clap_score": {"name": "clap_score", "embedder": "clap_score_sam", "weights": "random"},
              "beat": {"name": "beat", "weights": "random"}}
    with pytest.raises(Exception, match=r"metric 'clap_score' compares each clip's caption.*have none"):
        evaluate(run, clips, list(SYSTEMS), config, n_resamples=20, cache=Cache(run.parent / "cache"), progress=False)
    assert not (run / "metrics").exists() or not any((run / "metrics").glob("*.parquet"))  # not even beat's rows
