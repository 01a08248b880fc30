"""Inception Score on Cnn14 logits, as audioldm_eval 0.0.3 computes it (numpy only).

Reference: ``audioldm_eval/metrics/isc.py`` lines 5–32 (``calculate_isc``), called from
``eval.py`` lines 245–251 on the *generated* set's logits with ``splits=10``,
``samples_shuffle=True``, ``rng_seed=2020``:

1. rows shuffled by ``np.random.RandomState(2020).permutation(N)``;
2. float64 (``features.double()``), p = softmax(logits), log p = log_softmax(logits);
3. split k takes rows ``k·N//splits : (k+1)·N//splits``; with q = the split's mean p,
   IS_k = exp(mean_i Σ_c p_ic (log p_ic − log q_c));
4. returns mean and population std (``np.std``, ddof = 0) of the IS_k.

Differences: with fewer clips than splits some splits are empty and the reference silently
returns NaN — ours raises TooFewClipsError; NaN/Inf logits raise; a class whose probability
underflows to 0 in a whole split contributes 0 (0·log 0 = 0) where the reference gives NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from metrics.errors import MetricError, TooFewClipsError
from metrics.frechet import check_finite

REFERENCE_SPLITS = 10
REFERENCE_SEED = 2020


@dataclass(frozen=True)
class InceptionScore:
    mean: float
    std: float
    split_scores: tuple[float, ...]


def inception_score(logits, splits: int = REFERENCE_SPLITS, shuffle: bool = True,
                    seed: int = REFERENCE_SEED) -> InceptionScore:
    """IS of one set of logits (clips × classes) with the reference's splits and shuffle."""
    x = np.asarray(logits, dtype=np.float64)
    if x.ndim != 2:
        raise MetricError(f"logits must be a 2-D array (clips × classes), got shape {x.shape}")
    check_finite(x, "logits")
    n = x.shape[0]
    if splits < 1:
        raise MetricError(f"splits must be ≥ 1, got {splits}")
    if n < splits:
        raise TooFewClipsError(
            f"Inception Score with splits={splits} needs at least {splits} clips, got {n} "
            f"(audioldm_eval returns NaN here: some splits are empty); evaluate more clips or "
            f"pass splits ≤ {max(n, 1)} (then not comparable to the reference's 10 splits)")
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    log_p = log_softmax(x, axis=1)
    p = np.exp(log_p)
    scores = []
    for k in range(splits):
        rows = slice(k * n // splits, (k + 1) * n // splits)
        p_k, log_p_k = p[rows], log_p[rows]
        with np.errstate(divide="ignore"):
            log_q = np.log(p_k.mean(axis=0, keepdims=True))
        terms = np.where(p_k > 0, p_k * (log_p_k - log_q), 0.0)
        scores.append(float(np.exp(terms.sum(axis=1).mean())))
    return InceptionScore(float(np.mean(scores)), float(np.std(scores)), tuple(scores))
