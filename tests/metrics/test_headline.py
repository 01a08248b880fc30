"""The line `bench evaluate` ends with (metrics/headline.py): paired reference − shuffled
differences with CIs from the stored per-clip rows, and the trackers' F-measures."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from metrics.headline import headline, headline_values


def _rows(metric, key, per_system):
    rows = []
    for system, values in per_system.items():
        rows.append(dict(metric=metric, key=key, system=system, clip=None, value=float(np.mean(values)),
                         ci_low=float(np.min(values)), ci_high=float(np.max(values))))
        rows += [dict(metric=metric, key=key, system=system, clip=f"c{i}", value=float(v), ci_low=np.nan,
                      ci_high=np.nan) for i, v in enumerate(values)]
    return rows


def test_headline_line(tmp_path):
    (tmp_path / "metrics").mkdir()
    rng = np.random.default_rng(0)
    ref, shuf = 0.6 + 0.05 * rng.standard_normal(12), 0.2 + 0.05 * rng.standard_normal(12)
    pd.DataFrame(_rows("sync", "sync_strength", {"reference": ref, "shuffled": shuf})).to_parquet(
        tmp_path / "metrics" / "sync.parquet")
    pd.DataFrame(_rows("beat", "beat_f_truth_madmom", {"reference": [0.9, 0.8], "shuffled": [0.2, 0.1]})).to_parquet(
        tmp_path / "metrics" / "beat.parquet")
    ev = SimpleNamespace(run_dir=tmp_path, table=pd.DataFrame())
    values = headline_values(ev, n_resamples=200)
    assert values["ref_minus_shuffled_sync"][0] == np.mean(ref - shuf)
    assert values["ref_minus_shuffled_sync"][1] > 0  # the CI excludes 0
    np.testing.assert_allclose(values["beat_f_madmom"], (0.85, 0.8, 0.9))
    assert values["ref_minus_shuffled_retrieval_r1"] is None and values["notes_f_basic_pitch"] is None
    ci_line, line = headline(ev, n_resamples=200)
    assert line.startswith("ref_minus_shuffled_sync=0.4") and line.endswith(
        "ref_minus_shuffled_retrieval_r1=n/a beat_f_madmom=0.85 notes_f_basic_pitch=n/a")
    assert "(CI excludes 0)" in ci_line


def test_no_headline_without_its_metrics(tmp_path):
    assert headline(SimpleNamespace(run_dir=tmp_path, table=pd.DataFrame())) == []


def test_summary_leads_with_the_orderings_and_the_trackers():
    from metrics.headline import ordering_lines

    def row(metric, key, system, value, weights="none", higher=True):
        return dict(metric=metric, key=key, system=system, value=value, ci_low=value - 0.1, ci_high=value + 0.1,
                    weights=weights, higher_is_better=higher)

    table = pd.DataFrame([
        row("sync", "sync_strength", "reference", 0.7), row("sync", "sync_strength", "shuffled", 0.2),
        row("sync", "sync_strength", "dyvim", 0.4),
        row("imagebind", "ib_score", "reference", 0.9, weights="random"),  # random weights cannot rank
        row("imagebind", "ib_score", "shuffled", 0.1, weights="random"),
        row("beat", "beat_f_truth_madmom", "reference", 0.85, weights="pretrained"),
        row("beat", "beat_f_truth_madmom", "dyvim", 0.3, weights="pretrained"),
        row("symbolic", "notes_f_truth", "reference", float("nan"), weights="pretrained"),  # not computed: left out
    ])
    lines = ordering_lines(table)
    assert lines[0] == "sync_strength ↑: reference 0.7 > dyvim 0.4 > shuffled 0.2"
    assert len(lines) == 2 and lines[1].startswith("beat_f_truth_madmom (the tracker on the reference music")
    assert lines[1].endswith("0.85 [0.75, 0.95]")
    assert ordering_lines(table[table["metric"] == "imagebind"]) == []
