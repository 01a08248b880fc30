"""The one line `bench evaluate` ends with when it scored the controls on synchrony, retrieval and
the trackers (issue 16's bar): what is real comes first.

    ref_minus_shuffled_sync           mean over clips of sync_strength(reference) − sync_strength(shuffled)
    ref_minus_shuffled_retrieval_r1   the same for r1_v2m (video → music R@1 on the model-free score)
    beat_f_madmom                     madmom's beat F-measure on the reference music against the
                                      dataset's true beats (beat_f_truth_madmom of `reference`)
    notes_f_basic_pitch               basic-pitch's note F (onset + pitch) on the reference music
                                      against the true notes (notes_f_truth of `reference`)

The differences are paired over clip ids with their bootstrap CI (metrics.bootstrap.
paired_comparison), read from the rows stored in runs/<name>/metrics/ (so an evaluation of one
metric still shows the others' latest values); the line before the
headline prints each value with its CI and whether the CI excludes 0. A value that was not
computed prints as `n/a`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: (metric, key) whose order over systems the summary leads with (relevance and synchrony; the
#: controls bound them: `reference` should lead and `shuffled` trail)
ORDERED = (("sync", "sync_strength"), ("retrieval", "r1_v2m"), ("retrieval", "r1_m2v"), ("imagebind", "ib_score"))
#: keys scoring a tracker against the dataset's ground truth (on `reference`: the tracker's accuracy)
TRUTH_PREFIXES = ("beat_f_truth_", "downbeat_f_truth_", "notes_f_truth")

DIFFERENCES = {"ref_minus_shuffled_sync": ("sync", "sync_strength"),
               "ref_minus_shuffled_retrieval_r1": ("retrieval", "r1_v2m")}
TRACKER_VALUES = {"beat_f_madmom": ("beat", "beat_f_truth_madmom"),
                  "notes_f_basic_pitch": ("symbolic", "notes_f_truth")}


def _per_clip(run_dir: Path, metric: str, key: str, system: str):
    import pandas as pd

    path = run_dir / "metrics" / f"{metric}.parquet"
    if not path.exists():
        return None
    df = pd.read_parquet(path)
    sel = df[(df["key"] == key) & (df["system"] == system) & df["clip"].notna()]
    return dict(zip(sel["clip"], sel["value"].astype(float))) if len(sel) else None


def headline_values(evaluation, n_resamples: int = 1000, seed: int = 0) -> dict[str, tuple[float, float, float] | None]:
    """name → (value, ci_low, ci_high) or None when not computed."""
    from metrics.bootstrap import paired_comparison

    run_dir = Path(evaluation.run_dir)
    out: dict[str, tuple[float, float, float] | None] = {}
    for name, (metric, key) in DIFFERENCES.items():
        a, b = _per_clip(run_dir, metric, key, "reference"), _per_clip(run_dir, metric, key, "shuffled")
        common = sorted(set(a or {}) & set(b or {}))
        va = np.array([a[c] for c in common]) if common else np.zeros(0)
        vb = np.array([b[c] for c in common]) if common else np.zeros(0)
        ok = np.isfinite(va) & np.isfinite(vb)
        if ok.sum() < 2:
            out[name] = None
            continue
        pc = paired_comparison(va[ok], vb[ok], n_resamples=n_resamples, seed=seed)
        out[name] = (pc.difference, pc.ci_low, pc.ci_high)
    for name, (metric, key) in TRACKER_VALUES.items():
        r = _set_row(run_dir, metric, key, "reference")
        out[name] = None if r is None else (float(r["value"]), float(r["ci_low"]), float(r["ci_high"]))
    return out


def _set_row(run_dir: Path, metric: str, key: str, system: str):
    """The stored set row (value, CI) of one system under one key, or None (absent or NaN)."""
    import pandas as pd

    path = run_dir / "metrics" / f"{metric}.parquet"
    if not path.exists():
        return None
    df = pd.read_parquet(path)
    sel = df[(df["key"] == key) & (df["system"] == system) & df["clip"].isna()]
    if not len(sel) or not np.isfinite(sel["value"].iloc[0]):
        return None
    return sel.iloc[0]


def headline(evaluation, n_resamples: int = 1000, seed: int = 0) -> list[str]:
    """[CI line, headline line], or [] when the run has neither control pair nor tracker values."""
    values = headline_values(evaluation, n_resamples, seed)
    if all(v is None for v in values.values()):
        return []
    fmt = lambda v: "n/a" if v is None else f"{v[0]:.4g}"  # noqa: E731
    cis = []
    for name, v in values.items():
        if v is None:
            continue
        tag = ""
        if name in DIFFERENCES:
            tag = " (CI excludes 0)" if v[1] > 0 or v[2] < 0 else " (CI includes 0)"
        cis.append(f"{name} {v[0]:.4g} [{v[1]:.4g}, {v[2]:.4g}]{tag}")
    return ["95% CIs: " + "; ".join(cis), " ".join(f"{k}={fmt(v)}" for k, v in values.items())]


def ordering_lines(table) -> list[str]:
    """What the summary leads with, from the set rows of an evaluation: every system ordered on the
    relevance and synchrony keys (ORDERED; random-weight rows left out: random weights cannot rank)
    and each tracker's score on the reference music against the dataset's truth."""
    lines = []
    for metric, key in ORDERED:
        g = table[(table["metric"] == metric) & (table["key"] == key) & (table["weights"] != "random")]
        g = g[np.isfinite(g["value"].astype(float))]
        if len(g) < 2:
            continue
        higher = bool(g["higher_is_better"].iloc[0])
        g = g.sort_values("value", ascending=not higher, kind="stable")
        order = (" > " if higher else " < ").join(f"{r.system} {r.value:.3g}" for r in g.itertuples())
        lines.append(f"{key} {'↑' if higher else '↓'}: {order}")
    truth = table[(table["system"] == "reference") & table["key"].str.startswith(TRUTH_PREFIXES)]
    for r in truth.itertuples():
        if np.isfinite(r.value):
            lines.append(f"{r.key} (the tracker on the reference music vs the dataset's truth): "
                         f"{r.value:.3g} [{r.ci_low:.3g}, {r.ci_high:.3g}]")
    return lines
