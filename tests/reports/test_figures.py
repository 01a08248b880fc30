"""Each figure renders from plain inputs to non-empty PNG + SVG with the expected content."""

import numpy as np
import pandas as pd
import pytest

from reports import figures


def results(rows):
    base = dict(experiment="e", dataset="aist", system="dyvim", metric="fad", key="fad", n_clips=4,
                weights="random", higher_is_better=False, run="x")
    return pd.DataFrame([{**base, **r} for r in rows])


def saved(fig, tmp_path, name):
    paths = figures.save(fig, tmp_path, name)
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    return paths


def test_figure3_bars_and_training_time(tmp_path):
    variants = [{"name": n, "label": n.title()} for n in ("full", "lora", "frozen")]
    f = results([dict(variant=v["name"], label=v["label"], value=x, ci_low=x - .1, ci_high=x + .1)
                 for v, x in zip(variants, (4.0, 4.1, 5.0))])
    fig = figures.figure3_tuning(f, variants, {("aist", "full"): 600.0, ("aist", "lora"): 300.0,
                                               ("aist", "frozen"): 120.0})
    ax, ax2 = fig.axes[:2]
    assert len(ax.patches) >= 3 and list(ax2.lines[0].get_ydata()) == [10.0, 5.0, 2.0]
    saved(fig, tmp_path, "fig3")


def test_figure4_line_with_ci_band(tmp_path):
    alphas = {f"a{i}": i / 10 for i in range(3)}
    f = results([dict(variant=v, label=v, value=5 - a, ci_low=4.5 - a, ci_high=5.5 - a) for v, a in alphas.items()])
    fig = figures.figure4_alpha(f, alphas)
    ax = fig.axes[0]
    assert list(ax.lines[0].get_xdata()) == [0.0, 0.1, 0.2] and ax.collections  # the band
    saved(fig, tmp_path, "fig4")


def test_figure5_attention_point_sizes_follow_attention(tmp_path):
    received = np.full((10, 16), 1 / 16)
    received[:, 5] = 0.5
    fig = figures.figure5_attention([("dance", np.arange(10) * 25, received), ("mv", np.arange(10), received[::-1])])
    sizes = fig.axes[0].collections[0].get_sizes().reshape(10, 16)
    assert (sizes[:, 5] > sizes[:, 4]).all()
    saved(fig, tmp_path, "fig5")


def test_figure6_case_and_distributions_and_training(tmp_path):
    t = np.arange(250) / 25
    fig = figures.figure6_case("clip", t, np.abs(np.sin(t)), {"original": {"onsets": [1, 2], "beats": [1.0]},
                                                             "dyvim": {"onsets": [1.5], "beats": [2.0]}}, 10.0)
    assert len(fig.axes) == 3
    saved(fig, tmp_path, "fig6")
    pc = pd.DataFrame({"key": ["ba_mean"] * 4, "system": ["a", "a", "b", "b"], "value": [.1, .2, .3, .4],
                       "higher_is_better": True})
    saved(figures.per_clip_distributions(pc), tmp_path, "dist")
    log = pd.DataFrame({"step": [1, 2, 2], "split": ["train", "train", "val"], "loss": [3.0, 2.5, 2.7]})
    fig = figures.training_curves({"lora": log})
    assert len(fig.axes[0].lines) == 2
    saved(fig, tmp_path, "train")


def test_figure8_stacked_votes(tmp_path):
    v = pd.DataFrame([dict(study="s", kind="pairwise", question=q, system="dyvim", opponent="vidmuse", wins=w,
                           ties=2, losses=8 - w, n=10) for q, w in (("semantic", 6), ("dynamic", 7))])
    fig = figures.figure8_votes(v)
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert widths[:3] == pytest.approx([0.6, 0.2, 0.2])
    saved(fig, tmp_path, "fig8")


def test_figure8_one_row_per_pair_per_study_and_no_clipped_labels(tmp_path):
    """The results table holds each pair twice (mirrored): one bar per pair and question; two
    studies are two panels, never pooled; a 0 % segment gets no label."""
    rows = []
    for study, (w, t, l) in (("pilot", (12, 0, 8)), ("main", (5, 3, 12))):
        for q in ("semantic", "dynamic", "overall"):
            rows.append(dict(study=study, kind="pairwise", question=q, system="shuffled", opponent="reference",
                             wins=l, ties=t, losses=w, n=20))
            rows.append(dict(study=study, kind="pairwise", question=q, system="reference", opponent="shuffled",
                             wins=w, ties=t, losses=l, n=20))
    fig = figures.figure8_votes(pd.DataFrame(rows))
    assert len(fig.axes) == 2
    for ax, study in zip(fig.axes, ("pilot", "main")):
        labels = [t.get_text() for t in ax.get_yticklabels()]
        # both are controls: the pair is read from the first by name
        assert len(labels) == 3 and all(lab.startswith("reference vs shuffled") for lab in labels)
        assert study in ax.get_title()
        texts = [t.get_text() for t in ax.texts]
        assert "0%" not in texts
    assert [t.get_text() for t in fig.axes[0].texts][:2] == ["60%", "40%"]  # pilot: 12 wins of 20, no ties, 8 losses
    v = pd.DataFrame(rows)
    one = figures.figure8_votes(v, ours="shuffled")
    assert all(t.get_text().startswith("shuffled vs reference") for t in one.axes[0].get_yticklabels())
    saved(fig, tmp_path, "fig8_two")
