"""Fréchet distance between the Gaussians fitted to two embedding sets (FD / FAD numerics).

    FD = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^{1/2}

Two routes to the last term:

* ``frechet_distance`` — the reference route, reimplemented from audioldm_eval 0.0.3
  (``audioldm_eval/metrics/fid.py`` lines 15–65, identical math in ``metrics/fad.py`` lines
  122–185): ``scipy.linalg.sqrtm(Σ₁ @ Σ₂)``; if that is not finite, retry with ``eps·I`` added to
  *both* covariances (only inside the square root, not in the trace terms); a complex result is
  accepted when the imaginary parts of its *diagonal* are within ``atol=1e-3`` of 0 and its real
  part is kept; the mean term is ``diff.dot(diff)`` in the dtype of the means. Statistics as in
  fid.py lines 16–23: ``np.mean(x, axis=0)`` and ``np.cov(x, rowvar=False)`` (float64, ddof = 1).
* the exact route (``method="exact"``, ``FrechetResampler``, ``fd_resampled``) — no ``sqrtm``.
  With centred, scaled data matrices A (n₁×d), B (n₂×d) such that Σ₁ = AᵀA and Σ₂ = BᵀB, the
  non-zero eigenvalues of Σ₁Σ₂ = Aᵀ(ABᵀB) equal those of (ABᵀB)Aᵀ = (ABᵀ)(ABᵀ)ᵀ (XY and YX share
  them), i.e. the squared singular values of ABᵀ; they are ≥ 0 because Σ₁Σ₂ is similar to the
  PSD matrix Σ₁^{1/2}Σ₂Σ₁^{1/2}. Hence tr (Σ₁Σ₂)^{1/2} = ‖ABᵀ‖_* (nuclear norm of an n₂×n₁ — here
  n₁×n₂ — matrix) and tr Σᵢ = ‖A‖²_F. The same holds for any factors Fᵢ with FᵢᵀFᵢ = Σᵢ, which is
  the d×d ("eigen") route used when the clips outnumber the dimensions. It is the metrics'
  default point estimate (``DEFAULT_FD_METHOD``; ``fd_method: sqrtm`` selects the reference route).

A bootstrap resample with multiplicities cⱼ (m = Σcⱼ) has mean Σcⱼxⱼ/m and covariance
Σcⱼ(xⱼ−μ)(xⱼ−μ)ᵀ/(m−1) — exactly ``np.cov(x[idx], rowvar=False)`` of the explicitly resampled
matrix — so A = diag(√(cⱼ/(m−1)))(X − 1μᵀ), and everything a resample needs is an n₁×n₂ Gram
matrix computed once: ``FrechetResampler`` evaluates 1000 resamples at n = 64, d = 2048 in about a
second, where one 2048² ``sqrtm`` takes 10–60 s on a 2-core machine.

With fewer clips than dimensions the covariances are singular: the FD of the two sample Gaussians
is still defined (and the exact route computes it to rounding), but ``sqrtm`` of the singular
product is noisy (≈1e-8 relative here, sometimes an imaginary part that trips the reference's
check) and the value depends strongly on the clip count. Both routes then warn with
``RankDeficientCovarianceWarning``.
"""

from __future__ import annotations

import warnings
from typing import Literal, Sequence

import numpy as np
import scipy.linalg

from metrics.errors import (MetricError, NonFiniteInputError, RankDeficientCovarianceWarning,
                            TooFewClipsError)

_CHUNK = 128  # at most this many resamples per batch …
_CHUNK_FLOATS = 8_000_000  # … and at most ~64 MB per batched n₁×n₂ (Gram) or d×d (eigen) stack
_GROUP_FLOATS = 32_000_000  # per-group scatter matrices kept up to ~256 MB, else rows are resampled


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise NonFiniteInputError if `x` holds NaN or Inf (the reference would propagate them)."""
    bad = ~np.isfinite(x)
    if bad.any():
        raise NonFiniteInputError(what, int(bad.sum()), int(bad.size))


def _as_embeddings(x, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise MetricError(f"{what}: expected a 2-D array (clips × dims), got shape {x.shape}")
    check_finite(x, what)
    if x.shape[0] < 2:
        raise TooFewClipsError(f"{what}: {x.shape[0]} clip(s); a covariance (ddof=1) needs at least 2")
    return x


def _warn_rank(n: int, d: int, what: str, route: str) -> None:
    if n <= d:
        fix = ("the exact Gram route (method='exact') is used, so the value is exact for the sample "
               "covariances" if route == "exact" else
               "scipy.linalg.sqrtm of the singular product is numerically noisy and the reference "
               "adds eps to the diagonals or returns NaN; method='exact' computes it exactly")
        warnings.warn(
            f"{what}: {n} rows (clips, or their frames) in {d} dims, so the covariance has rank ≤ {n - 1} < {d}; "
            f"{fix}. FD from fewer rows than dims is strongly biased by the count — compare only "
            f"sets of equal size, or use ≥ {d + 1} rows.",
            RankDeficientCovarianceWarning, stacklevel=3)


def gaussian_stats(x, mean_dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the rows of `x` (clips × dims), as fid.py lines 16–23 fit them.

    The covariance is ``np.cov(x, rowvar=False)`` (float64 whatever the input dtype, ddof = 1).
    The mean is float64 by default; the reference takes ``np.mean`` of the float32 tensor, so
    pass ``mean_dtype=np.float32`` to reproduce it bit for bit (≈1e-7 relative difference).
    """
    x = _as_embeddings(x, "embeddings")
    mu = np.mean(np.asarray(x, dtype=mean_dtype or np.float64), axis=0)
    sigma = np.atleast_2d(np.cov(x, rowvar=False))
    return mu, sigma


def _check_stats(mu1, sigma1, mu2, sigma2):
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise MetricError(f"mean vectors have different shapes: {mu1.shape} vs {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise MetricError(f"covariances {sigma1.shape}, {sigma2.shape} do not match means of length {d}")
    for arr, what in ((mu1, "mu1"), (mu2, "mu2"), (sigma1, "sigma1"), (sigma2, "sigma2")):
        check_finite(arr, what)
    return mu1, sigma1, mu2, sigma2


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """FD with the reference's numerics (audioldm_eval 0.0.3 metrics/fid.py lines 31–65).

    Differences from the reference, all on inputs where it would fail silently or crash:
    the ``eps`` retry warns with RankDeficientCovarianceWarning instead of printing; an imaginary
    diagonal beyond 1e-3 raises MetricError instead of ``assert False``; a non-finite result
    raises instead of returning NaN. The mean term stays in the means' dtype as in the reference
    (float32 means give a float32 ``diff.dot(diff)``). Note: SciPy ≥ 1.16 rewrote ``sqrtm``
    (the reference ran on the older Python implementation), which changes results only at the
    level of sqrtm's rounding noise.
    """
    mu1, sigma1, mu2, sigma2 = _check_stats(mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"sqrtm(Σ₁Σ₂) is not finite: the product is singular (typically fewer clips than the "
            f"{sigma1.shape[0]} dims); adding eps={eps} to both diagonals as the reference does — "
            f"the result is then approximate; use fd_from_embeddings(method='exact')",
            RankDeficientCovarianceWarning, stacklevel=2)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise MetricError(
                f"sqrtm(Σ₁Σ₂) has an imaginary component up to {np.max(np.abs(covmean.imag)):.3g} "
                f"(the reference asserts here); the covariances are probably singular — use "
                f"more clips than dims or fd_from_embeddings(method='exact')")
        covmean = covmean.real
    fd = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
    if not np.isfinite(fd):
        raise MetricError(f"Fréchet distance is not finite ({fd}); the covariances are degenerate")
    return float(fd)


def _psd_factor(sigma: np.ndarray) -> np.ndarray:
    """F with FᵀF = Σ (F = Λ^{1/2}Vᵀ), eigenvalues below rank tolerance set to exactly 0."""
    lam, vec = np.linalg.eigh((sigma + np.swapaxes(sigma, -1, -2)) / 2)
    tol = lam[..., -1:] * sigma.shape[-1] * np.finfo(np.float64).eps
    lam = np.where(lam > tol, lam, 0.0)
    return np.sqrt(lam)[..., :, None] * np.swapaxes(vec, -1, -2)


def trace_sqrt_product(sigma1, sigma2, via: Literal["svd", "eigvalsh"] = "svd") -> np.ndarray:
    """tr (Σ₁Σ₂)^{1/2} by the eigen route, batched over leading axes, with FᵢᵀFᵢ = Σᵢ.

    ``via="svd"``: ‖F₁F₂ᵀ‖_* (two eigendecompositions and an SVD; singular values accurate to
    ~eps·σ_max each: the point estimates). ``"eigvalsh"``: Σ √λ(F₁Σ₂F₁ᵀ), the eigenvalues of
    (F₁F₂ᵀ)(F₁F₂ᵀ)ᵀ without its factors, F₁ a Cholesky factor (the eigen factor when Σ₁ is
    singular) — one eigendecomposition without vectors, ~5× faster; a singular value far below √eps·σ_max loses digits, so the trace is good to
    ~d·1e-8 relative — what bootstrap resamples use."""
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if via == "eigvalsh":
        try:  # Σ₁ = LLᵀ when positive definite (a Cholesky is ~10× cheaper than eigh)
            f1 = np.swapaxes(np.linalg.cholesky(s1), -1, -2)
        except np.linalg.LinAlgError:  # singular in some resample: the eigen factor, zeros kept
            f1 = _psd_factor(s1)
        m = f1 @ s2 @ np.swapaxes(f1, -1, -2)
        lam = np.linalg.eigvalsh((m + np.swapaxes(m, -1, -2)) / 2)
        return np.sqrt(np.clip(lam, 0.0, None)).sum(-1)
    if via != "svd":
        raise MetricError(f"unknown trace route {via!r}; use 'svd' or 'eigvalsh'")
    return np.linalg.svd(_psd_factor(s1) @ np.swapaxes(_psd_factor(s2), -1, -2), compute_uv=False).sum(-1)


def frechet_distance_exact(mu1, sigma1, mu2, sigma2) -> float:
    """FD without sqrtm: tr (Σ₁Σ₂)^{1/2} = ‖F₁F₂ᵀ‖_* (see the module docstring), float64."""
    mu1, sigma1, mu2, sigma2 = _check_stats(mu1, sigma1, mu2, sigma2)
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    fd = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    return float(fd)


FD_METHODS = ("exact", "sqrtm")
#: the metrics' default point-estimate route (bench/conf/metric/{fd,fad}.yaml ``fd_method``): the
#: same quantity as the reference's sqrtm route, ~1e-9–1e-7 relative from it on 2048-d FD
#: (measured; README "Parity"), in milliseconds instead of 10–60 s for a 2048² sqrtm.
DEFAULT_FD_METHOD = "exact"


def fd_from_embeddings(a, b, method: Literal["sqrtm", "exact"] = "sqrtm", eps: float = 1e-6) -> float:
    """FD between the Gaussians fitted to embedding sets `a` (n₁×d) and `b` (n₂×d).

    ``method="sqrtm"`` reproduces the reference's code path (gaussian_stats + frechet_distance);
    ``"exact"`` takes the Gram / eigen route (FrechetResampler on the full sets): the same
    quantity without sqrtm, exact also when n < d (the metrics' default, DEFAULT_FD_METHOD).
    """
    a, b = _as_embeddings(a, "generated embeddings"), _as_embeddings(b, "reference embeddings")
    if a.shape[1] != b.shape[1]:
        raise MetricError(f"embedding dims differ: generated {a.shape[1]}, reference {b.shape[1]}")
    if method == "exact":
        return float(FrechetResampler(a, b).full())
    if method != "sqrtm":
        raise MetricError(f"unknown FD method {method!r}; use one of {', '.join(FD_METHODS)}")
    d = a.shape[1]
    for x, what in ((a, "generated embeddings"), (b, "reference embeddings")):
        _warn_rank(x.shape[0], d, what, "sqrtm")
    mu1, sigma1 = gaussian_stats(a)
    mu2, sigma2 = gaussian_stats(b)
    return frechet_distance(mu1, sigma1, mu2, sigma2, eps=eps)


def counts_from_indices(idx, n: int) -> np.ndarray:
    """Multiplicities (R×n float) of each row in each resample, from resample indices (R×m or m)."""
    idx = np.atleast_2d(np.asarray(idx))
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise MetricError(f"resample indices must lie in [0, {n}); got {idx.min()}..{idx.max()}")
    r = idx.shape[0]
    flat = (idx + n * np.arange(r)[:, None]).ravel()
    return np.bincount(flat, minlength=r * n).reshape(r, n).astype(np.float64)


class FrechetResampler:
    """FD of many weighted resamples of two fixed embedding sets, exactly and without sqrtm.

    ``gen`` (n₁×d) and ``ref`` (n₂×d) are centred once by their full-sample means (covariances
    are shift invariant; the shift is added back to the mean difference). Route ``"gram"`` keeps
    the n₁×n₂ cross Gram matrix and takes one batched SVD per resample; route ``"eigen"`` forms
    the d×d weighted covariances and uses FᵢᵀFᵢ = Σᵢ factors; ``"auto"`` picks the cheaper one
    (Gram whenever clips are fewer than dims).

    Call with resample indices (``rs(idx_gen)`` — paired: the same clip ids taken from both sets —
    or ``rs(idx_gen, idx_ref)``), or use ``weighted(w_gen, w_ref)`` with multiplicities.

    ``groups=(owner_gen, owner_ref)`` (a group id 0…G−1 per row, e.g. the clip of each VGGish
    frame; `n_groups` counts groups that may have no rows) makes the resampled units groups: indices and weights then address groups, and a
    group brings all its rows. On the eigen route each group's count, sum and scatter matrix are
    summed once, so a resample's covariance is one (G × d²) product instead of a pass over every
    row — the same sums, regrouped (while the G·d² floats fit `_GROUP_FLOATS`; else rows). Resamples take ``trace_sqrt_product(via="eigvalsh")``;
    :meth:`full` (the point estimate) the SVD route.
    """

    def __init__(self, gen, ref, route: Literal["auto", "gram", "eigen"] = "auto",
                 groups: tuple[Sequence[int], Sequence[int]] | None = None,
                 n_groups: tuple[int, int] | None = None):
        gen = _as_embeddings(gen, "generated embeddings").astype(np.float64, copy=False)
        ref = _as_embeddings(ref, "reference embeddings").astype(np.float64, copy=False)
        if gen.shape[1] != ref.shape[1]:
            raise MetricError(f"embedding dims differ: generated {gen.shape[1]}, reference {ref.shape[1]}")
        (n1, d), n2 = gen.shape, ref.shape[0]
        if route == "auto":
            gram_cost = n1 * n2 * min(n1, n2)
            eigen_cost = (n1 + n2) * d * d + 30 * d ** 3
            route = "gram" if (max(n1, n2) < d or gram_cost <= eigen_cost) else "eigen"
        if route not in ("gram", "eigen"):
            raise MetricError(f"unknown FD route {route!r}; use 'auto', 'gram' or 'eigen'")
        self.route, self.n_gen, self.n_ref, self.dim = route, n1, n2, d
        for n, what in ((n1, "generated embeddings"), (n2, "reference embeddings")):
            _warn_rank(n, d, what, "exact")
        self._shift = gen.mean(0) - ref.mean(0)
        self._x1, self._x2 = gen - gen.mean(0), ref - ref.mean(0)
        self._sq1, self._sq2 = (self._x1 ** 2).sum(1), (self._x2 ** 2).sum(1)
        if route == "gram":
            self._g12 = self._x1 @ self._x2.T
        # resampled units: rows, or groups of rows (owner arrays)
        self._owner, self._grouped = None, False
        self.units_gen, self.units_ref = n1, n2
        if groups is not None:
            o1, o2 = (np.asarray(g, dtype=np.int64) for g in groups)
            if o1.shape != (n1,) or o2.shape != (n2,) or (o1 < 0).any() or (o2 < 0).any():
                raise MetricError(f"groups must give a non-negative group id per row ({n1} generated, "
                                  f"{n2} reference rows)")
            self._owner = (o1, o2)
            self.units_gen, self.units_ref = n_groups or (int(o1.max(initial=-1)) + 1, int(o2.max(initial=-1)) + 1)
            if o1.max(initial=-1) >= self.units_gen or o2.max(initial=-1) >= self.units_ref:
                raise MetricError(f"group ids exceed n_groups={n_groups}")
            if route == "eigen" and (self.units_gen + self.units_ref) * d * d <= _GROUP_FLOATS:
                self._grouped = True
                self._stats = [self._group_stats(x, o, g) for x, o, g in
                               ((self._x1, o1, self.units_gen), (self._x2, o2, self.units_ref))]

    @staticmethod
    def _group_stats(x, owner, n_groups):
        """Per group: row count, sum of rows, sum of squared norms, scatter Σ xxᵀ (flattened)."""
        d = x.shape[1]
        count = np.bincount(owner, minlength=n_groups).astype(np.float64)
        total = np.zeros((n_groups, d))
        np.add.at(total, owner, x)
        sq = np.bincount(owner, weights=(x ** 2).sum(1), minlength=n_groups)
        scatter = np.zeros((n_groups, d, d))
        for g in range(n_groups):
            rows = x[owner == g]
            scatter[g] = rows.T @ rows
        return count, total, sq, scatter.reshape(n_groups, d * d)

    def full(self) -> float:
        """FD of the full sets (every row weight 1), singular values by SVD."""
        return float(self.weighted(np.ones((1, self.units_gen)), np.ones((1, self.units_ref)), precise=True)[0])

    def __call__(self, idx_gen, idx_ref=None) -> np.ndarray:
        """FD per resample; `idx_*` are R×m unit indices (rows, or groups) (1-D: one resample)."""
        if idx_ref is None:
            if self.units_gen != self.units_ref:
                raise MetricError(f"paired resampling needs equally many generated ({self.units_gen}) "
                                  f"and reference ({self.units_ref}) clips; pass idx_ref")
            idx_ref = idx_gen
        return self.weighted(counts_from_indices(idx_gen, self.units_gen),
                             counts_from_indices(idx_ref, self.units_ref))

    def weighted(self, w_gen, w_ref, precise: bool = False) -> np.ndarray:
        """FD per resample for unit multiplicities `w_gen` (R×units₁) and `w_ref` (R×units₂),
        ddof = 1 over rows. `precise`: singular values by SVD (as :meth:`full`)."""
        w1, w2 = np.atleast_2d(np.asarray(w_gen, np.float64)), np.atleast_2d(np.asarray(w_ref, np.float64))
        if w1.shape[1:] != (self.units_gen,) or w2.shape[1:] != (self.units_ref,) or len(w1) != len(w2):
            raise MetricError(f"weights of shape {w1.shape}, {w2.shape} do not fit "
                              f"{self.units_gen} generated and {self.units_ref} reference clips")
        if (w1 < 0).any() or (w2 < 0).any():
            raise MetricError("resample weights must be non-negative")
        grouped = self._grouped
        if self._owner is not None and not grouped:  # group weights → the weight of each row
            w1, w2 = w1[:, self._owner[0]], w2[:, self._owner[1]]
        m1 = w1 @ self._stats[0][0] if grouped else w1.sum(1)
        m2 = w2 @ self._stats[1][0] if grouped else w2.sum(1)
        if (m1 <= 1).any() or (m2 <= 1).any():
            raise TooFewClipsError("a resample with total weight ≤ 1 has no covariance (ddof=1)")
        out = np.empty(len(w1))
        per = self.n_gen * self.n_ref if self.route == "gram" else self.dim * max(self.dim, self.n_gen, self.n_ref)
        chunk = int(np.clip(_CHUNK_FLOATS // per, 1, _CHUNK))
        via = "svd" if precise else "eigvalsh"
        for s in range(0, len(w1), chunk):
            sl = slice(s, s + chunk)
            if grouped:
                out[sl] = self._chunk_groups(w1[sl], w2[sl], m1[sl], m2[sl], via)
            else:
                out[sl] = self._chunk(w1[sl], w2[sl], m1[sl], m2[sl], via)
        if not np.isfinite(out).all():
            raise MetricError("a resampled Fréchet distance is not finite; check the embeddings")
        return out

    def _chunk_groups(self, w1, w2, m1, m2, via) -> np.ndarray:
        """The eigen route from per-group sums (see the class docstring)."""
        d = self.dim
        moments = []
        for w, m, (_, total, sq, scatter) in ((w1, m1, self._stats[0]), (w2, m2, self._stats[1])):
            mu = (w @ total) / m[:, None]
            tr = (w @ sq - m * (mu ** 2).sum(1)) / (m - 1)
            cov = ((w @ scatter).reshape(-1, d, d) - m[:, None, None] * mu[:, :, None] * mu[:, None, :]) \
                / (m - 1)[:, None, None]
            moments.append((mu, tr, cov))
        (mu1, tr1, s1), (mu2, tr2, s2) = moments
        diff = mu1 - mu2 + self._shift
        return (diff ** 2).sum(1) + tr1 + tr2 - 2 * trace_sqrt_product(s1, s2, via=via)

    def _chunk(self, w1, w2, m1, m2, via) -> np.ndarray:
        p1, p2 = w1 / m1[:, None], w2 / m2[:, None]          # resample mean weights
        mu1, mu2 = p1 @ self._x1, p2 @ self._x2              # resample means, centred frame
        diff = mu1 - mu2 + self._shift
        tr1 = (w1 @ self._sq1 - m1 * (mu1 ** 2).sum(1)) / (m1 - 1)
        tr2 = (w2 @ self._sq2 - m2 * (mu2 ** 2).sum(1)) / (m2 - 1)
        if self.route == "gram":
            # centred cross Gram (X₁−1μ₁ᵀ)(X₂−1μ₂ᵀ)ᵀ from X₁X₂ᵀ, then A Bᵀ = D₁ · it · D₂
            g = self._g12
            g_p2 = p2 @ g.T                                  # (R, n1): X₁X₂ᵀp₂
            p1_g = p1 @ g                                    # (R, n2): p₁ᵀX₁X₂ᵀ
            cc = (g[None] - g_p2[:, :, None] - p1_g[:, None, :]
                  + (p1_g * p2).sum(1)[:, None, None])
            d1 = np.sqrt(w1 / (m1 - 1)[:, None])
            d2 = np.sqrt(w2 / (m2 - 1)[:, None])
            tr_covmean = np.linalg.svd(d1[:, :, None] * cc * d2[:, None, :], compute_uv=False).sum(1)
        else:
            s1 = self._weighted_cov(self._x1, w1, m1, mu1)
            s2 = self._weighted_cov(self._x2, w2, m2, mu2)
            tr_covmean = trace_sqrt_product(s1, s2, via=via)
        return (diff ** 2).sum(1) + tr1 + tr2 - 2 * tr_covmean

    @staticmethod
    def _weighted_cov(x, w, m, mu) -> np.ndarray:
        """(Σⱼ wⱼ xⱼxⱼᵀ − m μμᵀ)/(m − 1) per resample: np.cov(x, rowvar=False, fweights=w)."""
        scatter = np.swapaxes(w[:, :, None] * x[None], 1, 2) @ x
        return (scatter - m[:, None, None] * mu[:, :, None] * mu[:, None, :]) / (m - 1)[:, None, None]


def fd_resampled(a, b, idx_a, idx_b=None, route: Literal["auto", "gram", "eigen"] = "auto") -> np.ndarray:
    """FD for each resample (rows of `idx_a`, `idx_b`; `idx_b=None` = paired, same clip ids).

    Equals ``fd_from_embeddings(a[i], b[j], method="exact")`` for every resample pair (i, j).
    For repeated calls on the same sets build one FrechetResampler and call it.
    """
    return FrechetResampler(a, b, route=route)(idx_a, idx_b)
