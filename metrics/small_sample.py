"""Small-sample Fréchet and kernel distances: FAD∞, per-clip FAD, KID.

FD from fewer samples than embedding dimensions is biased upwards and depends on the sample
count (Chong & Forsyth 2020; Gui et al. 2024, "Adapting Fréchet Audio Distance", the fadtk
paper). The peer tools answer with:

* **FAD∞** — fadtk 1.1.0 ``FrechetAudioDistance.score_inf`` (fadtk/fad.py): the reference set's
  statistics from all its frames; the evaluated set's frames pooled; for ``steps`` sample sizes
  n = ``int(linspace(min_n, N, steps))`` draw n frames *with replacement*
  (``np.random.choice``), FD against the reference; fit FD = FAD∞ + slope/n by least squares
  (``np.polyfit(1/n, FD, 1)``) and report the intercept with the fit's slope and r². fadtk draws
  from NumPy's global legacy stream; ``seed`` here seeds a ``RandomState`` with the same stream,
  so ``np.random.seed(seed)`` before fadtk's own call gives the same draws.
* **per-clip FAD** — fadtk ``score_individual``: each clip's frames (≥ 2) fitted alone, FD
  against the reference set's statistics (fadtk's "per-song FAD", used to rank outliers).
* **KID** — audioldm_eval (GitHub main) ``metrics/kid.py`` ``calculate_kid``, torch-fidelity's
  scheme: ``subsets`` draws (default 100) of ``subset_size`` (default 1000, lowered to the set
  size when larger) rows of each set *without* replacement from ``RandomState(rng_seed=2020)``
  (generated set first), the unbiased MMD² with the cubic polynomial kernel
  k(x, y) = (γ xᵀy + 1)³, γ = 1/d, and mean ± std over subsets. When a set has ≤ subset_size
  rows every draw is a permutation of the whole set, so every subset gives the same MMD² (the
  full-set U-statistic): the bootstrap then resamples clips and evaluates that statistic from
  kernel matrices computed once (``KIDResampler``). (audioldm_eval main's ``eval.py`` imports
  calculate_kid but its call is commented out: it reports no KID unless edited.)

FD values use the exact route (metrics.frechet.frechet_distance_exact) — the same quantity as
fadtk's eigen/sqrtm computation (≈1e-9 relative on these sizes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from metrics.errors import MetricError
from metrics.frechet import _as_embeddings, frechet_distance, frechet_distance_exact


# --------------------------------------------------------------------------- statistics
def _pooled_rows(rows: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """All rows of one or several clips stacked in float64 (finite, at least 2 for a covariance)."""
    x = np.concatenate([np.atleast_2d(r) for r in rows]) if isinstance(rows, (list, tuple)) else np.atleast_2d(rows)
    x = _as_embeddings(np.asarray(x, np.float64), "embeddings")
    if x.shape[0] < 2:
        raise MetricError(f"a covariance needs at least 2 embedding rows, got {x.shape[0]} (audio too short?)")
    return x


def pooled_stats(rows: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof 1, float64) of all rows of one or several clips, pooled — what
    fadtk's ``load_stats`` on a folder of embeddings gives (its online update is the same
    quantity to rounding)."""
    x = _pooled_rows(rows)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def fadtk_stats(clips: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The reference set's statistics exactly as fadtk 1.1.0's ``calculate_embd_statistics_online``
    (fadtk/utils.py) merges them: per file ``np.mean`` *in the stored dtype* (fadtk stores float16
    embeddings, so each file's mean is rounded to float16 — ≈4e-6 relative on FAD against the
    exactly pooled mean) and ``np.cov(ddof=1)·(n−1)``, combined by Chan et al.'s pairwise update in
    file order."""
    d = np.atleast_2d(clips[0]).shape[-1]
    mu, s, n = np.zeros(d), np.zeros((d, d)), 0
    for rows in clips:
        rows = np.atleast_2d(rows)
        k = rows.shape[0]
        m = np.mean(rows, axis=0)
        cov = np.cov(rows, rowvar=False) * (k - 1)
        delta = m - mu
        mu += k / (n + k) * delta
        s += cov + delta[:, None] * delta[None, :] * n * k / (n + k)
        n += k
    return mu, (s / (n - 1) if n >= 2 else np.zeros_like(s))


def google_fad_stats(rows: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A set's statistics as Google's ``frechet_audio_distance`` forms them (audiocraft's FAD):
    ``ComputeMeanAndCovariance`` sums the float32 rows and their outer products in float64, μ =
    Σx / n, Σ = Σxxᵀ / (n − 1) − μμᵀ·n / (n − 1), then stores μ and Σ in a ``tf.train.FloatList``
    (float32), which ``compute_fad`` reads back: both are returned rounded to float32 (≈1e-7
    relative on each entry against the float64 values)."""
    x = _pooled_rows(rows)
    n = x.shape[0]
    mu = x.sum(axis=0) / n
    sigma = (x.T @ x) / (n - 1) - np.outer(mu, mu) * n / (n - 1)
    return mu.astype(np.float32).astype(np.float64), sigma.astype(np.float32).astype(np.float64)


def google_fad_distance(background: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> float:
    """``compute_fad``'s value: ``fad_utils.frechet_distance(mu_bg, sigma_bg, mu_test, sigma_test)``,
    i.e. scipy's sqrtm of Σ_bg·Σ_test with an eps = 1e-7 diagonal retry (it prints it with 6 decimals,
    which audiocraft parses; the full value is kept here)."""
    return frechet_distance(*background, *test, eps=1e-7)


# --------------------------------------------------------------------------- FAD∞
@dataclass
class FADInf:
    """fadtk's ``FADInfResults``: the extrapolated score, the fit's slope and r², and the (n, FD) points."""

    score: float
    slope: float
    r2: float
    points: list[tuple[int, float]] = field(default_factory=list)


def fad_inf(eval_rows: Sequence[np.ndarray] | np.ndarray, reference_stats: tuple[np.ndarray, np.ndarray],
            steps: int = 25, min_n: int = 500, seed: int | None = 0) -> FADInf:
    """FAD∞ of the pooled rows of `eval_rows` against `reference_stats` (μ, Σ), as fadtk's
    ``score_inf``. `seed` None uses NumPy's global stream, as fadtk does."""
    x = np.concatenate([np.atleast_2d(r) for r in eval_rows]) if isinstance(eval_rows, (list, tuple)) \
        else np.atleast_2d(eval_rows)
    x = _as_embeddings(np.asarray(x), "embeddings")
    if steps < 2:
        raise MetricError(f"FAD∞ needs at least 2 sample sizes, got steps={steps}")
    mu_ref, cov_ref = reference_stats
    rng = np.random.mtrand._rand if seed is None else np.random.RandomState(seed)
    max_n = x.shape[0]
    ns = [int(n) for n in np.linspace(min_n, max_n, steps)]
    points = []
    for n in ns:
        sample = x[rng.choice(max_n, size=n, replace=True)]
        mu, cov = np.mean(sample, axis=0), np.cov(sample, rowvar=False)
        points.append((n, frechet_distance_exact(mu_ref, cov_ref, mu, cov)))
    ys = np.array([p[1] for p in points])
    xs = 1 / np.array(ns)
    slope, intercept = np.polyfit(xs, ys, 1)
    r2 = 1 - np.sum((ys - (slope * xs + intercept)) ** 2) / np.sum((ys - np.mean(ys)) ** 2)
    return FADInf(float(intercept), float(slope), float(r2), points)


# --------------------------------------------------------------------------- per-clip FAD
def per_clip_fad(eval_rows: Sequence[np.ndarray], reference_stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """fadtk's ``score_individual``: each clip's own Gaussian against the reference set's; NaN for a
    clip with fewer than 2 rows (fadtk logs the error and leaves the file out). The clip's mean is
    taken in its stored dtype, as fadtk's ``calc_embd_statistics`` does (float16 for fadtk's files)."""
    mu_ref, cov_ref = reference_stats
    out = np.full(len(eval_rows), np.nan)
    for i, rows in enumerate(eval_rows):
        rows = np.atleast_2d(np.asarray(rows))
        if rows.shape[0] >= 2:
            out[i] = frechet_distance_exact(mu_ref, cov_ref, np.mean(rows, axis=0), np.cov(rows, rowvar=False))
    return out


# --------------------------------------------------------------------------- KID
def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None,
                      coef0: float = 1.0) -> np.ndarray:
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (np.matmul(x, y.T) * gamma + coef0) ** degree


def polynomial_mmd(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None,
                   coef0: float = 1.0) -> float:
    """Unbiased MMD² (off-diagonal means of k(x, x') and k(y, y'), full mean of k(x, y))."""
    k_xx = polynomial_kernel(x, x, degree, gamma, coef0)
    k_yy = polynomial_kernel(y, y, degree, gamma, coef0)
    k_xy = polynomial_kernel(x, y, degree, gamma, coef0)
    m = k_xx.shape[0]
    if k_xy.shape != (m, m) or k_yy.shape != (m, m):
        raise MetricError("KID subsets of both sets must have the same size")
    return float((k_xx.sum(axis=1) - np.diagonal(k_xx)).sum() / (m * (m - 1))
                 + (k_yy.sum(axis=1) - np.diagonal(k_yy)).sum() / (m * (m - 1))
                 - 2 * k_xy.sum(axis=0).sum() / (m * m))


@dataclass
class KID:
    mean: float
    std: float
    subset_size: int
    subsets: int


def kid(generated: np.ndarray, reference: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        degree: int = 3, gamma: float | None = None, coef0: float = 1.0, rng_seed: int = 2020) -> KID:
    """audioldm_eval's ``calculate_kid(generated, reference, …)`` in the dtype of the inputs (the
    reference runs on float32 Cnn14 / MERT features; pass float32 to reproduce it)."""
    f1, f2 = np.asarray(generated), np.asarray(reference)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise MetricError(f"KID needs two N×d embedding arrays of one d; got {f1.shape} and {f2.shape}")
    subset_size = min(subset_size, len(f2), len(f1))
    if subset_size < 2:
        raise MetricError(f"KID needs at least 2 clips per set, got {len(f1)} and {len(f2)}")
    rng = np.random.RandomState(rng_seed)
    mmds = np.zeros(subsets)
    for i in range(subsets):
        a = f1[rng.choice(len(f1), subset_size, replace=False)]
        b = f2[rng.choice(len(f2), subset_size, replace=False)]
        mmds[i] = polynomial_mmd(a, b, degree, gamma, coef0)
    return KID(float(np.mean(mmds)), float(np.std(mmds)), subset_size, subsets)


class KIDResampler:
    """The full-set unbiased MMD² (= KID when subset_size ≥ n) for clip-index resamples, from kernel
    matrices computed once: with multiplicities c (Σc = m), the off-diagonal sum over resampled
    positions is cᵀKc − Σᵢ cᵢKᵢᵢ (a clip drawn twice meets itself off the diagonal).

    ``groups=(owner_gen, owner_ref)`` (the clip of each row, as ``FrechetResampler`` takes them,
    e.g. MERT's 13 layer rows per clip) makes the weights address clips: a clip brings its rows."""

    def __init__(self, generated: np.ndarray, reference: np.ndarray, degree: int = 3,
                 gamma: float | None = None, coef0: float = 1.0,
                 groups: tuple[np.ndarray, np.ndarray] | None = None):
        x, y = np.asarray(generated, np.float64), np.asarray(reference, np.float64)
        self._owner = None if groups is None else tuple(np.asarray(g, dtype=np.int64) for g in groups)
        self.k_xx = polynomial_kernel(x, x, degree, gamma, coef0)
        self.k_yy = polynomial_kernel(y, y, degree, gamma, coef0)
        self.k_xy = polynomial_kernel(x, y, degree, gamma, coef0)

    def weighted(self, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        cx, cy = np.atleast_2d(cx).astype(np.float64), np.atleast_2d(cy).astype(np.float64)
        if self._owner is not None:  # clip weights → the weight of each row
            cx, cy = cx[:, self._owner[0]], cy[:, self._owner[1]]
        mx, my = cx.sum(axis=1), cy.sum(axis=1)
        xx = np.einsum("ri,ij,rj->r", cx, self.k_xx, cx) - cx @ np.diagonal(self.k_xx)
        yy = np.einsum("ri,ij,rj->r", cy, self.k_yy, cy) - cy @ np.diagonal(self.k_yy)
        xy = np.einsum("ri,ij,rj->r", cx, self.k_xy, cy)
        return xx / (mx * (mx - 1)) + yy / (my * (my - 1)) - 2 * xy / (mx * my)


__all__ = ["FADInf", "fad_inf", "per_clip_fad", "pooled_stats", "fadtk_stats", "KID", "kid", "polynomial_mmd", "KIDResampler"]
