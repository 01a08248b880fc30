import warnings

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import ortho_group

from metrics.errors import (MetricError, NonFiniteInputError, RankDeficientCovarianceWarning,
                            TooFewClipsError)
from metrics.frechet import (FrechetResampler, counts_from_indices, fd_from_embeddings, fd_resampled,
                             frechet_distance, frechet_distance_exact, gaussian_stats)

BOTH = [frechet_distance, frechet_distance_exact]


def _sets(rng, n1, n2, d):
    a = rng.standard_normal((n1, d)) @ rng.standard_normal((d, d)) * 0.3 + 1.0
    b = np.abs(rng.standard_normal((n2, d))) * 2.0
    return a, b


@pytest.mark.parametrize("fd", BOTH)
def test_diagonal_gaussians_match_the_closed_form(fd):
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(7), rng.standard_normal(7)
    s1, s2 = rng.uniform(0.1, 3, 7), rng.uniform(0.1, 3, 7)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert fd(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fd", BOTH)
def test_commuting_covariances_match_the_closed_form(fd):
    q = ortho_group.rvs(6, random_state=1)
    lam1, lam2 = np.array([5.0, 2, 1, 0.5, 0.1, 3]), np.array([1.0, 4, 0.2, 2, 0.3, 0.7])
    mu1, mu2 = np.arange(6.0), np.arange(6.0)[::-1]
    s1, s2 = q @ np.diag(lam1) @ q.T, q @ np.diag(lam2) @ q.T
    expected = np.sum((mu1 - mu2) ** 2) + lam1.sum() + lam2.sum() - 2 * np.sqrt(lam1 * lam2).sum()
    assert fd(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("method", ["sqrtm", "exact"])
def test_fd_of_a_set_with_itself_is_zero_and_fd_is_symmetric(method):
    a, b = _sets(np.random.default_rng(2), 40, 30, 16)
    assert abs(fd_from_embeddings(a, a, method=method)) < 1e-9 * np.trace(np.cov(a, rowvar=False))
    assert fd_from_embeddings(a, b, method=method) == pytest.approx(fd_from_embeddings(b, a, method=method), rel=1e-10)


def test_gaussian_stats_are_the_references_mean_and_cov():
    x = np.random.default_rng(3).standard_normal((25, 5)).astype(np.float32)
    mu, sigma = gaussian_stats(x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-15)
    np.testing.assert_array_equal(sigma, np.cov(x, rowvar=False))  # ddof = 1
    mu32, _ = gaussian_stats(x, mean_dtype=np.float32)
    np.testing.assert_array_equal(mu32, np.mean(x, axis=0))


def test_full_rank_sqrtm_and_exact_routes_agree():
    a, b = _sets(np.random.default_rng(4), 40, 35, 16)
    assert fd_from_embeddings(a, b) == pytest.approx(fd_from_embeddings(a, b, method="exact"), rel=1e-10)


@pytest.mark.parametrize("d,n", [(64, 20), (16, 40)])
def test_fast_resampled_fd_matches_sqrtm_on_explicit_resamples(d, n):
    rng = np.random.default_rng(5)
    a, b = _sets(rng, n, n, d)
    idx = rng.integers(0, n, (4, n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        fast = fd_resampled(a, b, idx)
        for route in ("gram", "eigen"):
            np.testing.assert_allclose(fd_resampled(a, b, idx, route=route), fast, rtol=1e-10)
        for i, row in enumerate(idx):
            x, y = a[row], b[row]
            exact = FrechetResampler(x, y).full()
            assert fast[i] == pytest.approx(exact, rel=1e-10)
            # sqrtm of a singular product (rank < d) carries ~2e-8 relative noise of its own
            full_rank = min(len(np.unique(row)), n) > d
            assert fast[i] == pytest.approx(fd_from_embeddings(x, y), rel=1e-10 if full_rank else 1e-7)


def test_unpaired_resamples_and_weights_match_np_cov_with_ddof_1():
    rng = np.random.default_rng(6)
    a, b = _sets(rng, 30, 22, 6)  # few dims: every resample is full rank, sqrtm is exact
    ia, ib = rng.integers(0, 30, (3, 30)), rng.integers(0, 22, (3, 17))
    got = fd_resampled(a, b, ia, ib)
    for i in range(3):
        mu1, s1 = a[ia[i]].mean(0), np.cov(a[ia[i]], rowvar=False)
        mu2, s2 = b[ib[i]].mean(0), np.cov(b[ib[i]], rowvar=False)
        assert got[i] == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=1e-9)
    c = counts_from_indices(ia, 30)
    assert (c.sum(1) == 30).all()
    cov_w = FrechetResampler._weighted_cov(a - a.mean(0), c[:1], c[:1].sum(1), (c[:1] / 30) @ (a - a.mean(0)))
    np.testing.assert_allclose(cov_w[0], np.cov(a[ia[0]], rowvar=False), rtol=1e-10, atol=1e-12)


def test_few_clips_warn_about_rank_and_enough_clips_do_not():
    rng = np.random.default_rng(7)
    a, b = _sets(rng, 10, 10, 16)
    for method in ("sqrtm", "exact"):
        with pytest.warns(RankDeficientCovarianceWarning, match=r"10 rows \(clips, or their frames\) in 16 dims.*rank ≤ 9"):
            fd_from_embeddings(a, b, method=method)
    a, b = _sets(rng, 40, 40, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankDeficientCovarianceWarning)
        fd_from_embeddings(a, b)


def test_singular_sqrtm_retries_with_eps_and_warns(monkeypatch):
    calls = []
    real = scipy.linalg.sqrtm

    def flaky(m):
        calls.append(m.copy())
        return np.full_like(m, np.nan) if len(calls) == 1 else real(m)

    monkeypatch.setattr(scipy.linalg, "sqrtm", flaky)
    s1, s2 = np.diag([1.0, 0.0]), np.diag([4.0, 1.0])
    with pytest.warns(RankDeficientCovarianceWarning, match="eps=1e-06"):
        fd = frechet_distance(np.zeros(2), s1, np.zeros(2), s2)
    np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(2)) @ (s2 + 1e-6 * np.eye(2)))
    # the offset enters only the square root, not the trace terms
    assert fd == pytest.approx(1 + 5 - 2 * (np.sqrt((1 + 1e-6) * (4 + 1e-6)) + np.sqrt(1e-6 * (1 + 1e-6))))


def test_large_imaginary_component_raises(monkeypatch):
    monkeypatch.setattr(scipy.linalg, "sqrtm", lambda m: np.eye(len(m)) * (1 + 0.01j))
    with pytest.raises(MetricError, match="imaginary component"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))
    monkeypatch.setattr(scipy.linalg, "sqrtm", lambda m: np.eye(len(m)) * (1 + 1e-5j))
    assert frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2)) == pytest.approx(0.0)


def test_bad_inputs_raise_named_errors():
    a = np.ones((5, 3))
    bad = a.copy()
    bad[2, 1] = np.nan
    with pytest.raises(NonFiniteInputError, match="1 of 15"):
        fd_from_embeddings(bad, a)
    with pytest.raises(TooFewClipsError):
        fd_from_embeddings(a[:1], a)
    with pytest.raises(MetricError, match="dims differ"):
        fd_from_embeddings(a, np.ones((5, 4)))
    with pytest.raises(MetricError, match="paired resampling"):
        FrechetResampler(np.random.rand(6, 3), np.random.rand(5, 3))(np.zeros((1, 6), int))
    with pytest.raises(NonFiniteInputError):
        frechet_distance(np.zeros(2), np.full((2, 2), np.inf), np.zeros(2), np.eye(2))


@pytest.mark.parametrize("rank_deficient", [False, True])
def test_eigvalsh_trace_route_matches_the_svd_route(rank_deficient):
    from metrics.frechet import trace_sqrt_product

    rng = np.random.default_rng(9)
    d = 32
    n = 12 if rank_deficient else 200  # rank 11 < d: the factors carry exact zeros
    x, y = rng.standard_normal((3, n, d)), rng.standard_normal((3, n, d)) @ rng.standard_normal((d, d))
    s1 = np.stack([np.cov(v, rowvar=False) for v in x])
    s2 = np.stack([np.cov(v, rowvar=False) for v in y])
    svd, fast = trace_sqrt_product(s1, s2), trace_sqrt_product(s1, s2, via="eigvalsh")
    np.testing.assert_allclose(fast, svd, rtol=1e-7 if rank_deficient else 1e-10)
    with pytest.raises(MetricError, match="trace route"):
        trace_sqrt_product(s1, s2, via="qr")


def test_grouped_resamples_equal_the_row_weights_they_stand_for():
    """FAD's resampled unit is a clip with all its frames: per-group sums give the same FD as
    weighting every row by its group's count (a group with no rows included)."""
    rng = np.random.default_rng(10)
    d, n_clips = 6, 9
    frames = [rng.integers(1, 5) if c != 4 else 0 for c in range(n_clips)]  # clip 4 has no frames
    owner = np.repeat(np.arange(n_clips), frames)
    a = rng.standard_normal((len(owner), d)) + 0.5
    b = rng.standard_normal((len(owner), d)) @ rng.standard_normal((d, d))
    grouped = FrechetResampler(a, b, route="eigen", groups=(owner, owner), n_groups=(n_clips, n_clips))
    rows = FrechetResampler(a, b, route="eigen")
    counts = counts_from_indices(rng.integers(0, n_clips, (5, n_clips)), n_clips)
    np.testing.assert_allclose(grouped.weighted(counts, counts), rows.weighted(counts[:, owner], counts[:, owner]),
                               rtol=1e-9)
    assert grouped.full() == pytest.approx(rows.full(), rel=1e-12)
    # the Gram route (and groups too large to keep) resample rows from the same group weights
    gram = FrechetResampler(a, b, route="gram", groups=(owner, owner), n_groups=(n_clips, n_clips))
    np.testing.assert_allclose(gram.weighted(counts, counts), rows.weighted(counts[:, owner], counts[:, owner]),
                               rtol=1e-9)
    with pytest.raises(MetricError, match="do not fit"):
        grouped.weighted(counts[:, :-1], counts[:, :-1])
