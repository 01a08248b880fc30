"""Cross-modal retrieval among a run's test clips from any pairwise video–music score.

Given S[i, j], the score of clip i's video with the system's music for clip j (higher = a
better fit), every clip is a query in both directions:

    video → music (v2m)  rank of music i among all the system's music for video i (row i)
    music → video (m2v)  rank of video i among all videos for music i (column i)

rank = 1 + #{j ≠ i : S[i, j] >= S[i, i]}: ties count against the true pair (pessimistic), so a
score that cannot tell clips apart (a still video, silence, a constant) never earns a hit.
R@k is the share of queries whose true pair ranks ≤ k (per-query 0/1 values, so the set value
gets a bootstrap CI over queries like every per-clip metric); MedR the median rank (a set
statistic over resampled queries). R@k is reported only with more than k clips (with n ≤ k every
query is a hit); chance is k / n and MedR's chance level (n + 1) / 2.

This is the protocol of text–video and video–music retrieval papers (R@1/5/10 and MedR,
e.g. CLIP4Clip; for video–music, the MVPt and "Video Background Music Recommendation" line of
work). The gallery is the system's own output set, so the `shuffled` control (every clip gets
another clip's music) ranks each video's true partner by a music that belongs to another video,
and scores at or below chance: the floor against which a system's numbers mean something.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from metrics import sync
from metrics.errors import PairingError
from core.errors import ConfigError
from core.manifest import Clip
from metrics.base import Metric, Score, register_metric

KS = (1, 5, 10)


def ranks(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v2m ranks, m2v ranks) of the diagonal pairs of a square score matrix (see above)."""
    s = np.asarray(scores, np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"retrieval needs a square clips × clips score matrix, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("retrieval scores must be finite (a NaN would rank arbitrarily)")
    d = np.diag(s)
    off = ~np.eye(s.shape[0], dtype=bool)
    v2m = 1 + ((s >= d[:, None]) & off).sum(axis=1)
    m2v = 1 + ((s >= d[None, :]) & off).sum(axis=0)
    return v2m.astype(np.float64), m2v.astype(np.float64)


def recall_at(rank: np.ndarray, k: int) -> np.ndarray:
    return (np.asarray(rank) <= k).astype(np.float64)


def retrieval_scores(scores: np.ndarray, prefix: str = "") -> dict[str, Score]:
    """Scores for `metrics.evaluate`: <prefix>r{1,5,10}_{v2m,m2v} (per query), <prefix>medr_{v2m,m2v}."""
    out: dict[str, Score] = {}
    for direction, r in zip(("v2m", "m2v"), ranks(scores)):
        for k in KS:
            out[f"{prefix}r{k}_{direction}"] = Score(per_clip=recall_at(r, k), higher_is_better=True,
                                                     min_clips=k + 1)
        out[f"{prefix}medr_{direction}"] = Score(statistic=_median_of(r), higher_is_better=False, min_clips=2,
                                                 floor=1.0)
    return out


def _median_of(r: np.ndarray):
    def statistic(idx: np.ndarray) -> np.ndarray:
        return np.median(r[np.asarray(idx)], axis=-1)

    return statistic


def chance_note(n: int) -> str:
    return (f"retrieval among {n} clips: chance R@1 = {1 / n:.3g}, R@5 = {min(5 / n, 1):.3g}, "
            f"R@10 = {min(10 / n, 1):.3g}, MedR = {(n + 1) / 2:.3g}") if n else "retrieval: no clips"


def score_matrix_check(clips: Sequence, music: Mapping) -> None:
    missing = [c.id for c in clips if c.id not in music]
    if missing:
        raise PairingError(f"retrieval: no music for clips {missing[:5]}")


# ----------------------------------------------------------------------------- the metric

SCORES = ("sync",)


@register_metric("retrieval")
class RetrievalMetric(Metric):
    """R@1/5/10 and MedR, video→music and music→video, among the run's clips, ranked by the
    model-free synchrony strength (metrics.sync.strength_matrix). ImageBind's cosine ranks the
    same way under the `imagebind` metric (keys ib_r1_v2m, ...)."""

    def __init__(self, cache=None, seed: int = 0, score: str = "sync", max_lag_s: float | None = None,
                 motion: str = "video"):
        super().__init__(cache, seed)
        if score not in SCORES:
            raise ConfigError(f"metric retrieval: unknown score {score!r}; known: {', '.join(SCORES)} "
                              "(ImageBind cosine retrieval is reported by the `imagebind` metric)")

        self.score = score
        self.max_lag_s = sync.MAX_LAG_S if max_lag_s is None else float(max_lag_s)
        self.motion = motion

    def describe(self) -> dict:
        return {"weights": "none", "score": self.score, "sync_version": sync.VERSION, "max_lag_s": self.max_lag_s,
                "clip_percentile": sync.CLIP_PERCENTILE, "motion": self.motion, "ranks": "pessimistic ties"}

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
        score_matrix_check(clips, generated)
        s = sync.strength_matrix(list(clips), [generated[c.id] for c in clips], motion=self.motion,
                                 max_lag_s=self.max_lag_s, cache=self.cache or True)
        warnings.warn(chance_note(len(clips)), RetrievalChanceNote, stacklevel=2)
        return retrieval_scores(s)


class RetrievalChanceNote(UserWarning):
    """Carries the chance levels into the evaluation's notes."""
