"""Bootstrap confidence intervals over clips, and paired comparisons of two systems.

Resampling unit: the clip. A statistic is either

* a 1-D array of per-clip values (KL, alignment scores …): the statistic is their mean, or
* a set-level statistic given as a function of resampled clip indices (FD, IS …):
  ``statistic(idx)`` with ``idx`` an R×n int array (each row one resample of clip ids) returning
  R values — ``vectorized=True``, the default — or with one length-n row returning a float.
  For FD, ``metrics.frechet.FrechetResampler(gen, ref)`` is such a function: it takes the same
  clip ids from the generated and the reference set (paired-set resampling) and is exact and fast.

Everything draws from ``np.random.default_rng(seed)``: the same seed gives the same interval.
Interval methods: ``"percentile"`` [q_lo, q_hi]; ``"basic"`` (reverse percentile)
[2θ̂ − q_hi, 2θ̂ − q_lo]; ``"bca"`` bias-corrected and accelerated (Efron 1987; acceleration from
the leave-one-out jackknife). ``"auto"`` (default) is percentile for per-clip means and basic for
set-level statistics.

Why basic for set-level statistics: FD is biased upwards by O(d/n), and a resample of n clips
holds only ≈ 0.63·n distinct clips, so resampled FDs are biased upwards again — often so much that
the full-sample FD lies below the whole percentile interval. In simulations (Gaussians with known
FD, 60 repetitions, 300 resamples) the 95 % percentile interval covered the true FD 28 % of the
time at d = 8, n = 100 and 0 % at d = 32, n = 100; the basic interval 93 % and 95 %. For the
difference between two systems at d = 32, n = 100: percentile 50 %, basic 98 %; at d = 64, n = 50
(fewer clips than dims) basic still only 60 % — with n < d no interval is trustworthy for the
population value. A percentile interval that excludes its own estimate warns (BootstrapWarning).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Callable, Literal, Union

import numpy as np
from scipy.special import ndtr, ndtri

from metrics.errors import BootstrapWarning, MetricError, NonFiniteInputError, TooFewClipsError

Statistic = Callable[[np.ndarray], Union[np.ndarray, float]]
ValuesOrStatistic = Union[np.ndarray, list, Statistic]


@dataclass(frozen=True)
class BootstrapCI:
    estimate: float      # the statistic on all clips
    ci_low: float
    ci_high: float
    std_error: float     # standard deviation of the bootstrap replicates
    bias: float          # mean(replicates) − estimate: the bootstrap estimate of the bias
    confidence: float
    n_resamples: int
    method: str          # the method used: "percentile", "basic" or "bca"
    replicates: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class PairedComparison:
    difference: float    # statistic(a) − statistic(b) on all clips
    ci_low: float
    ci_high: float
    p_value: float       # two-sided, H0: no difference
    test: str            # how p was obtained (see paired_comparison)
    ci_method: str       # "percentile", "basic" or "bca"
    confidence: float
    n_resamples: int
    n_clips: int


_MAX_DRAWS = 4_000_000  # per-clip resampling draws at most this many indices / signs at once


def resample_indices(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """R×n clip indices drawn with replacement."""
    return rng.integers(0, n, size=(n_resamples, n))


def _chunks(n_resamples: int, n: int):
    step = max(1, _MAX_DRAWS // n)
    for s in range(0, n_resamples, step):
        yield min(step, n_resamples - s)


def _mean_replicates(v: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of mean(v), drawn in memory-bounded chunks."""
    return np.concatenate([v[resample_indices(v.size, r, rng)].mean(axis=1) for r in _chunks(n_resamples, v.size)])


def _as_values(values, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise MetricError(f"{what}: expected a 1-D array of per-clip values, got shape {v.shape}")
    bad = ~np.isfinite(v)
    if bad.any():
        raise NonFiniteInputError(what, int(bad.sum()), v.size, "drop or fix the failing clips first")
    if v.size < 2:
        raise TooFewClipsError(f"{what}: {v.size} clip(s); a bootstrap needs at least 2")
    return v


def _as_statistic(values_or_statistic, n: int | None, vectorized: bool, what: str
                  ) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """A vectorised statistic idx (R×m) -> (R,) and the clip count n."""
    if callable(values_or_statistic):
        if n is None:
            raise MetricError(f"{what}: a statistic given as a function needs n= (the number of clips)")
        if n < 2:
            raise TooFewClipsError(f"{what}: {n} clip(s); a bootstrap needs at least 2")
        f = values_or_statistic
        if vectorized:
            def stat(idx):
                return np.asarray(f(idx), dtype=np.float64).reshape(len(idx))
        else:
            def stat(idx):
                return np.array([float(f(row)) for row in idx])
        return stat, int(n)
    v = _as_values(values_or_statistic, what)
    if n is not None and n != v.size:
        raise MetricError(f"{what}: n={n} but {v.size} per-clip values were given")
    return (lambda idx: v[idx].mean(axis=1)), v.size


def _checked(x: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(x).all():
        raise MetricError(f"{what}: the statistic returned NaN or Inf on {int((~np.isfinite(x)).sum())} "
                          f"resample(s); check the statistic on small or duplicated clip sets")
    return x


def _jackknife(stat, n: int) -> np.ndarray:
    loo = np.array([np.delete(np.arange(n), i) for i in range(n)])
    return _checked(stat(loo), "jackknife")


def _resolve(method: str, set_level: bool) -> str:
    if method == "auto":
        return "basic" if set_level else "percentile"
    if method not in ("percentile", "basic", "bca"):
        raise MetricError(f"unknown bootstrap method {method!r}; use 'auto', 'percentile', 'basic' or 'bca'")
    return method


def _interval(replicates, estimate, alpha, method, stat=None, n=None) -> tuple[float, float, str]:
    lo_q, hi_q = alpha / 2, 1 - alpha / 2
    if method == "bca":
        spread = np.ptp(replicates)
        if spread == 0:
            return float(estimate), float(estimate), "bca"
        frac = (np.sum(replicates < estimate) + 0.5 * np.sum(replicates == estimate)) / len(replicates)
        z0 = ndtri(frac)
        if not np.isfinite(z0):
            warnings.warn("BCa: every bootstrap replicate lies on one side of the estimate; "
                          "falling back to the percentile interval", BootstrapWarning, stacklevel=3)
            method = "percentile"
        else:
            jk = _jackknife(stat, n)
            dev = jk.mean() - jk
            den = 6.0 * np.sum(dev ** 2) ** 1.5
            acc = np.sum(dev ** 3) / den if den > 0 else 0.0
            z = ndtri(np.array([lo_q, hi_q]))
            lo_q, hi_q = ndtr(z0 + (z0 + z) / (1 - acc * (z0 + z)))
    elif method == "basic":
        lo, hi = np.quantile(replicates, [lo_q, hi_q])
        return float(2 * estimate - hi), float(2 * estimate - lo), method
    lo, hi = np.quantile(replicates, [lo_q, hi_q])
    if not lo <= estimate <= hi:
        warnings.warn(
            f"the estimate {estimate:.6g} lies outside its {method} interval [{lo:.6g}, {hi:.6g}]: "
            f"the statistic is strongly biased under resampling (e.g. FD from fewer clips than dims, "
            f"where duplicated clips lower the covariance rank); use method='basic'",
            BootstrapWarning, stacklevel=3)
    return float(lo), float(hi), method


def bootstrap_ci(values_or_statistic: ValuesOrStatistic, n_resamples: int = 1000, seed: int = 0,
                 confidence: float = 0.95, method: Literal["auto", "percentile", "basic", "bca"] = "auto",
                 n: int | None = None, vectorized: bool = True, floor: float | None = None) -> BootstrapCI:
    """Bootstrap CI of a per-clip mean (array) or a set-level statistic of clip indices (callable).

    ``n`` (the clip count) is needed for a callable; ``vectorized=False`` calls it once per
    resample with a length-n index row. ``floor``: the least value the statistic can take (FD: 0);
    both bounds are clipped there — a basic interval reflects the replicates about the estimate
    and so reaches below 0 when the estimate sits at 0 (e.g. the `shuffled` control's FD, whose
    generated set is the reference set reordered); no true value lies below, so clipping loses
    no coverage.
    """
    if not 0 < confidence < 1:
        raise MetricError(f"confidence must lie in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise MetricError(f"n_resamples must be ≥ 1, got {n_resamples}")
    stat, n = _as_statistic(values_or_statistic, n, vectorized, "bootstrap_ci")
    rng = np.random.default_rng(seed)
    estimate = float(_checked(stat(np.arange(n)[None]), "estimate")[0])
    if callable(values_or_statistic):
        replicates = _checked(stat(resample_indices(n, n_resamples, rng)), "bootstrap replicates")
    else:
        replicates = _mean_replicates(np.asarray(values_or_statistic, np.float64), n_resamples, rng)
    method = _resolve(method, callable(values_or_statistic))
    lo, hi, used = _interval(replicates, estimate, 1 - confidence, method, stat, n)
    if floor is not None:
        lo, hi = max(lo, floor), max(hi, floor)
    return BootstrapCI(estimate, lo, hi, float(replicates.std(ddof=1)) if n_resamples > 1 else 0.0,
                       float(replicates.mean() - estimate), confidence, n_resamples, used, replicates)


def sign_flip_p_value(differences, n_resamples: int = 10000, seed: int = 0) -> tuple[float, str]:
    """Two-sided sign-flip permutation test of mean(d) = 0 (H0: d symmetric about 0).

    Exact (all 2ⁿ sign patterns) when 2ⁿ ≤ n_resamples, else Monte Carlo with
    p = (1 + #{|T*| ≥ |T|}) / (1 + R), which is never 0.
    """
    d = _as_values(differences, "paired differences")
    n = d.size
    observed = abs(d.mean())
    tol = 1e-12 * max(np.abs(d).max(), 1e-300)  # ties up to rounding count as "as extreme"
    if 2 ** n <= n_resamples:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        stats = np.abs(signs @ d) / n
        return float(np.mean(stats >= observed - tol)), f"exact sign-flip permutation test (2^{n} patterns)"
    rng = np.random.default_rng(seed)
    hits = 0
    for r in _chunks(n_resamples, n):
        signs = rng.choice(np.array([1.0, -1.0]), size=(r, n))
        hits += int(np.sum(np.abs(signs @ d) / n >= observed - tol))
    p = (1 + hits) / (1 + n_resamples)
    return float(p), f"sign-flip permutation test ({n_resamples} random sign patterns)"


def paired_comparison(a: ValuesOrStatistic, b: ValuesOrStatistic, n_resamples: int = 10000,
                      seed: int = 0, confidence: float = 0.95,
                      method: Literal["auto", "percentile", "basic", "bca"] = "auto",
                      n: int | None = None, vectorized: bool = True) -> PairedComparison:
    """Compare systems A and B scored on the same clips: difference A − B, its CI, a p-value.

    * per-clip values (two arrays in the same clip order): the CI is a paired bootstrap interval
      of mean(a − b) (percentile under "auto"); p comes from the sign-flip permutation test on
      a − b (``sign_flip_p_value``; exact when 2ⁿ ≤ n_resamples).
    * set-level statistics (two functions of clip indices, e.g. two FrechetResamplers against the
      same reference): each resample of clip ids is applied jointly to A, B and the reference;
      the CI is an interval of Δ* = θ_A* − θ_B* (basic under "auto", see the module docstring),
      and p is the centred bootstrap p-value (1 + #{|Δ* − Δ̂| ≥ |Δ̂|}) / (1 + R) — the bootstrap
      distribution shifted to satisfy H0 (Hall & Wilson 1991), the test dual to the basic interval.
    """
    if not 0 < confidence < 1:
        raise MetricError(f"confidence must lie in (0, 1), got {confidence}")
    if callable(a) != callable(b):
        raise MetricError("paired_comparison: give two per-clip arrays or two statistics, not one of each")
    set_level = callable(a)
    method = _resolve(method, set_level)
    rng = np.random.default_rng(seed)
    if not set_level:
        va, vb = _as_values(a, "system A per-clip values"), _as_values(b, "system B per-clip values")
        if va.shape != vb.shape:
            raise MetricError(f"paired_comparison: A has {va.size} clips, B has {vb.size}; pair them by clip id first")
        d = va - vb
        n, estimate = d.size, float(d.mean())
        reps = _mean_replicates(d, n_resamples, rng)
        def stat(idx):
            return d[idx].mean(axis=1)
        p, test = sign_flip_p_value(d, n_resamples, seed)
    else:
        stat_a, n = _as_statistic(a, n, vectorized, "system A")
        stat_b, _ = _as_statistic(b, n, vectorized, "system B")
        def stat(idx):
            return stat_a(idx) - stat_b(idx)
        estimate = float(_checked(stat(np.arange(n)[None]), "estimate")[0])
        reps = _checked(stat(resample_indices(n, n_resamples, rng)), "bootstrap replicates")
        tol = 1e-12 * max(np.abs(reps).max(), abs(estimate), 1e-300)
        p = float((1 + np.sum(np.abs(reps - estimate) >= abs(estimate) - tol)) / (1 + n_resamples))
        test = f"centred paired bootstrap over clip ids ({n_resamples} joint resamples)"
    lo, hi, used = _interval(reps, estimate, 1 - confidence, method, stat, n)
    return PairedComparison(estimate, lo, hi, p, test, used, confidence, n_resamples, n)
