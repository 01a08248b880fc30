"""The paper's figures from stored results (seaborn on matplotlib's Agg backend), PNG + SVG.

Fig. 3 tuning bars + training-time line, Fig. 4 metric against α with its CI band, Fig. 5
dynamics attention, Fig. 6-style case studies, Fig. 8 stacked human votes, per-clip metric
distributions and training curves. Every function takes plain frames/arrays and returns the
figure; `save` writes `<name>.png` and `<name>.svg`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from reports.results import control_systems
from core.atomic import atomic_path
from reports.tables import DATASET_NAMES, KEY_NAMES

PALETTE = {"ours": "#2a9d4b", "opponent": "#c0392b", "tie": "#b0b0b0"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def save(fig, folder: str | Path, name: str) -> list[Path]:
    """`<name>.png` (for the HTML) and `<name>.svg` (for papers); closes the figure."""
    plt, _ = _plt()
    out = []
    for ext in ("png", "svg"):
        path = Path(folder) / f"{name}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=110, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def _label(key: str, higher: bool | None = None) -> str:
    arrow = "" if higher is None else ("↑" if higher else "↓")
    return KEY_NAMES.get(key, key) + arrow


def figure3_tuning(frame, variants: Sequence[dict], train_time: Mapping[tuple[str, str], float], key: str = "fad"):
    """Bars: `key` per tuning variant and dataset; line (right axis): training time in minutes.
    `train_time` maps (dataset, variant) → seconds from train/summary.json."""
    plt, sns = _plt()
    sel = frame[(frame["key"] == key) & frame["value"].notna()].copy()
    order = [v["label"] for v in variants]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    if len(sel):
        sel["dataset"] = sel["dataset"].map(lambda d: DATASET_NAMES.get(d, d))
        sns.barplot(data=sel, x="label", y="value", hue="dataset", order=order, ax=ax, errorbar=None)
        ax.legend(loc="upper left", fontsize=7)  # the time line's legend takes the upper right
    ax.set_xlabel("tuning")
    ax.set_ylabel(_label(key, bool(sel["higher_is_better"].iloc[0]) if len(sel) else None))
    ax2 = ax.twinx()
    for d in dict.fromkeys(d for d, _ in train_time):
        ys = [train_time.get((d, v["name"]), math.nan) / 60.0 for v in variants]
        ax2.plot(range(len(order)), ys, marker="o", linestyle="--", label=f"{DATASET_NAMES.get(d, d)} time")
    ax2.set_ylabel("training time (min)")
    ax2.grid(False)
    if train_time:
        ax2.legend(loc="upper right", fontsize=7)
    ax.set_title("Tuning strategies: score (bars) and training time (line)")
    return fig


def figure4_alpha(frame, alphas: Mapping[str, float], key: str = "fad"):
    """`key` against α per dataset with the bootstrap CI as a band; `alphas` maps variant → α."""
    plt, _ = _plt()
    sel = frame[(frame["key"] == key) & frame["variant"].isin(list(alphas))].copy()
    sel["alpha"] = sel["variant"].map(alphas)
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    for d, g in sel.groupby("dataset", sort=False):
        g = g.sort_values("alpha")
        ax.plot(g["alpha"], g["value"], marker="o", label=DATASET_NAMES.get(d, d))
        ax.fill_between(g["alpha"], g["ci_low"], g["ci_high"], alpha=0.2)
    ax.set_xlabel("α (strength of visual dynamics)")
    ax.set_ylabel(_label(key, bool(sel["higher_is_better"].iloc[0]) if len(sel) else None))
    ax.set_xlim(-0.02, 1.02)
    if len(sel):
        ax.legend()
    ax.set_title("Effect of α (95% bootstrap CI)")
    return fig


def figure5_attention(panels: Sequence[tuple[str, np.ndarray, np.ndarray]]):
    """One row per panel (title, frame indices (F,), received attention (F, P)): point size is
    the attention a position receives from the frame's queries (paper Fig. 5)."""
    plt, _ = _plt()
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.0, 2.2 * len(panels)), squeeze=False)
    for ax, (title, frames, received) in zip(axes[:, 0], panels):
        received = np.asarray(received, dtype=np.float64)
        f, p = received.shape
        xs, ys = np.meshgrid(np.arange(f), np.arange(p), indexing="ij")
        # min-max per panel: a near-uniform map still shows which positions draw more attention
        span = received.max() - received.min()
        scale = (received - received.min()) / span if span > 0 else np.full_like(received, 0.5)
        biggest = min(60.0, 900.0 / p)  # points of neighbouring positions must not merge
        ax.scatter(xs.ravel(), ys.ravel(), s=1 + biggest * scale.ravel(), color=PALETTE["ours"], alpha=0.7, linewidths=0)
        ax.set_xticks(range(f), [str(int(i)) for i in frames], fontsize=7)
        ax.set_xlabel("frame")
        ax.set_ylabel("position (H'·W')")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def figure6_case(title: str, times: np.ndarray, motion: np.ndarray, music: Mapping[str, Mapping[str, np.ndarray]],
                 duration: float):
    """A clip's video motion energy over time, with each music's onsets (short ticks) and beats
    (long lines) marked: one lane per music (`music` maps label → {"onsets", "beats"})."""
    plt, _ = _plt()
    lanes = list(music)
    fig, axes = plt.subplots(1 + len(lanes), 1, figsize=(7.0, 1.4 + 0.7 * len(lanes)), sharex=True,
                             gridspec_kw={"height_ratios": [2.5] + [1] * len(lanes)})
    axes = np.atleast_1d(axes)
    m = np.asarray(motion, dtype=np.float64)
    axes[0].fill_between(times, 0, m / max(m.max(), 1e-12), color="#607d8b", alpha=0.6)
    axes[0].set_ylabel("motion")
    axes[0].set_yticks([])
    axes[0].set_title(title, fontsize=9)
    for ax, name in zip(axes[1:], lanes):
        ev = music[name]
        ax.vlines(ev.get("onsets", []), 0.0, 0.45, color="#1f77b4", linewidth=0.8, label="onset")
        ax.vlines(ev.get("beats", []), 0.0, 1.0, color="#d62728", linewidth=1.4, label="beat")
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if len(axes) > 1:
        axes[1].legend(loc="upper right", fontsize=6, ncol=2)
    axes[-1].set_xlim(0, duration)
    axes[-1].set_xlabel("time (s)")
    return fig


def figure8_votes(votes, ours: str | None = None):
    """Stacked vote shares per question (semantic / dynamic / overall) for each system pair:
    wins of the pair's first system (green), ties (grey), wins of the other (red). One panel per
    study (studies are never pooled) and one bar per pair and question: the results table holds
    every pair twice, (a, b) and (b, a), mirrored; the pair is shown once, from `ours` when
    given, else from the system that is not a control (reference, shuffled), else by name.
    Shares are written inside their segment when it is wide enough to hold the label."""
    plt, _ = _plt()
    v = votes.copy()
    v = v.drop_duplicates(["study", "question", "system", "opponent"])
    controls = set(control_systems(list(v["system"]) + list(v["opponent"])))

    def first(system: str, opponent: str) -> bool:
        if ours is not None and ours in (system, opponent):
            return system == ours
        if (system in controls) != (opponent in controls):
            return system not in controls
        return system < opponent

    v = v[[first(s, o) for s, o in zip(v["system"], v["opponent"])]]
    order = {q: i for i, q in enumerate(("semantic", "dynamic", "overall"))}
    seen = {st: i for i, st in enumerate(dict.fromkeys(v["study"]))}  # studies in order of appearance
    v = v.assign(_q=v["question"].map(order).fillna(len(order)), _s=v["study"].map(seen)) \
        .sort_values(["_s", "system", "opponent", "_q"], kind="stable")
    studies = list(dict.fromkeys(v["study"])) or [""]
    heights = [max(int((v["study"] == st).sum()), 1) for st in studies]
    fig, axes = plt.subplots(len(studies), 1, figsize=(7.0, 0.42 * sum(heights) + 1.1 * len(studies)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, study in zip(axes[:, 0], studies):
        rows = v[v["study"] == study]
        labels = []
        for i, (_, r) in enumerate(rows.iterrows()):
            n = max(int(r["wins"] + r["ties"] + r["losses"]), 1)
            parts = [(r["wins"] / n, PALETTE["ours"], "first system wins", "white"),
                     (r["ties"] / n, PALETTE["tie"], "cannot tell", "black"),
                     (r["losses"] / n, PALETTE["opponent"], "second system wins", "white")]
            left = 0.0
            for share, color, name, ink in parts:
                ax.barh(i, share, left=left, color=color, label=name if i == 0 else None)
                if share >= 0.09:  # a label only where it fits inside its segment
                    ax.text(left + share / 2, i, f"{share:.0%}", ha="center", va="center", fontsize=7, color=ink)
                left += share
            labels.append(f"{r['system']} vs {r['opponent']} — {r['question']} (n={n})")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of votes")
        ax.set_title(f"Human votes (pairwise), study {study}" if study else "Human votes (pairwise)", fontsize=9)
        if len(labels):
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(labels) < 4 else -0.12), ncol=3,
                      fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def per_clip_distributions(per_clip, keys: Sequence[str] | None = None, x: str = "system", hue: str | None = None):
    """Box + points of every per-clip metric key, one panel per key: `x` (a column: systems for
    a run, variants for an experiment) on the x axis in order of appearance, `hue` (e.g. the
    dataset) splitting each box."""
    plt, sns = _plt()
    keys = list(keys or dict.fromkeys(per_clip["key"]))
    order = list(dict.fromkeys(per_clip[x]))
    hue_order = list(dict.fromkeys(per_clip[hue])) if hue else None
    width = min(14.0, max(3.2, 0.4 * len(order) * (len(hue_order) if hue_order else 1) + 1.0))
    ncol = min(3 if width <= 4.5 else 1, len(keys))  # wide panels (many variants) stack
    nrow = math.ceil(len(keys) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol, 2.6 * nrow), squeeze=False)
    for i, (ax, key) in enumerate(zip(axes.ravel(), keys)):
        g = per_clip[(per_clip["key"] == key) & per_clip["value"].notna()]
        if hue:
            sns.boxplot(data=g, x=x, y="value", hue=hue, order=order, hue_order=hue_order, ax=ax, fliersize=0,
                        boxprops={"alpha": 0.35})
            sns.stripplot(data=g, x=x, y="value", hue=hue, order=order, hue_order=hue_order, ax=ax, size=3,
                          alpha=0.8, dodge=True, legend=False)
            if ax.get_legend() is not None and i > 0:
                ax.get_legend().remove()  # one legend (the first panel's)
        else:
            sns.boxplot(data=g, x=x, y="value", order=order, ax=ax, color="#dddddd", fliersize=0)
            sns.stripplot(data=g, x=x, y="value", order=order, ax=ax, size=3, alpha=0.7)
        ax.set_title(_label(key, bool(g["higher_is_better"].iloc[0]) if len(g) else None), fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", labelsize=7, rotation=20)
    for ax in axes.ravel()[len(keys):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def training_curves(logs: Mapping[str, "object"]):
    """Loss against step for each training log (label → log.csv frame: step, split, loss)."""
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for label, log in logs.items():
        for split, g in log.groupby("split", sort=False):
            ax.plot(g["step"], g["loss"], marker="o" if split == "val" else None, markersize=3,
                    linestyle="-" if split == "train" else "--", label=f"{label} ({split})")
    ax.set_xlabel("step")
    ax.set_ylabel("weighted token loss")
    if logs:
        ax.legend(fontsize=7)
    ax.set_title("Training curves")
    return fig
